"""The process launchers start real servers, probe them, and stop exactly what they started."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psycopg
import pytest
import redis

from chaos.exceptions import StackError
from chaos.stack.processes import ManagedProcess, free_port, tcp_open


@pytest.mark.integration
def test_redis_fixture_answers(redis_server) -> None:
    client = redis.Redis.from_url(redis_server.url, socket_timeout=2)
    client.set("k", "v")
    assert client.get("k") == b"v"


@pytest.mark.integration
def test_postgres_fixture_creates_databases(postgres_server) -> None:
    dsn = postgres_server.create_database("launcher_check")
    with psycopg.connect(dsn) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("launcher_check",)


def test_failing_process_reports_its_log_tail(tmp_path: Path) -> None:
    proc = ManagedProcess(
        name="broken",
        argv=[sys.executable, "-c", "import sys; print('boom: bad config'); sys.exit(3)"],
        log_path=tmp_path / "broken.log",
        ready=lambda: False,
    )
    with pytest.raises(StackError, match=r"broken exited with code 3[\s\S]*boom: bad config"):
        proc.start(timeout=10)


def test_stop_ends_exactly_the_started_process(tmp_path: Path) -> None:
    port = free_port()
    server = (
        "import socket, time; s = socket.socket(); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)"
    )
    proc = ManagedProcess(
        name="sleeper",
        argv=[sys.executable, "-c", server],
        log_path=tmp_path / "s.log",
        ready=lambda: tcp_open("127.0.0.1", port),
    )
    proc.start(timeout=10)
    pid = proc.pid
    assert pid is not None
    os.kill(pid, 0)  # alive
    proc.stop()
    assert not tcp_open("127.0.0.1", port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
