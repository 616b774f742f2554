"""Date mentions in folded text: each detector finds one family of forms.

Detectors run in order and blank out what they consume, so specific forms ("del 12 al 15
de diciembre") are taken before the generic ones that would read parts of them ("el 15").
A mention is still unpinned: ``dates.parse_dates`` turns it into calendar dates.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from agent.nlp.numbers import MONTH_RE, MONTHS, NUM_RE, WEEKDAY_RE, WEEKDAYS, parse_count

_MAX_NIGHTS = 90
_MAX_DAYS_AHEAD = 730
_BARE_AFTER_GAP = 30  # max characters between a date and a following "al 15" / "to 15"
_WEEKDAY_GAP = 4  # "viernes, 12 de diciembre": the weekday only names the explicit date

_SUFFIX = r"(?:st|nd|rd|th|ro|er|do|o)?"
_UNITS = (
    r"personas?|people|persons?|guests?|huespedes|pax|adultos?|adults?|ninos?|ninas?|"
    r"children|child|kids?|menores|noches?|nights?|dias?|days?|semanas?|weeks?|meses|"
    r"months?|anos|years?|horas?|hours?|hs|hrs?|h|pm|am|min|minutos|habitacion(?:es)?|"
    r"rooms?|camas?|beds?|pisos?|floors?|pesos|dolares|dollars|usd|ars|euros?|veces|times|"
    r"estrellas|stars|cuadras|blocks|km|metros|meters|minutes|mins"
)
# What may not follow a bare day number for it to count as a date.
_NOT_DATE_AFTER = (
    rf"(?![/.:,]\d|\s*%|\s*(?:de\s+|of\s+)?(?:{MONTH_RE})\b|\s*(?:{_UNITS})\b|\s*de\s+la\b)"
)
_CONN = r"(?:\s*[-\u2013\u2014]\s*|\s+(?:al|a|to|till|until|thru|through|hasta(?:\s+el)?)\s+)"
_YEAR_TAIL = r"(?:\s*(?:de|del|,)?\s*(?P<y>\d{4})\b)?"


def _day(name: str) -> str:
    return rf"(?P<{name}>\d{{1,2}}){_SUFFIX}\b"


def _month(name: str) -> str:
    return rf"(?P<{name}>{MONTH_RE})\b\.?"


@dataclass(frozen=True)
class Point:
    """One end of a stay before it is pinned to a calendar date."""

    kind: str  # "fixed" | "abs" | "bare" | "weekday"
    day: int = 0
    month: int = 0
    year: int | None = None
    fixed: date | None = None
    weekday: int = 0
    later: bool = False  # "next Friday": never today


@dataclass(frozen=True)
class Mention:
    """A date expression found at ``start:end`` of the folded text."""

    start: int
    end: int
    first: Point
    last: Point | None = None  # set for ranges and spans


@dataclass
class _Ctx:
    today: date
    language: str
    text: str  # folded text, never masked
    work: str  # folded text with consumed spans blanked out
    mentions: list[Mention]


def safe_date(year: int, month: int, day: int) -> date | None:
    """``date(year, month, day)`` or None when no such day exists."""
    try:
        return date(year, month, day)
    except ValueError:
        return None


def shift(base: date, days: int) -> date | None:
    """``base`` plus ``days``, or None past the calendar's ends."""
    try:
        return base + timedelta(days=days)
    except OverflowError:
        return None


def _full_year(raw: str | None) -> int | None:
    if raw is None:
        return None
    year = int(raw)
    return year + 2000 if year < 100 else year


def _month_of(raw: str) -> int:
    return MONTHS[raw.rstrip(".")]


def _previous_month(month: int, year: int | None) -> tuple[int, int | None]:
    if month == 1:
        return 12, None if year is None else year - 1
    return month - 1, year


def _next_month(month: int, year: int | None) -> tuple[int, int | None]:
    if month == 12:
        return 1, None if year is None else year + 1
    return month + 1, year


# --- detectors: each finds its mentions in ctx.work and blanks what it consumed ---------


def _scan(ctx: _Ctx, pattern: re.Pattern[str]) -> list[re.Match[str]]:
    matches = list(pattern.finditer(ctx.work))
    if matches:
        pieces, cursor = [], 0
        for match in matches:
            pieces += [ctx.work[cursor : match.start()], "\x00" * len(match[0])]
            cursor = match.end()
        ctx.work = "".join([*pieces, ctx.work[cursor:]])
    return matches


