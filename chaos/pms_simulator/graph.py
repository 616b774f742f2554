"""A recorder that stands in for the WhatsApp Cloud (Graph) API's send endpoint.

The agent posts its replies here as it would to Meta; tests read them back from
``GET /graph/_sent``. Errors use Graph's envelope, ``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import hmac
import json
import re
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

MESSAGE_TYPES = frozenset(
    {
        "text",
        "image",
        "audio",
        "video",
        "document",
        "sticker",
        "interactive",
        "location",
        "reaction",
        "template",
        "contacts",
    }
)
MAX_BODY_BYTES = 64 * 1024
MAX_RECORDED = 10_000
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_PHONE = re.compile(r"^\+?\d{6,20}$")


class Recorder:
    """Keeps the most recent messages sent through the Graph endpoint, thread-safely."""

    def __init__(self, limit: int = MAX_RECORDED) -> None:
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(maxlen=limit)
        self._next = 1

    def record(self, version: str, phone_number_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store one message and return the record, including its ``wamid``."""
        with self._lock:
            message_id = f"wamid.SIM{self._next:012d}"
            self._next += 1
            entry = {
                "id": message_id,
                "to": body["to"],
                "type": body["type"],
                "version": version,
                "phone_number_id": phone_number_id,
                "payload": body,
                "recorded_at": datetime.now(UTC).isoformat(),
            }
            self._messages.append(entry)
            return entry

    def sent(self, to: str | None = None) -> list[dict[str, Any]]:
        """Recorded messages, oldest first, optionally only those sent to ``to``."""
        with self._lock:
            return [m for m in self._messages if to is None or m["to"] == to]

    def clear(self) -> int:
        """Forget every recorded message; returns how many there were."""
        with self._lock:
            count = len(self._messages)
            self._messages.clear()
            self._next = 1
            return count


def graph_error(status: int, message: str, code: int) -> JSONResponse:
    """A Graph-style error response."""
    return JSONResponse(
        {"error": {"message": message, "type": "OAuthException", "code": code}},
        status_code=status,
    )


def _validate(body: object) -> str | None:
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    if body.get("messaging_product") != "whatsapp":
        return "messaging_product must be 'whatsapp'"
    to = body.get("to")
    if not isinstance(to, str) or not _PHONE.match(to):
        return "to must be a phone number in international format"
    kind = body.get("type", "text")  # Graph treats a message without a type as text
    if kind not in MESSAGE_TYPES:
        return f"unsupported message type {kind!r}"
    if not isinstance(body.get(kind), dict):
        return f"a {kind!r} message needs a {kind!r} object"
    body.setdefault("type", kind)
    return None


def graph_router(recorder: Recorder, access_token: str | None) -> APIRouter:
    """Routes for ``POST /graph/{version}/{phone_number_id}/messages`` and ``GET /graph/_sent``."""
    router = APIRouter(prefix="/graph", tags=["whatsapp"])
    expected = f"Bearer {access_token}".encode() if access_token else None

    @router.post("/{version}/{phone_number_id}/messages")
    async def send_message(version: str, phone_number_id: str, request: Request) -> JSONResponse:
        """Record a message the agent sends to a guest."""
        if expected is not None:
            supplied = request.headers.get("authorization", "").encode()
            if not hmac.compare_digest(supplied, expected):
                return graph_error(401, "Invalid OAuth access token.", 190)
        if not _VERSION.match(version) or not phone_number_id.isdigit():
            return graph_error(400, "Unknown path components", 2500)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return graph_error(413, "Request body too large", 100)
        try:
            body = json.loads(raw)
        except ValueError:
            return graph_error(400, "The request body is not valid JSON", 100)
        problem = _validate(body)
        if problem is not None:
            return graph_error(400, f"(#100) {problem}", 100)
        entry = recorder.record(version, phone_number_id, body)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": entry["to"], "wa_id": entry["to"].lstrip("+")}],
                "messages": [{"id": entry["id"]}],
            }
        )

    @router.get("/_sent")
    async def sent_messages(to: str | None = None) -> dict[str, Any]:
        """Messages recorded so far (requires the simulator's X-API-Key)."""
        return {"messages": recorder.sent(to)}

    return router
