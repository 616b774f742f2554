"""Claims, the outbox and delivery statuses against a real redis-server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from agent.dedupe import Deduplicator
from agent.delivery import Claims, Outbox, OutboxItem, StatusStore
from agent.delivery.outbox import QUEUE_KEY
from agent.metrics import AgentMetrics
from agent.settings import RetrySettings
from agent.whatsapp import SendResult, StatusUpdate
from tests.conftest import RedisInfo

pytestmark = pytest.mark.integration


@pytest.fixture
async def redis(redis_server: RedisInfo) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


def claims(redis: aioredis.Redis, **kw: float) -> Claims:
    return Claims(redis, Deduplicator(redis), **kw)  # type: ignore[arg-type]


async def test_concurrent_copies_in_one_process_get_one_owner(redis: aioredis.Redis) -> None:
    c = claims(redis)
    mid = f"wamid.{uuid.uuid4().hex}"

    async def copy() -> tuple[bool, object]:
        claim = await c.claim("whatsapp", mid)
        if claim.owner:
            await asyncio.sleep(0.05)  # answering takes a while
            await c.complete("whatsapp", mid, {"reply": "hola"}, [], sent=True, wamid="w1")
        return claim.owner, claim.earlier

    results = await asyncio.gather(*(copy() for _ in range(5)))
    assert sum(owner for owner, _ in results) == 1
    assert all(earlier.reply == {"reply": "hola"} for owner, earlier in results if not owner)  # type: ignore[attr-defined]


async def test_copies_reaching_two_processes_get_one_owner_and_the_other_waits(
    redis: aioredis.Redis, redis_server: RedisInfo
) -> None:
    other = aioredis.Redis.from_url(redis_server.url)
    a, b = claims(redis), claims(other)
    mid = f"wamid.{uuid.uuid4().hex}"
    try:
        first, second = await asyncio.gather(a.claim("whatsapp", mid), b.claim("whatsapp", mid))
        owner, waiter = (a, b) if first.owner else (b, a)
        assert first.owner != second.owner
        waiting = asyncio.create_task(waiter.claim("whatsapp", mid))
        await asyncio.sleep(0.1)
        assert not waiting.done()  # it waits for the owner's answer
        await owner.complete("whatsapp", mid, {"reply": "x"}, [], sent=False)
        claim = await waiting
    finally:
        await other.aclose()
    assert not claim.owner and claim.waited
    assert claim.earlier is not None and claim.earlier.reply == {"reply": "x"}
    assert claim.earlier.sent is False


async def test_a_claim_left_by_a_dead_process_expires(redis: aioredis.Redis) -> None:
    mid = f"wamid.{uuid.uuid4().hex}"
    assert (await claims(redis, claim_ttl_s=1).claim("whatsapp", mid)).owner
    late = await claims(redis, wait_s=3).claim("whatsapp", mid)
    assert late.owner and late.waited  # after the marker expired, Meta's retry is answered


async def test_a_copy_gives_up_waiting_without_answering(redis: aioredis.Redis) -> None:
    mid = f"wamid.{uuid.uuid4().hex}"
    assert (await claims(redis).claim("whatsapp", mid)).owner
    claim = await claims(redis, wait_s=0.2).claim("whatsapp", mid)
    assert not claim.owner and claim.waited and claim.earlier is None


async def test_without_redis_copies_in_this_process_are_still_caught() -> None:
    broken = aioredis.Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    c = claims(broken)
    mid = "wamid.offline"
    try:
        first = await c.claim("whatsapp", mid)
        racing = asyncio.create_task(c.claim("whatsapp", mid))
        await asyncio.sleep(0)
        stored = await c.complete("whatsapp", mid, {"reply": "r"}, [], sent=True)
        second = await racing
        third = await c.claim("whatsapp", mid)
    finally:
        await broken.aclose()
    assert first.owner and not stored
    assert not second.owner and second.earlier is not None
    assert not third.owner and third.earlier is not None


class FlakyGraph:
    def __init__(self, failures: int, retryable: bool = True) -> None:
        self.failures, self.retryable = failures, retryable
        self.calls: list[tuple[str, str]] = []

    async def send(self, to: str, text: str) -> SendResult:
        self.calls.append((to, text))
        if len(self.calls) <= self.failures:
            return SendResult(error="HTTP 503", retryable=self.retryable)
        return SendResult(wamid=f"wamid.out{len(self.calls)}")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def outbox_with(
    redis: aioredis.Redis, graph: FlakyGraph, retries: int = 3
) -> tuple[Outbox, Clock, list[tuple[str, str]]]:
    await redis.delete(QUEUE_KEY)
    delivered: list[tuple[str, str]] = []

    async def on_sent(item: OutboxItem, wamid: str) -> None:
        delivered.append((item.message_id, wamid))

    clock = Clock()
    retry = RetrySettings(retries=retries, backoff_base_s=1.0, backoff_factor=2.0)
    box = Outbox(redis, graph.send, AgentMetrics(), retry, on_sent=on_sent, clock=clock)
    return box, clock, delivered


async def queue(redis: aioredis.Redis, box: Outbox, mid: str) -> None:
    item = OutboxItem(mid, "whatsapp", "5491100000000", "hola", 1, 0.0)
    async with redis.pipeline(transaction=True) as pipe:
        for key, value, score in box.staged(item):
            if score is None:
                pipe.set(key, value)
            else:
                pipe.zadd(key, {value: score})
        await pipe.execute()
    box.queued(item, stored=True)


async def test_outbox_retries_with_backoff_until_graph_takes_the_reply(
    redis: aioredis.Redis,
) -> None:
    graph = FlakyGraph(failures=2)
    box, clock, delivered = await outbox_with(redis, graph)
    await queue(redis, box, "m1")
    assert await box.run_once() == 0 and graph.calls == []  # not due before its back-off
    clock.now += 1.0
    assert await box.run_once() == 0 and len(graph.calls) == 1
    clock.now += 1.0
    assert await box.run_once() == 0 and len(graph.calls) == 1  # the next wait doubled
    clock.now += 1.0
    await box.run_once()
    clock.now += 8.0
    assert await box.run_once() == 1
    assert delivered == [("m1", "wamid.out3")] and await box.pending() == 0
    clock.now += 100
    assert await box.run_once() == 0 and len(graph.calls) == 3  # sent once, never again


async def test_outbox_gives_up_after_its_attempts_and_on_a_permanent_refusal(
    redis: aioredis.Redis,
) -> None:
    graph = FlakyGraph(failures=100)
    box, clock, delivered = await outbox_with(redis, graph, retries=1)
    await queue(redis, box, "m2")
    for _ in range(5):
        clock.now += 60
        await box.run_once()
    assert len(graph.calls) == 2 and delivered == [] and await box.pending() == 0
    refused = FlakyGraph(failures=1, retryable=False)
    box, clock, delivered = await outbox_with(redis, refused)
    await queue(redis, box, "m3")
    clock.now += 60
    await box.run_once()
    assert len(refused.calls) == 1 and await box.pending() == 0


async def test_a_kick_makes_a_queued_reply_due_now(redis: aioredis.Redis) -> None:
    graph = FlakyGraph(failures=0)
    box, _, delivered = await outbox_with(redis, graph)
    await queue(redis, box, "m4")
    await box.kick("m4")
    assert await box.run_once() == 1 and delivered == [("m4", "wamid.out1")]


async def test_statuses_out_of_order_keep_the_furthest_and_failed_wins(
    redis: aioredis.Redis,
) -> None:
    metrics = AgentMetrics()
    store = StatusStore(redis, metrics)
    wamid = f"wamid.{uuid.uuid4().hex}"
    await store.record([StatusUpdate(wamid, "read", timestamp=3)])
    await store.record([StatusUpdate(wamid, "sent", timestamp=1)])
    await store.record([StatusUpdate(wamid, "delivered", timestamp=2)])
    got = await store.get(wamid)
    assert got["status"] == "read" and set(got["reported"]) == {"sent", "delivered", "read"}
    failed = f"wamid.{uuid.uuid4().hex}"
    await store.record(
        [StatusUpdate(failed, "sent"), StatusUpdate(failed, "failed", error_code=131047)]
    )
    assert (await store.get(failed))["status"] == "failed"
    assert "131047" in (await store.get(failed))["reported"]["failed"]
    assert metrics.whatsapp_statuses.labels(status="read")._value.get() == 1
    assert metrics.whatsapp_statuses.labels(status="sent")._value.get() == 2
