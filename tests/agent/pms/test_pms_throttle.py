"""A PMS answering 429: no retry, Retry-After honoured across calls, stale copies served."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime

import fakeredis
import httpx
import pytest

from agent.exceptions import PMSNotFound, PMSUnavailable
from agent.pms import PMSClient
from agent.pms.transport import retry_after_s
from agent.settings import BreakerSettings, RetrySettings
from chaos.pms_simulator.testing import FakeClock, FakePMS, RecordingSleep

MakeClient = Callable[..., PMSClient]
ReadMetric = Callable[..., float]
IN, OUT = date(2026, 3, 6), date(2026, 3, 8)
KEY = "pms:availability:2026-03-06:2026-03-08:1:any"  # one entry per stay


def throttle(fake_pms: FakePMS, retry_after: str | None = "2") -> None:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    fake_pms.fault = lambda _req: httpx.Response(429, headers=headers, json={"detail": "slow"})


async def test_a_429_is_unavailable_at_once_and_not_retried(
    make_client: MakeClient,
    fake_pms: FakePMS,
    sleeps: RecordingSleep,
    read_metric: ReadMetric,
) -> None:
    client = make_client(retry=RetrySettings(retries=3, backoff_base_s=0.1))
    throttle(fake_pms)
    with pytest.raises(PMSUnavailable, match="throttled"):
        await client.get_booking("BK-000001")
    assert fake_pms.calls == 1 and sleeps.delays == []
    assert read_metric("retry_attempts_total", operation="pms.get_booking", outcome="failure") == 0
    # The PMS answered: the attempt is a rejection, not a failure of the breaker.
    observed = read_metric(
        "pms_api_latency_seconds_count", operation="get_booking", outcome="rejected"
    )
    assert observed == 1
    assert client.breaker.current_state == "closed" and client.breaker.fail_counter == 0


async def test_no_call_goes_out_until_retry_after_has_passed(
    make_client: MakeClient, fake_pms: FakePMS, clock: FakeClock
) -> None:
    client = make_client()
    throttle(fake_pms, "2")
    with pytest.raises(PMSUnavailable):
        await client.get_booking("BK-000001")
    fake_pms.heal()
    clock.advance(1.9)
    for call in (client.get_booking("BK-000001"), client.availability(IN, OUT, 2)):
        with pytest.raises(PMSUnavailable, match="Retry-After"):
            await call
    assert fake_pms.calls == 1  # held back, every operation alike
    clock.advance(0.2)
    offers = await client.availability(IN, OUT, 2)
    assert offers.source == "pms" and fake_pms.calls == 2


async def test_a_throttled_lookup_serves_the_stale_copy(
    make_client: MakeClient,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
    read_metric: ReadMetric,
) -> None:
    client = make_client()
    fresh = await client.availability(IN, OUT, 2)
    await fake_redis.delete(KEY)  # the fresh entry expired
    throttle(fake_pms)
    lookup = await client.availability(IN, OUT, 2)
    assert lookup.source == "stale" and lookup.value == fresh.value
    # Before this policy a 429 was a rejection: "those dates are not sold", not stale.
    assert read_metric("pms_cache_stale_served_total") == 1


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, 0.5), ("7", 7.0), ("junk", 0.5), ("600", 30.0)],
)
async def test_the_wait_defaults_to_the_first_backoff_and_is_capped(
    make_client: MakeClient,
    fake_pms: FakePMS,
    clock: FakeClock,
    header: str | None,
    expected: float,
) -> None:
    client = make_client(
        retry=RetrySettings(backoff_base_s=0.5), breaker=BreakerSettings(reset_timeout_s=30)
    )
    throttle(fake_pms, header)
    with pytest.raises(PMSUnavailable, match=f"for {expected:g} s"):
        await client.get_booking("BK-000001")
    fake_pms.heal()
    clock.advance(expected - 0.01)
    with pytest.raises(PMSUnavailable, match="Retry-After"):
        await client.get_booking("BK-000001")
    clock.advance(0.02)
    with pytest.raises(PMSNotFound):  # the PMS is reached again: it has no such booking
        await client.get_booking("BK-000001")
    assert fake_pms.calls == 2


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert retry_after_s("3", 1.0) == 3.0
    assert retry_after_s("-4", 1.0) == 0.0
    assert retry_after_s("", 1.0) == 1.0
    assert retry_after_s("soon", 1.0) == 1.0
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 55 < retry_after_s(later, 1.0) <= 60
    earlier = format_datetime(datetime.now(UTC) - timedelta(seconds=60), usegmt=True)
    assert retry_after_s(earlier, 1.0) == 0.0
