"""Check-in and check-out dates from free text, relative to an injected ``today``.

Rules (documented for the orchestrator, which fills gaps):
- The first date mentioned is the check-in, the second the check-out. A range ("12 al 15 de
  diciembre", "Dec 12-15", "este fin de semana") gives both.
- Without a second date, "N noches" / "N nights" / "una semana" sets check-out = check-in + N;
  otherwise check-out is None (one date alone never invents a length of stay).
- A date without a year that is already past rolls to next year; check-out rolls forward
  until it follows check-in. A date with an explicit year is kept even if past.
- "este fin de semana" / "this weekend": Friday in, Sunday out (on a Saturday: today in; on a
  Sunday: the next weekend). "next weekend" is always the weekend after that one.
- A day without a month ("del 12 al 15", "para el 20") is in the current month if still
  ahead, else in the next one.
- "la semana que viene" / "next week": check-in next Monday, check-out None.
- Weekday names mean the next such day, today included; "next Friday" / "el viernes que
  viene" never means today. A weekday used as check-out is always after check-in.
- Numeric d/m dates: day first for Spanish, month first for English; a message whose
  numbers only make sense the other way round, or whose two dates give a shorter stay the
  other way round, switches order.
"""

from __future__ import annotations

from datetime import date

from agent.nlp.date_mentions import Point, find_mentions, safe_date, shift, stay_nights
from agent.nlp.normalize import fold

_ROLL_YEARS = 9  # far enough to reach the next 29 February


def _resolve(point: Point, anchor: date, after: bool) -> date | None:
    """Calendar date of a point; ``after`` asks for a date strictly after ``anchor``."""
    if point.kind == "fixed":
        return point.fixed
    if point.kind == "abs":
        if point.year is not None:
            return safe_date(point.year, point.month, point.day)
        for year in range(anchor.year, min(anchor.year + _ROLL_YEARS, date.max.year + 1)):
            found = safe_date(year, point.month, point.day)
            if found is not None and found >= anchor:
                return found
        return None
    if point.kind == "bare":
        year, month = anchor.year, anchor.month
        for _ in range(14):
            found = safe_date(year, month, point.day)
            if found is not None and (found > anchor or (found == anchor and not after)):
                return found
            if year == date.max.year and month == 12:
                return None
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        return None
    delta = (point.weekday - anchor.weekday()) % 7
    if delta == 0 and (after or point.later):
        delta = 7
    return shift(anchor, delta)


def parse_dates(text: str, *, today: date, language: str) -> tuple[date | None, date | None]:
    """Check-in and check-out dates mentioned in ``text`` (see the module docstring)."""
    folded = fold(text)
    mentions = find_mentions(folded, today=today, language=language)
    for index, mention in enumerate(mentions):
        check_in = _resolve(mention.first, today, after=False)
        if check_in is None:
            continue
        check_out: date | None = None
        if mention.last is not None:
            check_out = _resolve(mention.last, check_in, after=True)
        elif index + 1 < len(mentions):
            following = mentions[index + 1]
            check_out = _resolve(following.last or following.first, check_in, after=True)
        if check_out is None:
            nights = stay_nights(folded)
            check_out = shift(check_in, nights) if nights else None
        if check_out is not None and check_out <= check_in:
            check_out = None
        return check_in, check_out
    return None, None
