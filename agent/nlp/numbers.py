"""Vocabulary tables for numbers, months and weekdays (folded spelling, es + en)."""

from __future__ import annotations

NUMBER_WORDS: dict[str, int] = {
    "un": 1, "uno": 1, "una": 1, "one": 1, "a": 1, "an": 1,
    "dos": 2, "two": 2, "tres": 3, "three": 3, "cuatro": 4, "four": 4,
    "cinco": 5, "five": 5, "seis": 6, "six": 6, "siete": 7, "seven": 7,
    "ocho": 8, "eight": 8, "nueve": 9, "nine": 9, "diez": 10, "ten": 10,
    "once": 11, "eleven": 11, "doce": 12, "twelve": 12,
}  # fmt: skip

MONTHS: dict[str, int] = {
    "enero": 1, "ene": 1, "january": 1, "jan": 1,
    "febrero": 2, "feb": 2, "february": 2,
    "marzo": 3, "mar": 3, "march": 3,
    "abril": 4, "abr": 4, "april": 4, "apr": 4,
    "mayo": 5, "may": 5,
    "junio": 6, "jun": 6, "june": 6,
    "julio": 7, "jul": 7, "july": 7,
    "agosto": 8, "ago": 8, "august": 8, "aug": 8,
    "septiembre": 9, "setiembre": 9, "sept": 9, "sep": 9, "set": 9, "september": 9,
    "octubre": 10, "oct": 10, "october": 10,
    "noviembre": 11, "nov": 11, "november": 11,
    "diciembre": 12, "dic": 12, "december": 12, "dec": 12,
}  # fmt: skip

# Monday is 0, as in date.weekday().
WEEKDAYS: dict[str, int] = {
    "lunes": 0, "monday": 0, "martes": 1, "tuesday": 1,
    "miercoles": 2, "wednesday": 2, "jueves": 3, "thursday": 3,
    "viernes": 4, "friday": 4, "sabado": 5, "saturday": 5,
    "domingo": 6, "sunday": 6,
}  # fmt: skip


def alternation(words: dict[str, int] | tuple[str, ...]) -> str:
    """Regex alternation of words, longest first so prefixes never shadow full words."""
    return "|".join(sorted(words, key=lambda w: (-len(w), w)))


MONTH_RE = alternation(MONTHS)
WEEKDAY_RE = alternation(WEEKDAYS)
# A small count: digits or a number word. "a"/"an" only make sense before a noun, and
# every pattern using NUM_RE requires one.
NUM_RE = r"\d{1,3}|" + alternation(NUMBER_WORDS)


def parse_count(token: str) -> int | None:
    """Integer value of a digit string or a number word, else None."""
    if token.isdigit():
        return int(token)
    return NUMBER_WORDS.get(token)
