"""Fixtures for the PMS adapter tests: a fake PMS over MockTransport, fakeredis, clock, sleep."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from datetime import date
from typing import Any

import fakeredis
import httpx
import pytest
from pydantic import SecretStr

from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.settings import PMSSettings
from chaos.pms_simulator import BackgroundServer, create_app
from chaos.pms_simulator.testing import FakeClock, FakePMS, RecordingSleep

TODAY = date(2026, 3, 2)  # a Monday
API_KEY = "pms-test-key"


def sample(metrics: AgentMetrics, name: str, **labels: str) -> float:
    """A metric's current value (0 when it has never been touched)."""
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


@pytest.fixture
def metrics() -> AgentMetrics:
    return AgentMetrics()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def fake_pms() -> FakePMS:
    return FakePMS(API_KEY, today=TODAY)


@pytest.fixture
def fake_redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis()


@pytest.fixture
def read_metric(metrics: AgentMetrics) -> Callable[..., float]:
    return lambda name, **labels: sample(metrics, name, **labels)


@pytest.fixture
async def make_client(
    metrics: AgentMetrics,
    clock: FakeClock,
    sleeps: RecordingSleep,
    fake_pms: FakePMS,
    fake_redis: fakeredis.FakeAsyncRedis,
) -> AsyncIterator[Callable[..., PMSClient]]:
    """Build PMSClients on the fake PMS; keyword arguments override PMSSettings fields."""
    made: list[PMSClient] = []
    unset = object()

    def build(redis: Any = unset, cache_timeout_s: float = 0.25, **overrides: Any) -> PMSClient:
        settings = PMSSettings(base_url="http://pms.test", api_key=SecretStr(API_KEY), **overrides)
        client = PMSClient(
            settings,
            metrics,
            fake_redis if redis is unset else redis,
            transport=httpx.MockTransport(fake_pms),
            sleep=sleeps,
            clock=clock,
            cache_timeout_s=cache_timeout_s,
        )
        made.append(client)
        return client

    yield build
    for client in made:
        await client.aclose()


@pytest.fixture(scope="module")
def pms_server() -> Iterator[BackgroundServer]:
    """The real simulator served by uvicorn on a free loopback port."""
    with BackgroundServer(create_app(API_KEY, today=TODAY)) as server:
        yield server
