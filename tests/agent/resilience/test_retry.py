"""Retry policy: exponential back-off, only on retryable errors, every retry counted."""

from __future__ import annotations

import pytest

from agent.metrics import AgentMetrics
from agent.resilience import RetryPolicy
from agent.settings import RetrySettings


class Recorder:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.slept.append(delay)


def policy(metrics: AgentMetrics, sleep: Recorder, **kw: object) -> RetryPolicy:
    return RetryPolicy(
        "op",
        RetrySettings(**kw),
        metrics,  # type: ignore[arg-type]
        retry_on=lambda e: isinstance(e, ConnectionError),
        sleep=sleep,
    )


async def test_persistent_failure_is_retried_three_times_with_1_2_4_s() -> None:
    metrics, sleep = AgentMetrics(), Recorder()
    calls = 0

    async def down() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await policy(metrics, sleep).call(down)
    assert calls == 4
    assert sleep.slept == [1.0, 2.0, 4.0]
    assert (
        metrics.registry.get_sample_value(
            "retry_attempts_total", {"operation": "op", "outcome": "failure"}
        )
        == 3
    )


async def test_non_retryable_error_is_raised_at_once() -> None:
    metrics, sleep = AgentMetrics(), Recorder()

    async def bad_request() -> None:
        raise ValueError("400")

    with pytest.raises(ValueError, match="400"):
        await policy(metrics, sleep).call(bad_request)
    assert sleep.slept == []
    assert (
        metrics.registry.get_sample_value(
            "retry_attempts_total", {"operation": "op", "outcome": "failure"}
        )
        is None
    )


async def test_recovery_on_a_retry_is_counted_as_success() -> None:
    metrics, sleep = AgentMetrics(), Recorder()
    results = iter([ConnectionError("blip"), "ok"])

    async def flaky() -> str:
        item = next(results)
        if isinstance(item, Exception):
            raise item
        return item

    assert await policy(metrics, sleep).call(flaky) == "ok"
    assert sleep.slept == [1.0]
    assert (
        metrics.registry.get_sample_value(
            "retry_attempts_total", {"operation": "op", "outcome": "success"}
        )
        == 1
    )


def test_delays_follow_the_settings_and_cap() -> None:
    p = policy(AgentMetrics(), Recorder(), retries=5, backoff_base_s=0.5, backoff_max_s=3)
    assert p.delays() == [0.5, 1.0, 2.0, 3.0, 3.0]
