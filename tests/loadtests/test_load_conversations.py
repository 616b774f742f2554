"""Guest conversations and stay windows (chaos/load/conversations.py, chaos/load/stays.py).

The phrasing tests run the agent's own NLP on what the guests write, so a guest text the
agent would misread fails here rather than as noise in a load run.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import date, timedelta
from typing import Any

import pytest

from agent.nlp import analyze
from chaos.load.conversations import (
    DEFAULT_MIX,
    INFO,
    Expect,
    Guest,
    Turn,
    booking,
    cached_turns,
    check_reply,
    late_checkout,
)
from chaos.load.stays import StayPicker, availability_question, stay_windows

TODAY = date(2026, 11, 25)


def reply(
    intent: str,
    text: str,
    *,
    language: str = "es",
    degraded: bool = False,
    escalated: bool = False,
    booking_id: str | None = None,
) -> dict[str, Any]:
    return {
        "reply": text,
        "intent": intent,
        "language": language,
        "degraded": degraded,
        "escalated": escalated,
        "booking_id": booking_id,
        "confidence": 0.9,
    }


def guest(seed: int = 1) -> Guest:
    rng = random.Random(seed)
    return Guest(rng, StayPicker(stay_windows(TODAY), rng))


def test_windows_are_distinct_future_and_within_the_horizon_weekends_first() -> None:
    windows = stay_windows(TODAY, count=30, horizon_days=60)
    assert len(set(windows)) == 30
    assert all(TODAY < w.check_in < w.check_out <= TODAY + timedelta(days=60) for w in windows)
    assert windows[0].check_in.weekday() == 4
    assert windows[0].nights == 2
    assert stay_windows(TODAY) == windows  # seeded: every run sees the same calendar


def test_popularity_is_skewed_toward_the_first_windows() -> None:
    picker = StayPicker(stay_windows(TODAY), random.Random(3))
    counts = Counter(picker.stay() for _ in range(20_000))
    ranked = [counts[w] for w in picker.windows]
    assert ranked[0] > 2 * ranked[5] > 4 * ranked[29]
    assert sum(ranked[:5]) > sum(ranked[15:])


@pytest.mark.parametrize("language", ["es", "en"])
def test_every_availability_phrasing_reads_back_as_the_same_stay(language: str) -> None:
    rng = random.Random(5)
    for stay in stay_windows(TODAY):
        for party in (1, 2, 3, 4):
            text = availability_question(stay, party, language, rng)
            a = analyze(text, today=TODAY)
            got = (a.intent, a.language, a.entities.check_in, a.entities.check_out)
            assert got == ("availability", language, stay.check_in, stay.check_out), text
            assert (a.entities.guests or 2) == party, text


def test_every_fixed_phrase_has_the_intent_its_check_expects() -> None:
    for phrases, expect in INFO.values():
        for lang, texts in phrases.items():
            for text in texts:
                a = analyze(text, today=TODAY)
                assert a.intent in expect.intents, text
                assert a.language == lang, text
    for turn in cached_turns(TODAY):
        assert analyze(turn.text, today=TODAY).intent == "availability"


def test_check_reply_accepts_the_right_answer_and_names_what_is_wrong() -> None:
    turn = Turn(
        "availability",
        "¿Tienen lugar?",
        "es",
        Expect(frozenset({"availability"}), contains=("2026-12-04", "2026-12-06"), pms=True),
    )
    good = reply("availability", "Disponibilidad del 2026-12-04 al 2026-12-06 (2 noches):\n- Suite")
    assert check_reply(turn, 200, good) is None
    assert check_reply(turn, 503, good) == "HTTP 503"
    assert check_reply(turn, 200, {"reply": "x"}) == "reply does not have the message schema"
    assert "intent 'greeting'" in str(check_reply(turn, 200, reply("greeting", "Hola")))
    assert "answered in 'en'" in str(check_reply(turn, 200, {**good, "language": "en"}))
    assert "lacks '2026-12-04'" in str(
        check_reply(turn, 200, reply("availability", "Disponibilidad"))
    )
    # The PMS was unreachable: a degraded answer is correct, whatever it says.
    assert check_reply(turn, 200, reply("availability", "Ahora no puedo", degraded=True)) is None


def test_escalation_and_booking_number_checks() -> None:
    urgent = Turn("urgent", "urgente", "es", Expect(frozenset({"escalation"}), escalated=True))
    assert check_reply(urgent, 200, reply("escalation", "Avisé", escalated=True)) is None
    assert check_reply(urgent, 200, reply("escalation", "Avisé")) == "not escalated to staff"
    confirm = Turn(
        "booking:confirm", "sí", "es", Expect(frozenset({"reservation"}), pms=True, booking=True)
    )
    assert (
        check_reply(
            confirm, 200, reply("reservation", "Tu reserva BK-000007 está", booking_id="BK-000007")
        )
        is None
    )
    assert "missing from the reply" in str(
        check_reply(confirm, 200, reply("reservation", "Tu reserva está", booking_id="BK-000007"))
    )


def play(conversation: Any, answers: list[dict[str, Any] | None]) -> list[Turn]:
    """Drive a conversation with canned replies; returns the turns it sent."""
    turns = [next(conversation)]
    for answer in answers:
        try:
            turns.append(conversation.send(answer))
        except StopIteration:
            break
    return turns


def test_booking_confirms_a_quote_and_the_guest_remembers_the_number() -> None:
    g = guest()
    turns = play(
        booking(g),
        [
            reply("availability", "Disponibilidad ...\n- Suite: 4 disponibles"),
            reply("reservation", "Te reservo ... ¿Confirmás? (sí/no)"),
            reply("reservation", "¡Listo! Tu reserva BK-000042", booking_id="BK-000042"),
        ],
    )
    assert [t.label for t in turns] == ["availability", "booking:quote", "booking:confirm"]
    assert g.bookings == ["BK-000042"]
    late = play(late_checkout(g), [reply("late_checkout", "A las 14:00 ... (sí/no)"), None])
    assert [t.label for t in late] == ["late_checkout:quote", "late_checkout:confirm"]
    assert "BK-000042" in late[0].text


def test_a_degraded_pms_answer_ends_the_booking_and_nothing_is_remembered() -> None:
    g = guest()
    turns = play(
        booking(g),
        [
            reply("availability", "Ahora no puedo consultar", degraded=True),
            reply("reservation", "unused"),
        ],
    )
    assert [t.label for t in turns] == ["availability"]
    assert g.bookings == []


def test_a_guest_without_a_booking_types_a_number_the_hotel_never_issued() -> None:
    turns = play(late_checkout(guest()), [reply("late_checkout", "necesito BK-000123"), None])
    assert [t.label for t in turns] == ["late_checkout:ask", "late_checkout:unknown_booking"]
    assert turns[1].text.startswith("BK-9")
    assert turns[1].expect.contains == (turns[1].text,)


def test_default_mix_keeps_bookings_a_small_share() -> None:
    total = sum(w for _, w in DEFAULT_MIX.values())
    assert DEFAULT_MIX["booking"][1] / total < 0.1
