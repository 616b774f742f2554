"""The conversation pipeline end to end in-process: the real NLP and PMS simulator
(over an in-memory transport), fakeredis sessions, recording audit and alert sinks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

from agent.audit import AuditEvent
from agent.conversation import InboundMessage, Orchestrator
from agent.conversation.templates import TEMPLATES
from agent.exceptions import AuditUnavailable
from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.sessions import SessionStore
from agent.settings import AgentSettings, PMSSettings
from chaos.pms_simulator import create_app
from chaos.pms_simulator.testing import FakePMS, RecordingSleep

TODAY = date(2026, 3, 2)  # a Monday
NOON_BA = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)  # 12:00 in Buenos Aires
MIDNIGHT_BA = datetime(2026, 3, 3, 3, 30, tzinfo=UTC)  # 00:30 in Buenos Aires
KEY = "k"


class AuditRecorder:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[AuditEvent] = []
        self.fail = fail

    async def record(self, event: AuditEvent) -> str:
        if self.fail:
            raise AuditUnavailable("disk and database both gone")
        self.events.append(event)
        return "written"


class AlertRecorder:
    def __init__(self) -> None:
        self.fired: list[dict[str, Any]] = []

    def fire(self, key: str, **kw: Any) -> bool:
        self.fired.append({"key": key, **kw})
        return True


class Harness:
    def __init__(
        self,
        orchestrator: Orchestrator,
        audit: AuditRecorder,
        alerts: AlertRecorder,
        sim: httpx.AsyncClient,
        metrics: AgentMetrics,
    ) -> None:
        self.orchestrator, self.audit, self.alerts, self.sim = orchestrator, audit, alerts, sim
        self.metrics = metrics

    async def say(self, text: str, guest: str = "g1", **kw: Any) -> Any:
        return await self.orchestrator.handle(InboundMessage(guest, "api", text, **kw))

    async def rooms_left(self, room_type: str, check_in: str, check_out: str) -> int:
        r = await self.sim.get(
            "/api/v1/availability",
            headers={"X-API-Key": KEY},
            params={
                "check_in": check_in,
                "check_out": check_out,
                "guests": 2,
                "room_type": room_type,
            },
        )
        return int(next(o for o in r.json()["offers"] if o["room_type"] == room_type)["available"])


def build(
    now: datetime,
    *,
    pms_transport: httpx.AsyncBaseTransport | None = None,
    audit: AuditRecorder | None = None,
) -> tuple[Harness, PMSClient]:
    settings = AgentSettings(pms=PMSSettings(base_url="http://pms", api_key=SecretStr(KEY)))
    metrics = AgentMetrics()
    redis = fakeredis.FakeAsyncRedis()
    app = create_app(KEY, today=TODAY)
    transport = pms_transport or httpx.ASGITransport(app=app)
    pms = PMSClient(settings.pms, metrics, redis, transport=transport, sleep=RecordingSleep())
    recorder, alerts = audit or AuditRecorder(), AlertRecorder()
    orch = Orchestrator(
        settings,
        metrics,
        pms=pms,
        sessions=SessionStore(redis, settings.sessions, metrics, sleep=RecordingSleep()),
        audit=recorder,
        alerts=alerts,
        now=lambda: now,
    )
    sim = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://pms")
    return Harness(orch, recorder, alerts, sim, metrics), pms


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness, pms = build(NOON_BA)
    yield harness
    await pms.aclose()


async def test_spanish_multi_turn_booking_really_books(h: Harness) -> None:
    before = await h.rooms_left("suite", "2026-03-12", "2026-03-15")
    r1 = await h.say("Hola, ¿tienen disponibilidad del 12 al 15 de marzo para 2 personas?")
    assert r1.intent == "availability" and r1.language == "es" and not r1.degraded
    assert "Suite" in r1.text and "12" in r1.text
    r2 = await h.say("Quiero la suite")
    assert r2.intent == "reservation" and "¿Confirmás?" in r2.text
    r3 = await h.say("Sí, confirmo")
    assert r3.booking_id and r3.booking_id.startswith("BK-")
    assert r3.booking_id in r3.text
    assert await h.rooms_left("suite", "2026-03-12", "2026-03-15") == before - 1
    kinds = [e.event_type for e in h.audit.events]
    assert kinds.count("message") == 3 and "booking" in kinds
    booking = next(e for e in h.audit.events if e.event_type == "booking")
    assert booking.payload["booking_id"] == r3.booking_id


async def test_declining_the_booking_books_nothing(h: Harness) -> None:
    before = await h.rooms_left("deluxe", "2026-03-20", "2026-03-22")
    await h.say("¿Tienen lugar del 20 al 22 de marzo para 2?")
    await h.say("Quiero una deluxe")
    r = await h.say("No")
    assert r.booking_id is None and "no hice la reserva" in r.text
    assert await h.rooms_left("deluxe", "2026-03-20", "2026-03-22") == before


async def test_english_late_checkout_two_step_with_fee_half_the_nightly_rate(h: Harness) -> None:
    booked = await h.sim.post(
        "/api/v1/bookings",
        headers={"X-API-Key": KEY},
        json={
            "room_type": "standard",
            "check_in": "2026-03-05",
            "check_out": "2026-03-07",
            "guests": 2,
            "guest_name": "Ann",
            "guest_id": "g1",
        },
    )
    booking = booked.json()
    r1 = await h.say("Hi, I'd like a late checkout please")
    assert r1.intent == "late_checkout" and "booking number" in r1.text
    r2 = await h.say(f"My booking is {booking['id']}")
    rate = float(booking["nightly_rates"][-1]["rate"])
    assert f"{rate / 2:,.2f}" in r2.text and "14:00" in r2.text
    r3 = await h.say("yes")
    assert r3.language == "en" and "Confirmed" in r3.text
    got = await h.sim.get(f"/api/v1/bookings/{booking['id']}", headers={"X-API-Key": KEY})
    assert got.json()["late_checkout"] is True
    decision = [e for e in h.audit.events if e.event_type == "late_checkout"][-1]
    assert decision.payload["decision"] == "confirmed"


async def test_information_intents_answer_from_hotel_settings(h: Harness) -> None:
    assert "15:00" in (await h.say("¿A qué hora es el check-in?")).text
    assert "Libertador" in (await h.say("Where are you located?")).text
    r = await h.say("What are your opening hours?")
    assert "9:00" in r.text and "21:00" in r.text


async def test_urgent_after_hours_escalates_to_staff_without_exposing_the_guest() -> None:
    harness, pms = build(MIDNIGHT_BA)
    try:
        r = await harness.say("Es urgente, se inundó el baño", guest="5491100000001")
        assert r.escalated and r.intent == "escalation"
        alert = harness.alerts.fired[0]
        assert alert["severity"] == "critical" and "5491100000001" not in str(alert)
        assert [e.event_type for e in harness.audit.events] == ["message", "escalation"]
    finally:
        await pms.aclose()


async def test_urgent_in_business_hours_is_handled_not_escalated(h: Harness) -> None:
    r = await h.say("urgente: ¿a qué hora es el check-out?")
    assert not r.escalated and h.alerts.fired == []


async def test_repeated_misunderstanding_escalates(h: Harness) -> None:
    replies = [await h.say("xqzv blorp") for _ in range(3)]
    assert [r.escalated for r in replies] == [False, False, True]
    assert replies[0].text == TEMPLATES["fallback"]["es"]
    assert h.alerts.fired[0]["labels"]["reason"] == "repeated_misunderstanding"


async def test_dates_the_pms_refuses_get_an_explanation_not_an_error(h: Harness) -> None:
    far = await h.say("¿Tienen disponibilidad del 10 al 12 de marzo de 2028?")
    assert far.intent == "availability" and not far.degraded
    assert "próximo año" in far.text
    long_stay = await h.say("Do you have rooms from March 10 to April 30?")
    assert "within the next year" in long_stay.text
    booking = await h.say("I want to book a suite")
    assert booking.intent == "reservation" and "Which dates" in booking.text


async def test_pms_down_gives_a_degraded_answer_not_an_error() -> None:
    fake = FakePMS(KEY, today=TODAY)
    fake.fail_connect()
    harness, pms = build(NOON_BA, pms_transport=httpx.MockTransport(fake))
    try:
        r = await harness.say("¿Tienen disponibilidad del 12 al 15 de marzo?")
        assert r.degraded and "sistema de reservas" in r.text
        assert (
            harness.metrics.registry.get_sample_value(
                "orchestrator_messages_total", {"intent": "availability", "status": "degraded"}
            )
            == 1
        )
    finally:
        await pms.aclose()


async def test_audit_total_failure_marks_the_reply_degraded() -> None:
    harness, pms = build(NOON_BA, audit=AuditRecorder(fail=True))
    try:
        r = await harness.say("Hola")
        assert r.degraded and r.intent == "greeting"
    finally:
        await pms.aclose()


def test_every_template_exists_in_both_languages() -> None:
    for key, texts in TEMPLATES.items():
        assert set(texts) == {"es", "en"}, key
