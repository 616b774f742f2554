"""In-process test doubles for code that talks to the PMS simulator.

``FakePMS`` is an ``httpx.MockTransport`` handler that forwards to a real simulator app
(so answers have the real shapes and bookings really change availability) unless a fault
is switched on, and counts every request that reaches it. ``FakeClock`` and
``RecordingSleep`` stand in for ``time.monotonic`` and ``asyncio.sleep``.

    fake = FakePMS("key", today=date(2026, 3, 2))
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake), base_url="http://pms")
    fake.fail_status(503)  # or fail_connect(), fail_timeout(), fail_times(n), lose_answers(n)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import date

import httpx

from chaos.pms_simulator.app import create_app

Fault = Callable[[httpx.Request], httpx.Response]


class FakeClock:
    """A monotonic clock that only moves when told to."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class RecordingSleep:
    """An instant sleep that remembers what it was asked to wait."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class FakePMS:
    """MockTransport handler: the simulator app behind a switchable fault and a gate."""

    def __init__(self, api_key: str, today: date | None = None) -> None:
        self.app = create_app(api_key, today=today)
        self.requests: list[httpx.Request] = []
        self.fault: Fault | None = None
        # Holds requests before they reach the app.
        self.gate: asyncio.Event | None = None
        # Holds answers after the app produced them (the PMS answered, the network is slow).
        self.answer_gate: asyncio.Event | None = None
        self.answers_to_lose = 0
        self._asgi = httpx.ASGITransport(app=self.app)

    @property
    def calls(self) -> int:
        return len(self.requests)

    def calls_to(self, path: str) -> int:
        return sum(1 for r in self.requests if r.url.path == path)

    def fail_status(self, status: int) -> None:
        self.fault = lambda _req: httpx.Response(status, json={"detail": "injected"})

    def fail_connect(self) -> None:
        def refuse(request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused", request=request)

        self.fault = refuse

    def fail_timeout(self) -> None:
        def hang(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("timed out", request=request)

        self.fault = hang

    def fail_times(self, count: int, status: int = 503) -> None:
        """Answer ``status`` to the next ``count`` requests, then reach the app again."""
        remaining = [count]

        def flaky(_request: httpx.Request) -> httpx.Response:
            remaining[0] -= 1
            if remaining[0] == 0:
                self.heal()
            return httpx.Response(status, json={"detail": "injected"})

        self.fault = flaky

    def lose_answers(self, count: int) -> None:
        """Let the next ``count`` requests reach the app but answer them with a 504."""
        self.answers_to_lose = count

    def heal(self) -> None:
        self.fault = None

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.gate is not None:
            await self.gate.wait()
        if self.fault is not None:
            return self.fault(request)
        answer_gate = self.answer_gate
        response = await self._asgi.handle_async_request(request)
        if answer_gate is not None:
            await response.aread()
            await answer_gate.wait()
        if self.answers_to_lose > 0:
            self.answers_to_lose -= 1
            await response.aread()
            return httpx.Response(504, json={"detail": "answer lost"})
        return response
