"""WhatsApp Cloud API: webhook signature check, payload parsing, and the Graph API sender.

Parsing is strict about the envelope (``object``, ``entry``, ``changes``, ``value``) and
about what identifies a message (``id``, ``from``), and lenient about everything else:
a ``profile`` that is a list, ``contacts`` that is a number or ``metadata`` that is a
string carry nothing we need, so they are ignored rather than answered with an error.
Whatever the shape, parsing raises only ``PayloadError`` (a 400 with its reason).
"""

from __future__ import annotations

import hashlib
import hmac
import math
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog

from agent.settings import WhatsAppSettings

log = structlog.get_logger(__name__)
GRAPH_VERSION = "v18.0"
MAX_TEXT = 4096
MAX_ID = 256
# Message types the agent answers in a way of their own; any other is "unsupported".
KNOWN_KINDS = ("text", "interactive", "button", "image", "location", "reaction", "audio")
STATUSES = ("sent", "delivered", "read", "failed")


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=<hex HMAC-SHA256 of body>`` under ``secret``."""
    if not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta would send for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class WhatsAppMessage:
    """One inbound message; ``text`` is set for text and interactive replies."""

    message_id: str
    sender: str
    text: str | None
    kind: str
    name: str | None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery status of a message the agent sent (``message_id`` is its wamid)."""

    message_id: str
    status: str
    recipient: str | None = None
    timestamp: int | None = None
    error_code: int | None = None


@dataclass(frozen=True)
class Webhook:
    messages: list[WhatsAppMessage]
    statuses: list[StatusUpdate]
    ignored: int = 0  # statuses too malformed to store


class PayloadError(ValueError):
    """The webhook payload does not have the WhatsApp Cloud API shape."""


