"""Conversation rules on phrasings of their own (the dialogue set is never used to tune
them): room words to PMS room types, slots re-asked without losing the booking, the
guest's bookings remembered, relative dates in the hotel's time zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

from agent.audit import AuditEvent
from agent.conversation import InboundMessage, Orchestrator, Reply
from agent.conversation.rooms import DEFAULT_CAPACITY, party_size, resolve
from agent.metrics import AgentMetrics
from agent.nlp import analyze
from agent.pms import PMSClient
from agent.sessions import SessionStore
from agent.settings import AgentSettings, PMSSettings
from chaos.pms_simulator import create_app
from chaos.pms_simulator.testing import RecordingSleep

TODAY = date(2026, 3, 2)  # a Monday
KEY = "k"


class Sinks:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []
        self.alerts: list[dict[str, Any]] = []

    async def record(self, event: AuditEvent) -> str:
        self.events.append(event)
        return "written"

    def fire(self, key: str, **kw: Any) -> bool:
        self.alerts.append(kw)
        return True


class Chat:
    def __init__(self, now: datetime) -> None:
        settings = AgentSettings(pms=PMSSettings(base_url="http://pms", api_key=SecretStr(KEY)))
        metrics = AgentMetrics()
        redis = fakeredis.FakeAsyncRedis()
        transport = httpx.ASGITransport(app=create_app(KEY, today=TODAY))
        self.pms = PMSClient(
            settings.pms, metrics, redis, transport=transport, sleep=RecordingSleep()
        )
        self.sinks = Sinks()
        self.orch = Orchestrator(
            settings,
            metrics,
            pms=self.pms,
            sessions=SessionStore(redis, settings.sessions, metrics, sleep=RecordingSleep()),
            audit=self.sinks,
            alerts=self.sinks,
            now=lambda: now,
        )

    async def say(self, text: str) -> Reply:
        return await self.orch.handle(InboundMessage("g", "whatsapp", text))


@pytest.fixture
async def chat() -> AsyncIterator[Chat]:
    c = Chat(datetime(2026, 3, 2, 15, 0, tzinfo=UTC))
    yield c
    await c.pms.aclose()


@pytest.mark.parametrize(
    ("wish", "guests", "room"),
    [
        ("double", 2, "standard"),
        ("double", 3, "superior"),
        ("twin", 2, "standard"),
        ("single", 1, "standard"),
        ("triple", 3, "superior"),
        ("family", 4, "suite"),
        ("family", 6, "suite"),  # none holds six: the largest that matches
        ("view", 2, "superior"),
        ("balcony", 2, "deluxe"),
        ("king", 2, "deluxe"),
        ("cheapest", 4, "suite"),
        ("deluxe", 2, "deluxe"),
        (None, 2, None),
    ],
)
def test_room_wishes_map_to_the_types_that_fit_the_party(
    wish: str | None, guests: int, room: str | None
) -> None:
    assert resolve(wish, guests, dict(DEFAULT_CAPACITY)) == room


@pytest.mark.parametrize(
    ("text", "wish", "guests"),
    [
        ("una habitación matrimonial por favor", "double", None),
        ("hay cuarto con 2 camas?", "twin", None),
        ("something with twin beds", "twin", None),
        ("una habitacion individual", "single", None),
        ("a triple room", "triple", None),
        ("habitación familiar, somos cinco", "family", 5),
        ("algo con vista al río", "view", None),
        ("a room with a view", "view", None),
        ("la más barata que tengas", "cheapest", None),
        ("a king bed please", "king", None),
        ("yo y mi pareja", None, 2),
        ("me and my partner", None, 2),
        ("family of 3", "family", 3),
    ],
)
def test_room_words_and_parties_guests_use(text: str, wish: str | None, guests: int) -> None:
    ent = analyze(text, today=TODAY).entities
    assert ent.room_wish == wish
    assert ent.guests == guests


def test_a_wish_implies_a_party_when_none_is_said() -> None:
    assert party_size(None, "single") == 1 and party_size(None, "family") == 4
    assert party_size(3, "single") == 3 and party_size(None, None) == 2


async def test_a_room_word_in_the_first_message_goes_straight_to_the_quote(chat: Chat) -> None:
    r = await chat.say("quisiera reservar una matrimonial del 10 al 12 de marzo")
    assert "¿Confirmás?" in r.text and "Estándar" in r.text
    assert (await chat.say("sí, esa")).booking_id


async def test_an_answer_that_fills_no_slot_reasks_it_and_keeps_the_booking(chat: Chat) -> None:
    await chat.say("Buenas, ¿hay disponibilidad del 17 al 19 de marzo para tres?")
    again = await chat.say("mmm no estoy segura")
    assert again.intent == "reservation" and "3 huéspedes" in again.text
    assert "standard" not in again.text  # the standard holds two
    quote = await chat.say("bueno, la triple")
    assert "Superior" in quote.text and "¿Confirmás?" in quote.text
    assert (await chat.say("sí")).booking_id


async def test_a_question_midway_is_answered_and_the_step_asked_again(chat: Chat) -> None:
    await chat.say("I'd like to book March 23 to 25 for 2")
    answer = await chat.say("Is there a pool?")
    assert "pool" in answer.text and "Back to your booking" in answer.text
    await chat.say("twin please")
    confirm_again = await chat.say("hmm")
    assert "yes or no" in confirm_again.text
    assert (await chat.say("yes")).booking_id


async def test_dates_given_later_keep_the_room_asked_for(chat: Chat) -> None:
    await chat.say("Quiero reservar una suite")
    r = await chat.say("del 4 al 6 de abril, somos 4")
    assert "Suite" in r.text and "4 huéspedes" in r.text


async def test_the_session_remembers_bookings_for_late_checkout_and_cancellation(
    chat: Chat,
) -> None:
    await chat.say("reservame una doble del 3 al 5 de marzo para 2")
    booking = (await chat.say("dale")).booking_id
    assert booking
    offer = await chat.say("me puedo ir más tarde el último día?")
    assert "14:00" in offer.text and "número de reserva" not in offer.text
    assert (await chat.say("sí")).intent == "late_checkout"
    cancel = await chat.say("Tenemos que cancelar la reserva, lo siento")
    assert cancel.intent == "cancellation" and booking in cancel.text
    assert any(a["alertname"] == "CancellationRequested" for a in chat.sinks.alerts)
    event = next(e for e in chat.sinks.events if e.event_type == "cancellation")
    assert event.payload["booking_id"] == booking
    policy = await chat.say("¿hasta cuándo se puede cancelar sin cargo?")
    assert policy.intent == "cancellation_policy"


async def test_relative_dates_resolve_in_the_hotels_time_zone() -> None:
    # Friday 6 March 22:30 in Buenos Aires is already Saturday in UTC.
    late_friday = Chat(datetime(2026, 3, 7, 1, 30, tzinfo=UTC))
    try:
        r = await late_friday.say("do you have a room tomorrow for one night, 2 guests?")
        assert "2026-03-07" in r.text
        weekend = await late_friday.say("and for the long weekend?")  # from today, Friday
        assert "from 2026-03-06 to 2026-03-09" in weekend.text
    finally:
        await late_friday.pms.aclose()


@pytest.mark.parametrize(
    ("text", "check_in", "check_out"),
    [
        ("el fin de semana largo", date(2026, 3, 6), date(2026, 3, 9)),
        ("in three weeks, 2 nights", date(2026, 3, 23), date(2026, 3, 25)),
        ("dentro de 2 semanas por una semana", date(2026, 3, 16), date(2026, 3, 23)),
        ("next friday for 2 nights", date(2026, 3, 6), date(2026, 3, 8)),
    ],
)
def test_relative_stays(text: str, check_in: date, check_out: date) -> None:
    ent = analyze(text, today=TODAY).entities
    assert (ent.check_in, ent.check_out) == (check_in, check_out)
