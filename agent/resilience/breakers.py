"""pybreaker breakers for async code, with an injectable monotonic clock.

pybreaker has no working asyncio support, so an awaited call is guarded with
``with breaker.calling():``. Timeouts belong inside the guard so that a slow dependency
counts as a failure. Cancellation is a BaseException and pybreaker counts it as a
failure too; the agent only cancels guarded calls on shutdown, where that is harmless.

pybreaker's half-open state lets every concurrent caller through, and each caller settles
the state it started in: a late success closes a breaker that another trial has just
re-opened. ``guarded`` therefore admits one trial call at a time.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pybreaker

from agent.metrics import AgentMetrics
from agent.resilience.listeners import MetricsListener
from agent.settings import BreakerSettings

T = TypeVar("T")
Clock = Callable[[], float]

BreakerOpen = pybreaker.CircuitBreakerError


class ClockedMemoryStorage(pybreaker.CircuitMemoryStorage):
    """Memory storage that measures the open period on an injected monotonic clock.

    pybreaker compares ``datetime.now()`` with ``opened_at + reset_timeout``. Reporting
    ``opened_at`` as "now minus the time elapsed on our clock" keeps that comparison
    while making it immune to wall-clock jumps and drivable from tests.
    """

    def __init__(self, state: str, clock: Clock) -> None:
        super().__init__(state)
        self._clock = clock
        self._opened_mono: float | None = None

    @property
    def opened_at(self) -> datetime | None:
        if self._opened_mono is None:
            return None
        return datetime.now(UTC) - timedelta(seconds=self._clock() - self._opened_mono)

    @opened_at.setter
    def opened_at(self, _value: datetime) -> None:
        self._opened_mono = self._clock()


def make_breaker(
    name: str,
    settings: BreakerSettings,
    metrics: AgentMetrics,
    *,
    clock: Clock = time.monotonic,
    exclude: Iterable[type[BaseException] | Callable[[Any], bool]] = (),
    listeners: Iterable[pybreaker.CircuitBreakerListener] = (),
) -> pybreaker.CircuitBreaker:
    """Build a named breaker whose state and transitions are exported as metrics."""
    metrics.breaker_state.labels(breaker=name).set(0)
    return pybreaker.CircuitBreaker(
        fail_max=settings.fail_max,
        reset_timeout=settings.reset_timeout_s,
        exclude=list(exclude),
        listeners=[MetricsListener(metrics), *listeners],
        state_storage=ClockedMemoryStorage(pybreaker.STATE_CLOSED, clock),
        name=name,
        throw_new_error_on_trip=False,
    )


_trials: weakref.WeakSet[pybreaker.CircuitBreaker] = weakref.WeakSet()


async def guarded(
    breaker: pybreaker.CircuitBreaker, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any
) -> T:
    """Await ``fn`` under ``breaker``; raises ``BreakerOpen`` without calling it when open,
    or while the one trial call of a half-open breaker is in flight."""
    if breaker in _trials:
        raise BreakerOpen("a trial call is in flight")
    # Nothing is awaited between this check and calling(), which half-opens an open
    # breaker whose timeout has passed: the caller that sees it not closed is the trial.
    trial = breaker.current_state != pybreaker.STATE_CLOSED
    if trial:
        _trials.add(breaker)
    try:
        with breaker.calling():
            return await fn(*args, **kwargs)
    finally:
        if trial:
            _trials.discard(breaker)
