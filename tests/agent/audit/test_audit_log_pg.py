"""AuditLog against a real PostgreSQL behind a TCP relay: outage, fallback, replay."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from agent.audit import AuditLog, new_event
from agent.audit.fallback import FallbackFile
from agent.audit.schema import INDEXES, TABLE
from agent.metrics import AgentMetrics

pytestmark = pytest.mark.integration


def sample(metrics: AgentMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def relay_dsn(relay, dsn: str) -> str:
    dbname = dsn.rsplit("/", 1)[1]
    return f"postgresql://postgres@127.0.0.1:{relay.port}/{dbname}"


def db_rows(dsn: str) -> tuple[int, int, int]:
    """(rows, distinct event ids, rows that came from the replayer)."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT count(*), count(DISTINCT event_id),"
            f" count(*) FILTER (WHERE recorded_via = 'replay') FROM {TABLE}"
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def clear(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {TABLE}")


async def timed_record(audit: AuditLog, n: int, guest: str) -> tuple[list[str], list[float]]:
    outcomes, durations = [], []
    for i in range(n):
        e = new_event("message", guest, channel="api", intent="greeting", payload={"i": i})
        t0 = time.perf_counter()
        outcomes.append(await audit.record(e))
        durations.append(time.perf_counter() - t0)
    return outcomes, durations


async def wait_until(predicate, timeout: float = 15.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.02)


@pytest.fixture
async def audit_via_relay(tmp_path, relay, audit_db, make_audit_settings, make_db_settings):
    clear_target = audit_db
    metrics = AgentMetrics()
    audit = AuditLog(
        make_audit_settings(tmp_path / "audit_fallback.jsonl"),
        make_db_settings(relay_dsn(relay, audit_db)),
        metrics,
    )
    await audit.start()
    yield audit, metrics
    await audit.stop()
    clear(clear_target)


async def test_schema_and_indexes_are_created_at_start(audit_via_relay, audit_db) -> None:
    with psycopg.connect(audit_db) as conn:
        names = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (TABLE,))
        }
        pk = conn.execute(
            "SELECT a.attname FROM pg_index i JOIN pg_attribute a"
            " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
            " WHERE i.indrelid = %s::regclass AND i.indisprimary",
            (TABLE,),
        ).fetchall()
    assert {index.name for index in INDEXES} <= names
    assert pk == [("event_id",)]


async def test_written_means_committed(audit_via_relay, audit_db) -> None:
    audit, _ = audit_via_relay
    e = new_event(
        "booking",
        "guest-7",
        channel="whatsapp",
        intent="make_reservation",
        payload={"booking_id": "B-1", "text": "nul\x00 and \ud800 cleaned"},
    )
    assert await audit.record(e) == "written"
    with psycopg.connect(audit_db) as conn:  # another session sees it: committed
        row = conn.execute(
            f"SELECT event_type, guest_id, payload FROM {TABLE} WHERE event_id = %s", (e.event_id,)
        ).fetchone()
    assert row == ("booking", "guest-7", {"booking_id": "B-1", "text": "nul and ? cleaned"})


async def test_outage_falls_back_fast_and_replays_exactly_once(
    audit_via_relay, relay, audit_db
) -> None:
    audit, metrics = audit_via_relay
    healthy, healthy_t = await timed_record(audit, 30, "guest-a")
    assert healthy == ["written"] * 30

    await relay.cut()
    down, down_t = await timed_record(audit, 60, "guest-b")
    assert down == ["fallback"] * 60
    assert audit.breaker.current_state == "open"
    assert sample(metrics, "audit_circuit_breaker_state") == 1
    assert sample(metrics, "circuit_breaker_state", breaker="audit") == 1
    assert sample(metrics, "audit_fallback_writes_total") == 60
    assert sample(metrics, "audit_fallback_pending") == 60
    assert len(Path(audit.fallback_path).read_bytes().splitlines()) == 60
    assert (
        sample(metrics, "retry_attempts_total", operation="audit.replay", outcome="failure") == 0
    )  # nothing retried on the reply path

    open_t = down_t[5:]  # after the five failures that opened the breaker
    print(
        f"\nrecord() p50: healthy {p50_ms(healthy_t):.2f} ms, breaker open "
        f"{p50_ms(open_t):.2f} ms; max while opening {max(down_t[:5]) * 1000:.1f} ms "
        f"(budget {audit.settings.write_budget_s * 1000:.0f} ms)"
    )

    await relay.restore()
    await wait_until(lambda: audit.pending == 0)
    assert audit.breaker.current_state == "closed"
    assert db_rows(audit_db) == (90, 90, 60)
    assert sample(metrics, "audit_events_total", outcome="written") == 30
    assert sample(metrics, "audit_events_total", outcome="fallback") == 60
    assert sample(metrics, "audit_events_total", outcome="replayed") == 60
    assert sample(metrics, "audit_fallback_pending") == 0
    assert Path(audit.fallback_path).read_bytes() == b""
    after, _ = await timed_record(audit, 5, "guest-c")
    assert after == ["written"] * 5


async def test_stalled_database_is_bounded_by_the_budget(audit_via_relay, relay, audit_db) -> None:
    audit, _metrics = audit_via_relay
    assert (await timed_record(audit, 3, "guest-a"))[0] == ["written"] * 3
    relay.stall()
    async with asyncio.timeout(10):  # liveness guard: without the budget this would hang
        outcomes, durations = await timed_record(audit, 20, "guest-b")
    assert outcomes == ["fallback"] * 20
    assert audit.breaker.current_state == "open"
    print(
        f"\nstalled database: first 5 record() {[round(d * 1000) for d in durations[:5]]} ms, "
        f"then p50 {p50_ms(durations[5:]):.2f} ms"
    )
    await relay.cut()  # the stalled connections are dead for good
    await relay.restore()
    await wait_until(lambda: audit.pending == 0)
    assert db_rows(audit_db) == (23, 23, 20)


async def test_replay_interrupted_after_commit_adds_no_duplicates(
    audit_via_relay, relay, audit_db, monkeypatch
) -> None:
    audit, _metrics = audit_via_relay
    await relay.cut()
    await timed_record(audit, 40, "guest-d")
    assert audit.pending == 40
    await relay.restore()

    real = FallbackFile._consume_sync
    crashed = []

    def crash_once(self, end: int, events: int) -> None:
        if not crashed:
            crashed.append(end)
            raise OSError("simulated crash between COMMIT and the file rewrite")
        real(self, end, events)

    monkeypatch.setattr(FallbackFile, "_consume_sync", crash_once)
    await wait_until(lambda: bool(crashed))
    await wait_until(lambda: audit.pending == 0)
    assert db_rows(audit_db) == (40, 40, 40)
    assert Path(audit.fallback_path).read_bytes() == b""


async def test_migration_command_creates_the_schema(postgres_server) -> None:
    dsn = postgres_server.create_database("audit_migrate_cmd")
    env = {"AGENT_DATABASE__DSN": dsn, "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "agent.audit", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    with psycopg.connect(dsn) as conn:
        names = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", (TABLE,))
        }
    assert {index.name for index in INDEXES} <= names
    again = subprocess.run(
        [sys.executable, "-m", "agent.audit", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stderr  # idempotent
