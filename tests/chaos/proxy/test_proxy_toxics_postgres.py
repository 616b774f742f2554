"""Toxics against real PostgreSQL 15 traffic (psycopg 3) through the proxy."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

pytestmark = [pytest.mark.chaos, pytest.mark.integration]


@pytest.fixture
def pgproxy(make_proxy, postgres_server) -> Any:
    """A proxy named ``pg`` in front of the session's PostgreSQL."""
    return make_proxy(f"{postgres_server.host}:{postgres_server.port}", name="pg")


def dsn(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/postgres?connect_timeout=3"


@pytest.fixture
def conn(pgproxy) -> Iterator[psycopg.Connection]:
    """A warm autocommit connection through the proxy."""
    with psycopg.connect(dsn(pgproxy.port), autocommit=True) as connection:
        connection.execute("SELECT 1")
        yield connection


def add_toxic(api: httpx.Client, **body: Any) -> None:
    response = api.post("/proxies/pg/toxics", json=body)
    assert response.status_code == 200, response.text


def timed_query(conn: psycopg.Connection, sql: str = "SELECT 1") -> tuple[float, Any]:
    start = time.perf_counter()
    row = conn.execute(sql).fetchone()
    return time.perf_counter() - start, row


def test_latency_on_a_warm_connection_and_removal_without_reconnect(
    api: httpx.Client, conn: psycopg.Connection
) -> None:
    backend = conn.execute("SELECT pg_backend_pid()").fetchone()
    add_toxic(api, type="latency", attributes={"latency": 200})
    elapsed, row = timed_query(conn)
    assert row == (1,)
    assert elapsed >= 0.18
    assert api.delete("/proxies/pg/toxics/latency_downstream").status_code == 204
    elapsed, _ = timed_query(conn)
    assert elapsed < 0.1
    assert conn.execute("SELECT pg_backend_pid()").fetchone() == backend


def test_down_kills_the_open_connection_and_refuses_new_ones(
    api: httpx.Client, conn: psycopg.Connection, pgproxy
) -> None:
    api.post("/proxies/pg", json={"enabled": False})
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    with pytest.raises(psycopg.OperationalError, match="refused"):
        psycopg.connect(dsn(pgproxy.port))
    api.post("/proxies/pg", json={"enabled": True})
    with psycopg.connect(dsn(pgproxy.port)) as fresh:
        assert fresh.execute("SELECT 2").fetchone() == (2,)


def test_reset_peer_breaks_the_connection(api: httpx.Client, conn: psycopg.Connection) -> None:
    add_toxic(api, type="reset_peer", attributes={"timeout": 0})
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    assert conn.closed or conn.broken


def test_timeout_toxic_ends_the_connection_after_its_delay(
    api: httpx.Client, conn: psycopg.Connection
) -> None:
    add_toxic(api, type="timeout", attributes={"timeout": 300})
    start = time.perf_counter()
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT 1")
    assert time.perf_counter() - start >= 0.25


def test_bandwidth_slows_a_large_result(api: httpx.Client, conn: psycopg.Connection) -> None:
    sql = "SELECT repeat('x', 60000)"
    add_toxic(api, type="bandwidth", attributes={"rate": 120})  # 60 KB at 120 KB/s: 0.5 s
    elapsed, row = timed_query(conn, sql)
    assert row == ("x" * 60000,)
    assert elapsed >= 0.4


def test_slicer_keeps_the_protocol_intact(api: httpx.Client, conn: psycopg.Connection) -> None:
    add_toxic(api, type="slicer", attributes={"average_size": 3, "size_variation": 2})
    add_toxic(api, type="slicer", stream="upstream", attributes={"average_size": 5})
    _, row = timed_query(conn, "SELECT string_agg(g::text, ',') FROM generate_series(1, 500) g")
    assert row == (",".join(str(i) for i in range(1, 501)),)


def test_limit_data_cuts_the_connection(api: httpx.Client, conn: psycopg.Connection) -> None:
    add_toxic(api, type="limit_data", attributes={"bytes": 100})
    with pytest.raises(psycopg.OperationalError):
        conn.execute("SELECT repeat('x', 5000)").fetchone()
