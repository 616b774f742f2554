"""What the PMS adapter returns: validated, immutable views of the PMS's JSON.

Money is ``Decimal`` in the hotel's currency. Unknown fields are ignored so that a
newer PMS does not break the agent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")
Source = Literal["pms", "cache", "stale"]


@dataclass(frozen=True)
class Lookup(Generic[T]):
    """A looked-up value and where it came from; ``stale`` answers are served while the
    PMS is unavailable and may be out of date."""

    value: T
    source: Source

    @property
    def stale(self) -> bool:
        return self.source == "stale"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Localized(_Model):
    es: str
    en: str

    def get(self, language: str) -> str:
        """The text in ``language`` (``es`` or ``en``), falling back to Spanish."""
        return self.en if language == "en" else self.es


class Amenity(_Model):
    code: str
    es: str
    en: str


class RoomType(_Model):
    slug: str
    name: Localized
    description: Localized
    capacity: int
    size_m2: int | None = None
    rooms: int | None = None
    base_rate: Decimal
    currency: str
    amenities: tuple[Amenity, ...] = ()


class NightlyRate(_Model):
    date: date
    rate: Decimal


class RoomOffer(_Model):
    """One room type's availability and price for a stay."""

    room_type: str
    name: Localized
    capacity: int
    available: int
    nights: int
    nightly_rates: tuple[NightlyRate, ...]
    total: Decimal
    currency: str


class Booking(_Model):
    id: str
    status: str
    room_type: str
    room_number: int | None = None
    check_in: date
    check_out: date
    nights: int
    guests: int
    guest_name: str
    guest_id: str
    nightly_rates: tuple[NightlyRate, ...] = ()
    total: Decimal
    currency: str
    checkout_time: str
    late_checkout: bool = False


class LateCheckoutQuote(_Model):
    """Whether checkout can move to the late time, and what it costs."""

    booking_id: str
    available: bool
    confirmed: bool
    reason: str | None = None
    standard_checkout: str
    late_checkout_time: str
    nightly_rate: Decimal
    fee: Decimal
    currency: str