def _str(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A non-empty string (numbers as their digits), else None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    return value[:limit]


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _names(contacts: Any) -> dict[str, str]:
    if not isinstance(contacts, list):
        return {}
    names = {}
    for c in contacts:
        c = _obj(c)
        wa_id, name = _str(c.get("wa_id"), MAX_ID), _str(_obj(c.get("profile")).get("name"), 200)
        if wa_id and name:
            names[wa_id] = name
    return names


def _interactive_text(m: dict[str, Any]) -> str | None:
    inter = _obj(m.get("interactive"))
    for key in ("button_reply", "list_reply"):
        reply = _obj(inter.get(key))
        if reply:
            return _str(reply.get("title")) or _str(reply.get("id"))
    return None


def _details(kind: str, m: dict[str, Any]) -> dict[str, Any]:
    """What the agent keeps of a non-text message (ids and numbers, never the media)."""
    body = _obj(m.get(kind))
    if kind in ("image", "audio", "video", "document", "sticker"):
        return {
            "media_id": _str(body.get("id"), MAX_ID),
            "mime_type": _str(body.get("mime_type"), 100),
            "caption": _str(body.get("caption"), 1024),
            "voice": body.get("voice") is True,
        }
    if kind == "location":
        return {
            "latitude": _number(body.get("latitude")),
            "longitude": _number(body.get("longitude")),
            "name": _str(body.get("name"), 200),
        }
    if kind == "reaction":
        return {"emoji": _str(body.get("emoji"), 16), "reacted_to": _str(body.get("message_id"))}
    return {}


def _message(m: Any, names: dict[str, str]) -> WhatsAppMessage:
    if not isinstance(m, dict):
        raise PayloadError("every message must be an object")
    message_id, sender = _str(m.get("id"), MAX_ID), _str(m.get("from"), 64)
    if not message_id or not sender:
        raise PayloadError("every message needs 'id' and 'from' (strings)")
    kind = _str(m.get("type"), 32) or "unknown"
    text: str | None = None
    if kind == "text":
        text = _str(_obj(m.get("text")).get("body"))
    elif kind == "interactive":
        text = _interactive_text(m)
    elif kind == "button":  # a quick-reply button of a template message
        button = _obj(m.get("button"))
        text = _str(button.get("text")) or _str(button.get("payload"))
    return WhatsAppMessage(
        message_id=message_id,
        sender=sender,
        text=text,
        kind=kind,
        name=names.get(sender),
        details=_details(kind, m),
    )


def _status(s: Any) -> StatusUpdate | None:
    s = _obj(s)
    wamid, status = _str(s.get("id"), MAX_ID), _str(s.get("status"), 32)
    if not wamid or not status:
        return None
    stamp = _number(s.get("timestamp"))
    errors = s.get("errors")
    first = _obj(errors[0]) if isinstance(errors, list) and errors else {}
    code = _number(first.get("code"))
    return StatusUpdate(
        message_id=wamid,
        status=status.lower(),
        recipient=_str(s.get("recipient_id"), 64),
        timestamp=int(stamp) if stamp is not None and abs(stamp) < 1e12 else None,
        error_code=int(code) if code is not None and abs(code) < 1e9 else None,
    )


def parse_webhook(payload: Any) -> Webhook:
    """Inbound messages and status updates of a webhook payload."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise PayloadError("object must be 'whatsapp_business_account'")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry must be a list")
    messages: list[WhatsAppMessage] = []
    statuses: list[StatusUpdate] = []
    ignored = 0
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise PayloadError("entry[].changes must be a list")
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                raise PayloadError("entry[].changes[].value must be an object")
            raw_messages = value.get("messages", [])
            if raw_messages is None:
                raw_messages = []
            if not isinstance(raw_messages, list):
                raise PayloadError("entry[].changes[].value.messages must be a list")
            names = _names(value.get("contacts"))
            messages.extend(_message(m, names) for m in raw_messages)
            raw_statuses = value.get("statuses")
            for s in raw_statuses if isinstance(raw_statuses, list) else []:
                parsed = _status(s)
                if parsed is None:
                    ignored += 1
                else:
                    statuses.append(parsed)
    return Webhook(messages, statuses, ignored)


def parse_payload(payload: Any) -> list[WhatsAppMessage]:
    """The inbound messages of a webhook payload (status updates left out)."""
    return parse_webhook(payload).messages


@dataclass(frozen=True)
class SendResult:
    """How a send ended: the wamid Graph gave it, or why it failed and whether to retry."""

    wamid: str | None = None
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.wamid is not None


class GraphClient:
    """Sends text replies through a Graph-API-style endpoint."""

    def __init__(
        self, settings: WhatsAppSettings, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._settings = settings
        headers = {}
        token = settings.access_token.get_secret_value()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._client = httpx.AsyncClient(
            base_url=settings.graph_base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s),
            headers=headers,
            transport=transport,
        )

    async def send(self, to: str, body: str) -> SendResult:
        """Send ``body`` to ``to``; a timeout, a connection error, 429 or 5xx is retryable."""
        url = f"/{GRAPH_VERSION}/{self._settings.phone_number_id}/messages"
        payload = {
            "messaging_product": "whatsapp",
            "to": to,
            "type": "text",
            "text": {"body": body[:MAX_TEXT]},
        }
        try:
            response = await self._client.post(url, json=payload)
        except httpx.HTTPError as exc:
            log.warning("whatsapp_send_failed", error=type(exc).__name__)
            return SendResult(error=type(exc).__name__, retryable=True)
        if not response.is_success:
            log.warning("whatsapp_send_failed", status=response.status_code)
            retry = response.status_code == 429 or response.status_code >= 500
            return SendResult(error=f"HTTP {response.status_code}", retryable=retry)
        try:
            wamid = str(response.json()["messages"][0]["id"])
        except (ValueError, KeyError, IndexError, TypeError):
            wamid = ""  # sent, but Graph's answer did not name it
        return SendResult(wamid=wamid)

    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        """A media file's bytes and MIME type, as Graph serves them: its metadata names a
        URL, and that URL (with the same token) answers the bytes."""
        info = await self._client.get(f"/{GRAPH_VERSION}/{media_id}")
        info.raise_for_status()
        meta = info.json()
        url, mime = str(meta["url"]), str(meta.get("mime_type") or "audio/ogg")
        if int(meta.get("file_size") or 0) > max_bytes:
            raise ValueError(f"media of {meta['file_size']} bytes is over the limit")
        data = await self._client.get(url)
        data.raise_for_status()
        if len(data.content) > max_bytes:
            raise ValueError("media over the limit")
        return data.content, mime

    async def send_text(self, to: str, body: str) -> bool:
        """Send ``body`` to ``to``; returns False (and logs) when the Graph API fails."""
        return (await self.send(to, body)).ok

    async def aclose(self) -> None:
        await self._client.aclose()