def _add(ctx: _Ctx, match: re.Match[str], first: Point, last: Point | None = None) -> None:
    ctx.mentions.append(Mention(match.start(), match.end(), first, last))


_ISO = re.compile(r"\b(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})\b")


def _iso(ctx: _Ctx) -> None:
    for m in _scan(ctx, _ISO):
        _add(ctx, m, Point("abs", int(m["d"]), int(m["m"]), int(m["y"])))


_DM_RANGE = re.compile(
    rf"\b{_day('d1')}{_CONN}(?:el\s+|the\s+)?{_day('d2')}\s*(?:de\s+|of\s+)?{_month('m')}"
    + _YEAR_TAIL
)
_BETWEEN_RANGE = re.compile(
    rf"\b(?:entre|between)\s+(?:el\s+|the\s+)?{_day('d1')}\s+(?:y|and)\s+(?:el\s+|the\s+)?"
    rf"{_day('d2')}\s*(?:de\s+|of\s+)?{_month('m')}" + _YEAR_TAIL
)


def _day_month_range(ctx: _Ctx) -> None:
    for pattern in (_DM_RANGE, _BETWEEN_RANGE):
        for m in _scan(ctx, pattern):
            d1, d2 = int(m["d1"]), int(m["d2"])
            month, year = _month_of(m["m"]), _full_year(m["y"])
            # "del 28 al 3 de enero": the first day belongs to the previous month.
            m1, y1 = _previous_month(month, year) if d1 > d2 else (month, year)
            _add(ctx, m, Point("abs", d1, m1, y1), Point("abs", d2, month, year))


_MD_RANGE = re.compile(
    rf"\b{_month('m')}\s+(?:the\s+)?{_day('d1')}{_CONN}(?:the\s+)?{_day('d2')}"
    rf"(?:,?\s*(?P<y>\d{{4}})\b)?{_NOT_DATE_AFTER}"
)


def _month_day_range(ctx: _Ctx) -> None:
    for m in _scan(ctx, _MD_RANGE):
        d1, d2 = int(m["d1"]), int(m["d2"])
        month, year = _month_of(m["m"]), _full_year(m["y"])
        m2, y2 = _next_month(month, year) if d2 < d1 else (month, year)
        _add(ctx, m, Point("abs", d1, month, year), Point("abs", d2, m2, y2))


_NUMERIC = (
    re.compile(r"\b(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>\d{4}|\d{2}))?\b(?![/.]\d)"),
    re.compile(r"\b(?P<a>\d{1,2})[.-](?P<b>\d{1,2})[.-](?P<y>\d{4}|\d{2})\b"),
)


def _valid(day: int, month: int) -> bool:
    return 1 <= day <= 31 and 1 <= month <= 12


def _stay_length(pairs: list[tuple[int, int]]) -> int:
    """Days from the first to the second (day, month) pair in a leap year, wrapping the year."""
    first, second = (safe_date(2000, m, d) for d, m in pairs[:2])
    if first is None or second is None:
        return 10_000
    return (second - first).days % 366


def _numeric(ctx: _Ctx) -> None:
    found = [m for pattern in _NUMERIC for m in _scan(ctx, pattern)]
    if not found:
        return
    raw = [(int(m["a"]), int(m["b"])) for m in found]
    day_first = ctx.language != "en"
    if any(_valid(a, b) and not _valid(b, a) for a, b in raw):
        day_first = True
    elif any(_valid(b, a) and not _valid(a, b) for a, b in raw):
        day_first = False
    elif len(raw) >= 2:
        as_dm, as_md = _stay_length(raw), _stay_length([(b, a) for a, b in raw])
        if as_dm != as_md:
            day_first = as_dm < as_md
    for m, (a, b) in zip(found, raw, strict=True):
        day, month = (a, b) if day_first else (b, a)
        if _valid(day, month):
            _add(ctx, m, Point("abs", day, month, _full_year(m["y"])))


_DM = re.compile(rf"\b{_day('d')}\s*(?:de\s+|of\s+(?:the\s+)?)?{_month('m')}" + _YEAR_TAIL)
_MD = re.compile(
    rf"\b{_month('m')}\s+(?:the\s+)?{_day('d')}(?:,?\s*(?P<y>\d{{4}})\b)?{_NOT_DATE_AFTER}"
)


