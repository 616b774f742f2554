"""The simulated hotel's state: room occupancy per night, bookings and late checkouts.

All state lives in memory behind one lock, so the hotel is safe to share between the
event loop and worker threads. A stay occupies the nights ``[check_in, check_out)``;
a room type's availability is the number of its rooms free on every one of those nights.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from chaos.pms_simulator.catalog import (
    ROOM_TYPES,
    ROOM_TYPES_BY_SLUG,
    RoomType,
    late_checkout_fee,
    nightly_rate,
)

MAX_NIGHTS = 30
HORIZON_DAYS = 365


class HotelError(Exception):
    """A request the hotel refuses; ``status_code`` is the HTTP status to answer with."""

    status_code = 400

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class InvalidRequest(HotelError):
    status_code = 422


class NotFound(HotelError):
    status_code = 404


class Conflict(HotelError):
    status_code = 409


@dataclass(frozen=True)
class Offer:
    """Availability and price of one room type for one stay."""

    room_type: RoomType
    available: int
    nightly_rates: tuple[tuple[date, int], ...]

    @property
    def total(self) -> int:
        return sum(rate for _, rate in self.nightly_rates)


@dataclass
class Booking:
    """A confirmed stay in one room."""

    id: str
    room_type: RoomType
    room_number: int
    check_in: date
    check_out: date
    guests: int
    guest_name: str
    guest_id: str
    nightly_rates: tuple[tuple[date, int], ...]
    created_at: datetime
    late_checkout: bool = False

    @property
    def total(self) -> int:
        return sum(rate for _, rate in self.nightly_rates)

    @property
    def last_night_rate(self) -> int:
        return self.nightly_rates[-1][1]


@dataclass(frozen=True)
class LateCheckoutQuote:
    booking: Booking
    available: bool
    reason: str | None

    @property
    def fee(self) -> int:
        return late_checkout_fee(self.booking.last_night_rate)


@dataclass
class _State:
    # room number -> night -> booking id
    occupancy: dict[int, dict[date, str]] = field(default_factory=dict)
    bookings: dict[str, Booking] = field(default_factory=dict)
    # Idempotency-Key -> (request fingerprint, booking id)
    idempotency: dict[str, tuple[tuple[object, ...], str]] = field(default_factory=dict)
    next_id: int = 1


def nights_of(check_in: date, check_out: date) -> list[date]:
    """The nights a stay occupies."""
    return [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]


class Hotel:
    """A 30-room hotel whose bookings really change availability."""

    def __init__(self, today: Callable[[], date]) -> None:
        self._today = today
        self._lock = threading.Lock()
        self._state = _State()

    def today(self) -> date:
        """The hotel's current date: the first night that can be sold."""
        return self._today()

    def room_types(self) -> tuple[RoomType, ...]:
        """Every room type, in catalogue order."""
        return ROOM_TYPES

    def room_type(self, slug: str) -> RoomType:
        """The room type called ``slug``, or NotFound."""
        try:
            return ROOM_TYPES_BY_SLUG[slug]
        except KeyError:
            raise NotFound(f"unknown room type {slug!r}") from None

    def validate_stay(self, check_in: date, check_out: date) -> None:
        """Refuse stays that are empty, too long, in the past or beyond the calendar."""
        today = self.today()
        if check_out <= check_in:
            raise InvalidRequest("check_out must be after check_in")
        if (check_out - check_in).days > MAX_NIGHTS:
            raise InvalidRequest(f"a stay is at most {MAX_NIGHTS} nights")
        if check_in < today:
            raise InvalidRequest(f"check_in is in the past (today is {today.isoformat()})")
        last = today + timedelta(days=HORIZON_DAYS)
        if check_out > last:
            raise InvalidRequest(f"check_out is beyond the calendar (last day {last.isoformat()})")

    def availability(
        self, check_in: date, check_out: date, guests: int, room_type: str | None = None
    ) -> list[Offer]:
        """Offers for every room type that holds ``guests`` (optionally just one type)."""
        self.validate_stay(check_in, check_out)
        types = (self.room_type(room_type),) if room_type is not None else ROOM_TYPES
        nights = nights_of(check_in, check_out)
        with self._lock:
            return [
                Offer(
                    room_type=rt,
                    available=len(self._free_rooms(rt, nights)),
                    nightly_rates=tuple((n, nightly_rate(rt, n)) for n in nights),
                )
                for rt in types
                if rt.capacity >= guests
            ]

    def book(
        self,
        *,
        room_type: str,
        check_in: date,
        check_out: date,
        guests: int,
        guest_name: str,
        guest_id: str,
        idempotency_key: str | None = None,
    ) -> tuple[Booking, bool]:
        """Book a room; returns the booking and whether it replays an earlier request."""
        fingerprint = (room_type, check_in, check_out, guests, guest_name, guest_id)
        # One critical section, so two retries carrying the same key cannot both book.
        with self._lock:
            if idempotency_key is not None and idempotency_key in self._state.idempotency:
                seen, booking_id = self._state.idempotency[idempotency_key]
                if seen != fingerprint:
                    raise InvalidRequest("Idempotency-Key was already used for another request")
                return self._state.bookings[booking_id], True
            rt = self.room_type(room_type)
            if guests > rt.capacity:
                raise InvalidRequest(f"room type {rt.slug!r} holds at most {rt.capacity} guests")
            self.validate_stay(check_in, check_out)
            nights = nights_of(check_in, check_out)
            free = self._free_rooms(rt, nights)
            if not free:
                raise Conflict(f"no {rt.slug} room is free for the whole stay")
            # Prefer rooms whose previous guest is not leaving late that day.
            free.sort(key=lambda room: (self._late_departure(room, check_in), room))
            room = free[0]
            booking = Booking(
                id=f"BK-{self._state.next_id:06d}",
                room_type=rt,
                room_number=room,
                check_in=check_in,
                check_out=check_out,
                guests=guests,
                guest_name=guest_name,
                guest_id=guest_id,
                nightly_rates=tuple((n, nightly_rate(rt, n)) for n in nights),
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._state.next_id += 1
            self._state.bookings[booking.id] = booking
            per_night = self._state.occupancy.setdefault(room, {})
            for n in nights:
                per_night[n] = booking.id
            if idempotency_key is not None:
                self._state.idempotency[idempotency_key] = (fingerprint, booking.id)
            return booking, False

    def booking(self, booking_id: str) -> Booking:
        """The booking ``booking_id``, or NotFound."""
        with self._lock:
            found = self._state.bookings.get(booking_id)
        if found is None:
            raise NotFound(f"no booking {booking_id!r}")
        return found

    def late_checkout_quote(self, booking_id: str) -> LateCheckoutQuote:
        """Whether the guest may stay until 14:00: only if their room has no arrival that day."""
        with self._lock:
            booking = self._state.bookings.get(booking_id)
            if booking is None:
                raise NotFound(f"no booking {booking_id!r}")
            return self._quote(booking)

    def confirm_late_checkout(self, booking_id: str) -> LateCheckoutQuote:
        """Confirm the late checkout; confirming twice is harmless."""
        with self._lock:
            booking = self._state.bookings.get(booking_id)
            if booking is None:
                raise NotFound(f"no booking {booking_id!r}")
            quote = self._quote(booking)
            if not quote.available:
                raise Conflict(f"late checkout is not possible: {quote.reason}")
            booking.late_checkout = True
            return quote

    def reset(self) -> int:
        """Forget every booking; returns how many there were."""
        with self._lock:
            count = len(self._state.bookings)
            self._state = _State()
            return count

    def booking_count(self) -> int:
        with self._lock:
            return len(self._state.bookings)

    # The helpers below expect the lock to be held.

    def _free_rooms(self, rt: RoomType, nights: list[date]) -> list[int]:
        occupancy = self._state.occupancy
        return [room for room in rt.rooms if not any(n in occupancy.get(room, {}) for n in nights)]

    def _late_departure(self, room: int, day: date) -> bool:
        previous_night = day - timedelta(days=1)
        booking_id = self._state.occupancy.get(room, {}).get(previous_night)
        if booking_id is None:
            return False
        booking = self._state.bookings[booking_id]
        return booking.late_checkout and booking.check_out == day

    def _quote(self, booking: Booking) -> LateCheckoutQuote:
        if booking.late_checkout:
            return LateCheckoutQuote(booking, available=True, reason=None)
        # The night after the stay is occupied only by someone arriving that day.
        arrival = self._state.occupancy.get(booking.room_number, {}).get(booking.check_out)
        if arrival is not None:
            reason = f"room {booking.room_number} has an arrival on {booking.check_out.isoformat()}"
            return LateCheckoutQuote(booking, available=False, reason=reason)
        return LateCheckoutQuote(booking, available=True, reason=None)
