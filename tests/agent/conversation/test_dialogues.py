"""The scripted dialogue set (``dialogues.py``) through the real pipeline in-process: the
real NLP and rules, the PMS simulator over an in-memory transport, fakeredis sessions.
Prints the share of dialogues whose booking went through, and of goals reached."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

from agent.audit import AuditEvent
from agent.conversation import InboundMessage, Orchestrator, Reply
from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.sessions import SessionStore
from agent.settings import AgentSettings, PMSSettings
from chaos.pms_simulator import create_app
from chaos.pms_simulator.testing import RecordingSleep
from tests.agent.conversation.dialogues import DIALOGUES, HELD_OUT, Dialogue

TODAY = date(2026, 3, 2)  # a Monday
NOON_BA = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
KEY = "k"
# The share of dialogues whose booking must go through (measured, then kept as a floor).
# Measured once, as the rules stood when they were written: 80 % booked.
HELD_OUT_FLOOR = 0.7
BOOKING_FLOOR = 0.9  # measured: 14 % before the rules of issue 17, 98 % after


class Audit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    async def record(self, event: AuditEvent) -> str:
        self.events.append(event)
        return "written"


class Alerts:
    def fire(self, key: str, **kw: Any) -> bool:
        return True


async def play(dialogue: Dialogue) -> tuple[list[Reply], Audit]:
    settings = AgentSettings(pms=PMSSettings(base_url="http://pms", api_key=SecretStr(KEY)))
    metrics = AgentMetrics()
    redis = fakeredis.FakeAsyncRedis()
    transport = httpx.ASGITransport(app=create_app(KEY, today=TODAY))
    pms = PMSClient(settings.pms, metrics, redis, transport=transport, sleep=RecordingSleep())
    audit = Audit()
    orch = Orchestrator(
        settings,
        metrics,
        pms=pms,
        sessions=SessionStore(redis, settings.sessions, metrics, sleep=RecordingSleep()),
        audit=audit,
        alerts=Alerts(),
        now=lambda: NOON_BA,
    )
    replies = []
    try:
        for turn in dialogue.turns:
            replies.append(await orch.handle(InboundMessage("guest", "whatsapp", turn)))
    finally:
        await pms.aclose()
    return replies, audit


def booked(replies: list[Reply]) -> str | None:
    return next((r.booking_id for r in replies if r.booking_id), None)


def reached(dialogue: Dialogue, replies: list[Reply], audit: Audit) -> bool:
    booking = booked(replies)
    if booking is None:
        return False
    if dialogue.goal == "late_checkout":
        return any(
            e.event_type == "late_checkout" and e.payload.get("decision") == "confirmed"
            for e in audit.events
        )
    if dialogue.goal == "cancel":
        return any(
            e.event_type == "cancellation" and e.payload.get("booking_id") == booking
            for e in audit.events
        )
    return True


async def measure(name: str, dialogues: tuple[Dialogue, ...]) -> float:
    """Play every dialogue; print and return the share whose booking went through."""
    outcomes = []
    for dialogue in dialogues:
        replies, audit = await play(dialogue)
        assert len(replies) == len(dialogue.turns)
        assert all(r.text and not r.degraded for r in replies), dialogue.name
        outcomes.append((dialogue, booked(replies) is not None, reached(dialogue, replies, audit)))
    bookings = sum(b for _, b, _ in outcomes) / len(outcomes)
    goals = sum(g for _, _, g in outcomes) / len(outcomes)
    for language in ("es", "en"):
        mine = [o for o in outcomes if o[0].language == language]
        share = sum(b for _, b, _ in mine) / len(mine)
        print(f"\n{name} {language}: {share:.0%} of {len(mine)} dialogues booked")
    missed = [d.name for d, b, g in outcomes if not g]
    print(
        f"\n{name}: {len(outcomes)} dialogues; booking completed in {bookings:.0%}, goal "
        f"reached in {goals:.0%}; missed: {', '.join(missed) or 'none'}"
    )
    return bookings


async def test_the_dialogue_set_books_and_reaches_its_goals() -> None:
    assert await measure("dialogue set", DIALOGUES) >= BOOKING_FLOOR


async def test_the_held_out_dialogues_book() -> None:
    assert await measure("held-out set", HELD_OUT) >= HELD_OUT_FLOOR


@pytest.mark.parametrize("dialogue", DIALOGUES + HELD_OUT, ids=lambda d: d.name)
def test_every_dialogue_is_written_as_a_guest_would(dialogue: Dialogue) -> None:
    assert dialogue.language in ("es", "en") and dialogue.goal in (
        "booking",
        "late_checkout",
        "cancel",
    )
    assert 1 <= len(dialogue.turns) <= 8 and all(t.strip() for t in dialogue.turns)
