"""The async breaker guard: pybreaker counts awaited failures and obeys an injected clock."""

from __future__ import annotations

import asyncio

import pytest

from agent.metrics import AgentMetrics
from agent.resilience import BreakerOpen, guarded, make_breaker
from agent.settings import BreakerSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def failing() -> None:
    await asyncio.sleep(0)
    raise ConnectionError("dependency down")


async def succeeding() -> str:
    await asyncio.sleep(0)
    return "ok"


def transitions(metrics: AgentMetrics, name: str) -> dict[tuple[str, str], float]:
    out = {}
    for metric in metrics.registry.collect():
        for s in metric.samples:
            if s.name == "circuit_breaker_transitions_total" and s.labels["breaker"] == name:
                out[(s.labels["from_state"], s.labels["to_state"])] = s.value
    return out


async def test_async_failures_open_the_breaker_and_it_recovers_through_half_open() -> None:
    metrics, clock = AgentMetrics(), FakeClock()
    breaker = make_breaker(
        "pms", BreakerSettings(fail_max=5, reset_timeout_s=30), metrics, clock=clock
    )
    calls = 0

    async def counted_failure() -> None:
        nonlocal calls
        calls += 1
        await failing()

    for _ in range(4):
        with pytest.raises(ConnectionError):
            await guarded(breaker, counted_failure)
    assert breaker.current_state == "closed"
    with pytest.raises(ConnectionError):
        await guarded(breaker, counted_failure)
    assert breaker.current_state == "open"
    assert metrics.registry.get_sample_value("circuit_breaker_state", {"breaker": "pms"}) == 1

    with pytest.raises(BreakerOpen):
        await guarded(breaker, counted_failure)
    assert calls == 5, "an open breaker must not call the dependency"

    clock.now += 29.9
    with pytest.raises(BreakerOpen):
        await guarded(breaker, succeeding)
    clock.now += 0.2
    assert await guarded(breaker, succeeding) == "ok"
    assert breaker.current_state == "closed"
    assert transitions(metrics, "pms") == {
        ("closed", "open"): 1,
        ("open", "half-open"): 1,
        ("half-open", "closed"): 1,
    }
    assert metrics.registry.get_sample_value("circuit_breaker_state", {"breaker": "pms"}) == 0


async def test_failed_half_open_trial_reopens_for_another_full_timeout() -> None:
    metrics, clock = AgentMetrics(), FakeClock()
    breaker = make_breaker(
        "audit", BreakerSettings(fail_max=1, reset_timeout_s=10), metrics, clock=clock
    )
    with pytest.raises(ConnectionError):
        await guarded(breaker, failing)
    clock.now += 10.5
    with pytest.raises(ConnectionError):
        await guarded(breaker, failing)
    assert breaker.current_state == "open"
    assert metrics.registry.get_sample_value("audit_circuit_breaker_state") == 1
    clock.now += 9.0
    with pytest.raises(BreakerOpen):
        await guarded(breaker, succeeding)
    assert transitions(metrics, "audit")[("half-open", "open")] == 1


async def test_a_half_open_breaker_admits_one_trial_call_at_a_time() -> None:
    metrics, clock = AgentMetrics(), FakeClock()
    breaker = make_breaker(
        "pms", BreakerSettings(fail_max=1, reset_timeout_s=10), metrics, clock=clock
    )
    with pytest.raises(ConnectionError):
        await guarded(breaker, failing)
    clock.now += 10.5
    gate, called = asyncio.Event(), []

    async def slow(result: str) -> str:
        called.append(result)
        await gate.wait()
        if result == "fail":
            raise ConnectionError("dependency down")
        return result

    # The trial fails late; a second caller that pybreaker alone would let through (and
    # whose success would close the breaker the trial re-opens) is turned away unasked.
    trial = asyncio.create_task(guarded(breaker, slow, "fail"))
    await asyncio.sleep(0)
    assert breaker.current_state == "half-open"
    with pytest.raises(BreakerOpen):
        await guarded(breaker, slow, "ok")
    gate.set()
    with pytest.raises(ConnectionError):
        await trial
    assert called == ["fail"] and breaker.current_state == "open"
    clock.now += 10.5
    assert await guarded(breaker, succeeding) == "ok"
    assert transitions(metrics, "pms") == {
        ("closed", "open"): 1, ("open", "half-open"): 2, ("half-open", "open"): 1,
        ("half-open", "closed"): 1,
    }  # fmt: skip


async def test_concurrent_failures_count_one_transition_to_open() -> None:
    metrics, clock = AgentMetrics(), FakeClock()
    breaker = make_breaker(
        "audit", BreakerSettings(fail_max=2, reset_timeout_s=10), metrics, clock=clock
    )
    gate = asyncio.Event()

    async def slow_failure() -> None:
        await gate.wait()
        raise ConnectionError("dependency down")

    # Six calls enter while the breaker is closed; all fail after it has opened.
    calls = [asyncio.create_task(guarded(breaker, slow_failure)) for _ in range(6)]
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, ConnectionError | BreakerOpen) for r in results)
    assert breaker.current_state == "open"
    assert transitions(metrics, "audit") == {("closed", "open"): 1}


async def test_a_success_resets_the_consecutive_failure_count() -> None:
    breaker = make_breaker("nlp", BreakerSettings(fail_max=3), AgentMetrics(), clock=FakeClock())
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await guarded(breaker, failing)
    await guarded(breaker, succeeding)
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await guarded(breaker, failing)
    assert breaker.current_state == "closed"


async def test_excluded_errors_do_not_count() -> None:
    breaker = make_breaker(
        "pms", BreakerSettings(fail_max=1), AgentMetrics(), clock=FakeClock(), exclude=[ValueError]
    )

    async def rejected() -> None:
        raise ValueError("a 4xx is the caller's fault")

    with pytest.raises(ValueError, match="4xx"):
        await guarded(breaker, rejected)
    assert breaker.current_state == "closed"


def test_every_breaker_gauge_starts_closed() -> None:
    metrics = AgentMetrics()
    for name in ("pms", "audit"):
        assert metrics.registry.get_sample_value("circuit_breaker_state", {"breaker": name}) == 0
    assert metrics.registry.get_sample_value("audit_circuit_breaker_state") == 0


def test_a_breaker_is_exported_only_once_it_exists() -> None:
    metrics = AgentMetrics()
    assert metrics.registry.get_sample_value("circuit_breaker_state", {"breaker": "nlp"}) is None
    make_breaker("nlp", BreakerSettings(), metrics)
    assert metrics.registry.get_sample_value("circuit_breaker_state", {"breaker": "nlp"}) == 0
