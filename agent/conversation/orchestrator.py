"""The message pipeline: NLP -> session -> business rules -> intent flow -> audit -> reply.

Dependency failures never escape as errors: the guest gets an answer marked ``degraded``.
Every audit event is durable (PostgreSQL or the fallback file) before the reply returns.

Round trips of a message whose PMS answers are cached: one Redis MGET reads the session,
the dedupe entry and the cache entries the message's dates need (so NLP runs first, with
the conversation's language applied afterwards when the text has no language of its
own); then the audit INSERT (one PostgreSQL round trip) and one Redis MULTI/EXEC (the
session, its index entry and the dedupe entry) run concurrently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import structlog

from agent.alerts import guest_alert_key
from agent.audit import AuditEvent, new_event
from agent.audit.events import event_from_dict
from agent.conversation.business_hours import is_business_hours
from agent.conversation.flows import STATIC_INTENTS, Flows, Turn
from agent.conversation.media import Media, media_turn
from agent.conversation.templates import render
from agent.dedupe import Deduplicator
from agent.exceptions import SessionStoreUnavailable
from agent.metrics import AgentMetrics
from agent.nlp import Analysis, signalled_language
from agent.nlp.remote import LocalNLU, RemoteNLU
from agent.pms import PMSClient
from agent.pms.nights import PREFETCHED
from agent.sessions import Session, SessionStore
from agent.settings import AgentSettings

log = structlog.get_logger(__name__)
STAFF_ALERTS = {
    "payment_proof": "PaymentProofReceived",
    "cancellation_requested": "CancellationRequested",
}


class AuditSink(Protocol):
    async def record(self, event: AuditEvent) -> str: ...


class AlertSink(Protocol):
    def fire(
        self,
        key: str,
        *,
        alertname: str,
        severity: str,
        summary: str,
        labels: dict[str, str] | None = None,
    ) -> bool: ...


@dataclass(frozen=True)
class InboundMessage:
    guest_id: str
    channel: str
    text: str
    language: str | None = None
    message_id: str | None = None
    guest_name: str | None = None
    # More for the message's audit event (a voice note's transcription or its failure).
    extra: dict[str, Any] | None = None


@dataclass
class Reply:
    text: str
    intent: str
    confidence: float
    language: str
    degraded: bool
    session_id: str
    escalated: bool = False
    booking_id: str | None = None
    audit: list[str] = field(default_factory=list)
    # The stored answer when the message id was answered before (nothing was redone).
    earlier: dict[str, Any] | None = None

    @property
    def duplicate(self) -> bool:
        return self.earlier is not None

    @classmethod
    def repeat(cls, earlier: dict[str, Any]) -> Reply:
        return cls(
            text=str(earlier.get("reply", "")),
            intent=str(earlier.get("intent", "")),
            confidence=float(earlier.get("confidence", 0.0)),
            language=str(earlier.get("language", "")),
            degraded=bool(earlier.get("degraded", False)),
            session_id=str(earlier.get("session_id", "")),
            earlier=earlier,
        )

    def as_dict(self) -> dict[str, Any]:
        if self.earlier is not None:
            return dict(self.earlier)
        return {
            "reply": self.text,
            "intent": self.intent,
            "confidence": round(self.confidence, 3),
            "language": self.language,
            "degraded": self.degraded,
            "session_id": self.session_id,
            "escalated": self.escalated,
            "booking_id": self.booking_id,
        }


class Orchestrator:
    """Turns one guest message into one reply."""

    def __init__(
        self,
        settings: AgentSettings,
        metrics: AgentMetrics,
        *,
        pms: PMSClient,
        sessions: SessionStore,
        audit: AuditSink,
        alerts: AlertSink,
        dedupe: Deduplicator | None = None,
        nlu: LocalNLU | RemoteNLU | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._nlu = nlu or LocalNLU()
        self._settings = settings
        self._pms = pms
        self._dedupe = dedupe
        self._tz = ZoneInfo(settings.hotel.timezone)
        self._metrics = metrics
        self._sessions = sessions
        self._audit = audit
        self._alerts = alerts
        self._now = now
        self._flows = Flows(settings, pms)

    async def handle(
        self, msg: InboundMessage, *, claimed: bool = False, media: Media | None = None
    ) -> Reply:
        """Answer ``msg``; never raises for a dependency failure.

        With a message id, a repeat gets the earlier answer (``Reply.duplicate``) and a new
        message's answer is stored for repeats in the session's transaction, unless the
        caller ``claimed`` the id (WhatsApp: it stores the answer once the reply went out).
        ``media`` is a non-text message, answered without NLP.
        """
        started = time.perf_counter()
        dedupe = self._dedupe if msg.message_id and not claimed else None
        if dedupe is not None and msg.message_id:
            local = dedupe.local(msg.channel, msg.message_id)
            if local is not None:
                return Reply.repeat(local)
        now = self._now()
        today = now.astimezone(self._tz).date()
        # NLP before the session: its dates name the cache entries read with the session.
        own_language = None if media else (msg.language or signalled_language(msg.text))
        degraded = False
        if media is None:
            understood = await self._nlu.analyze(
                msg.text, today=today, language=own_language or "es"
            )
            analysis, degraded = understood.analysis, understood.degraded
        else:
            analysis = Analysis(msg.text, "es", f"media:{media.kind}", 1.0)
        ent = analysis.entities
        cache_keys = (
            self._pms.lookup_keys(ent.check_in, ent.check_out) if ent.check_in and not media else []
        )
        dedupe_key = dedupe.key(msg.channel, msg.message_id) if dedupe and msg.message_id else None
        also = [dedupe_key, *cache_keys] if dedupe_key else cache_keys
        try:
            session, raws = await self._sessions.load_with(msg.guest_id, msg.channel, also)
        except SessionStoreUnavailable as exc:
            log.warning("session_load_failed", error=str(exc))
            session = Session(guest_id=msg.guest_id, channel=msg.channel)
            raws, degraded = [], True
        if dedupe_key and raws:
            earlier = Deduplicator.decode(raws[0])
            raws = raws[1:]
            if earlier is not None:
                await self._record_again(earlier.events)
                return Reply.repeat(earlier.reply)
        if media is not None:
            turn = self._media(session, msg, media)
            return await self._finish(
                msg, session, analysis, turn, degraded, dedupe, started, media
            )
        # Short texts ("ok", "2") carry no language signal: keep the conversation's.
        language = own_language or session.language or "es"
        if language != analysis.language:
            again = await self._nlu.analyze(msg.text, today=today, language=language)
            analysis, degraded = again.analysis, degraded or again.degraded
        session.language = analysis.language

        prefetched = PREFETCHED.set(dict(zip(cache_keys, raws, strict=True)) if raws else None)
        try:
            turn = await self._route(session, analysis, msg, now)
        finally:
            PREFETCHED.reset(prefetched)
        return await self._finish(msg, session, analysis, turn, degraded, dedupe, started)

    def _media(self, session: Session, msg: InboundMessage, media: Media) -> Turn:
        return media_turn(session, media, self._settings.hotel)

    def _tell_staff(self, msg: InboundMessage, reason: str) -> None:
        # Staff act on it (a receipt to check, a booking to cancel); the key gives each
        # guest their own cooldown and no label names them.
        self._alerts.fire(
            guest_alert_key(f"staff:{reason}", msg.guest_id),
            alertname=STAFF_ALERTS[reason],
            severity="warning",
            summary=f"A guest on {msg.channel} needs staff ({reason})",
            labels={"reason": reason, "channel": msg.channel, "source": "agent"},
        )

    async def _finish(
        self,
        msg: InboundMessage,
        session: Session,
        analysis: Analysis,
        turn: Turn,
        degraded: bool,
        dedupe: Deduplicator | None,
        started: float,
        media: Media | None = None,
    ) -> Reply:
        """Audit, remember and save the turn; the reply with its audit event ids."""
        if turn.alert:
            self._tell_staff(msg, turn.alert)
        degraded = degraded or turn.degraded
        language = session.language or analysis.language
        extra = {"kind": media.kind} if media else {}
        events = [
            new_event(
                "message",
                msg.guest_id,
                channel=msg.channel,
                intent=turn.intent,
                session_id=session.session_id,
                payload={
                    "message_id": msg.message_id,
                    "language": language,
                    "confidence": round(analysis.confidence, 3) if not media else 1.0,
                    "degraded": degraded,
                    **extra,
                    **(msg.extra or {}),
                },
            ),
            *[
                new_event(
                    kind,
                    msg.guest_id,
                    channel=msg.channel,
                    intent=turn.intent,
                    session_id=session.session_id,
                    payload=payload,
                )
                for kind, payload in turn.events
            ],
        ]
        reply = Reply(
            text=turn.text,
            intent=turn.intent,
            confidence=analysis.confidence if not media else 1.0,
            language=language,
            degraded=degraded,
            session_id=session.session_id,
            escalated=turn.escalated,
            booking_id=turn.booking_id,
        )
        guest_intent = f"media:{media.kind}" if media else analysis.intent
        session.remember("guest", msg.text, self._settings.sessions.history_max, guest_intent)
        session.remember("agent", turn.text, self._settings.sessions.history_max, turn.intent)
        stored: list[tuple[str, bytes, int]] = []
        dedupe_key = dedupe.key(msg.channel, msg.message_id) if dedupe and msg.message_id else None
        if dedupe is not None and dedupe_key:
            entry = dedupe.encode(reply.as_dict(), [e.to_dict() for e in events])
            stored.append((dedupe_key, entry, dedupe.ttl_s))
        # Concurrent: the audit writes (each within its own budget) and the session save.
        outcomes, saved = await asyncio.gather(
            asyncio.gather(*(self._audit.record(e) for e in events), return_exceptions=True),
            self._save(session, stored),
        )
        lost = False
        for event, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                # PostgreSQL and the fallback file both failed: this log line is the last
                # copy of the event, so it carries the whole event.
                log.error("audit_event_lost", audit_event=event.to_dict(), error=str(outcome))
                lost = True
            else:
                reply.audit.append(event.event_id)
        reply.degraded = degraded or lost or not saved
        if dedupe is not None and msg.message_id:
            if lost and saved:
                await dedupe.remember(msg.channel, msg.message_id, reply.as_dict())
            else:
                dedupe.remember_local(msg.channel, msg.message_id, reply.as_dict())

        status = "escalated" if turn.escalated else ("degraded" if reply.degraded else "ok")
        self._metrics.orchestrator_messages.labels(intent=turn.intent, status=status).inc()
        self._metrics.orchestrator_latency.labels(intent=turn.intent).observe(
            time.perf_counter() - started
        )
        return reply

    async def _save(self, session: Session, also: list[tuple[str, bytes, int]]) -> bool:
        try:
            await self._sessions.save(session, also)
        except SessionStoreUnavailable as exc:
            log.warning("session_save_failed", error=str(exc))
            return False
        return True

    async def _record_again(self, events: list[dict[str, Any]]) -> None:
        """Make a repeat's audit events durable (idempotent): its first run may have died
        after storing the dedupe entry but before the events were durable."""
        outcomes = await asyncio.gather(
            *(self._audit.record(event_from_dict(e)) for e in events), return_exceptions=True
        )
        for data, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                log.error("audit_event_lost", audit_event=data, error=str(outcome))

    async def _route(
        self, session: Session, analysis: Analysis, msg: InboundMessage, now: datetime
    ) -> Turn:
        hotel = self._settings.hotel
        lang = analysis.language
        open_now = is_business_hours(now, hotel)

        if analysis.entities.urgent and not open_now:
            return self._escalate(session, msg, lang, "urgent_after_hours", "escalated_urgent")

        pending = await self._flows.continue_pending(session, analysis, msg)
        if pending is not None:
            session.clarifications = 0
            return pending

        nlp = self._settings.nlp
        if (
            session.pending
            and analysis.intent != "human_agent"
            and not self._flows.interrupts(analysis, nlp.low_confidence)
        ):
            return await self._keep_step(session, analysis, msg)
        if analysis.intent == "unknown" or analysis.confidence < nlp.low_confidence:
            session.clarifications += 1
            if session.clarifications > nlp.max_clarifications:
                session.clarifications = 0
                return self._escalate(
                    session, msg, lang, "repeated_misunderstanding", "escalated_confused"
                )
            key = (
                "clarify"
                if analysis.intent != "unknown" or session.clarifications > 1
                else "fallback"
            )
            return Turn(render(key, lang), intent=analysis.intent)
        session.clarifications = 0

        if analysis.intent == "human_agent":
            if not open_now:
                text = render(
                    "after_hours",
                    lang,
                    open=hotel.business_open_hour,
                    close=hotel.business_close_hour,
                )
                return Turn(text, intent="human_agent")
            return self._escalate(session, msg, lang, "guest_asked_for_staff", "human_agent")
        return await self._flows.answer(session, analysis, msg)

    async def _keep_step(self, session: Session, analysis: Analysis, msg: InboundMessage) -> Turn:
        """A message that neither answers the step in progress nor starts a new task: a
        question is answered and the step asked again, anything else re-asks the step."""
        lang = analysis.language
        confident = analysis.confidence >= self._settings.nlp.low_confidence
        if analysis.intent in STATIC_INTENTS and confident:
            step = session.pending
            turn = await self._flows.answer(session, analysis, msg)
            session.pending = step
            question = (await self._flows.reask(session, lang)).text
            turn.text = f"{turn.text}\n{render('still_pending', lang, question=question)}"
            return turn
        return await self._flows.reask(session, lang)

    def _escalate(
        self, session: Session, msg: InboundMessage, lang: str, reason: str, template: str
    ) -> Turn:
        # The key (hashed guest id) gives each guest their own cooldown; no label names them.
        self._alerts.fire(
            guest_alert_key(f"escalation:{reason}", msg.guest_id),
            alertname="GuestEscalation",
            severity="critical" if reason == "urgent_after_hours" else "warning",
            summary=f"A guest on {msg.channel} needs staff ({reason})",
            labels={"reason": reason, "channel": msg.channel, "source": "agent"},
        )
        session.pending = None
        return Turn(
            render(template, lang),
            intent="escalation",
            escalated=True,
            events=[("escalation", {"reason": reason, "text": msg.text[:500]})],
        )