def _single_dates(ctx: _Ctx) -> None:
    for pattern in (_DM, _MD):
        for m in _scan(ctx, pattern):
            point = Point("abs", int(m["d"]), _month_of(m["m"]), _full_year(m["y"]))
            _add(ctx, m, point)


_RELATIVE: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern), offset)
    for pattern, offset in (
        (r"\bpasado\s+manana\b|\bday\s+after\s+tomorrow\b", 2),
        # "la mañana" / "esta mañana" is the morning, not tomorrow.
        (r"(?<!la )(?<!esta )\bmanana\b|\btomorrow\b|\btmrw\b", 1),
        (r"\bhoy\b|\btoday\b|\btonight\b|\besta\s+noche\b", 0),
    )
)
_IN_DAYS = re.compile(
    rf"\b(?:en|dentro\s+de|in)\s+(?P<n>{NUM_RE})\s+(?P<unit>dias|days|semanas|weeks)\b"
)


def _relative(ctx: _Ctx) -> None:
    for pattern, offset in _RELATIVE:
        for m in _scan(ctx, pattern):
            _add(ctx, m, Point("fixed", fixed=shift(ctx.today, offset)))
    for m in _scan(ctx, _IN_DAYS):
        count = parse_count(m["n"])
        days = None if count is None else count * (7 if m["unit"][0] in "sw" else 1)
        if days is not None and days <= _MAX_DAYS_AHEAD:
            _add(ctx, m, Point("fixed", fixed=shift(ctx.today, days)))


_NEXT_WEEKEND = re.compile(
    r"\b(?:(?:el\s+)?(?:proximo|siguiente)\s+(?:fin\s+de\s+semana|finde)"
    r"|(?:fin\s+de\s+semana|finde)\s+(?:que\s+viene|proximo|siguiente)|next\s+weekend)\b"
)
_WEEKEND = re.compile(r"\b(?:fin\s+de\s+semana|finde|weekend)\b")
# A long weekend (a Monday holiday, as most in Argentina): Friday in, Monday out.
_LONG_WEEKEND = re.compile(r"\b(?:fin\s+de\s+semana\s+largo|finde\s+largo|long\s+weekend)\b")


def _weekend_span(today: date, later: bool) -> tuple[date | None, date | None]:
    weekday = today.weekday()
    friday = shift(today, -1 if weekday == 5 else (4 - weekday) % 7)
    if friday is not None and later:
        friday = shift(friday, 7)
    if friday is None:
        return None, None
    return max(friday, today), shift(friday, 2)


def _weekends(ctx: _Ctx) -> None:
    for m in _scan(ctx, _LONG_WEEKEND):
        start, end = _weekend_span(ctx.today, later=False)
        monday = shift(end, 1) if end is not None else None
        _add(ctx, m, Point("fixed", fixed=start), Point("fixed", fixed=monday))
    for pattern, later in ((_NEXT_WEEKEND, True), (_WEEKEND, False)):
        for m in _scan(ctx, pattern):
            start, end = _weekend_span(ctx.today, later)
            _add(ctx, m, Point("fixed", fixed=start), Point("fixed", fixed=end))


_NEXT_WEEK_TEXT = (
    r"(?:la\s+)?semana\s+(?:que\s+viene|proxima|siguiente)|(?:la\s+)?(?:proxima|siguiente)"
    r"\s+semana|next\s+week"
)
_WEEKDAY = re.compile(
    rf"\b(?:(?P<mod>proximo|proxima|next|this|este|coming)\s+)?(?P<wd>{WEEKDAY_RE})s?\b"
    rf"(?:\s+(?:(?:de|of)\s+)?(?P<nw>{_NEXT_WEEK_TEXT})\b|\s+(?P<post>que\s+viene|proximo)\b)?"
)
_NEXT_WEEK = re.compile(rf"\b(?:{_NEXT_WEEK_TEXT})\b")


def _next_monday(today: date) -> date | None:
    return shift(today, 7 - today.weekday())


