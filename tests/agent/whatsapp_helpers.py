"""Signed WhatsApp webhooks for the live tests, and the Graph recorder read back."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import httpx

from agent.whatsapp import sign
from chaos.stack.state import StackState

PMS_KEY = {"X-API-Key": "pms-dev-key"}


def sender() -> str:
    return f"54911{uuid.uuid4().int % 10**8:08d}"


def wamid() -> str:
    return f"wamid.{uuid.uuid4().hex}"


def envelope(value: dict[str, Any]) -> dict[str, Any]:
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": value}]}],
    }


def message(frm: str, mid: str, kind: str = "text", **body: Any) -> dict[str, Any]:
    """A webhook with one message of ``kind`` whose ``kind`` object is ``body``."""
    if kind == "text" and "body" not in body:
        body = {"body": "hola"}
    return envelope(
        {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "5491155550100", "phone_number_id": "lab"},
            "contacts": [{"wa_id": frm, "profile": {"name": "Ana"}}],
            "messages": [
                {
                    "id": mid,
                    "from": frm,
                    "timestamp": str(int(time.time())),
                    "type": kind,
                    kind: body,
                }
            ],
        }
    )


def text(frm: str, body: str, mid: str | None = None) -> dict[str, Any]:
    return message(frm, mid or wamid(), "text", body=body)


def signed(stack: StackState, payload: Any) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(payload).encode()
    return raw, {
        "content-type": "application/json",
        "x-hub-signature-256": sign(stack.whatsapp_secret, raw),
    }


def post(client: httpx.Client, stack: StackState, payload: Any) -> httpx.Response:
    raw, headers = signed(stack, payload)
    return client.post("/webhooks/whatsapp", content=raw, headers=headers)


def sent_to(stack: StackState, to: str) -> list[dict[str, Any]]:
    """Replies the Graph recorder received for ``to``, oldest first."""
    r = httpx.get(f"{stack.url('pms')}/graph/_sent", params={"to": to}, headers=PMS_KEY, timeout=5)
    return list(r.json()["messages"])


def reply_texts(stack: StackState, to: str) -> list[str]:
    return [m["payload"]["text"]["body"] for m in sent_to(stack, to)]
