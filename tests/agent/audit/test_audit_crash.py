"""SIGKILL crash tests: an agent-like process killed while writing or replaying the file."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from agent.audit import AuditLog, new_event
from agent.audit.schema import TABLE, ddl_statements
from agent.metrics import AgentMetrics
from chaos.stack.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHILD = Path(__file__).with_name("audit_crash_child.py")


def start_child(mode: str, fallback: Path, dsn: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), mode, str(fallback), dsn],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().strip()
    if first != "READY":
        proc.kill()
        proc.communicate(timeout=10)
        pytest.fail(f"child did not start: {first!r}")
    return proc


def parse(line: str, attempted: set[str], acked: set[str]) -> None:
    kind, _, event_id = line.strip().partition(" ")
    if kind == "A" and event_id:
        attempted.add(event_id)
    elif kind == "K" and event_id:
        acked.add(event_id)


def write_until_killed(fallback: Path, dsn: str, acked_before_kill: int) -> tuple[set, set]:
    """Run a writer child, SIGKILL it once it acknowledged enough events; (attempted, acked)."""
    proc = start_child("write", fallback, dsn)
    attempted: set[str] = set()
    acked: set[str] = set()
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    try:
        while len(acked) < acked_before_kill and time.monotonic() < deadline:
            parse(proc.stdout.readline(), attempted, acked)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        # Read the rest through the same buffered stream (communicate() would read the
        # pipe directly and skip what readline() has already buffered).
        rest = proc.stdout.read()
        proc.stdout.close()
        proc.wait(timeout=10)
    for line in rest.splitlines():
        parse(line, attempted, acked)
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= acked_before_kill
    return attempted, acked


def rows(dsn: str) -> tuple[int, set[str]]:
    with psycopg.connect(dsn) as conn:
        ids = [r[0] for r in conn.execute(f"SELECT event_id FROM {TABLE}")]
    return len(ids), set(ids)


def clear(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for statement in ddl_statements():
            conn.execute(statement)
        conn.execute(f"TRUNCATE {TABLE}")


async def replay_all(fallback: Path, dsn: str, make_audit_settings, make_db_settings) -> int:
    """Restart as the owner of ``fallback`` with a healthy database and drain it."""
    metrics = AgentMetrics()
    audit = AuditLog(
        make_audit_settings(fallback, replay_interval_s=3600), make_db_settings(dsn), metrics
    )
    await audit.start()
    try:
        pending_at_start = audit.pending
        # The background replayer (woken at start) and these calls take turns.
        async with asyncio.timeout(60):
            while audit.pending:
                await audit.replay_once()
        assert metrics.registry.get_sample_value("audit_fallback_pending") == 0
        assert (
            metrics.registry.get_sample_value("audit_events_total", {"outcome": "replayed"})
            == pending_at_start
        )
    finally:
        await audit.stop()
    return pending_at_start


async def test_killed_while_writing_the_fallback_loses_nothing(
    tmp_path, audit_db, make_audit_settings, make_db_settings
) -> None:
    clear(audit_db)
    fallback = tmp_path / "logs" / "audit_fallback.jsonl"
    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    attempted1, acked1 = write_until_killed(fallback, dead, 300)
    # Restarted while the database is still down: it must take over the file as it is.
    attempted2, acked2 = write_until_killed(fallback, dead, 300)
    attempted, acked = attempted1 | attempted2, acked1 | acked2

    pending = await replay_all(fallback, audit_db, make_audit_settings, make_db_settings)
    count, stored = rows(audit_db)
    rejected = fallback.with_name(fallback.name + ".rejected")
    print(
        f"\ncrash test: {len(acked)} acknowledged, {len(attempted)} attempted, "
        f"{pending} pending after restart, {count} rows, torn lines set aside: "
        f"{len(rejected.read_bytes().splitlines()) if rejected.exists() else 0}"
    )
    assert count == len(stored)  # no duplicates
    assert acked <= stored  # nothing acknowledged is lost
    assert stored <= attempted  # nothing invented
    assert fallback.read_bytes() == b""


async def test_killed_while_replaying_adds_no_duplicates(
    tmp_path, audit_db, make_audit_settings, make_db_settings
) -> None:
    clear(audit_db)
    fallback = tmp_path / "audit_fallback.jsonl"
    events = [
        new_event("message", f"guest-{i % 50}", channel="api", payload={"i": i})
        for i in range(6000)
    ]
    fallback.write_bytes(b"".join(e.to_line() + b"\n" for e in events))

    proc = start_child("replay", fallback, audit_db)
    try:
        deadline = time.monotonic() + 30
        while rows(audit_db)[0] < 500 and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)
    at_kill, _ = rows(audit_db)
    lines_left = len(fallback.read_bytes().splitlines())
    assert 0 < at_kill < len(events), "the kill must land in the middle of the replay"

    await replay_all(fallback, audit_db, make_audit_settings, make_db_settings)
    count, stored = rows(audit_db)
    print(
        f"\nkilled mid-replay with {at_kill} rows committed and {lines_left} lines left "
        f"({at_kill + lines_left - len(events)} lines committed but not yet removed)"
    )
    assert count == len(events) == len(stored)
    assert stored == {e.event_id for e in events}
    assert fallback.read_bytes() == b""
