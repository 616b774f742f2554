"""Confidence: meaningful ordering, low scores for gibberish, and never an exception."""

from __future__ import annotations

import random
import string
from datetime import date

import pytest

from agent.nlp import INTENTS, analyze
from agent.nlp.engine import confidence_for
from agent.nlp.intents import cue_table
from agent.nlp.numbers import MONTHS, WEEKDAYS

TODAY = date(2026, 6, 10)
HIGH, LOW = 0.75, 0.45  # NLPSettings defaults


def _conf(text: str) -> float:
    return analyze(text, today=TODAY).confidence


@pytest.mark.parametrize(
    ("clear", "vague", "gibberish"),
    [
        (
            "Hola, ¿tienen disponibilidad del 12 al 15 de diciembre para 2 personas?",
            "del 12 al 15",
            "asdkj qwpoe zzx",
        ),
        ("Quiero reservar la suite para mañana, somos 2", "la reserva", "jajaja"),
        ("What are your prices per night for the suite?", "cheap?", "lorem ipsum dolor"),
        ("¿Cuál es la política de cancelación?", "cancelar la", "xyz 123 !!"),
        ("Where is the hotel located? I need the address", "near?", "qwerty"),
    ],
)
def test_clear_beats_vague_beats_gibberish(clear: str, vague: str, gibberish: str) -> None:
    c, v, g = _conf(clear), _conf(vague), _conf(gibberish)
    assert c >= HIGH
    assert LOW <= v < HIGH
    assert g < LOW
    assert c > v > g


@pytest.mark.parametrize(
    "text",
    ["asdkjh qwe zzz", "jajaja", "lorem ipsum", "\U0001f600\U0001f600", "...", "xq kwz", "1 2 3"],
)
def test_gibberish_is_unknown_and_low(text: str) -> None:
    result = analyze(text, today=TODAY)
    assert result.intent == "unknown"
    assert result.confidence < LOW


def test_empty_text_is_unknown_with_zero_confidence() -> None:
    result = analyze("", today=TODAY)
    assert (result.intent, result.confidence) == ("unknown", 0.0)


def test_more_cues_mean_more_confidence() -> None:
    one = _conf("disponibilidad")
    more = _conf("¿tienen disponibilidad? ¿hay lugar del 12 al 15 de diciembre para 2?")
    assert one < more


def test_single_weak_cue_is_medium() -> None:
    assert LOW <= _conf("la reserva") < HIGH
    assert LOW <= _conf("opciones") < HIGH


def test_two_competing_intents_lower_confidence() -> None:
    single = _conf("¿Cuál es el precio?")
    mixed = _conf("¿Cuál es el precio y la dirección?")
    assert mixed < single
    assert analyze("¿Cuál es el precio y la dirección?", today=TODAY).intent in (
        "prices",
        "location",
    )


def test_a_greeting_does_not_weaken_a_request() -> None:
    assert _conf("Hola! ¿Tienen pileta?") == _conf("¿Tienen pileta?")


def test_confidence_for_is_monotonic_and_bounded() -> None:
    scores = [0.3, 0.4, 0.6, 1.0, 1.5, 2.5, 10.0]
    values = [confidence_for(s, 0.0) for s in scores]
    assert values == sorted(values)
    assert all(0.0 < v <= 0.98 for v in values)
    assert confidence_for(1.0, 1.0) < confidence_for(1.0, 0.5) < confidence_for(1.0, 0.0)
    assert confidence_for(0.0, 0.0) == 0.0


def _vocabulary() -> list[str]:
    words = [phrase.replace("*", "") for _, phrase, _ in cue_table()]
    words += list(MONTHS) + list(WEEKDAYS)
    words += ["12/12", "2026-12-12", "del", "al", "-", "BK-", "me llamo", "soy", "somos", "sí"]
    words += ["\u00bf", "?", "!", ",", "\U0001f44d", "\u0301", "\ufeff", "\x00", "\n", "\t"]
    return words


def _random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    vocab = _vocabulary()
    texts = ["", " ", "\x00", "\ud800", "9" * 5000, "12/" * 2000, "a " * 4000, "ñ" * 10_000]
    for _ in range(count):
        kind = rng.randrange(4)
        if kind == 0:  # arbitrary code points, including unassigned and surrogates
            texts.append("".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(60))))
        elif kind == 1:  # rule vocabulary in random order: exercises every regex together
            texts.append(" ".join(rng.choice(vocab) for _ in range(rng.randrange(1, 25))))
        elif kind == 2:  # digits and date punctuation
            alphabet = string.digits + "/-.: "
            texts.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 80))))
        else:  # long printable noise
            texts.append("".join(rng.choice(string.printable) for _ in range(rng.randrange(5000))))
    return texts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_analyze_never_raises_and_keeps_its_invariants(seed: int) -> None:
    for text in _random_texts(seed, 100):
        result = analyze(text, today=TODAY)
        e = result.entities
        assert result.intent in INTENTS
        assert 0.0 <= result.confidence <= 1.0
        assert result.language in ("es", "en")
        assert result.text == text
        assert e.room_type in (None, "standard", "superior", "deluxe", "suite")
        assert e.guests is None or 1 <= e.guests <= 30
        assert e.check_out is None or (e.check_in is not None and e.check_out > e.check_in)
        assert (result.intent == "confirm") <= (e.confirm is not None)
        if result.intent == "unknown":
            assert result.confidence < LOW
