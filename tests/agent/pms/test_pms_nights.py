"""Per-night availability: composed stays equal the PMS's own answers, without a PMS call;
a stay the nights cannot prove, and every booking, still goes to the PMS."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.pms.cache import availability_key
from agent.pms.models import Localized, NightlyRate, RoomOffer
from agent.pms.nights import compose, night_key
from agent.pms.warmer import CacheWarmer
from agent.settings import PMSSettings
from chaos.pms_simulator.testing import FakePMS, RecordingSleep

from .conftest import API_KEY, TODAY

AVAILABILITY = "/api/v1/availability"


def offer(room_type: str, night: date, available: int) -> RoomOffer:
    return RoomOffer(
        room_type=room_type,
        name=Localized(es=room_type, en=room_type),
        capacity=2,
        available=available,
        nights=1,
        nightly_rates=(NightlyRate(date=night, rate=Decimal(100)),),
        total=Decimal(100),
        currency="ARS",
    )


def test_one_night_with_rooms_taken_composes_exactly() -> None:
    n1, n2 = TODAY, TODAY + timedelta(days=1)
    composed = compose([[offer("std", n1, 12)], [offer("std", n2, 10)]], {"std": 12})
    assert composed is not None
    assert composed[0].available == 10
    assert composed[0].nights == 2 and composed[0].total == Decimal(200)


def test_rooms_taken_on_two_nights_cannot_be_proved() -> None:
    n1, n2 = TODAY, TODAY + timedelta(days=1)
    # One room taken both nights leaves 11; two rooms one night each leave 10.
    assert compose([[offer("std", n1, 11)], [offer("std", n2, 11)]], {"std": 12}) is None


def test_a_full_night_makes_the_stay_full() -> None:
    n1, n2 = TODAY, TODAY + timedelta(days=1)
    composed = compose([[offer("std", n1, 0)], [offer("std", n2, 3)]], {"std": 12})
    assert composed is not None and composed[0].available == 0


@pytest.fixture
def warmed(
    metrics: AgentMetrics,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    sleeps: RecordingSleep,
) -> Callable[[], PMSClient]:
    def build() -> PMSClient:
        settings = PMSSettings(base_url="http://pms.test", api_key=SecretStr(API_KEY))
        return PMSClient(
            settings,
            metrics,
            fake_redis,
            transport=httpx.MockTransport(fake_pms),
            sleep=sleeps,
            today=lambda: TODAY,
        )

    return build


async def direct(fake_pms: FakePMS, stay: tuple[date, date], guests: int, rt: str | None) -> list:
    params = {"check_in": stay[0].isoformat(), "check_out": stay[1].isoformat(), "guests": guests}
    if rt:
        params["room_type"] = rt
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake_pms.app), base_url="http://pms"
    ) as c:
        r = await c.get(AVAILABILITY, params=params, headers={"X-API-Key": API_KEY})
    return [(o["room_type"], o["available"], o["total"]) for o in r.json()["offers"]]


async def test_warmed_nights_answer_any_stay_like_the_pms_without_calling_it(
    warmed: Callable[[], PMSClient], fake_pms: FakePMS, metrics: AgentMetrics
) -> None:
    pms = warmed()
    # A booking on one night makes the hotel not empty.
    await pms.create_booking(
        room_type="standard",
        check_in=TODAY + timedelta(days=3),
        check_out=TODAY + timedelta(days=4),
        guests=2,
        guest_name="A",
        guest_id="a",
    )
    fetched = await CacheWarmer(pms, metrics).refresh_once(TODAY, claim=False)
    assert fetched == pms.settings.cache_warm_days + 1  # every night, and the room types
    calls = fake_pms.calls
    for days, nights, guests, rt in [(1, 2, 2, None), (2, 3, 3, None), (3, 1, 2, "standard"),
                                     (5, 7, 4, None), (0, 14, 1, "suite")]:  # fmt: skip
        stay = (TODAY + timedelta(days=days), TODAY + timedelta(days=days + nights))
        lookup = await pms.availability(stay[0], stay[1], guests, rt)
        assert lookup.source == "cache"
        got = [(o.room_type, o.available, int(o.total)) for o in lookup.value]
        assert got == await direct(fake_pms, stay, guests, rt)
    assert fake_pms.calls == calls
    await pms.aclose()


async def test_a_booking_drops_its_nights_so_the_next_lookup_asks_the_pms(
    warmed: Callable[[], PMSClient], fake_pms: FakePMS, metrics: AgentMetrics
) -> None:
    pms = warmed()
    await CacheWarmer(pms, metrics).refresh_once(TODAY, claim=False)
    stay = (TODAY + timedelta(days=5), TODAY + timedelta(days=7))
    before = await pms.availability(stay[0], stay[1], 2)
    calls = fake_pms.calls
    await pms.create_booking(
        room_type="suite", check_in=stay[0], check_out=stay[1], guests=2, guest_name="B",
        guest_id="b",
    )  # fmt: skip
    assert fake_pms.calls == calls + 1  # the booking itself always goes to the PMS
    after = await pms.availability(stay[0], stay[1], 2)
    assert after.source == "pms"
    suites = {o.room_type: o.available for o in after.value}["suite"]
    assert suites == {o.room_type: o.available for o in before.value}["suite"] - 1
    await pms.aclose()


async def test_concurrent_refreshes_of_one_night_make_one_pms_call(
    warmed: Callable[[], PMSClient], fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    pms = warmed()
    fake_pms.gate = asyncio.Event()
    night = TODAY + timedelta(days=9)
    waiting = [asyncio.create_task(pms.refresh_night(night)) for _ in range(10)]
    await asyncio.sleep(0.01)
    fake_pms.gate.set()
    await asyncio.gather(*waiting)
    assert fake_pms.calls_to(AVAILABILITY) == 1
    assert await fake_redis.exists(night_key(night))
    await pms.aclose()


async def test_with_the_warmer_a_booking_refetches_the_stays_guests_asked_for(
    warmed: Callable[[], PMSClient], fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    pms = warmed()
    pms.refresh_in_background = True  # what CacheWarmer.start() sets
    stay = (TODAY + timedelta(days=5), TODAY + timedelta(days=7))
    first = await pms.availability(stay[0], stay[1], 2)  # no nights yet: looked up whole
    assert first.source == "pms"
    key = availability_key(stay[0], stay[1], 1, None)  # one entry for every party
    await pms.create_booking(
        room_type="suite", check_in=stay[0], check_out=stay[1], guests=2, guest_name="C",
        guest_id="c",
    )  # fmt: skip
    # The booking returned once the dropped entry was back.
    assert await fake_redis.exists(key)
    calls = fake_pms.calls
    again = await pms.availability(stay[0], stay[1], 2)
    assert again.source == "cache" and fake_pms.calls == calls
    before = {o.room_type: o.available for o in first.value}
    assert {o.room_type: o.available for o in again.value}["suite"] == before["suite"] - 1
    await pms.aclose()


async def test_with_the_pms_down_a_stay_is_composed_from_the_nights_stale_copies(
    warmed: Callable[[], PMSClient],
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    metrics: AgentMetrics,
) -> None:
    pms = warmed()
    await CacheWarmer(pms, metrics).refresh_once(TODAY, claim=False)
    stay = (TODAY + timedelta(days=2), TODAY + timedelta(days=5))
    fresh = await pms.availability(stay[0], stay[1], 2)
    for key in await fake_redis.keys("pms:night:*"):
        await fake_redis.delete(key)  # the fresh entries expired during the outage
    fake_pms.fail_connect()
    lookup = await pms.availability(stay[0], stay[1], 2)
    assert lookup.source == "stale"
    assert lookup.value == fresh.value
    assert metrics.registry.get_sample_value("pms_cache_stale_served_total") == 1
    await pms.aclose()


async def test_the_warmer_refreshes_cached_stays_before_they_expire(
    warmed: Callable[[], PMSClient],
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    metrics: AgentMetrics,
) -> None:
    pms = warmed()
    stay = (TODAY + timedelta(days=5), TODAY + timedelta(days=7))
    await pms.availability(stay[0], stay[1], 2)  # cached whole: the nights are not warm yet
    key = availability_key(stay[0], stay[1], 1, None)
    warmer = CacheWarmer(pms, metrics)
    await warmer.refresh_once(TODAY, claim=False)
    asked = {"check_in": "2026-03-07", "check_out": "2026-03-09", "guests": "1"}
    stay_calls = [r for r in fake_pms.requests if dict(r.url.params) == asked]
    assert len(stay_calls) == 1  # a fresh entry is left alone
    await fake_redis.expire(key, 10)  # now it is about to expire
    await warmer.refresh_once(TODAY, claim=False)
    stay_calls = [r for r in fake_pms.requests if dict(r.url.params) == asked]
    assert len(stay_calls) == 2
    assert await fake_redis.ttl(key) > 250
    await pms.aclose()
