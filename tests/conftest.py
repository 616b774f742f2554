"""Session-wide real servers for integration tests: redis-server and PostgreSQL 15.

Both start on free loopback ports in throwaway folders and stop when the session ends.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from chaos.stack import processes
from chaos.stack.state import StackState


def pytest_configure(config: pytest.Config) -> None:
    """Give each parallel worker its own slice of ports, so two workers never pick one port
    in the moment between checking it is free and binding it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if worker.startswith("gw") and count > 1:
        low, high = 10_000, 32_000
        size = (high - low) // count
        start = low + int(worker[2:]) * size
        os.environ["CHAOSLAB_PORT_RANGE"] = f"{start}-{start + size}"


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


@pytest.fixture(scope="session")
def stack() -> Iterator[StackState]:
    """The whole native stack (``chaoslab up``) on free loopback ports, once per session."""
    from chaos.stack import native
    from chaos.stack.config import Ports, StackSettings

    ports = Ports(**{name: processes.free_port() for name in Ports.model_fields})
    settings = StackSettings(state_dir=Path(tempfile.mkdtemp(prefix="hcl-stack-")), ports=ports)
    state = native.up(settings, progress=lambda _: None)
    previous = os.environ.get("CHAOSLAB_STATE_FILE")
    os.environ["CHAOSLAB_STATE_FILE"] = str(settings.state_file)
    try:
        yield state
    finally:
        native.down(settings, progress=lambda _: None)
        if previous is None:
            os.environ.pop("CHAOSLAB_STATE_FILE", None)
        else:
            os.environ["CHAOSLAB_STATE_FILE"] = previous
        shutil.rmtree(settings.state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def live_agent_url(stack: StackState) -> str:
    """The stack's agent after real guest traffic (conversations, availability, a booking)."""
    import httpx

    from chaos.stt.voices import upload_notes
    from chaos.traffic import GuestMix, play, signed_webhook, whatsapp_payload

    guest = GuestMix(seed=3).guest
    with httpx.Client(base_url=stack.url("agent"), timeout=30) as client:
        for n, kind in enumerate(("booking", "availability", "information", "room_options")):
            play(client, f"live-{kind}-{n}", kind, guest)
        # A WhatsApp voice note, so the transcription series have data too.
        media = upload_notes(stack.url("pms"), str(stack.settings.get("pms_api_key", "")))
        payload = whatsapp_payload("5491100000001", "Live", "", "wamid.live-voice", media[0])
        raw, headers = signed_webhook(stack.whatsapp_secret, payload)
        client.post("/webhooks/whatsapp", content=raw, headers=headers).raise_for_status()
    return stack.url("agent")