def _weekdays(ctx: _Ctx) -> None:
    explicit_starts = [mention.start for mention in ctx.mentions]
    for m in _scan(ctx, _WEEKDAY):
        # "el viernes 12 de diciembre": the explicit date already says it all.
        if any(0 <= start - m.end() <= _WEEKDAY_GAP for start in explicit_starts):
            continue
        weekday = WEEKDAYS[m["wd"]]
        monday = _next_monday(ctx.today)
        if m["nw"] and monday is not None:
            _add(ctx, m, Point("fixed", fixed=shift(monday, weekday)))
        else:
            later = m["mod"] in ("proximo", "proxima", "next", "coming") or bool(m["post"])
            _add(ctx, m, Point("weekday", weekday=weekday, later=later))
    for m in _scan(ctx, _NEXT_WEEK):
        _add(ctx, m, Point("fixed", fixed=_next_monday(ctx.today)))


_BARE_RANGE = re.compile(
    rf"\b(?:del|desde\s+el|from\s+the|entre\s+el|between\s+the)\s+{_day('d1')}"
    rf"(?:{_CONN}|\s+(?:y|and)\s+)(?:el\s+|the\s+)?{_day('d2')}{_NOT_DATE_AFTER}"
)
_BARE_STARTS = (
    re.compile(
        r"\b(?:desde|a\s+partir\s+del?|from|starting|llego|llegamos|llegaria|llegariamos|"
        r"llegando|arriving|arrive|checkin)\s+(?:(?:el|del|the|on\s+the|on)\s+)?"
        + _day("d")
        + _NOT_DATE_AFTER
    ),
    # "hasta el 15" alone is an end without a start: left to the "al 15" rule below.
    re.compile(r"(?<!hasta )\b(?:para\s+el|el\s+dia|el)\s+" + _day("d") + _NOT_DATE_AFTER),
    re.compile(r"\bthe\s+(?P<d>\d{1,2})(?:st|nd|rd|th)\b" + _NOT_DATE_AFTER),
)
_BARE_AFTER = re.compile(
    r"(?:[-\u2013\u2014]|\b(?:al|a|to|till|until|thru|through|hasta))\s*(?:el\s+|the\s+)?"
    + _day("d")
    + _NOT_DATE_AFTER
)


def _bare_days(ctx: _Ctx) -> None:
    for m in _scan(ctx, _BARE_RANGE):
        _add(ctx, m, Point("bare", int(m["d1"])), Point("bare", int(m["d2"])))
    for pattern in _BARE_STARTS:
        for m in _scan(ctx, pattern):
            _add(ctx, m, Point("bare", int(m["d"])))
    for m in _scan(ctx, _BARE_AFTER):
        # Only "al 15" right after another date: alone it is just a number.
        before = [x for x in ctx.mentions if x.end <= m.start()]
        gap = ctx.text[max(x.end for x in before) : m.start()] if before else None
        if gap is not None and len(gap) <= _BARE_AFTER_GAP and not any(c.isdigit() for c in gap):
            _add(ctx, m, Point("bare", int(m["d"])))


# Order matters: each detector blanks what it consumed, so specific forms go first.
_DETECTORS: tuple[Callable[[_Ctx], None], ...] = (
    _iso,
    _day_month_range,
    _month_day_range,
    _numeric,
    _single_dates,
    _relative,
    _weekends,
    _weekdays,
    _bare_days,
)

_NIGHTS = re.compile(rf"\b(?P<n>{NUM_RE})\s+(?P<unit>noches?|nights?|semanas?|weeks?)\b")


def stay_nights(text: str) -> int | None:
    """Length of stay stated as nights or weeks ("3 noches", "a week"), if any."""
    for m in _NIGHTS.finditer(text):
        if re.search(r"\b(?:en|dentro\s+de|in)\s+$", text[: m.start()]):
            continue  # "en dos semanas" says when, not how long
        count = parse_count(m["n"])
        if count is None:
            continue
        nights = count * 7 if m["unit"].startswith(("semana", "week")) else count
        if 1 <= nights <= _MAX_NIGHTS:
            return nights
    return None


def find_mentions(folded: str, *, today: date, language: str) -> list[Mention]:
    """Every date mention in already folded text, in text order."""
    ctx = _Ctx(today=today, language=language, text=folded, work=folded, mentions=[])
    for detect in _DETECTORS:
        detect(ctx)
    return sorted(ctx.mentions, key=lambda x: x.start)
