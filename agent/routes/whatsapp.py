"""The WhatsApp Cloud API webhook: verification handshake and signed message delivery.

Meta delivers at least once, sometimes two copies at the same moment, and retries
anything but a 2xx; so every payload gets a 2xx or a 4xx with a reason, each message id
is claimed atomically before it is answered (``agent.delivery.claims``), and a reply
Graph does not take goes to the outbox instead of being lost.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from redis.exceptions import RedisError

from agent.conversation import InboundMessage
from agent.conversation.media import Media
from agent.delivery import OutboxItem
from agent.errors import ClientError
from agent.metrics import WHATSAPP_KINDS
from agent.routes.common import read_json
from agent.whatsapp import PayloadError, WhatsAppMessage, parse_webhook, signature_valid

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/webhooks", tags=["whatsapp"])
CHANNEL = "whatsapp"


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
    """Verify the signature, store delivery statuses, answer each new message once."""
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
        hook = parse_webhook(payload)
    except PayloadError as exc:
        raise ClientError(400, "malformed_payload", str(exc)) from exc
    if hook.statuses:
        try:
            await state.statuses.record(hook.statuses)
        except RedisError as exc:  # statuses are information: Meta need not resend them
            log.warning("whatsapp_statuses_not_stored", error=str(exc))
    processed = duplicates = 0
    for msg in hook.messages:
        if await _answer_once(state, msg):
            processed += 1
        else:
            duplicates += 1
    return {
        "status": "ok",
        "processed": processed,
        "duplicates": duplicates,
        "statuses": len(hook.statuses),
    }


async def _inbound(state: Any, msg: WhatsAppMessage) -> tuple[InboundMessage, Media | None, str]:
    kind = msg.kind if msg.kind in WHATSAPP_KINDS else "unsupported"
    media = None
    text = msg.text
    extra = None
    if kind == "audio":
        # A voice note is answered as the text heard; without one, the guest is asked
        # to type (the audit event keeps the transcription or why there was none).
        heard = await state.voice.hear(msg.details.get("media_id"))
        extra = {"voice": heard.audit()}
        text = heard.text or None
    if text is None:
        media = Media(kind, {"type": msg.kind[:32], **msg.details})
        caption = msg.details.get("caption")
        text = f"[{msg.kind[:32]}]" + (f" {caption}" if caption else "")
    inbound = InboundMessage(
        guest_id=msg.sender,
        channel=CHANNEL,
        text=text,
        message_id=msg.message_id,
        guest_name=msg.name,
        extra=extra,
    )
    return inbound, media, kind


async def _answer_once(state: Any, msg: WhatsAppMessage) -> bool:
    """Answer and send one message unless another copy was or is being answered."""
    metrics = state.metrics
    claim = await state.claims.claim(CHANNEL, msg.message_id)
    if not claim.owner:
        metrics.whatsapp_duplicates.labels(how="concurrent" if claim.waited else "stored").inc()
        if claim.earlier is not None and not claim.earlier.sent:
            await state.outbox.kick(msg.message_id)  # the guest is still owed the reply
        return False
    try:
        inbound, media, kind = await _inbound(state, msg)
        reply = await state.orchestrator.handle(inbound, claimed=True, media=media)
    except BaseException:
        await state.claims.release(CHANNEL, msg.message_id)
        raise
    metrics.whatsapp_messages.labels(kind=kind).inc()
    answer = reply.as_dict()
    sent = await state.graph.send(msg.sender, answer["reply"])
    metrics.whatsapp_sends.labels(outcome="sent" if sent.ok else "failed").inc()
    also: list[tuple[str, bytes, float | None]] = []
    if sent.wamid:
        also.append(state.statuses.outbound(sent.wamid, msg.sender, msg.message_id))
    item = None
    if not sent.ok and sent.retryable:
        item = OutboxItem(msg.message_id, CHANNEL, msg.sender, answer["reply"], 1, time.time())
        also += state.outbox.staged(item)
    stored = await state.claims.complete(
        CHANNEL, msg.message_id, answer, [], sent=sent.ok, wamid=sent.wamid, also=also
    )
    if item is not None:
        state.outbox.queued(item, stored)
    return True
