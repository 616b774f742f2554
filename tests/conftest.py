"""Session-wide real servers for integration tests: redis-server and PostgreSQL 15.

Both start on free loopback ports in throwaway folders and stop when the session ends.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from chaos.stack import processes


@dataclass(frozen=True)
class RedisInfo:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"


@dataclass(frozen=True)
class PostgresInfo:
    host: str
    port: int

    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create (or recreate) database ``name`` and return its DSN."""
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisInfo]:
    """A real redis-server on a free loopback port."""
    base = Path(tempfile.mkdtemp(prefix="hcl-redis-"))
    port = processes.free_port()
    proc = processes.redis_server(base, port)
    proc.start()
    try:
        yield RedisInfo("127.0.0.1", port)
    finally:
        proc.stop()
        shutil.rmtree(base, ignore_errors=True)



@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresInfo]:
    """A real PostgreSQL 15 cluster on a free loopback port."""
    # mkdtemp lives directly under /tmp, which the postgres user can traverse.
    base = Path(tempfile.mkdtemp(prefix="hcl-pg-"))
    port = processes.free_port()
    proc = processes.postgres_server(base, port)
    proc.start(timeout=60)
    try:
        yield PostgresInfo("127.0.0.1", port)
    finally:
        proc.stop()
        shutil.rmtree(base, ignore_errors=True)

