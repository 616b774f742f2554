"""Date parsing: every supported form, relative to a fixed ``today``, and year roll-over."""

from __future__ import annotations

from datetime import date

import pytest

from agent.nlp import analyze, parse_dates

WED = date(2026, 6, 10)  # a Wednesday in June
D = date

FORMS: list[tuple[str, str, date | None, date | None]] = [
    # the forms the orchestrator relies on
    ("del 12 al 15 de diciembre", "es", D(2026, 12, 12), D(2026, 12, 15)),
    ("12/12 al 15/12", "es", D(2026, 12, 12), D(2026, 12, 15)),
    ("desde el 3 de marzo hasta el 6", "es", D(2027, 3, 3), D(2027, 3, 6)),
    ("para mañana", "es", D(2026, 6, 11), None),
    ("pasado mañana", "es", D(2026, 6, 12), None),
    ("este fin de semana", "es", D(2026, 6, 12), D(2026, 6, 14)),
    ("this weekend", "en", D(2026, 6, 12), D(2026, 6, 14)),
    ("tomorrow", "en", D(2026, 6, 11), None),
    ("from December 12 to 15", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("Dec 12-15", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("2026-12-12 to 2026-12-15", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("3 noches desde el viernes", "es", D(2026, 6, 12), D(2026, 6, 15)),
    ("for 3 nights from Friday", "en", D(2026, 6, 12), D(2026, 6, 15)),
    ("next week", "en", D(2026, 6, 15), None),
    ("la semana que viene", "es", D(2026, 6, 15), None),
    # more ranges
    ("del 28 de diciembre al 3 de enero", "es", D(2026, 12, 28), D(2027, 1, 3)),
    ("del 28 al 3 de enero", "es", D(2026, 12, 28), D(2027, 1, 3)),
    ("12-15 Dec", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("December 12th to the 15th", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("between the 12th and 15th of December", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("entre el 12 y el 15 de diciembre", "es", D(2026, 12, 12), D(2026, 12, 15)),
    ("December 30 to January 2", "en", D(2026, 12, 30), D(2027, 1, 2)),
    ("Dec 30 - 2", "en", D(2026, 12, 30), D(2027, 1, 2)),
    ("llegamos el 12 de diciembre y nos vamos el 15", "es", D(2026, 12, 12), D(2026, 12, 15)),
    (
        "del 12 de diciembre de 2026 al 15 de diciembre de 2026",
        "es",
        D(2026, 12, 12),
        D(2026, 12, 15),
    ),
    ("December 12, 2026 to December 15, 2026", "en", D(2026, 12, 12), D(2026, 12, 15)),
    ("12/12/2026 - 15/12/26", "es", D(2026, 12, 12), D(2026, 12, 15)),
    ("12.12.2026 al 15.12.2026", "es", D(2026, 12, 12), D(2026, 12, 15)),
    # days without a month: this month if still ahead, else next month
    ("del 12 al 15", "es", D(2026, 6, 12), D(2026, 6, 15)),
    ("del 5 al 8", "es", D(2026, 7, 5), D(2026, 7, 8)),
    ("from the 12th to the 15th", "en", D(2026, 6, 12), D(2026, 6, 15)),
    ("llego el 30 y me voy el 2", "es", D(2026, 6, 30), D(2026, 7, 2)),
    ("para el 20", "es", D(2026, 6, 20), None),
    # relative days and weekdays
    ("hoy", "es", D(2026, 6, 10), None),
    ("tonight for 2 nights", "en", D(2026, 6, 10), D(2026, 6, 12)),
    ("esta noche", "es", D(2026, 6, 10), None),
    ("day after tomorrow", "en", D(2026, 6, 12), None),
    ("en 3 días", "es", D(2026, 6, 13), None),
    ("in 10 days", "en", D(2026, 6, 20), None),
    ("mañana a la mañana", "es", D(2026, 6, 11), None),
    ("desde mañana hasta el domingo", "es", D(2026, 6, 11), D(2026, 6, 14)),
    ("del viernes al lunes", "es", D(2026, 6, 12), D(2026, 6, 15)),
    ("el miércoles", "es", D(2026, 6, 10), None),
    ("el próximo miércoles", "es", D(2026, 6, 17), None),
    ("next Wednesday", "en", D(2026, 6, 17), None),
    ("el viernes que viene", "es", D(2026, 6, 12), None),
    ("el martes de la semana que viene", "es", D(2026, 6, 16), None),
    ("friday next week", "en", D(2026, 6, 19), None),
    ("next weekend", "en", D(2026, 6, 19), D(2026, 6, 21)),
    ("el próximo fin de semana", "es", D(2026, 6, 19), D(2026, 6, 21)),
    ("el finde", "es", D(2026, 6, 12), D(2026, 6, 14)),
    ("una semana desde el 1 de julio", "es", D(2026, 7, 1), D(2026, 7, 8)),
    ("for a week from tomorrow", "en", D(2026, 6, 11), D(2026, 6, 18)),
    ("2 noches a partir del 15 de agosto", "es", D(2026, 8, 15), D(2026, 8, 17)),
    # a weekday next to an explicit date only names it
    ("el sábado 12 de diciembre hasta el lunes", "es", D(2026, 12, 12), D(2026, 12, 14)),
    ("Saturday, December 12 for 2 nights", "en", D(2026, 12, 12), D(2026, 12, 14)),
]


@pytest.mark.parametrize(
    ("text", "lang", "check_in", "check_out"), FORMS, ids=[f[0] for f in FORMS]
)
def test_date_forms(text: str, lang: str, check_in: date | None, check_out: date | None) -> None:
    assert parse_dates(text, today=WED, language=lang) == (check_in, check_out)


@pytest.mark.parametrize(
    "text",
    [
        "habitación 12",
        "a las 14 hs",
        "somos 2 personas",
        "hasta las 10.30",
        "un 50% de descuento",
        "esta mañana",
        "3 noches",
        "el 2do piso",
        "up to 4 people",
        "hasta el 15",
        "hotel frente al mar 5 estrellas",
        "a 3 cuadras del centro",
        "",
    ],
)
def test_no_date(text: str) -> None:
    assert parse_dates(text, today=WED, language="es") == (None, None)


@pytest.mark.parametrize("text", ["31/02", "30 de febrero", "2026-13-01", "0/5"])
def test_impossible_dates_are_ignored(text: str) -> None:
    assert parse_dates(text, today=WED, language="es") == (None, None)


def test_leap_day_rolls_to_the_next_leap_year() -> None:
    assert parse_dates("29 de febrero", today=WED, language="es") == (D(2028, 2, 29), None)


def test_same_day_check_out_is_dropped() -> None:
    assert parse_dates("del 12/12 al 12/12", today=WED, language="es") == (D(2026, 12, 12), None)


def test_explicit_past_year_is_kept() -> None:
    assert parse_dates("2020-01-01", today=WED, language="en") == (D(2020, 1, 1), None)


@pytest.mark.parametrize(
    ("text", "lang", "expected"),
    [
        ("3/4", "es", D(2027, 4, 3)),  # day first in Spanish
        ("3/4", "en", D(2027, 3, 4)),  # month first in English
        ("15/12", "en", D(2026, 12, 15)),  # only valid day first
        ("12/15", "es", D(2026, 12, 15)),  # only valid month first
    ],
)
def test_numeric_order(text: str, lang: str, expected: date) -> None:
    assert parse_dates(text, today=WED, language=lang) == (expected, None)


def test_numeric_pair_picks_the_order_with_the_shorter_stay() -> None:
    # Month first (the English default) would be 4 March to 4 May.
    assert parse_dates("3/4 to 5/4", today=WED, language="en") == (D(2027, 4, 3), D(2027, 4, 5))
    assert parse_dates("12/15 to 12/18", today=WED, language="en") == (
        D(2026, 12, 15),
        D(2026, 12, 18),
    )


@pytest.mark.parametrize(
    ("today", "check_in", "check_out"),
    [
        (D(2026, 6, 8), D(2026, 6, 12), D(2026, 6, 14)),  # Monday
        (D(2026, 6, 12), D(2026, 6, 12), D(2026, 6, 14)),  # Friday: tonight
        (D(2026, 6, 13), D(2026, 6, 13), D(2026, 6, 14)),  # Saturday: the weekend is on
        (D(2026, 6, 14), D(2026, 6, 19), D(2026, 6, 21)),  # Sunday: the next one
    ],
)
def test_this_weekend_by_day_of_week(today: date, check_in: date, check_out: date) -> None:
    assert parse_dates("este fin de semana", today=today, language="es") == (check_in, check_out)
    assert parse_dates("this weekend", today=today, language="en") == (check_in, check_out)


def test_next_week_from_a_sunday_is_the_next_day() -> None:
    assert parse_dates("la semana que viene", today=D(2026, 6, 14), language="es") == (
        D(2026, 6, 15),
        None,
    )


DECEMBER_20 = D(2026, 12, 20)

ROLL_OVER = [
    ("del 12 al 15 de diciembre", D(2027, 12, 12), D(2027, 12, 15)),
    ("del 28 de diciembre al 3 de enero", D(2026, 12, 28), D(2027, 1, 3)),
    ("15/01", D(2027, 1, 15), None),
    ("el 5", D(2027, 1, 5), None),
    ("del 30 al 2", D(2026, 12, 30), D(2027, 1, 2)),
    ("June 1st to 5th", D(2027, 6, 1), D(2027, 6, 5)),
    ("desde el 19 de diciembre", D(2027, 12, 19), None),  # yesterday: next year
    ("desde el 20 de diciembre", D(2026, 12, 20), None),  # today is not the past
]


@pytest.mark.parametrize(
    ("text", "check_in", "check_out"), ROLL_OVER, ids=[r[0] for r in ROLL_OVER]
)
def test_year_roll_over(text: str, check_in: date, check_out: date | None) -> None:
    assert parse_dates(text, today=DECEMBER_20, language="es") == (check_in, check_out)


def test_relative_dates_cross_the_year() -> None:
    assert parse_dates("tomorrow", today=D(2026, 12, 31), language="en") == (D(2027, 1, 1), None)
    assert parse_dates("este finde", today=D(2026, 12, 30), language="es") == (
        D(2027, 1, 1),
        D(2027, 1, 3),
    )


def test_analyze_uses_the_same_dates() -> None:
    entities = analyze("Dec 12-15", today=WED).entities
    assert (entities.check_in, entities.check_out) == (D(2026, 12, 12), D(2026, 12, 15))
