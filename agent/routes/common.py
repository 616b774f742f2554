"""Helpers shared by the routes: the app's services and strict JSON bodies."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from agent.errors import ClientError


async def read_json(request: Request) -> tuple[bytes, Any]:
    """The raw body and its parsed JSON; 415 for another media type, 400 for bad JSON."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise ClientError(415, "unsupported_media_type", "Content-Type must be application/json")
    raw = await request.body()
    try:
        return raw, json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ClientError(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
