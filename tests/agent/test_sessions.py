"""Sessions in Redis: round trip with TTL, retried saves, cleanup of the index."""

from __future__ import annotations

import fakeredis
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from agent.exceptions import SessionStoreUnavailable
from agent.metrics import AgentMetrics
from agent.sessions import INDEX_KEY, Session, SessionStore, session_key
from agent.settings import SessionSettings


class NoSleep:
    def __init__(self) -> None:
        self.slept: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.slept.append(delay)


@pytest.fixture
def redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis()


async def test_save_and_load_round_trip_with_ttl(redis: fakeredis.FakeAsyncRedis) -> None:
    store = SessionStore(redis, SessionSettings(ttl_s=1800), AgentMetrics(), sleep=NoSleep())
    session = Session(guest_id="g1", channel="api", language="es")
    session.remember("guest", "hola", limit=3)
    session.pending = {"kind": "booking_id"}
    await store.save(session)
    loaded = await store.load("g1", "api")
    assert loaded.session_id == session.session_id
    assert loaded.history[0]["text"] == "hola"
    assert loaded.pending == {"kind": "booking_id"}
    ttl = await redis.ttl(session_key("api", "g1"))
    assert 1790 <= ttl <= 1800


async def test_unknown_guest_gets_a_fresh_session(redis: fakeredis.FakeAsyncRedis) -> None:
    store = SessionStore(redis, SessionSettings(), AgentMetrics(), sleep=NoSleep())
    session = await store.load("new", "whatsapp")
    assert session.history == [] and session.guest_id == "new"


def test_history_keeps_only_the_newest_turns() -> None:
    session = Session(guest_id="g", channel="api")
    for i in range(10):
        session.remember("guest", str(i), limit=4)
    assert [t["text"] for t in session.history] == ["6", "7", "8", "9"]


class FlakyRedis:
    """Delegates to fakeredis but fails the first ``failures`` pipeline executions."""

    def __init__(self, inner: fakeredis.FakeAsyncRedis, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def pipeline(self, transaction: bool = True):  # type: ignore[no-untyped-def]
        pipe = self.inner.pipeline(transaction=transaction)
        outer = self
        real_execute = pipe.execute

        async def execute():  # type: ignore[no-untyped-def]
            if outer.failures > 0:
                outer.failures -= 1
                raise RedisConnectionError("connection reset by peer")
            return await real_execute()

        pipe.execute = execute
        return pipe

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)


async def test_save_retries_transient_errors_and_counts_them(
    redis: fakeredis.FakeAsyncRedis,
) -> None:
    metrics, sleep = AgentMetrics(), NoSleep()
    store = SessionStore(FlakyRedis(redis, failures=2), SessionSettings(), metrics, sleep=sleep)  # type: ignore[arg-type]
    await store.save(Session(guest_id="g2", channel="api"))
    assert sleep.slept == [1.0, 2.0]
    assert metrics.registry.get_sample_value("session_save_retries_total") == 2
    assert await redis.exists(session_key("api", "g2"))


async def test_save_gives_up_after_three_retries(redis: fakeredis.FakeAsyncRedis) -> None:
    metrics, sleep = AgentMetrics(), NoSleep()
    store = SessionStore(FlakyRedis(redis, failures=99), SessionSettings(), metrics, sleep=sleep)  # type: ignore[arg-type]
    with pytest.raises(SessionStoreUnavailable):
        await store.save(Session(guest_id="g3", channel="api"))
    assert sleep.slept == [1.0, 2.0, 4.0]
    assert metrics.registry.get_sample_value("session_save_retries_total") == 3


async def test_cleanup_drops_index_entries_past_the_ttl(redis: fakeredis.FakeAsyncRedis) -> None:
    store = SessionStore(redis, SessionSettings(ttl_s=100), AgentMetrics(), sleep=NoSleep())
    await redis.zadd(INDEX_KEY, {"session:api:old": 1000.0, "session:api:new": 1950.0})
    assert await store.cleanup(now=2000.0) == 1
    assert await redis.zrange(INDEX_KEY, 0, -1) == [b"session:api:new"]
    assert await store.active() == 1
