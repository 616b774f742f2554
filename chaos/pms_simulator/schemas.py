"""JSON shapes of the simulator's REST API, and conversions from the hotel's records."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chaos.pms_simulator.catalog import (
    AMENITIES,
    CURRENCY,
    LATE_CHECKOUT,
    STANDARD_CHECKOUT,
    RoomType,
    is_weekend_night,
    season_of,
)
from chaos.pms_simulator.hotel import Booking, LateCheckoutQuote, Offer

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,32}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
GuestId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Localized(BaseModel):
    es: str
    en: str


class Amenity(BaseModel):
    code: str
    es: str
    en: str


class RoomTypeOut(BaseModel):
    slug: str
    name: Localized
    description: Localized
    capacity: int
    size_m2: int
    rooms: int
    base_rate: int
    currency: str
    amenities: list[Amenity]


class RoomTypesOut(BaseModel):
    room_types: list[RoomTypeOut]


class NightlyRate(BaseModel):
    date: date
    rate: int
    season: str
    weekend: bool


class OfferOut(BaseModel):
    room_type: str
    name: Localized
    capacity: int
    available: int
    nights: int
    nightly_rates: list[NightlyRate]
    total: int
    currency: str


class AvailabilityOut(BaseModel):
    check_in: date
    check_out: date
    nights: int
    guests: int
    currency: str
    offers: list[OfferOut]


class BookingIn(BaseModel):
    """The body of ``POST /api/v1/bookings``."""

    model_config = ConfigDict(extra="forbid")

    room_type: Slug
    check_in: date
    check_out: date
    guests: int = Field(ge=1, le=10)
    guest_name: Text
    guest_id: GuestId


class BookingOut(BaseModel):
    id: str
    status: str
    room_type: str
    room_number: int
    check_in: date
    check_out: date
    nights: int
    guests: int
    guest_name: str
    guest_id: str
    nightly_rates: list[NightlyRate]
    total: int
    currency: str
    checkout_time: str
    late_checkout: bool
    created_at: datetime


class LateCheckoutOut(BaseModel):
    booking_id: str
    available: bool
    confirmed: bool
    reason: str | None
    standard_checkout: str
    late_checkout_time: str
    nightly_rate: int
    fee: int
    currency: str


def _rates(pairs: tuple[tuple[date, int], ...]) -> list[NightlyRate]:
    return [
        NightlyRate(date=d, rate=r, season=season_of(d)[0], weekend=is_weekend_night(d))
        for d, r in pairs
    ]


def _name(rt: RoomType) -> Localized:
    return Localized(es=rt.name_es, en=rt.name_en)


def room_type_out(rt: RoomType) -> RoomTypeOut:
    return RoomTypeOut(
        slug=rt.slug,
        name=_name(rt),
        description=Localized(es=rt.description_es, en=rt.description_en),
        capacity=rt.capacity,
        size_m2=rt.size_m2,
        rooms=len(rt.rooms),
        base_rate=rt.base_rate,
        currency=CURRENCY,
        amenities=[Amenity(code=c, es=AMENITIES[c][0], en=AMENITIES[c][1]) for c in rt.amenities],
    )


def offer_out(offer: Offer) -> OfferOut:
    return OfferOut(
        room_type=offer.room_type.slug,
        name=_name(offer.room_type),
        capacity=offer.room_type.capacity,
        available=offer.available,
        nights=len(offer.nightly_rates),
        nightly_rates=_rates(offer.nightly_rates),
        total=offer.total,
        currency=CURRENCY,
    )


def booking_out(b: Booking) -> BookingOut:
    return BookingOut(
        id=b.id,
        status="confirmed",
        room_type=b.room_type.slug,
        room_number=b.room_number,
        check_in=b.check_in,
        check_out=b.check_out,
        nights=len(b.nightly_rates),
        guests=b.guests,
        guest_name=b.guest_name,
        guest_id=b.guest_id,
        nightly_rates=_rates(b.nightly_rates),
        total=b.total,
        currency=CURRENCY,
        checkout_time=LATE_CHECKOUT if b.late_checkout else STANDARD_CHECKOUT,
        late_checkout=b.late_checkout,
        created_at=b.created_at,
    )


def late_checkout_out(q: LateCheckoutQuote) -> LateCheckoutOut:
    return LateCheckoutOut(
        booking_id=q.booking.id,
        available=q.available,
        confirmed=q.booking.late_checkout,
        reason=q.reason,
        standard_checkout=STANDARD_CHECKOUT,
        late_checkout_time=LATE_CHECKOUT,
        nightly_rate=q.booking.last_night_rate,
        fee=q.fee,
        currency=CURRENCY,
    )
