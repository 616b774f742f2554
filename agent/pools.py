"""Connection-pool figures for ``/metrics``, read from the live pools at scrape time.

The gauges are defined in ``AgentMetrics``; ``watch_pools`` binds each one to a function
of the pool, so a scrape always sees the pool as it is now (no refresh loop to lag or
die). The functions never raise: a pool that is closed or not yet open reads 0.

``db_pool_connections{pool,state}``: ``in_use`` = connections lent out or being opened,
``available`` = idle in the pool; their sum is the pool's size. ``db_pool_requests_waiting``
counts callers queued for a connection (above 0 means the pool is exhausted right now).
``redis_pool_connections{state}``: ``in_use`` = checked out for a command, ``available`` =
idle; ``redis_pool_max_connections`` is the limit at which callers start to queue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from agent.audit import AuditLog
from agent.audit.store import PgStore
from agent.metrics import AgentMetrics, multiprocess


def db_pool_stats(audit: AuditLog) -> dict[str, int]:
    """psycopg's ``get_stats()`` of the audit pool, or ``{}`` when there is no open pool."""
    store = audit.store
    if not isinstance(store, PgStore):
        return {}
    try:
        pool = store.pool
    except RuntimeError:  # not open yet, or already closed
        return {}
    return pool.get_stats()


def redis_pool_counts(redis: aioredis.Redis) -> tuple[int, int, int]:
    """``(in_use, available, max_connections)`` of the client's connection pool."""
    pool = redis.connection_pool
    in_use = available = 0
    counter = getattr(pool, "get_connection_count", None)
    if callable(counter):
        # redis-py >= 7: public counts, each tagged with its OpenTelemetry state.
        for count, attributes in counter():
            if attributes.get("db.client.connection.state") == "used":
                in_use += count
            else:
                available += count
    else:
        # Older redis-py: the pool's own bookkeeping, present since 4.2.
        in_use = len(getattr(pool, "_in_use_connections", ()))
        available = len(getattr(pool, "_available_connections", ()))
    return in_use, available, int(getattr(pool, "max_connections", 0) or 0)


def watch_pools(
    metrics: AgentMetrics, *, audit: AuditLog, redis: aioredis.Redis
) -> Callable[[], None]:
    """Bind the pool gauges to the audit pool and the Redis client's pool.

    Returns a function that copies the figures into the gauges now: in multiprocess mode
    (several workers) a gauge exports only stored values, so the caller runs it
    periodically; in a single process the gauges read the pools at scrape time.
    """
    name = "audit"  # PgStore names its psycopg pool "audit"

    def db(field: Callable[[dict[str, int]], int]) -> Callable[[], float]:
        return lambda: float(field(db_pool_stats(audit)))

    conns = metrics.db_pool_connections
    bindings: list[tuple[Any, Callable[[], float]]] = [
        (conns.labels(pool=name, state="available"), db(lambda s: s.get("pool_available", 0))),
        (
            conns.labels(pool=name, state="in_use"),
            db(lambda s: max(0, s.get("pool_size", 0) - s.get("pool_available", 0))),
        ),
        (metrics.db_pool_max_connections.labels(pool=name), db(lambda s: s.get("pool_max", 0))),
        (
            metrics.db_pool_requests_waiting.labels(pool=name),
            db(lambda s: s.get("requests_waiting", 0)),
        ),
        (
            metrics.redis_pool_connections.labels(state="in_use"),
            lambda: float(redis_pool_counts(redis)[0]),
        ),
        (
            metrics.redis_pool_connections.labels(state="available"),
            lambda: float(redis_pool_counts(redis)[1]),
        ),
        (metrics.redis_pool_max_connections, lambda: float(redis_pool_counts(redis)[2])),
    ]

    def refresh() -> None:
        for gauge, read in bindings:
            gauge.set(read())

    if not multiprocess():
        for gauge, read in bindings:
            gauge.set_function(read)
    return refresh
