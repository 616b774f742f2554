"""Fixtures for the audit tests: settings factories, a fresh database, a TCP relay.

The relay is a plain asyncio relay (the project's Toxiproxy-compatible proxy lives in
chaos/proxy/). ``cut`` closes every relayed connection and stops listening (clients get "connection
refused"); ``stall`` keeps connections open but forwards nothing (clients hang until
their own timeout); ``restore`` returns to normal on the same port.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent.settings import AuditSettings, BreakerSettings, DatabaseSettings, RetrySettings


class TcpRelay:
    """Relays 127.0.0.1:<port> to an upstream TCP address, with faults on demand."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            writer.close()
            self._writers.discard(writer)
            return
        self._writers.add(up_writer)
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )
        for w in (writer, up_writer):
            w.close()
            self._writers.discard(w)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def cut(self) -> None:
        """Refuse new connections and reset the live ones."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    def stall(self) -> None:
        """Accept and hold connections, forward nothing."""
        self._flowing.clear()

    async def restore(self) -> None:
        """Forward again, listening on the same port."""
        self._flowing.set()
        if self._server is None:
            await self.start()

    async def close(self) -> None:
        self._flowing.set()
        await self.cut()


def _audit_settings(fallback: Path, **overrides: object) -> AuditSettings:
    """Audit settings shortened for tests (1 s breaker reset, 10 ms back-off base)."""
    values: dict[str, object] = {
        "breaker": BreakerSettings(fail_max=5, reset_timeout_s=1.0),
        "retry": RetrySettings(retries=3, backoff_base_s=0.01, backoff_max_s=0.05),
        "fallback_path": fallback,
        "write_budget_s": 0.25,
        "replay_interval_s": 0.1,
        "replay_batch": 100,
    }
    values.update(overrides)
    return AuditSettings(**values)  # type: ignore[arg-type]


def _database_settings(dsn: str, **overrides: object) -> DatabaseSettings:
    values: dict[str, object] = {
        "dsn": dsn,
        "pool_min": 1,
        "pool_max": 4,
        "connect_timeout_s": 1.0,
        "statement_timeout_ms": 2000,
    }
    values.update(overrides)
    return DatabaseSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_audit_settings() -> Callable[..., AuditSettings]:
    """Audit settings shortened for tests; keyword arguments override fields."""
    return _audit_settings


@pytest.fixture
def make_db_settings() -> Callable[..., DatabaseSettings]:
    """Database settings for tests; keyword arguments override fields."""
    return _database_settings


@pytest.fixture(scope="module")
def audit_db(request: pytest.FixtureRequest, postgres_server) -> str:
    """DSN of a fresh database for this test module."""
    name = "audit_" + request.module.__name__.rsplit(".", 1)[-1].removeprefix("test_audit_")
    return postgres_server.create_database(name)


@pytest.fixture
async def relay(postgres_server) -> AsyncIterator[TcpRelay]:
    """A TCP relay in front of the session's PostgreSQL."""
    r = TcpRelay(postgres_server.host, postgres_server.port)
    await r.start()
    yield r
    await r.close()
