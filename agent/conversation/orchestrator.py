"""The message pipeline: session -> NLP -> business rules -> intent flow -> audit -> reply.

Dependency failures never escape as errors: the guest gets an answer marked ``degraded``.
Every audit event is durable (PostgreSQL or the fallback file) before the reply returns.
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
from agent.conversation.business_hours import is_business_hours
from agent.conversation.flows import Flows, Turn
from agent.conversation.templates import render
from agent.exceptions import SessionStoreUnavailable
from agent.metrics import AgentMetrics
from agent.nlp import Analysis, analyze, detect_language
from agent.pms import PMSClient
from agent.sessions import Session, SessionStore
from agent.settings import AgentSettings

log = structlog.get_logger(__name__)


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

    def as_dict(self) -> dict[str, Any]:
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
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sessions = sessions
        self._audit = audit
        self._alerts = alerts
        self._now = now
        self._flows = Flows(settings, pms)

    async def handle(self, msg: InboundMessage) -> Reply:
        """Answer ``msg``; never raises for a dependency failure."""
        started = time.perf_counter()
        degraded = False
        try:
            session = await self._sessions.load(msg.guest_id, msg.channel)
        except SessionStoreUnavailable as exc:
            log.warning("session_load_failed", error=str(exc))
            session = Session(guest_id=msg.guest_id, channel=msg.channel)
            degraded = True

        now = self._now()
        today = now.astimezone(ZoneInfo(self._settings.hotel.timezone)).date()
        # Short texts ("ok", "2") carry no language signal: keep the conversation's.
        language = msg.language or detect_language(msg.text, default=session.language or "es")
        analysis = analyze(msg.text, today=today, language=language)
        session.language = analysis.language

        turn = await self._route(session, analysis, msg, now)
        degraded = degraded or turn.degraded

        events = [
            new_event(
                "message",
                msg.guest_id,
                channel=msg.channel,
                intent=turn.intent,
                session_id=session.session_id,
                payload={
                    "message_id": msg.message_id,
                    "language": analysis.language,
                    "confidence": round(analysis.confidence, 3),
                    "degraded": degraded,
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
        # Concurrent, so a reply waits at most one write budget however many events it made.
        outcomes = await asyncio.gather(
            *(self._audit.record(e) for e in events), return_exceptions=True
        )
        audit_ids = []
        for event, outcome in zip(events, outcomes, strict=True):
            if isinstance(outcome, BaseException):
                # PostgreSQL and the fallback file both failed: this log line is the last
                # copy of the event, so it carries the whole event.
                log.error("audit_event_lost", audit_event=event.to_dict(), error=str(outcome))
                degraded = True
            else:
                audit_ids.append(event.event_id)

        session.remember("guest", msg.text, self._settings.sessions.history_max, analysis.intent)
        session.remember("agent", turn.text, self._settings.sessions.history_max, turn.intent)
        try:
            await self._sessions.save(session)
        except SessionStoreUnavailable as exc:
            log.warning("session_save_failed", error=str(exc))
            degraded = True

        status = "escalated" if turn.escalated else ("degraded" if degraded else "ok")
        self._metrics.orchestrator_messages.labels(intent=turn.intent, status=status).inc()
        self._metrics.orchestrator_latency.labels(intent=turn.intent).observe(
            time.perf_counter() - started
        )
        return Reply(
            text=turn.text,
            intent=turn.intent,
            confidence=analysis.confidence,
            language=analysis.language,
            degraded=degraded,
            session_id=session.session_id,
            escalated=turn.escalated,
            booking_id=turn.booking_id,
            audit=audit_ids,
        )

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
