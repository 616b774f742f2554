"""Errors of the fault proxy; each API error carries the HTTP status Toxiproxy answers with."""

from __future__ import annotations

from typing import Any


class ProxyServerError(Exception):
    """Base class of every error raised by chaos.proxy."""


class APIError(ProxyServerError):
    """An error the HTTP API reports as ``{"error": message, "status": status}``."""

    status = 500

    def __init__(self, message: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class BadRequest(APIError):
    """400: the body could not be decoded or a field is missing or invalid."""

    status = 400


class Unauthorized(APIError):
    """401: a bearer token is configured and the request did not carry it."""

    status = 401


class NotFound(APIError):
    """404: no proxy or toxic of that name."""

    status = 404


class Conflict(APIError):
    """409: a proxy or toxic of that name already exists."""

    status = 409


class ListenError(APIError):
    """500: the listen address could not be resolved or bound (an OS or network error)."""

    status = 500
