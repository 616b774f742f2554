"""PMSClient over a fake PMS: breaker, retries, error mapping, bookings, ping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest

from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.pms import PMSClient
from agent.resilience import BreakerOpen
from agent.settings import BreakerSettings, RetrySettings
from chaos.pms_simulator.testing import FakeClock, FakePMS, RecordingSleep

MakeClient = Callable[..., PMSClient]
ReadMetric = Callable[..., float]
NO_RETRY = RetrySettings(retries=0)
IN, OUT = date(2026, 3, 6), date(2026, 3, 8)
STAY: dict[str, Any] = {
    "room_type": "suite",
    "check_in": IN,
    "check_out": OUT,
    "guests": 2,
    "guest_name": "Ana Pérez",
    "guest_id": "5491155550000",
}


def transitions(read_metric: Callable[..., float], from_state: str, to_state: str) -> float:
    return read_metric(
        "circuit_breaker_transitions_total",
        breaker="pms",
        from_state=from_state,
        to_state=to_state,
    )


async def fail_n_times(client: PMSClient, n: int) -> None:
    for _ in range(n):
        with pytest.raises(PMSUnavailable):
            await client.get_booking("BK-000001")


# Breaker


async def test_breaker_opens_after_exactly_five_consecutive_failures(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(503)
    await fail_n_times(client, 4)
    assert client.breaker.current_state == "closed"
    assert read_metric("circuit_breaker_state", breaker="pms") == 0
    await fail_n_times(client, 1)
    assert client.breaker.current_state == "open"
    assert fake_pms.calls == 5
    assert read_metric("circuit_breaker_state", breaker="pms") == 1
    assert transitions(read_metric, "closed", "open") == 1


async def test_a_success_resets_the_failure_streak(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(503)
    await fail_n_times(client, 4)
    fake_pms.heal()
    with pytest.raises(PMSNotFound):  # the PMS answered: not a failure
        await client.get_booking("BK-000001")
    fake_pms.fail_status(503)
    await fail_n_times(client, 4)
    assert client.breaker.current_state == "closed"


async def test_open_breaker_rejects_without_touching_the_transport(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(503)
    await fail_n_times(client, 5)
    fake_pms.heal()
    calls = fake_pms.calls
    for call in (
        client.get_booking("BK-000001"),
        client.late_checkout_quote("BK-000001"),
        client.create_booking(**STAY),
    ):
        with pytest.raises(PMSUnavailable) as info:
            await call
        assert isinstance(info.value.__cause__, BreakerOpen)
    assert fake_pms.calls == calls


async def test_breaker_half_opens_after_the_reset_timeout_and_closes_on_success(
    make_client: MakeClient, fake_pms: FakePMS, clock: FakeClock, read_metric: ReadMetric
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(503)
    await fail_n_times(client, 5)
    fake_pms.heal()

    clock.advance(29.9)
    with pytest.raises(PMSUnavailable):
        await client.room_types()
    assert fake_pms.calls == 5
    assert client.breaker.current_state == "open"

    clock.advance(0.1)
    lookup = await client.room_types()
    assert lookup.source == "pms"
    assert fake_pms.calls == 6
    assert client.breaker.current_state == "closed"
    assert read_metric("circuit_breaker_state", breaker="pms") == 0
    assert transitions(read_metric, "closed", "open") == 1
    assert transitions(read_metric, "open", "half-open") == 1
    assert transitions(read_metric, "half-open", "closed") == 1


async def test_a_failed_trial_call_reopens_the_breaker(
    make_client: MakeClient, fake_pms: FakePMS, clock: FakeClock, read_metric: ReadMetric
) -> None:
    client = make_client(retry=NO_RETRY)
    fake_pms.fail_status(503)
    await fail_n_times(client, 5)
    clock.advance(30)
    await fail_n_times(client, 1)
    assert fake_pms.calls == 6
    assert client.breaker.current_state == "open"
    assert transitions(read_metric, "half-open", "open") == 1
    await fail_n_times(client, 1)
    assert fake_pms.calls == 6


async def test_breaker_settings_are_honoured(
    make_client: MakeClient, fake_pms: FakePMS, clock: FakeClock
) -> None:
    client = make_client(retry=NO_RETRY, breaker=BreakerSettings(fail_max=2, reset_timeout_s=2))
    fake_pms.fail_connect()
    await fail_n_times(client, 2)
    assert client.breaker.current_state == "open"
    assert client.breaker.name == "pms"
    clock.advance(2)
    fake_pms.heal()
    assert (await client.room_types()).source == "pms"


# Retries


@pytest.mark.parametrize(
    ("fault", "outcome"),
    [("status503", "server_error"), ("connect", "connect_error"), ("timeout", "timeout")],
)
async def test_a_persistent_transient_failure_is_retried_three_times_with_backoff(
    make_client: MakeClient,
    fake_pms: FakePMS,
    sleeps: RecordingSleep,
    read_metric: ReadMetric,
    fault: str,
    outcome: str,
) -> None:
    client = make_client()
    {
        "status503": lambda: fake_pms.fail_status(503),
        "connect": fake_pms.fail_connect,
        "timeout": fake_pms.fail_timeout,
    }[fault]()
    with pytest.raises(PMSUnavailable):
        await client.get_booking("BK-000001")
    assert fake_pms.calls == 4
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert read_metric("retry_attempts_total", operation="pms.get_booking", outcome="failure") == 3
    assert read_metric("retry_attempts_total", operation="pms.get_booking", outcome="success") == 0
    count = read_metric("pms_api_latency_seconds_count", operation="get_booking", outcome=outcome)
    assert count == 4


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PMSRejected),
        (401, PMSRejected),
        (404, PMSNotFound),
        (409, PMSRejected),
        (422, PMSRejected),
        # 429 asks the client to wait: test_pms_throttle.py.
    ],
)
async def test_4xx_is_never_retried_and_never_trips_the_breaker(
    make_client: MakeClient,
    fake_pms: FakePMS,
    sleeps: RecordingSleep,
    status: int,
    error: type[Exception],
) -> None:
    client = make_client()
    fake_pms.fail_status(status)
    for _ in range(6):
        with pytest.raises(error) as info:
            await client.get_booking("BK-000001")
        assert info.value.status_code == status  # type: ignore[attr-defined]
        assert info.value.detail == "injected"  # type: ignore[attr-defined]
    assert fake_pms.calls == 6
    assert sleeps.delays == []
    assert client.breaker.current_state == "closed"


async def test_a_transient_failure_then_success_returns_the_answer(
    make_client: MakeClient, fake_pms: FakePMS, sleeps: RecordingSleep, read_metric: ReadMetric
) -> None:
    client = make_client()
    fake_pms.fail_times(2)
    lookup = await client.room_types()
    assert lookup.source == "pms"
    assert len(lookup.value) == 4
    assert fake_pms.calls == 3
    assert sleeps.delays == [1.0, 2.0]
    assert read_metric("retry_attempts_total", operation="pms.room_types", outcome="failure") == 1
    assert read_metric("retry_attempts_total", operation="pms.room_types", outcome="success") == 1
    latency = "pms_api_latency_seconds_count"
    assert read_metric(latency, operation="room_types", outcome="server_error") == 2
    assert read_metric(latency, operation="room_types", outcome="success") == 1


async def test_the_breaker_opening_mid_retry_stops_the_retries(
    make_client: MakeClient, fake_pms: FakePMS, sleeps: RecordingSleep
) -> None:
    client = make_client()
    fake_pms.fail_status(500)
    with pytest.raises(PMSUnavailable):
        await client.get_booking("BK-000001")  # four failed attempts
    with pytest.raises(PMSUnavailable) as info:
        await client.get_booking("BK-000001")  # the fifth trips it, the retry is refused
    assert isinstance(info.value.__cause__, BreakerOpen)
    assert fake_pms.calls == 5
    assert sleeps.delays == [1.0, 2.0, 4.0, 1.0]


# Requests and responses


async def test_requests_carry_the_api_key_and_explicit_timeouts(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client(timeout_s=3.5, connect_timeout_s=0.5)
    await client.room_types()
    request = fake_pms.requests[0]
    assert request.headers["X-API-Key"] == "pms-test-key"
    assert request.extensions["timeout"] == {
        "connect": 0.5,
        "read": 3.5,
        "write": 3.5,
        "pool": 3.5,
    }


async def test_a_booking_round_trip(make_client: MakeClient, fake_pms: FakePMS) -> None:
    client = make_client()
    booking = await client.create_booking(**STAY)
    assert booking.id == "BK-000001"
    assert (booking.check_in, booking.check_out, booking.nights) == (IN, OUT, 2)
    assert booking.total == Decimal(575_000)
    assert await client.get_booking("BK-000001") == booking
    quote = await client.late_checkout_quote(booking.id)
    assert quote.available
    assert not quote.confirmed
    assert quote.fee == booking.nightly_rates[-1].rate / 2
    confirmed = await client.confirm_late_checkout(booking.id)
    assert confirmed.confirmed
    assert (await client.get_booking(booking.id)).checkout_time == "14:00"


async def test_booking_errors_map_to_rejections(make_client: MakeClient, fake_pms: FakePMS) -> None:
    client = make_client()
    for _ in range(4):
        await client.create_booking(**STAY)
    with pytest.raises(PMSRejected) as full:
        await client.create_booking(**STAY)
    assert full.value.status_code == 409
    assert "no suite room is free" in full.value.detail
    with pytest.raises(PMSRejected) as bad:
        await client.create_booking(**{**STAY, "check_out": IN})
    assert bad.value.status_code == 422
    with pytest.raises(PMSNotFound):
        await client.create_booking(**{**STAY, "room_type": "penthouse"})
    with pytest.raises(PMSNotFound):
        await client.get_booking("BK-424242")


async def test_a_retried_booking_is_booked_only_once(
    make_client: MakeClient, fake_pms: FakePMS, sleeps: RecordingSleep
) -> None:
    """The first attempt books but its answer is lost; the retry must not book again."""
    client = make_client()
    fake_pms.lose_answers(1)
    booking = await client.create_booking(**STAY)
    keys = [r.headers["Idempotency-Key"] for r in fake_pms.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]
    assert sleeps.delays == [1.0]
    assert booking.id == "BK-000001"
    assert fake_pms.app.state.hotel.booking_count() == 1


async def test_each_booking_gets_its_own_idempotency_key(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client()
    await client.create_booking(**STAY)
    await client.create_booking(**STAY)
    keys = {r.headers["Idempotency-Key"] for r in fake_pms.requests}
    assert len(keys) == 2
    assert fake_pms.app.state.hotel.booking_count() == 2


async def test_a_malformed_booking_id_is_not_found_without_a_request(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client()
    for bad in ("../admin", "BK 1", "", "x" * 65):
        with pytest.raises(PMSNotFound):
            await client.get_booking(bad)
    assert fake_pms.calls == 0


async def test_a_malformed_answer_is_unavailable(
    make_client: MakeClient, fake_pms: FakePMS
) -> None:
    client = make_client()
    fake_pms.fault = lambda _req: httpx.Response(200, json={"room_types": [{"slug": 1}]})
    with pytest.raises(PMSUnavailable, match="malformed"):
        await client.room_types()
    fake_pms.fault = lambda _req: httpx.Response(200, content=b"<html>")
    with pytest.raises(PMSUnavailable):
        await client.get_booking("BK-000001")


async def test_ping_bypasses_the_breaker(
    make_client: MakeClient, fake_pms: FakePMS, read_metric: ReadMetric
) -> None:
    client = make_client(retry=NO_RETRY)
    assert await client.ping() is True
    fake_pms.fail_status(503)
    await fail_n_times(client, 5)
    assert client.breaker.current_state == "open"
    fake_pms.heal()
    calls = fake_pms.calls
    assert await client.ping() is True
    assert fake_pms.calls == calls + 1
    fake_pms.fail_connect()
    assert await client.ping() is False
    assert read_metric("pms_api_latency_seconds_count", operation="ping", outcome="success") == 2
    assert (
        read_metric("pms_api_latency_seconds_count", operation="ping", outcome="connect_error") == 1
    )
