"""Retry with exponential back-off, counted in ``retry_attempts_total``.

``retries`` is the number of attempts after the first call, so ``retries=3`` with a
base of 1 s sleeps 1 s, 2 s and 4 s. Only errors that ``retry_on`` accepts are retried;
anything else (a 4xx, an open breaker) is raised at once.

A plain loop rather than a tenacity ``AsyncRetrying`` per call: the first attempt, the
one nearly every call ends with, then costs one ``await`` and nothing else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from agent.metrics import AgentMetrics
from agent.settings import RetrySettings

T = TypeVar("T")
Sleep = Callable[[float], Awaitable[None]]


class RetryPolicy:
    """An async retry policy for one named operation."""

    def __init__(
        self,
        operation: str,
        settings: RetrySettings,
        metrics: AgentMetrics,
        *,
        retry_on: Callable[[BaseException], bool],
        sleep: Sleep = asyncio.sleep,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        self.operation = operation
        self.settings = settings
        self._metrics = metrics
        self._retry_on = retry_on
        self._sleep = sleep
        self._on_retry = on_retry

    def delays(self) -> list[float]:
        """The back-off delays this policy sleeps between attempts, in order."""
        s = self.settings
        return [
            min(s.backoff_base_s * s.backoff_factor**i, s.backoff_max_s) for i in range(s.retries)
        ]

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` until it succeeds, raises a non-retryable error, or retries run out."""
        try:
            return await fn(*args, **kwargs)
        except Exception as exc:
            if not self._retry_on(exc) or self.settings.retries == 0:
                raise
        for attempt, delay in enumerate(self.delays(), start=2):
            if self._on_retry is not None:
                self._on_retry()
            await self._sleep(delay)
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                self._count("failure")
                last = attempt == self.settings.retries + 1
                if last or not isinstance(exc, Exception) or not self._retry_on(exc):
                    raise
            else:
                self._count("success")
                return result
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _count(self, outcome: str) -> None:
        self._metrics.retry_attempts.labels(operation=self.operation, outcome=outcome).inc()
