"""Round trips per cached message, counted on the wire and on the real servers.

The agent (in-process, the real app) reaches the session-wide redis-server and
PostgreSQL through counting relays: a round trip is a burst of bytes from the agent
that follows an answer (or opens the connection). Redis's ``INFO commandstats`` and
PostgreSQL's row counters say which commands ran. The PMS cache is warmed first through
the agent's own code (the warmer's ``refresh_night``), as the warmer does in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from agent.main import create_app
from agent.metrics import AgentMetrics
from agent.pms import PMSClient
from agent.settings import AgentSettings, PMSSettings
from chaos.load.stays import Stay, availability_question
from chaos.pms_simulator import create_app as create_simulator
from tests.conftest import PostgresInfo, RedisInfo

pytestmark = pytest.mark.integration


class CountingRelay:
    """A TCP relay to ``port`` that counts the client's request bursts (round trips)."""

    def __init__(self, port: int) -> None:
        self.upstream = port
        self.round_trips = 0
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()

    async def _serve(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        sr, sw = await asyncio.open_connection("127.0.0.1", self.upstream)
        answered = [True]  # a connection's first bytes open a round trip

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, up: bool) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    if up and answered[0]:
                        self.round_trips += 1
                    answered[0] = not up
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(cr, sw, True), pump(sr, cw, False))


def commandstats(info: dict[str, dict[str, int]]) -> dict[str, int]:
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in info.items()}


@pytest.fixture
async def relays(
    redis_server: RedisInfo, postgres_server: PostgresInfo
) -> AsyncIterator[tuple[CountingRelay, CountingRelay, str]]:
    dsn = postgres_server.create_database(f"rt_{uuid.uuid4().hex[:8]}")
    redis_relay, pg_relay = CountingRelay(redis_server.port), CountingRelay(postgres_server.port)
    redis_port, pg_port = await redis_relay.start(), await pg_relay.start()
    yield redis_relay, pg_relay, f"{redis_port} {pg_port} {dsn.rsplit('/', 1)[1]}"
    await redis_relay.stop()
    await pg_relay.stop()


async def warm_nights(redis_url: str, nights: list[date]) -> None:
    """Fill the per-night entries and room types the way the warmer does."""
    sim = create_simulator("k")
    client = aioredis.Redis.from_url(redis_url)
    pms = PMSClient(
        PMSSettings(base_url="http://pms", api_key=SecretStr("k")),
        AgentMetrics(),
        client,
        transport=httpx.ASGITransport(app=sim),
    )
    try:
        await pms.refresh_room_types()
        for night in nights:
            await pms.refresh_night(night)
    finally:
        await pms.aclose()
        await client.aclose()


async def test_a_cached_message_costs_two_redis_and_one_postgres_round_trip(
    relays: tuple[CountingRelay, CountingRelay, str],
    redis_server: RedisInfo,
    postgres_server: PostgresInfo,
    tmp_path: Path,
) -> None:
    redis_relay, pg_relay, ports = relays
    redis_port, pg_port, dbname = ports.split()
    check_in = date.today() + timedelta(days=10)
    await warm_nights(redis_server.url, [check_in, check_in + timedelta(days=1)])
    settings = AgentSettings(
        redis={"url": f"redis://127.0.0.1:{redis_port}/0"},
        database={"dsn": SecretStr(f"postgresql://postgres@127.0.0.1:{pg_port}/{dbname}")},
        pms={"base_url": "http://127.0.0.1:9", "cache_warm_days": 0},
        audit={"fallback_path": tmp_path / "fallback.jsonl"},
        # Background loops (dependency checks, the WhatsApp outbox's poll) would add their
        # own round trips to the counted window; here they never come round.
        dependency_check_interval_s=3600,
        whatsapp={"outbox_interval_s": 3600},
    )
    stay = Stay(check_in, check_in + timedelta(days=2))
    text = availability_question(stay, 2, "es", random.Random(1))
    app = create_app(settings)
    server = aioredis.Redis.from_url(redis_server.url)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as c,
    ):

        async def say(guest: str) -> dict[str, object]:
            body = {"guest_id": guest, "text": text, "message_id": uuid.uuid4().hex}
            response = await c.post("/api/v1/messages", json=body)
            assert response.status_code == 200, response.text
            return dict(response.json())

        # Warm-up: pool connections, the audit schema, and psycopg's prepared statement,
        # which costs each pooled connection one extra round trip at its sixth INSERT (the
        # pool hands its connections out in turn, up to 10 of them).
        for i in range(70):
            await say(f"warm-{i % 3}")
        await asyncio.sleep(0.2)
        messages = 20
        redis_before, pg_before = redis_relay.round_trips, pg_relay.round_trips
        stats_before = commandstats(await server.info("commandstats"))
        with psycopg.connect(postgres_server.dsn(dbname), autocommit=True) as conn:
            rows_before = conn.execute("SELECT count(*) FROM audit_logs").fetchone()
        replies = [await say(f"guest-{i % 4}") for i in range(messages)]
        redis_trips = redis_relay.round_trips - redis_before
        pg_trips = pg_relay.round_trips - pg_before
        stats = commandstats(await server.info("commandstats"))
        with psycopg.connect(postgres_server.dsn(dbname), autocommit=True) as conn:
            rows_after = conn.execute("SELECT count(*) FROM audit_logs").fetchone()
    await server.aclose()

    assert all(r["intent"] == "availability" and not r["degraded"] for r in replies), replies[0]
    assert "disponibles" in str(replies[0]["reply"])
    # The commandstats reads of this test add their own INFO calls; nothing else ran.
    ran = {k: stats.get(k, 0) - stats_before.get(k, 0) for k in stats}
    ran = {k: v for k, v in ran.items() if v and k != "info"}
    assert ran == {"mget": messages, "multi": messages, "set": 2 * messages, "zadd": messages,
                   "exec": messages}, ran  # fmt: skip
    assert redis_trips == 2 * messages
    assert pg_trips == messages
    assert rows_before is not None and rows_after is not None
    assert rows_after[0] - rows_before[0] == messages
