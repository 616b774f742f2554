"""PMSClient against the real simulator (uvicorn on loopback) and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from agent.exceptions import PMSNotFound, PMSRejected
from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.settings import PMSSettings, RetrySettings
from chaos.pms_simulator import BackgroundServer
from chaos.stack.processes import free_port

pytestmark = pytest.mark.integration

API_KEY = "pms-test-key"
IN, OUT = date(2026, 3, 5), date(2026, 3, 7)  # Thursday and Friday nights
# One entry per stay: every room type for one guest, filtered for each party.
KEY = "pms:availability:2026-03-05:2026-03-07:1:any"


async def no_sleep(_seconds: float) -> None:
    return None


@pytest.fixture
async def redis_client(redis_server: Any) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url, socket_timeout=2.0)
    stale = [k async for k in client.scan_iter(match="pms:*")]
    if stale:
        await client.delete(*stale)
    yield client
    await client.aclose()


@pytest.fixture
async def pms(
    pms_server: BackgroundServer, redis_client: aioredis.Redis
) -> AsyncIterator[tuple[PMSClient, AgentMetrics]]:
    httpx.post(f"{pms_server.url}/_admin/reset", headers={"X-API-Key": API_KEY}, timeout=5.0)
    metrics = AgentMetrics()
    settings = PMSSettings(base_url=pms_server.url, api_key=SecretStr(API_KEY))
    client = PMSClient(settings, metrics, redis_client, sleep=no_sleep)
    yield client, metrics
    await client.aclose()


def suites(offers: list[Any]) -> int:
    return next(o.available for o in offers if o.room_type == "suite")


async def test_a_booking_really_reduces_availability(
    pms: tuple[PMSClient, AgentMetrics], redis_client: aioredis.Redis
) -> None:
    client, metrics = pms
    before = await client.availability(IN, OUT, 2)
    assert before.source == "pms"
    assert suites(before.value) == 4
    assert (await client.availability(IN, OUT, 2)).source == "cache"
    assert await redis_client.exists(KEY)

    booking = await client.create_booking(
        room_type="suite",
        check_in=IN,
        check_out=OUT,
        guests=2,
        guest_name="Ana Pérez",
        guest_id="5491155550000",
    )
    assert booking.id == "BK-000001"
    assert not await redis_client.exists(KEY)

    after = await client.availability(IN, OUT, 2)
    assert after.source == "pms"
    assert suites(after.value) == 3
    hits = metrics.registry.get_sample_value("pms_cache_hits_total", {"kind": "availability"})
    assert hits == 1


async def test_late_checkout_fee_is_half_the_nightly_rate(
    pms: tuple[PMSClient, AgentMetrics],
) -> None:
    client, _ = pms
    booking = await client.create_booking(
        room_type="standard",
        check_in=IN,
        check_out=OUT,
        guests=1,
        guest_name="John Smith",
        guest_id="447700900000",
    )
    last_night = booking.nightly_rates[-1]
    assert last_night.date == date(2026, 3, 6)
    assert last_night.rate == Decimal(103_500)
    quote = await client.late_checkout_quote(booking.id)
    assert quote.available
    assert quote.nightly_rate == last_night.rate
    assert quote.fee == last_night.rate * Decimal("0.5")
    assert quote.late_checkout_time == "14:00"
    confirmed = await client.confirm_late_checkout(booking.id)
    assert confirmed.confirmed
    assert (await client.confirm_late_checkout(booking.id)) == confirmed
    assert (await client.get_booking(booking.id)).checkout_time == "14:00"


async def test_unknown_booking_is_pms_not_found(pms: tuple[PMSClient, AgentMetrics]) -> None:
    client, _ = pms
    with pytest.raises(PMSNotFound) as info:
        await client.get_booking("BK-999999")
    assert info.value.status_code == 404
    with pytest.raises(PMSNotFound):
        await client.late_checkout_quote("BK-999999")
    with pytest.raises(PMSRejected) as bad:
        await client.availability(OUT, IN, 2)
    assert bad.value.status_code == 422
    assert client.breaker.current_state == "closed"


async def test_a_dead_pms_is_answered_from_the_stale_copy(
    pms: tuple[PMSClient, AgentMetrics], redis_client: aioredis.Redis
) -> None:
    client, _ = pms
    fresh = await client.room_types()
    await redis_client.delete("pms:room_types")  # the fresh entry expired
    metrics = AgentMetrics()
    dead = PMSSettings(
        base_url=f"http://127.0.0.1:{free_port()}",
        api_key=SecretStr(API_KEY),
        retry=RetrySettings(retries=1),
    )
    async with PMSClient(dead, metrics, redis_client, sleep=no_sleep) as unreachable:
        assert await unreachable.ping() is False
        lookup = await unreachable.room_types()
    assert lookup.source == "stale"
    assert lookup.value == fresh.value
    assert metrics.registry.get_sample_value("pms_cache_stale_served_total") == 1
    connect_errors = metrics.registry.get_sample_value(
        "pms_api_latency_seconds_count", {"operation": "room_types", "outcome": "connect_error"}
    )
    assert connect_errors == 2


async def test_ping_reports_a_live_pms(pms: tuple[PMSClient, AgentMetrics]) -> None:
    client, _ = pms
    assert await client.ping() is True
