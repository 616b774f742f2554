"""Stay windows with a skewed popularity, and how guests write them in Spanish and English.

Real demand concentrates on a few dates (the next weekends, a holiday), so the agent's PMS
cache sees the same availability lookups again and again. ``StayPicker`` draws windows
with Zipf-like weights: the window of rank ``k`` is picked with weight ``1 / (k + 1) ** s``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

MONTHS_ES = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
             "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip
MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August",
             "September", "October", "November", "December")  # fmt: skip

# Party sizes: mostly couples, as in a city hotel; the size is part of the cache key.
PARTY_SIZES = ((2, 70), (3, 12), (1, 10), (4, 8))


@dataclass(frozen=True)
class Stay:
    """One stay window: the nights ``[check_in, check_out)``."""

    check_in: date
    check_out: date

    @property
    def nights(self) -> int:
        return (self.check_out - self.check_in).days


def stay_windows(today: date, count: int = 30, horizon_days: int = 60, seed: int = 7) -> list[Stay]:
    """``count`` distinct windows within ``horizon_days``, most popular first.

    The upcoming weekends (Friday to Sunday) rank first, nearest first; the rest are
    seeded random stays of 1 to 7 nights, so every run sees the same calendar.
    """
    if count < 1 or horizon_days < 3:
        raise ValueError("need count >= 1 and horizon_days >= 3")
    windows: list[Stay] = []
    first = today + timedelta(days=1)
    friday = first + timedelta(days=(4 - first.weekday()) % 7)
    while (
        friday + timedelta(days=2) <= today + timedelta(days=horizon_days) and len(windows) < count
    ):
        windows.append(Stay(friday, friday + timedelta(days=2)))
        friday += timedelta(days=7)
    rng = random.Random(seed)
    attempts = 0
    while len(windows) < count and attempts < 10_000:
        attempts += 1
        nights = rng.choice((1, 2, 2, 3, 3, 3, 4, 5, 7))
        start = today + timedelta(days=rng.randint(1, horizon_days - nights))
        stay = Stay(start, start + timedelta(days=nights))
        if stay not in windows:
            windows.append(stay)
    return windows


class StayPicker:
    """Draws stay windows and party sizes with a skewed popularity (seeded)."""

    def __init__(self, windows: list[Stay], rng: random.Random, exponent: float = 1.1) -> None:
        if not windows:
            raise ValueError("no stay windows to pick from")
        self.windows = list(windows)
        self._rng = rng
        self._weights = [1.0 / (rank + 1) ** exponent for rank in range(len(windows))]

    def stay(self) -> Stay:
        return self._rng.choices(self.windows, weights=self._weights)[0]

    def party(self) -> int:
        sizes, weights = zip(*PARTY_SIZES, strict=True)
        return self._rng.choices(sizes, weights=weights)[0]


def phrase_dates(stay: Stay, language: str, rng: random.Random) -> str:
    """The stay as a guest would write it ("del 12 al 15 de diciembre", "from Dec 12 to 15")."""
    a, b = stay.check_in, stay.check_out
    if language == "es":
        if a.month == b.month:
            return f"del {a.day} al {b.day} de {MONTHS_ES[a.month - 1]}"
        return f"del {a.day} de {MONTHS_ES[a.month - 1]} al {b.day} de {MONTHS_ES[b.month - 1]}"
    month_a, month_b = MONTHS_EN[a.month - 1], MONTHS_EN[b.month - 1]
    if rng.random() < 0.3:
        month_a, month_b = month_a[:3], month_b[:3]
    if a.month == b.month:
        return f"from {month_a} {a.day} to {b.day}"
    return f"from {month_a} {a.day} to {month_b} {b.day}"


def availability_question(stay: Stay, party: int, language: str, rng: random.Random) -> str:
    """A first availability message, in one of several phrasings."""
    when = phrase_dates(stay, language, rng)
    forms: tuple[str, ...]
    if language == "es":
        people = "una persona" if party == 1 else f"{party} personas"
        forms = (
            f"¿Tienen disponibilidad {when} para {people}?",
            f"Hola! ¿Hay lugar {when}? Somos {party}"
            if party > 1
            else f"Hola! ¿Hay lugar {when}? Viajo solo",
            f"Buenas, ¿tienen habitación para {people} {when}?",
            f"Quería consultar disponibilidad {when} para {people}",
        )
    else:
        people = "one guest" if party == 1 else f"{party} guests"
        forms = (
            f"Do you have rooms {when} for {people}?",
            f"Hi, any availability {when}? We are {party}"
            if party > 1
            else f"Hi, any availability {when}? Just me",
            f"Is there availability {when} for {people}?",
        )
    return rng.choice(forms)
