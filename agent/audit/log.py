"""The audit log: every event durable before the reply, retries only in the background.

Reply path (``record``): while the breaker is closed, one INSERT bounded by
``write_budget_s`` inside the breaker guard; on any failure, or while the breaker is not
closed, the event is appended to the fallback file (fsync) instead. ``record`` never
sleeps for a retry and never makes the breaker's half-open trial: with the breaker open
it costs one fsynced file append (concurrent appends share one fsync), about what a
healthy INSERT costs.

Background (``replay_once``, run every ``replay_interval_s`` by the replayer task): when
the breaker is not closed it first makes the trial (drop broken pooled connections, then
ensure the schema or ping), then drains the fallback file in batches, each batch one
idempotent INSERT ... ON CONFLICT (event_id) DO NOTHING under the breaker and the
"audit.replay" retry policy (1 s, 2 s, 4 s by default). Lines leave the file only after
their rows are committed.

Metrics: ``audit_events_total{outcome}`` counts "written" (committed by ``record``),
"fallback" (fsynced to the file) and "replayed" (left the file because its row is
committed, whether inserted then or found already stored by an interrupted replay);
``audit_fallback_pending`` is the number of events in the file. ``on_fallback`` is
called when the file goes from empty to non-empty (and at start if it is not empty),
not once per event, so an alert hook fires once per episode.

One process owns the fallback file (an ``fcntl`` lock refuses a second one): several
agent processes on one host need one ``fallback_path`` each.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Literal, TypeVar

import psycopg
import psycopg.errors
import pybreaker
import structlog

from agent.audit.errors import AuditUnavailable
from agent.audit.events import AuditEvent
from agent.audit.fallback import FallbackFile
from agent.audit.query import AuditPage, AuditQuery
from agent.audit.store import TRANSIENT_ERRORS, AuditStore, PgStore
from agent.metrics import AgentMetrics
from agent.resilience import BreakerOpen, RetryPolicy, guarded, make_breaker
from agent.resilience.retry import Sleep
from agent.settings import AuditSettings, DatabaseSettings

log = structlog.get_logger(__name__)

T = TypeVar("T")
Outcome = Literal["written", "fallback"]
# Rewrite the fallback file at least every this many committed batches during a long
# drain, so a crash does not make the next start replay (harmlessly) a huge backlog again.
REWRITE_EVERY_BATCHES = 20
_QUERY_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_ERRORS, psycopg.errors.UndefinedTable)


def is_transient(exc: BaseException) -> bool:
    """Errors worth retrying: the database or the network, not an open breaker."""
    return isinstance(exc, TRANSIENT_ERRORS) and not isinstance(exc, BreakerOpen)


class AuditLog:
    """Durable audit events: PostgreSQL when healthy, the fallback file otherwise."""

    def __init__(
        self,
        settings: AuditSettings,
        database: DatabaseSettings,
        metrics: AgentMetrics,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        on_fallback: Callable[[], None] | None = None,
        store: AuditStore | None = None,
    ) -> None:
        self.settings = settings
        self._database = database
        self._metrics = metrics
        self._store: AuditStore = store if store is not None else PgStore(database)
        # A DataError is the row's fault, not the server's: it must not open the breaker.
        self.breaker = make_breaker(
            "audit", settings.breaker, metrics, clock=clock, exclude=[psycopg.DataError]
        )
        self._retry = RetryPolicy(
            "audit.replay", settings.retry, metrics, retry_on=is_transient, sleep=sleep
        )
        self._fallback = FallbackFile(settings.fallback_path)
        self._on_fallback = on_fallback
        self._schema_ready = False
        self._schema_lock = asyncio.Lock()
        self._replay_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._replayer: asyncio.Task[None] | None = None
        self._inflight: set[asyncio.Task[Outcome]] = set()
        self._abandoned: set[asyncio.Future[Any]] = set()
        self._started = False
        # Background work may take longer than the reply path's budget.
        self._slow_timeout = database.connect_timeout_s + database.statement_timeout_ms / 1000

    # -- lifecycle -------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Events in the fallback file not yet replayed."""
        return self._fallback.pending

    @property
    def fallback_path(self) -> str:
        return str(self._fallback.path)

    @property
    def store(self) -> AuditStore:
        """The database store, read-only (the pool metrics read its pool's figures)."""
        return self._store

    async def start(self) -> None:
        """Own the fallback file, open the pool, try the schema briefly, start the replayer.

        Raises ``FallbackLocked`` when another process owns the fallback file. Waits at
        most ``write_budget_s`` for PostgreSQL; if it is down the replayer creates the
        schema later.
        """
        pending = await self._fallback.open()
        self._set_pending_gauge()
        await self._store.open()
        try:
            await self._within(self._ensure_schema(), self.settings.write_budget_s)
        except Exception as exc:
            log.warning("audit_schema_deferred", error=type(exc).__name__)
        self._started = True
        self._replayer = asyncio.create_task(self._replay_loop(), name="audit-replayer")
        if pending:
            log.warning(
                "audit_fallback_pending_at_start", pending=pending, path=str(self._fallback.path)
            )
            self._notify_fallback()
            self._wake.set()

    async def stop(self) -> None:
        """Finish events being recorded, stop the replayer, close the pool and the file."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._replayer is not None:
            self._replayer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._replayer
            self._replayer = None
        self._started = False
        if self._abandoned:
            # Calls that outlived their budget are finishing psycopg's cancellation.
            await asyncio.wait(self._abandoned, timeout=self._database.connect_timeout_s)
        await self._store.close()
        await self._fallback.close()

    # -- reply path ------------------------------------------------------------------

    async def record(self, event: AuditEvent) -> Outcome:
        """Store ``event`` durably: "written" (committed) or "fallback" (fsynced to the file).

        Waits on PostgreSQL at most ``write_budget_s``. Raises ``AuditUnavailable`` only
        when the fallback file cannot be written either. The work is shielded: a caller
        that is cancelled does not abandon the event half-way.
        """
        if not self._started:
            raise AuditUnavailable("audit log is not started")
        task = asyncio.create_task(self._record(event))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def _record(self, event: AuditEvent) -> Outcome:
        if self.breaker.current_state == pybreaker.STATE_CLOSED:
            try:
                await guarded(self.breaker, self._write_one, event)
            except Exception as exc:  # any failure sends the event to the file
                # A slow database and a broken one call for different fixes: say which.
                reason = "timeout" if isinstance(exc, TimeoutError) else "error"
                self._metrics.audit_write_failures.labels(reason=reason).inc()
                log.warning(
                    "audit_write_failed",
                    error=type(exc).__name__,
                    reason=reason,
                    breaker=self.breaker.current_state,
                )
            else:
                self._metrics.audit_events.labels(outcome="written").inc()
                return "written"
        await self._append_fallback([event])
        return "fallback"

    async def _write_one(self, event: AuditEvent) -> None:
        await self._within(self._insert_one(event), self.settings.write_budget_s)

    async def _insert_one(self, event: AuditEvent) -> bool:
        await self._ensure_schema()
        return await self._forget_schema_on(self._store.insert_one(event))

    async def _append_fallback(self, events: Sequence[AuditEvent]) -> None:
        was_empty = self._fallback.pending == 0
        await self._fallback.append(events)
        self._metrics.audit_fallback_writes.inc(len(events))
        self._metrics.audit_events.labels(outcome="fallback").inc(len(events))
        self._set_pending_gauge()
        if was_empty:
            self._notify_fallback()

    # -- schema ----------------------------------------------------------------------

    async def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        async with self._schema_lock:
            if not self._schema_ready:
                await self._store.ensure_schema()
                self._schema_ready = True

    async def _forget_schema_on(self, work: Awaitable[T]) -> T:
        """Await ``work``; if the table has vanished, the next call creates it again."""
        try:
            return await work
        except psycopg.errors.UndefinedTable:
            self._schema_ready = False
            raise

    # -- replay ----------------------------------------------------------------------

    async def replay_once(self) -> int:
        """Drain the fallback file into PostgreSQL now; returns how many events left it."""
        async with self._replay_lock:
            if self.breaker.current_state != pybreaker.STATE_CLOSED or not self._schema_ready:
                try:
                    await guarded(self.breaker, self._trial)
                except Exception as exc:
                    log.info(
                        "audit_replay_deferred",
                        error=type(exc).__name__,
                        breaker=self.breaker.current_state,
                        pending=self.pending,
                    )
                    return 0
            return await self._drain()

    async def _trial(self) -> None:
        await self._within(self._check_and_ping(), self._slow_timeout)

    async def _check_and_ping(self) -> None:
        await self._store.check()
        if self._schema_ready:
            await self._store.ping()
        else:
            await self._ensure_schema()

    async def _drain(self) -> int:
        replayed = 0
        offset = 0
        events_before_offset = 0
        batches = 0
        try:
            while True:
                chunk = await self._fallback.read_chunk(offset, self.settings.replay_batch)
                if chunk.empty:
                    break
                await self._reject(chunk.rejected)
                if chunk.events:
                    await self._retry.call(self._insert_batch, chunk.events)
                offset = chunk.end
                events_before_offset += len(chunk.events)
                batches += 1
                if batches >= REWRITE_EVERY_BATCHES:
                    replayed += await self._consume(offset, events_before_offset)
                    offset = events_before_offset = batches = 0
        except Exception as exc:
            log.warning(
                "audit_replay_interrupted",
                error=type(exc).__name__,
                breaker=self.breaker.current_state,
            )
        # Only lines whose rows are committed lie before ``offset``. If we are cancelled
        # before this point they stay in the file and are replayed again, harmlessly.
        if offset:
            try:
                replayed += await self._consume(offset, events_before_offset)
            except OSError as exc:
                log.error("audit_fallback_rewrite_failed", error=str(exc))
        if replayed:
            log.info("audit_replayed", events=replayed, pending=self.pending)
        return replayed

    async def _insert_batch(self, events: Sequence[AuditEvent]) -> int:
        try:
            return await guarded(self.breaker, self._insert_many, events)
        except psycopg.DataError:
            # One unstorable row fails the whole statement: store the others one by one.
            return await self._insert_each(events)

    async def _insert_many(self, events: Sequence[AuditEvent]) -> int:
        return await self._within(self._insert_many_now(events), self._slow_timeout)

    async def _insert_many_now(self, events: Sequence[AuditEvent]) -> int:
        await self._ensure_schema()
        return await self._forget_schema_on(self._store.insert_many(events))

    async def _insert_each(self, events: Sequence[AuditEvent]) -> int:
        inserted = 0
        for event in events:
            try:
                inserted += await guarded(self.breaker, self._insert_one_slow, event)
            except psycopg.DataError as exc:
                log.error("audit_event_rejected", error=str(exc), event_id=event.event_id)
                await self._fallback.reject([event.to_line()])
        return inserted

    async def _insert_one_slow(self, event: AuditEvent) -> int:
        return int(await self._within(self._insert_one(event), self._slow_timeout))

    async def _reject(self, lines: Sequence[bytes]) -> None:
        if lines:
            log.error(
                "audit_fallback_lines_rejected",
                lines=len(lines),
                kept_in=str(self._fallback.rejected_path),
            )
            await self._fallback.reject(lines)

    async def _consume(self, offset: int, events: int) -> int:
        await self._fallback.consume(offset, events)
        self._metrics.audit_events.labels(outcome="replayed").inc(events)
        self._set_pending_gauge()
        return events

    async def _replay_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.replay_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            idle = (
                self.pending == 0
                and self._schema_ready
                and self.breaker.current_state == pybreaker.STATE_CLOSED
            )
            if idle:
                continue
            try:
                await self.replay_once()
            except Exception:  # the loop must outlive any single failure
                log.exception("audit_replay_failed")

    # -- reads -----------------------------------------------------------------------

    async def query(self, q: AuditQuery) -> AuditPage:
        """One page of the audit log; ``AuditUnavailable`` when PostgreSQL cannot answer."""
        try:
            return await self._within(self._query_now(q), self._slow_timeout)
        except _QUERY_ERRORS as exc:
            raise AuditUnavailable("audit database unavailable") from exc

    async def _query_now(self, q: AuditQuery) -> AuditPage:
        await self._ensure_schema()
        return await self._store.query(q)

    async def ping(self) -> bool:
        """True when PostgreSQL answers within the connect timeout (never raises)."""
        try:
            return await self._within(self._store.ping(), self._database.connect_timeout_s)
        except Exception:
            return False

    # -- helpers ---------------------------------------------------------------------

    async def _within(self, work: Coroutine[Any, Any, T], limit_s: float) -> T:
        """Await ``work`` for at most ``limit_s`` seconds, really.

        ``asyncio.timeout`` is not enough: on cancellation psycopg sends the server a
        cancel request and waits for the query to end (up to about 10 s against a
        stalled server) before the CancelledError gets through. Here the work runs in
        its own task; when the time is up (or our caller is cancelled) that task is
        cancelled and left to clean up in the background.
        """
        task = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait({task}, timeout=limit_s)
        except asyncio.CancelledError:
            self._abandon(task)
            raise
        if not done:
            self._abandon(task)
            raise TimeoutError(f"no answer from PostgreSQL within {limit_s:g} s")
        return task.result()

    def _abandon(self, task: asyncio.Future[Any]) -> None:
        task.cancel()
        self._abandoned.add(task)
        task.add_done_callback(self._abandoned.discard)
        # Retrieve the outcome so asyncio does not log "exception was never retrieved".
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def _set_pending_gauge(self) -> None:
        self._metrics.audit_fallback_pending.set(self._fallback.pending)

    def _notify_fallback(self) -> None:
        if self._on_fallback is None:
            return
        try:
            self._on_fallback()
        except Exception:  # an alerting problem must not fail the reply path
            log.exception("audit_on_fallback_failed")
