"""PostgreSQL access for the audit log, through one psycopg connection pool.

Callers bound every call with ``asyncio.timeout``; the pool is built so that a dead
database never makes a call wait on the pool's own reconnection back-off for long.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

import psycopg
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from agent.audit.events import AuditEvent
from agent.audit.query import AuditPage, AuditQuery, encode_cursor
from agent.audit.schema import SCHEMA_LOCK_KEY, TABLE, ddl_statements
from agent.settings import DatabaseSettings

_COLUMNS = "event_id, occurred_at, event_type, guest_id, session_id, channel, intent, payload"

INSERT_ONE = f"""
INSERT INTO {TABLE} ({_COLUMNS}, recorded_via)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 'direct')
ON CONFLICT (event_id) DO NOTHING
"""

# One statement per batch: the rows travel as one jsonb array, and rowcount says how
# many were new (the others were already committed, e.g. by an earlier interrupted replay).
INSERT_MANY = f"""
INSERT INTO {TABLE} ({_COLUMNS}, recorded_via)
SELECT r.event_id, r.occurred_at, r.event_type, r.guest_id, r.session_id, r.channel,
       r.intent, coalesce(r.payload, '{{}}'::jsonb), 'replay'
FROM jsonb_to_recordset(%s) AS r(
    event_id text, occurred_at timestamptz, event_type text, guest_id text,
    session_id text, channel text, intent text, payload jsonb)
ON CONFLICT (event_id) DO NOTHING
"""


class AuditStore(Protocol):
    """What the audit log needs from its database (a fake in unit tests)."""

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def ensure_schema(self) -> None: ...
    async def insert_one(self, event: AuditEvent) -> bool: ...
    async def insert_many(self, events: Sequence[AuditEvent]) -> int: ...
    async def query(self, q: AuditQuery) -> AuditPage: ...
    async def ping(self) -> bool: ...
    async def check(self) -> None: ...


class PgStore:
    """The real store: an ``AsyncConnectionPool`` opened without waiting for the server."""

    def __init__(self, database: DatabaseSettings) -> None:
        self._settings = database
        self._pool: AsyncConnectionPool | None = None

    @property
    def pool(self) -> AsyncConnectionPool:
        if self._pool is None:
            raise RuntimeError("audit store is not open")
        return self._pool

    async def open(self) -> None:
        """Create the pool; connections are made in the background (start never blocks)."""
        s = self._settings
        self._pool = AsyncConnectionPool(
            s.dsn.get_secret_value(),
            min_size=s.pool_min,
            max_size=s.pool_max,
            open=False,
            name="audit",
            timeout=s.connect_timeout_s * 2,
            # Give up background reconnection quickly: the next request grows the pool
            # again at once, instead of waiting out an exponential back-off that has
            # grown through a long outage.
            reconnect_timeout=max(1.0, s.connect_timeout_s),
            kwargs={
                # A single INSERT commits by itself: one round trip, no BEGIN and COMMIT.
                # Multi-statement work opens its own ``conn.transaction()``.
                "autocommit": True,
                "connect_timeout": max(1, math.ceil(s.connect_timeout_s)),
                "options": f"-c statement_timeout={s.statement_timeout_ms} -c TimeZone=UTC",
                "application_name": "hotel-agent-audit",
            },
        )
        await self._pool.open(wait=False)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close(timeout=self._settings.connect_timeout_s)
            self._pool = None

    async def ensure_schema(self) -> None:
        """Create the table and indexes if missing (idempotent, safe to run concurrently)."""
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            for statement in ddl_statements():
                await conn.execute(statement)

    async def insert_one(self, event: AuditEvent) -> bool:
        """Insert one event; False when its id was already stored."""
        async with self.pool.connection() as conn:
            cur = await conn.execute(
                INSERT_ONE,
                (
                    event.event_id,
                    event.occurred_at,
                    event.event_type,
                    event.guest_id,
                    event.session_id,
                    event.channel,
                    event.intent,
                    Jsonb(event.payload),
                ),
            )
            return cur.rowcount == 1

    async def insert_many(self, events: Sequence[AuditEvent]) -> int:
        """Insert a batch in one transaction; returns how many rows were new."""
        if not events:
            return 0
        async with self.pool.connection() as conn, conn.transaction():
            cur = await conn.execute(
                INSERT_MANY,
                (Jsonb([event.to_dict() for event in events]),),
            )
            return cur.rowcount

    async def query(self, q: AuditQuery) -> AuditPage:
        """One page of events matching ``q`` and the total count, in one snapshot."""
        count_sql, count_params = q.count_sql()
        page_sql, page_params = q.page_sql()
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur = await conn.execute(count_sql, count_params)
            row = await cur.fetchone()
            total = int(row[0]) if row else 0
            cur = await conn.execute(page_sql, page_params)
            rows = await cur.fetchall()
        items = tuple(
            AuditEvent(
                event_id=r[0],
                occurred_at=r[1],
                event_type=r[2],
                guest_id=r[3],
                session_id=r[4],
                channel=r[5],
                intent=r[6],
                payload=r[7] or {},
            )
            for r in rows[: q.page_size]
        )
        more = len(rows) > q.page_size
        last = items[-1] if items else None
        next_cursor = encode_cursor(last.occurred_at, last.event_id) if more and last else None
        return AuditPage(
            items=items, total=total, page=q.page, page_size=q.page_size, next_cursor=next_cursor
        )

    async def ping(self) -> bool:
        """True when a pooled connection answers ``SELECT 1``."""
        async with self.pool.connection() as conn:
            await conn.execute("SELECT 1")
        return True

    async def check(self) -> None:
        """Drop pooled connections that broke (e.g. the server restarted); replace them."""
        await self.pool.check()


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    TimeoutError,
    OSError,
)
