"""Pool gauges read the live psycopg and Redis pools at scrape time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from agent.audit import AuditLog
from agent.main import redis_client
from agent.metrics import AgentMetrics
from agent.pools import watch_pools
from agent.settings import AgentSettings, AuditSettings, DatabaseSettings, RedisSettings


def scrape(metrics: AgentMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = generate_latest(metrics.registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def pool_values(metrics: AgentMetrics) -> dict[str, float]:
    v = scrape(metrics)
    return {
        "db_in_use": v[("db_pool_connections", (("pool", "audit"), ("state", "in_use")))],
        "db_available": v[("db_pool_connections", (("pool", "audit"), ("state", "available")))],
        "db_max": v[("db_pool_max_connections", (("pool", "audit"),))],
        "db_waiting": v[("db_pool_requests_waiting", (("pool", "audit"),))],
        "redis_in_use": v[("redis_pool_connections", (("state", "in_use"),))],
        "redis_available": v[("redis_pool_connections", (("state", "available"),))],
        "redis_max": v[("redis_pool_max_connections", ())],
    }


def test_pool_gauges_exist_at_zero_from_start_up() -> None:
    assert set(pool_values(AgentMetrics()).values()) == {0.0}


@pytest.mark.integration
async def test_gauges_follow_connections_held_and_callers_waiting(
    tmp_path: Path, postgres_server, redis_server
) -> None:
    dsn = postgres_server.create_database("agent_pools")
    settings = AgentSettings(
        database=DatabaseSettings(dsn=dsn, pool_min=1, pool_max=2, connect_timeout_s=1.0),
        audit=AuditSettings(fallback_path=tmp_path / "fb.jsonl", write_budget_s=2.0),
        redis=RedisSettings(url=redis_server.url, max_connections=3),
    )
    metrics = AgentMetrics()
    audit = AuditLog(settings.audit, settings.database, metrics)
    redis = redis_client(settings)
    watch_pools(metrics, audit=audit, redis=redis)
    assert pool_values(metrics)["db_max"] == 0  # no pool before start: reads 0, no error
    await audit.start()
    try:
        pool = audit.store.pool  # type: ignore[attr-defined]
        await pool.wait(timeout=5)
        # The replayer's first round and connections still opening count as in use: wait
        # for the pool to settle.
        for _ in range(50):
            idle = pool_values(metrics)
            if idle["db_in_use"] == 0:
                break
            await asyncio.sleep(0.1)
        assert idle["db_max"] == 2 and idle["db_in_use"] == 0 and idle["db_available"] >= 1
        # Hold both connections: the pool grows to its limit.
        async with pool.connection(), pool.connection():
            held = pool_values(metrics)
            assert (held["db_in_use"], held["db_available"]) == (2, 0)
            # A third caller queues: the pool is exhausted right now.
            waiter = asyncio.create_task(pool.getconn(timeout=5))
            await asyncio.sleep(0.1)
            assert pool_values(metrics)["db_waiting"] == 1
        await pool.putconn(await waiter)
        assert pool_values(metrics)["db_waiting"] == 0

        await redis.ping()
        conn = await redis.connection_pool.get_connection()
        try:
            held = pool_values(metrics)
            assert (held["redis_in_use"], held["redis_max"]) == (1, 3)
        finally:
            await redis.connection_pool.release(conn)
        released = pool_values(metrics)
        assert (released["redis_in_use"], released["redis_available"]) == (0, 1)
    finally:
        await audit.stop()
        await redis.aclose(close_connection_pool=True)
    assert pool_values(metrics)["db_max"] == 0  # closed pool: reads 0 again
