"""The simulator's catalogue, rate rules and booking engine, without HTTP."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from chaos.pms_simulator.catalog import (
    ROOM_TYPES,
    ROOM_TYPES_BY_SLUG,
    late_checkout_fee,
    nightly_rate,
    season_of,
)
from chaos.pms_simulator.hotel import Conflict, Hotel

STANDARD = ROOM_TYPES_BY_SLUG["standard"]


def test_thirty_distinct_rooms_in_four_types() -> None:
    rooms = [r for rt in ROOM_TYPES for r in rt.rooms]
    assert len(rooms) == len(set(rooms)) == 30
    assert [rt.slug for rt in ROOM_TYPES] == ["standard", "superior", "deluxe", "suite"]


@pytest.mark.parametrize(
    ("night", "season", "rate"),
    [
        (date(2026, 3, 2), "regular", 90_000),  # Monday
        (date(2026, 3, 6), "regular", 103_500),  # Friday night
        (date(2026, 3, 8), "regular", 90_000),  # Sunday night is not a weekend night
        (date(2026, 5, 4), "low", 76_500),
        (date(2026, 5, 8), "low", 88_000),  # 87,975 rounds half up to 88,000
        (date(2026, 7, 13), "winter_holidays", 112_500),
        (date(2026, 12, 21), "holidays", 126_000),
        (date(2026, 12, 25), "holidays", 144_900),
        (date(2027, 1, 6), "holidays", 126_000),
        (date(2027, 1, 7), "summer", 108_000),
        (date(2028, 2, 29), "summer", 108_000),  # leap day, a Tuesday
        (date(2026, 9, 1), "regular", 90_000),
    ],
)
def test_rates_follow_season_and_weekend_rules(night: date, season: str, rate: int) -> None:
    assert season_of(night)[0] == season
    assert nightly_rate(STANDARD, night) == rate


def test_every_rate_is_a_whole_hundred_and_the_fee_is_half() -> None:
    for rt in ROOM_TYPES:
        for day in range(366):
            night = date.fromordinal(date(2026, 1, 1).toordinal() + day)
            rate = nightly_rate(rt, night)
            assert rate % 100 == 0
            assert late_checkout_fee(rate) * 2 == rate


def test_threads_booking_at_once_never_oversell() -> None:
    hotel = Hotel(lambda: date(2026, 3, 2))

    def book(i: int) -> int | None:
        try:
            booking, _ = hotel.book(
                room_type="standard",
                check_in=date(2026, 3, 10),
                check_out=date(2026, 3, 12),
                guests=2,
                guest_name=f"Guest {i}",
                guest_id=str(i),
            )
        except Conflict:
            return None
        return booking.room_number

    with ThreadPoolExecutor(max_workers=16) as pool:
        rooms = list(pool.map(book, range(40)))
    booked = [r for r in rooms if r is not None]
    assert sorted(booked) == list(STANDARD.rooms)
    assert hotel.booking_count() == 12


def test_threads_replaying_one_idempotency_key_book_once() -> None:
    hotel = Hotel(lambda: date(2026, 3, 2))

    def book(_: int) -> str:
        booking, _replayed = hotel.book(
            room_type="suite",
            check_in=date(2026, 3, 10),
            check_out=date(2026, 3, 11),
            guests=2,
            guest_name="Ana",
            guest_id="1",
            idempotency_key="same",
        )
        return booking.id

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = set(pool.map(book, range(32)))
    assert ids == {"BK-000001"}
    assert hotel.booking_count() == 1
