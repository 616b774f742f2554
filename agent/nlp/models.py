"""Result types of the NLP engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Entities:
    """What a message says besides its intent; ``None`` means not mentioned."""

    check_in: date | None = None
    check_out: date | None = None
    guests: int | None = None
    room_type: str | None = None  # "standard" | "superior" | "deluxe" | "suite"
    room_wish: str | None = None  # "double", "twin", "single", "triple", "family", "view", ...
    booking_id: str | None = None  # "BK-000123" or the digits the guest gave
    guest_name: str | None = None
    confirm: bool | None = None  # polarity of a yes/no answer
    urgent: bool = False
    wants_cancel: bool = False  # asks to cancel a booking (not about the policy)


@dataclass(frozen=True)
class Analysis:
    """Language, intent, confidence (0..1) and entities of one guest message."""

    text: str
    language: str
    intent: str
    confidence: float
    entities: Entities = field(default_factory=Entities)
    # Every intent with evidence, best first, as (intent, confidence).
    ranking: tuple[tuple[str, float], ...] = ()
