"""The WhatsApp Cloud API webhook: verification handshake and signed message delivery."""

from __future__ import annotations

import hmac
from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from agent.conversation import InboundMessage
from agent.errors import ClientError
from agent.routes.common import read_json
from agent.whatsapp import PayloadError, parse_payload, signature_valid

router = APIRouter(prefix="/webhooks", tags=["whatsapp"])

UNSUPPORTED_TYPE_TEXT = {
    "es": "Por ahora solo puedo leer mensajes de texto. ¿Me lo escribís?",
    "en": "For now I can only read text messages. Could you type it?",
}


@router.get("/whatsapp", response_class=PlainTextResponse)
async def verify(
    request: Request,
    mode: str = Query("", alias="hub.mode"),
    token: str = Query("", alias="hub.verify_token"),
    challenge: str = Query("", alias="hub.challenge", max_length=256),
) -> str:
    """Meta's subscription handshake: echo the challenge when the token matches."""
    expected = request.app.state.settings.whatsapp.verify_token.get_secret_value()
    if not expected:
        raise ClientError(503, "webhook_disabled", "set AGENT_WHATSAPP__VERIFY_TOKEN")
    if mode != "subscribe" or not hmac.compare_digest(token.encode(), expected.encode()):
        raise ClientError(403, "verification_failed", "hub.mode or hub.verify_token is wrong")
    return challenge


@router.post("/whatsapp")
async def receive(request: Request) -> dict[str, Any]:
    """Verify the signature, answer each new message, and send the replies."""
    state = request.app.state
    secret = state.settings.whatsapp.app_secret.get_secret_value()
    if not secret:
        raise ClientError(503, "webhook_disabled", "set AGENT_WHATSAPP__APP_SECRET")
    raw, payload = await read_json(request)
    if not signature_valid(secret, raw, request.headers.get("x-hub-signature-256")):
        raise ClientError(
            401, "invalid_signature", "X-Hub-Signature-256 is missing or does not match the body"
        )
    try:
        messages = parse_payload(payload)
    except PayloadError as exc:
        raise ClientError(400, "malformed_payload", str(exc)) from exc

    processed = duplicates = 0
    for msg in messages:
        if msg.text is None:
            if await state.dedupe.seen("whatsapp", msg.message_id) is not None:
                duplicates += 1
                continue
            text = UNSUPPORTED_TYPE_TEXT["es"]
            result: dict[str, Any] = {"reply": text, "intent": "unsupported_type"}
        else:
            # The message id is checked with the session; it is stored only after the
            # reply went out, so a crash before sending leaves Meta's retry unanswered-free.
            reply = await state.orchestrator.handle(
                InboundMessage(
                    guest_id=msg.sender,
                    channel="whatsapp",
                    text=msg.text,
                    message_id=msg.message_id,
                    guest_name=msg.name,
                ),
                remember=False,
            )
            if reply.duplicate:
                duplicates += 1
                continue
            result = reply.as_dict()
        await state.graph.send_text(msg.sender, result["reply"])
        await state.dedupe.remember("whatsapp", msg.message_id, result)
        processed += 1
    return {"status": "ok", "processed": processed, "duplicates": duplicates}
