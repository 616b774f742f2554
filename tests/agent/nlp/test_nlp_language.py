"""Language detection and how ``analyze`` uses it."""

from __future__ import annotations

from datetime import date

import pytest

from agent.nlp import analyze, detect_language

TODAY = date(2026, 6, 10)


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Hola, ¿tienen lugar para el finde?", "es"),
        ("querés que te reserve la suite? tenés lugar?", "es"),
        ("Buenas noches, necesito una habitación", "es"),
        ("¿Dónde queda?", "es"),  # accents and ¿ alone are Spanish
        ("quiero hacer late checkout", "es"),
        ("reservá para el viernes, somos dos", "es"),
        ("Hello, do you have a room for tonight?", "en"),
        ("I'd like to book the suite from December 12 to 15", "en"),
        ("What time is check-in?", "en"),
        ("Good morning", "en"),
        ("thanks a lot", "en"),
        ("Can I speak to someone?", "en"),
    ],
)
def test_detects_language(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text", ["", "   ", "ok", "12/12", "BK-000123", "suite", "???", "\U0001f600"]
)
def test_no_signal_gives_the_default(text: str) -> None:
    assert detect_language(text) == "es"
    assert detect_language(text, default="en") == "en"


def test_unsupported_default_falls_back_to_spanish() -> None:
    assert detect_language("ok", default="pt") == "es"


def test_caller_language_overrides_detection() -> None:
    assert analyze("Hello there", today=TODAY, language="es").language == "es"
    assert analyze("Hola", today=TODAY, language="en").language == "en"


def test_unsupported_caller_language_is_ignored() -> None:
    assert analyze("Hello there", today=TODAY, language="fr").language == "en"
    assert analyze("Hola, buenas", today=TODAY, language=None).language == "es"


def test_caller_language_drives_numeric_dates() -> None:
    assert analyze("3/4", today=TODAY, language="es").entities.check_in == date(2027, 4, 3)
    assert analyze("3/4", today=TODAY, language="en").entities.check_in == date(2027, 3, 4)
