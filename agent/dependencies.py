"""Dependency checks behind ``/health/ready`` and the ``dependency_up`` gauge."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import httpx
import structlog

from agent.metrics import AgentMetrics

log = structlog.get_logger(__name__)
Check = Callable[[], Awaitable[bool]]


class DependencyMonitor:
    """Runs each named check with a timeout and exports the result."""

    def __init__(
        self, checks: dict[str, Check], metrics: AgentMetrics, timeout_s: float = 1.0
    ) -> None:
        self._checks = checks
        self._metrics = metrics
        self._timeout_s = timeout_s
        self._task: asyncio.Task[None] | None = None

    async def _run(self, name: str, check: Check) -> bool:
        try:
            async with asyncio.timeout(self._timeout_s):
                ok = bool(await check())
        except Exception as exc:  # any failure means "down"; the reason is logged
            log.debug("dependency_check_failed", dependency=name, error=type(exc).__name__)
            ok = False
        self._metrics.dependency_up.labels(dependency=name).set(1 if ok else 0)
        return ok

    async def check_all(self) -> dict[str, bool]:
        """Check every dependency concurrently."""
        results = await asyncio.gather(*(self._run(n, c) for n, c in self._checks.items()))
        return dict(zip(self._checks, results, strict=True))

    def start(self, interval_s: float) -> None:
        """Re-check every ``interval_s`` in the background."""

        async def loop() -> None:
            while True:
                await self.check_all()
                await asyncio.sleep(interval_s)

        self._task = asyncio.create_task(loop(), name="dependency-monitor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class HTTPService:
    """An HTTP dependency's client: a health check outside any breaker, and close."""

    def __init__(
        self,
        url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self._client = httpx.AsyncClient(
            base_url=url.rstrip("/"),
            timeout=httpx.Timeout(timeout_s),
            headers=headers,
            transport=transport,
        )

    async def ping(self) -> bool:
        """One ``GET /health``; never raises."""
        try:
            return (await self._client.get("/health")).status_code == 200
        except httpx.HTTPError:
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
