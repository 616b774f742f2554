"""PMS lookups through the Redis cache: hits, stale copies, single-flight, invalidation."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date
from typing import Any

import fakeredis
import pytest

from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.pms import PMSClient
from agent.pms.cache import availability_key
from agent.settings import RetrySettings
from chaos.pms_simulator.testing import FakePMS, RecordingSleep

MakeClient = Callable[..., PMSClient]
ReadMetric = Callable[..., float]
NO_RETRY = RetrySettings(retries=0)
IN, OUT = date(2026, 3, 6), date(2026, 3, 8)
# One entry per stay: every room type for one guest, filtered for each party.
KEY = "pms:availability:2026-03-06:2026-03-08:1:any"
STALE_KEY = "pms:stale:availability:2026-03-06:2026-03-08:1:any"
AVAILABILITY_PATH = "/api/v1/availability"
STAY: dict[str, Any] = {
    "room_type": "suite",
    "check_in": IN,
    "check_out": OUT,
    "guests": 2,
    "guest_name": "Ana Pérez",
    "guest_id": "5491155550000",
}


def suites(offers: list[Any]) -> int:
    return next(o.available for o in offers if o.room_type == "suite")


async def wait_until(predicate: Callable[[], bool], limit: int = 10_000) -> None:
    """Yield to the loop until ``predicate`` holds (bounded by iterations, not time)."""
    for _ in range(limit):
        if predicate():
            return
        await asyncio.sleep(0)
    raise AssertionError("condition never became true")


class HangingRedis:
    """A Redis whose every command waits forever, like one behind a dead link."""

    async def _hang(self, *_args: Any, **_kwargs: Any) -> Any:
        await asyncio.Event().wait()

    get = sunion = delete = _hang

    def pipeline(self, transaction: bool = True) -> Any:
        outer = self

        class Pipe:
            def __getattr__(self, _name: str) -> Callable[..., None]:
                return lambda *a, **k: None

            async def execute(self) -> Any:
                return await outer._hang()

        return Pipe()


async def test_second_lookup_is_a_cache_hit(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client()
    first = await client.availability(IN, OUT, 2)
    second = await client.availability(IN, OUT, 2)
    assert (first.source, second.source) == ("pms", "cache")
    assert not first.stale
    assert not second.stale
    assert second.value == first.value
    assert fake_pms.calls_to(AVAILABILITY_PATH) == 1
    assert read_metric("pms_cache_misses_total", kind="availability") == 1
    assert read_metric("pms_cache_hits_total", kind="availability") == 1

    assert (await client.room_types()).source == "pms"
    assert (await client.room_types()).source == "cache"
    assert read_metric("pms_cache_misses_total", kind="room_types") == 1
    assert read_metric("pms_cache_hits_total", kind="room_types") == 1


async def test_one_entry_answers_every_party_and_room_type_of_a_stay(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client()
    everyone = await client.availability(IN, OUT, 2)
    three = await client.availability(IN, OUT, 3)
    only_suite = await client.availability(IN, OUT, 2, "suite")
    assert fake_pms.calls_to(AVAILABILITY_PATH) == 1
    assert (three.source, only_suite.source) == ("cache", "cache")
    # What the PMS answers for each: room types that hold the party, or the one asked for.
    assert [o.room_type for o in everyone.value] == ["standard", "superior", "deluxe", "suite"]
    assert [o.room_type for o in three.value] == ["superior", "deluxe", "suite"]
    assert [o.room_type for o in only_suite.value] == ["suite"]
    with pytest.raises(PMSNotFound):
        await client.availability(IN, OUT, 2, "penthouse")


async def test_keys_and_ttls(make_client: MakeClient, fake_redis: fakeredis.FakeAsyncRedis) -> None:
    client = make_client(cache_availability_ttl_s=300, cache_room_types_ttl_s=3600)
    await client.availability(IN, OUT, 2)
    await client.room_types()
    assert 290 < await fake_redis.ttl(KEY) <= 300
    assert 86_000 < await fake_redis.ttl(STALE_KEY) <= 86_400
    assert 3_590 < await fake_redis.ttl("pms:room_types") <= 3_600
    assert await fake_redis.ttl("pms:stale:room_types") > 3_600
    assert await fake_redis.smembers("pms:index:availability:2026-03-06") == {KEY.encode()}
    assert await fake_redis.smembers("pms:index:availability:2026-03-07") == {KEY.encode()}
    assert not await fake_redis.exists("pms:index:availability:2026-03-08")


def test_a_room_type_cannot_add_key_separators() -> None:
    key = availability_key(IN, OUT, 2, "suite:any")
    assert key == "pms:availability:2026-03-06:2026-03-08:2:suite%3Aany"


async def test_stale_copy_is_served_while_the_breaker_is_open(
    make_client: MakeClient,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    read_metric: ReadMetric,
) -> None:
    client = make_client(retry=NO_RETRY)
    fresh = await client.availability(IN, OUT, 2)
    await fake_redis.delete(KEY)  # the fresh entry expired
    fake_pms.fail_status(503)
    for _ in range(5):
        with pytest.raises(PMSUnavailable):
            await client.get_booking("BK-000001")
    assert client.breaker.current_state == "open"
    calls = fake_pms.calls

    lookup = await client.availability(IN, OUT, 2)
    assert lookup.source == "stale"
    assert lookup.stale
    assert lookup.value == fresh.value
    assert fake_pms.calls == calls
    assert read_metric("pms_cache_stale_served_total") == 1
    assert read_metric("pms_cache_misses_total", kind="availability") == 2


async def test_stale_copy_is_served_when_retries_run_out(
    make_client: MakeClient,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    sleeps: RecordingSleep,
    read_metric: ReadMetric,
) -> None:
    client = make_client()
    await client.room_types()
    await fake_redis.delete("pms:room_types")
    fake_pms.fail_connect()
    lookup = await client.room_types()
    assert lookup.source == "stale"
    assert len(lookup.value) == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert client.breaker.current_state == "closed"
    assert read_metric("pms_cache_stale_served_total") == 1


async def test_without_a_stale_copy_unavailability_is_raised(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(502)
    with pytest.raises(PMSUnavailable):
        await client.availability(IN, OUT, 2)
    assert read_metric("pms_cache_stale_served_total") == 0


async def test_rejections_are_neither_cached_nor_answered_from_stale(
    make_client: MakeClient, fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    client = make_client()
    await client.availability(IN, OUT, 2)
    await fake_redis.delete(KEY)
    fake_pms.fail_status(422)
    with pytest.raises(PMSRejected):
        await client.availability(IN, OUT, 2)
    assert not await fake_redis.exists(KEY)


async def test_ten_concurrent_identical_lookups_make_one_pms_call(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client()
    fake_pms.gate = asyncio.Event()
    tasks = [asyncio.create_task(client.availability(IN, OUT, 2)) for _ in range(10)]
    # Once all ten have missed the cache, all ten have joined the one flight.
    await wait_until(lambda: read_metric("pms_cache_misses_total", kind="availability") == 10)
    fake_pms.gate.set()
    results = await asyncio.gather(*tasks)
    assert fake_pms.calls_to(AVAILABILITY_PATH) == 1
    assert {r.source for r in results} == {"pms"}
    assert all(r.value == results[0].value for r in results)
    assert len({id(r.value) for r in results}) == 10  # callers do not share one list


async def test_concurrent_lookups_share_a_failure_and_then_the_stale_copy(
    make_client: MakeClient,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    read_metric: ReadMetric,
) -> None:
    client = make_client(retry=NO_RETRY)
    await client.availability(IN, OUT, 2)
    await fake_redis.delete(KEY)
    fake_pms.fail_status(503)
    fake_pms.gate = asyncio.Event()
    calls = fake_pms.calls
    tasks = [asyncio.create_task(client.availability(IN, OUT, 2)) for _ in range(5)]
    await wait_until(lambda: read_metric("pms_cache_misses_total", kind="availability") == 6)
    fake_pms.gate.set()
    results = await asyncio.gather(*tasks)
    assert fake_pms.calls == calls + 1
    assert {r.source for r in results} == {"stale"}
    assert read_metric("pms_cache_stale_served_total") == 5


async def test_a_cancelled_caller_does_not_cancel_the_shared_lookup(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client()
    fake_pms.gate = asyncio.Event()
    first = asyncio.create_task(client.availability(IN, OUT, 2))
    second = asyncio.create_task(client.availability(IN, OUT, 2))
    await wait_until(lambda: read_metric("pms_cache_misses_total", kind="availability") == 2)
    first.cancel()
    fake_pms.gate.set()
    assert (await second).source == "pms"
    assert first.cancelled()
    assert fake_pms.calls_to(AVAILABILITY_PATH) == 1
    assert client.breaker.current_state == "closed"


async def test_a_dead_redis_never_fails_a_lookup(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    client = make_client(redis=fakeredis.FakeAsyncRedis(server=server))
    for _ in range(2):
        lookup = await client.availability(IN, OUT, 2)
        assert lookup.source == "pms"
        assert suites(lookup.value) == 4
    assert fake_pms.calls_to(AVAILABILITY_PATH) == 2
    assert read_metric("pms_cache_misses_total", kind="availability") == 2
    booking = await client.create_booking(**STAY)
    assert booking.id == "BK-000001"
    server.connected = True
    assert (await client.availability(IN, OUT, 2)).source == "pms"
    assert (await client.availability(IN, OUT, 2)).source == "cache"


async def test_a_hanging_redis_is_bounded_by_the_cache_timeout(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client(redis=HangingRedis(), cache_timeout_s=0.02)
    lookup = await asyncio.wait_for(client.availability(IN, OUT, 2), timeout=5)
    assert lookup.source == "pms"
    booking = await asyncio.wait_for(client.create_booking(**STAY), timeout=5)
    assert booking.id == "BK-000001"


async def test_without_redis_every_lookup_goes_to_the_pms(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client(redis=None)
    assert (await client.room_types()).source == "pms"
    assert (await client.room_types()).source == "pms"
    assert fake_pms.calls == 2


async def test_a_corrupt_entry_is_a_miss(
    make_client: MakeClient,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    read_metric: ReadMetric,
) -> None:
    client = make_client()
    await fake_redis.set(KEY, b"{not json")
    lookup = await client.availability(IN, OUT, 2)
    assert lookup.source == "pms"
    assert read_metric("pms_cache_misses_total", kind="availability") == 1
    assert (await client.availability(IN, OUT, 2)).source == "cache"


async def test_a_booking_invalidates_exactly_the_overlapping_availability(
    make_client: MakeClient, fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    client = make_client()
    overlapping = [
        (IN, OUT, 2, None),
        (date(2026, 3, 7), date(2026, 3, 10), 1, "suite"),
        (date(2026, 3, 4), date(2026, 3, 7), 2, None),
    ]
    untouched = [
        (date(2026, 3, 8), date(2026, 3, 10), 2, None),
        (date(2026, 3, 3), date(2026, 3, 6), 2, None),
    ]
    for query in overlapping + untouched:
        assert (await client.availability(*query)).source == "pms"

    await client.create_booking(**STAY)

    for query in untouched:
        assert (await client.availability(*query)).source == "cache"
    for query in overlapping:
        lookup = await client.availability(*query)
        assert lookup.source == "pms"
        assert suites(lookup.value) == 3
    # Stale copies stay: they are only for when the PMS cannot answer.
    assert await fake_redis.exists(STALE_KEY)


async def test_a_failed_booking_that_may_have_landed_still_invalidates(
    make_client: MakeClient, fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    client = make_client(retry=NO_RETRY)
    await client.availability(IN, OUT, 2)
    fake_pms.lose_answers(1)
    with pytest.raises(PMSUnavailable):
        await client.create_booking(**STAY)
    lookup = await client.availability(IN, OUT, 2)
    assert lookup.source == "pms"
    assert suites(lookup.value) == 3


async def test_a_lookup_overtaken_by_a_booking_is_not_cached_as_fresh(
    make_client: MakeClient, fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    """An answer read before a booking but arriving after it must not be cached as fresh."""
    client = make_client()
    held = fake_pms.answer_gate = asyncio.Event()
    lookup = asyncio.create_task(client.availability(IN, OUT, 2))
    await wait_until(lambda: fake_pms.calls == 1)
    fake_pms.answer_gate = None
    await client.create_booking(**STAY)  # completes while the old answer is in flight
    held.set()
    assert suites((await lookup).value) == 4
    assert not await fake_redis.exists(KEY)
    assert await fake_redis.exists(STALE_KEY)
    after = await client.availability(IN, OUT, 2)
    assert after.source == "pms"
    assert suites(after.value) == 3


async def test_bookings_and_late_checkout_are_never_cached(
    make_client: MakeClient, fake_pms: FakePMS, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    client = make_client()
    booking = await client.create_booking(**STAY)
    for _ in range(2):
        await client.get_booking(booking.id)
        await client.late_checkout_quote(booking.id)
    await client.confirm_late_checkout(booking.id)
    assert fake_pms.calls == 6
    assert await fake_redis.keys("*") == []
