"""Pure ASGI middleware: request ids, HTTP metrics by route template, body size limits."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agent.metrics import AgentMetrics

log = structlog.get_logger("agent.http")
_QUIET = frozenset({"/metrics", "/health/live", "/health/ready"})


def route_template(scope: Scope) -> str:
    """The matched route's path template, so ids never become label values.

    The router records the route it matched in the scope; unmatched paths (404s) share
    one label value so that random URLs cannot blow up the metric's cardinality.
    """
    route = scope.get("route")
    return str(getattr(route, "path", "unmatched")) if route is not None else "unmatched"


class RequestContextMiddleware:
    """Binds a request id to every log line and records ``http_*`` metrics."""

    def __init__(self, app: ASGIApp, metrics: AgentMetrics) -> None:
        self.app = app
        self.metrics = metrics
        # Labelled children by label values: ``labels()`` takes a lock and builds a key on
        # every call. Bounded by routes x methods x statuses (endpoints are templates).
        self._requests: dict[tuple[str, str, int], Any] = {}
        self._durations: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else uuid.uuid4().hex
        )
        # Bound for this request and reset after it (cheaper than clearing every variable).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        status = 500
        started = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            endpoint = route_template(scope)
            method = scope["method"]
            counter = self._requests.get((method, endpoint, status))
            if counter is None:
                counter = self.metrics.http_requests.labels(method, endpoint, str(status))
                self._requests[(method, endpoint, status)] = counter
            counter.inc()
            histogram = self._durations.get((method, endpoint))
            if histogram is None:
                histogram = self.metrics.http_duration.labels(method, endpoint)
                self._durations[(method, endpoint)] = histogram
            histogram.observe(elapsed)
            # Scrapes and probes arrive every few seconds and say nothing about guests.
            if endpoint not in _QUIET:
                log.info(
                    "request",
                    method=method,
                    endpoint=endpoint,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                )
            structlog.contextvars.reset_contextvars(**tokens)


class BodyLimitMiddleware:
    """Answers 413 when a request body exceeds the limit of its path prefix.

    Checks Content-Length up front and counts streamed bytes too, so a chunked body
    cannot slip past the limit.
    """

    def __init__(self, app: ASGIApp, limits: Sequence[tuple[str, int]], default: int) -> None:
        self.app = app
        self.limits = sorted(limits, key=lambda item: -len(item[0]))
        self.default = default

    def _limit(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(send, limit)
            return
        received = 0
        responded = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal responded
            responded = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _BodyTooLarge:
            if not responded:
                await _too_large(send, limit)


class _BodyTooLarge(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {"error": "payload_too_large", "detail": f"request body exceeds {limit} bytes"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
