"""A recorder that stands in for the WhatsApp Cloud (Graph) API's send and media endpoints.

The agent posts its replies here as it would to Meta; tests read them back from
``GET /graph/_sent``. Media (voice notes, images) a test uploads with
``POST /graph/_upload`` (the simulator's X-API-Key, the file as the body, its
Content-Type kept) are served as Meta serves them: ``GET /graph/{version}/{media_id}``
answers the media's URL, MIME type, size and SHA-256, and that URL answers the bytes
(both with the access token, when one is set). Errors use Graph's envelope,
``{"error": {"message", "type", "code"}}``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

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
MAX_MEDIA_BYTES = 16 * 1024 * 1024  # WhatsApp's limit for audio
MAX_MEDIA = 1_000
_VERSION = re.compile(r"^v\d{1,3}\.\d{1,2}$")
_PHONE = re.compile(r"^\+?\d{6,20}$")


class Recorder:
    """Keeps the most recent messages sent through the Graph endpoint, thread-safely."""

    def __init__(self, limit: int = MAX_RECORDED) -> None:
        self._lock = threading.Lock()
        self._messages: deque[dict[str, Any]] = deque(maxlen=limit)
        self._next = 1
        self._media: dict[str, tuple[bytes, str]] = {}
        self._next_media = 1

    def store_media(self, data: bytes, mime_type: str) -> str:
        """Keep an uploaded file (the oldest go past ``MAX_MEDIA``); returns its id."""
        with self._lock:
            media_id = f"{9_000_000_000_000 + self._next_media}"
            self._next_media += 1
            self._media[media_id] = (data, mime_type)
            while len(self._media) > MAX_MEDIA:
                self._media.pop(next(iter(self._media)))
            return media_id

    def media(self, media_id: str) -> tuple[bytes, str] | None:
        with self._lock:
            return self._media.get(media_id)

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

    def authorised(request: Request) -> bool:
        supplied = request.headers.get("authorization", "").encode()
        return expected is None or hmac.compare_digest(supplied, expected)

    @router.post("/_upload")
    async def upload(request: Request) -> JSONResponse:
        """Keep a media file for the agent to download (a test's voice note)."""
        data = await request.body()
        if not data or len(data) > MAX_MEDIA_BYTES:
            return graph_error(400, f"the file must have 1 to {MAX_MEDIA_BYTES} bytes", 100)
        mime = request.headers.get("content-type", "application/octet-stream")[:100]
        return JSONResponse({"id": recorder.store_media(data, mime)})

    @router.get("/_media/{media_id}")
    async def download(media_id: str, request: Request) -> Response:
        """The bytes of a media file, at the URL its metadata gives."""
        if not authorised(request):
            return graph_error(401, "Invalid OAuth access token.", 190)
        found = recorder.media(media_id)
        if found is None:
            return graph_error(404, "Media not found", 100)
        return Response(found[0], media_type=found[1])

    @router.get("/{version}/{media_id}")
    async def media_info(version: str, media_id: str, request: Request) -> JSONResponse:
        """A media file's metadata and download URL, as Graph answers it."""
        if not authorised(request):
            return graph_error(401, "Invalid OAuth access token.", 190)
        found = recorder.media(media_id) if _VERSION.match(version) else None
        if found is None:
            return graph_error(404, f"Unsupported get request. Object with ID '{media_id[:40]}' "
                               "does not exist", 100)  # fmt: skip
        data, mime = found
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "url": str(request.url_for("download", media_id=media_id)),
                "mime_type": mime,
                "sha256": hashlib.sha256(data).hexdigest(),
                "file_size": len(data),
                "id": media_id,
            }
        )

    @router.get("/_sent")
    async def sent_messages(to: str | None = None) -> dict[str, Any]:
        """Messages recorded so far (requires the simulator's X-API-Key)."""
        return {"messages": recorder.sent(to)}

    return router
