"""Retry with exponential back-off (tenacity), counted in ``retry_attempts_total``.

``retries`` is the number of attempts after the first call, so ``retries=3`` with a
base of 1 s sleeps 1 s, 2 s and 4 s. Only errors that ``retry_on`` accepts are retried;
anything else (a 4xx, an open breaker) is raised at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_exponential

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

    def _before_sleep(self, state: RetryCallState) -> None:
        if self._on_retry is not None:
            self._on_retry()

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """Await ``fn`` until it succeeds, raises a non-retryable error, or retries run out."""
        s = self.settings
        retrying = AsyncRetrying(
            stop=stop_after_attempt(s.retries + 1),
            wait=wait_exponential(
                multiplier=s.backoff_base_s, exp_base=s.backoff_factor, max=s.backoff_max_s
            ),
            retry=retry_if_exception(self._retry_on),
            sleep=self._sleep,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            is_retry = attempt.retry_state.attempt_number > 1
            try:
                with attempt:
                    result = await fn(*args, **kwargs)
            finally:
                if is_retry:
                    failed = (
                        attempt.retry_state.outcome is None or attempt.retry_state.outcome.failed
                    )
                    outcome = "failure" if failed else "success"
                    self._metrics.retry_attempts.labels(
                        operation=self.operation, outcome=outcome
                    ).inc()
        return result
