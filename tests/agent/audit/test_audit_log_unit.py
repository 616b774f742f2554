"""Unit tests of AuditLog with a fake store, an injected clock and a recording sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import psycopg
import pytest

from agent.audit import AuditEvent, AuditLog, AuditUnavailable, FallbackLocked, new_event
from agent.audit.events import event_from_line
from agent.audit.query import AuditPage, AuditQuery
from agent.metrics import AgentMetrics
from agent.settings import AuditSettings, BreakerSettings, DatabaseSettings, RetrySettings


class FakeStore:
    """An in-memory audit store whose health the test switches."""

    def __init__(self) -> None:
        self.rows: dict[str, AuditEvent] = {}
        self.mode = "ok"  # ok | error | hang
        self.failures_left = 0  # fail this many calls, then behave as ``mode``
        self.calls = 0
        self.poison: set[str] = set()

    async def _io(self) -> None:
        self.calls += 1
        if self.failures_left > 0:
            self.failures_left -= 1
            raise psycopg.OperationalError("connection refused")
        if self.mode == "error":
            raise psycopg.OperationalError("connection refused")
        if self.mode == "hang":
            await asyncio.sleep(3600)

    async def open(self) -> None: ...
    async def close(self) -> None: ...

    async def ensure_schema(self) -> None:
        await self._io()

    async def insert_one(self, event: AuditEvent) -> bool:
        await self._io()
        if event.event_id in self.poison:
            raise psycopg.DataError("invalid input")
        new = event.event_id not in self.rows
        self.rows.setdefault(event.event_id, event)
        return new

    async def insert_many(self, events: Sequence[AuditEvent]) -> int:
        await self._io()
        if any(e.event_id in self.poison for e in events):
            raise psycopg.DataError("invalid input")
        new = [e for e in events if e.event_id not in self.rows]
        for e in new:
            self.rows[e.event_id] = e
        return len(new)

    async def query(self, q: AuditQuery) -> AuditPage:
        await self._io()
        return AuditPage(
            items=(), total=len(self.rows), page=1, page_size=q.page_size, next_cursor=None
        )

    async def ping(self) -> bool:
        await self._io()
        return True

    async def check(self) -> None:
        await self._io()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sample(metrics: AgentMetrics, name: str, labels: dict[str, str]) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


class Harness:
    def __init__(self, tmp_path: Path, **overrides: object) -> None:
        self.metrics = AgentMetrics()
        self.store = FakeStore()
        self.clock = Clock()
        self.sleeps: list[float] = []
        self.fallback_calls = 0
        settings = AuditSettings(
            **{
                "breaker": BreakerSettings(fail_max=5, reset_timeout_s=1.0),
                "retry": RetrySettings(retries=3, backoff_base_s=0.01),
                "fallback_path": tmp_path / "audit.jsonl",
                "write_budget_s": 0.25,
                "replay_interval_s": 3600.0,
                **overrides,
            }
        )

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        def on_fallback() -> None:
            self.fallback_calls += 1

        self.audit = AuditLog(
            settings,
            DatabaseSettings(),
            self.metrics,
            clock=self.clock,
            sleep=sleep,
            on_fallback=on_fallback,
            store=self.store,
        )

    def value(self, name: str, **labels: str) -> float:
        return sample(self.metrics, name, labels)


@pytest.fixture
async def h(tmp_path: Path):
    harness = Harness(tmp_path)
    await harness.audit.start()
    yield harness
    await harness.audit.stop()


def ev(i: int = 0) -> AuditEvent:
    return new_event("message", f"guest-{i}", channel="api", intent="greeting", payload={"i": i})


async def test_healthy_write_is_committed_not_filed(h: Harness) -> None:
    e = ev()
    assert await h.audit.record(e) == "written"
    assert h.store.rows == {e.event_id: e}
    assert h.value("audit_events_total", outcome="written") == 1
    assert h.value("audit_fallback_writes_total") == 0
    assert not h.audit.settings.fallback_path.exists()


async def test_failures_open_the_breaker_and_divert_to_the_file(h: Harness) -> None:
    h.store.mode = "error"
    calls_before = h.store.calls
    sent = [ev(i) for i in range(12)]
    outcomes = [await h.audit.record(e) for e in sent]
    assert outcomes == ["fallback"] * 12
    assert h.audit.breaker.current_state == "open"
    assert h.value("audit_circuit_breaker_state") == 1
    assert h.value("circuit_breaker_state", breaker="audit") == 1
    assert (
        h.value(
            "circuit_breaker_transitions_total",
            breaker="audit",
            from_state="closed",
            to_state="open",
        )
        == 1
    )
    # Five failed attempts opened the breaker; afterwards the store is not even tried.
    assert h.store.calls - calls_before == 5
    # Each failed attempt says why: the database refused, it did not time out.
    assert h.value("audit_write_failures_total", reason="error") == 5
    assert h.value("audit_write_failures_total", reason="timeout") == 0
    assert h.value("audit_fallback_writes_total") == 12
    assert h.value("audit_events_total", outcome="fallback") == 12
    assert h.value("audit_fallback_pending") == 12
    filed = [event_from_line(x) for x in h.audit.settings.fallback_path.read_bytes().splitlines()]
    assert filed == sent
    assert h.fallback_calls == 1  # edge-triggered: fallback became active once
    assert h.sleeps == []  # no retry back-off on the reply path


async def test_a_hanging_database_costs_at_most_the_budget(h: Harness) -> None:
    h.store.mode = "hang"
    async with asyncio.timeout(5):  # liveness guard only; the budget is 0.25 s
        assert await h.audit.record(ev()) == "fallback"
    assert h.audit.breaker.fail_counter == 1
    assert h.value("audit_write_failures_total", reason="timeout") == 1
    assert h.value("audit_write_failures_total", reason="error") == 0


async def test_replay_waits_for_the_reset_timeout_then_drains(h: Harness) -> None:
    h.store.mode = "error"
    sent = [ev(i) for i in range(8)]
    for e in sent:
        await h.audit.record(e)
    h.store.mode = "ok"
    calls = h.store.calls
    assert await h.audit.replay_once() == 0  # still open: nothing tried
    assert h.store.calls == calls
    assert h.audit.pending == 8
    h.clock.now += 1.0  # reset_timeout_s in the test settings
    assert await h.audit.replay_once() == 8
    assert h.audit.breaker.current_state == "closed"
    assert set(h.store.rows) == {e.event_id for e in sent}
    assert h.audit.pending == 0
    assert h.value("audit_fallback_pending") == 0
    assert h.value("audit_events_total", outcome="replayed") == 8
    assert h.audit.settings.fallback_path.read_bytes() == b""
    assert (
        h.value(
            "circuit_breaker_transitions_total",
            breaker="audit",
            from_state="half-open",
            to_state="closed",
        )
        == 1
    )


async def test_failed_trial_reopens_and_keeps_the_file(h: Harness) -> None:
    h.store.mode = "error"
    for i in range(6):
        await h.audit.record(ev(i))
    h.clock.now += 1.0
    assert await h.audit.replay_once() == 0
    assert h.audit.breaker.current_state == "open"
    assert h.audit.pending == 6
    assert (
        h.value(
            "circuit_breaker_transitions_total",
            breaker="audit",
            from_state="half-open",
            to_state="open",
        )
        == 1
    )


async def test_replay_retries_with_backoff_off_the_reply_path(tmp_path: Path) -> None:
    h = Harness(
        tmp_path,
        breaker=BreakerSettings(fail_max=10, reset_timeout_s=1.0),
        retry=RetrySettings(retries=3, backoff_base_s=1.0),
    )
    await h.audit.start()
    try:
        h.store.mode = "error"
        for i in range(3):
            assert await h.audit.record(ev(i)) == "fallback"
        h.store.mode = "ok"
        h.store.failures_left = 2  # the first two insert attempts of the replay fail
        assert await h.audit.replay_once() == 3
        assert h.sleeps == [1.0, 2.0]
        assert h.value("retry_attempts_total", operation="audit.replay", outcome="failure") == 1
        assert h.value("retry_attempts_total", operation="audit.replay", outcome="success") == 1
        assert len(h.store.rows) == 3
    finally:
        await h.audit.stop()


async def test_replay_gives_up_after_three_retries_and_keeps_lines(tmp_path: Path) -> None:
    h = Harness(
        tmp_path,
        breaker=BreakerSettings(fail_max=50, reset_timeout_s=1.0),
        retry=RetrySettings(retries=3, backoff_base_s=1.0),
    )
    await h.audit.start()
    try:
        h.store.mode = "error"
        await h.audit.record(ev())
        assert await h.audit.replay_once() == 0
        assert h.sleeps == [1.0, 2.0, 4.0]
        assert h.audit.pending == 1
    finally:
        await h.audit.stop()


async def test_unstorable_event_is_set_aside_and_the_rest_replayed(h: Harness) -> None:
    h.store.mode = "error"
    sent = [ev(i) for i in range(6)]
    for e in sent:
        await h.audit.record(e)
    h.store.mode = "ok"
    h.store.poison = {sent[2].event_id}
    h.clock.now += 1.0
    await h.audit.replay_once()
    assert set(h.store.rows) == {e.event_id for e in sent} - {sent[2].event_id}
    assert h.audit.pending == 0
    rejected = h.audit.settings.fallback_path.with_name("audit.jsonl.rejected")
    assert event_from_line(rejected.read_bytes().strip()) == sent[2]
    assert h.audit.breaker.current_state == "closed"


async def test_pending_file_at_start_is_reported_and_drained(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    left = [ev(i) for i in range(4)]
    path.write_bytes(b"".join(e.to_line() + b"\n" for e in left))
    h = Harness(tmp_path, replay_interval_s=0.05)
    await h.audit.start()
    try:
        assert h.fallback_calls == 1
        async with asyncio.timeout(5):
            while h.audit.pending:
                await asyncio.sleep(0.01)
        assert set(h.store.rows) == {e.event_id for e in left}
        assert h.value("audit_fallback_pending") == 0
    finally:
        await h.audit.stop()


async def test_cancelled_caller_does_not_lose_the_event(h: Harness) -> None:
    h.store.mode = "hang"
    e = ev()
    task = asyncio.create_task(h.audit.record(e))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await h.audit.stop()  # waits for events being recorded
    filed = h.audit.settings.fallback_path.read_bytes().splitlines()
    assert [event_from_line(x) for x in filed] == [e]
    await h.audit.start()


async def test_record_before_start_is_refused(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    with pytest.raises(AuditUnavailable, match="not started"):
        await h.audit.record(ev())


async def test_second_agent_on_the_same_file_is_refused(h: Harness, tmp_path: Path) -> None:
    other = Harness(tmp_path)
    with pytest.raises(FallbackLocked):
        await other.audit.start()


async def test_query_failure_is_reported_as_unavailable(h: Harness) -> None:
    h.store.mode = "error"
    with pytest.raises(AuditUnavailable, match="unavailable"):
        await h.audit.query(AuditQuery())
    assert await h.audit.ping() is False
