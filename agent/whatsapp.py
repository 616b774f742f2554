"""WhatsApp Cloud API: webhook signature check, payload parsing, and the Graph API sender."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

from agent.settings import WhatsAppSettings

log = structlog.get_logger(__name__)
GRAPH_VERSION = "v18.0"


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
    message_id: str
    sender: str
    text: str | None
    kind: str
    name: str | None


class PayloadError(ValueError):
    """The webhook payload does not have the WhatsApp Cloud API shape."""


def parse_payload(payload: Any) -> list[WhatsAppMessage]:
    """The inbound messages of a webhook payload; status updates are ignored."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise PayloadError("object must be 'whatsapp_business_account'")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise PayloadError("entry must be a list")
    messages: list[WhatsAppMessage] = []
    for entry in entries:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            raise PayloadError("entry[].changes must be a list")
        for change in changes:
            value = change.get("value") if isinstance(change, dict) else None
            if not isinstance(value, dict):
                raise PayloadError("entry[].changes[].value must be an object")
            names = {
                c.get("wa_id"): (c.get("profile") or {}).get("name")
                for c in value.get("contacts") or []
                if isinstance(c, dict)
            }
            for m in value.get("messages") or []:
                if not isinstance(m, dict) or not m.get("id") or not m.get("from"):
                    raise PayloadError("every message needs 'id' and 'from'")
                kind = str(m.get("type", "unknown"))
                text = (m.get("text") or {}).get("body") if kind == "text" else None
                if kind == "interactive":
                    reply = (m.get("interactive") or {}).get("button_reply") or {}
                    text, kind = reply.get("title"), "text"
                messages.append(
                    WhatsAppMessage(
                        message_id=str(m["id"]),
                        sender=str(m["from"]),
                        text=str(text) if text else None,
                        kind=kind,
                        name=names.get(m["from"]),
                    )
                )
    return messages


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

    async def send_text(self, to: str, body: str) -> bool:
        """Send ``body`` to ``to``; returns False (and logs) when the Graph API fails."""
        url = f"/{GRAPH_VERSION}/{self._settings.phone_number_id}/messages"
        payload = {
            "messaging_product": "whatsapp",
            "to": to,
            "type": "text",
            "text": {"body": body[:4096]},
        }
        try:
            response = await self._client.post(url, json=payload)
            response.raise_for_status()
        except httpx.HTTPError as exc:
            log.warning("whatsapp_send_failed", error=type(exc).__name__)
            return False
        return True

    async def aclose(self) -> None:
        await self._client.aclose()
