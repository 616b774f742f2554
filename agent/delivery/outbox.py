"""The outbox: replies Graph did not take (5xx, 429, timeout, no connection), retried
with exponential back-off until they go out or the attempts run out.

Items live in Redis (a sorted set of message ids scored by when each is due, and one
JSON value per item), so a restarted agent keeps retrying. Due items are leased
atomically (a Lua script moves their score ``lease_s`` ahead), so with several workers
each item is attempted by one; a worker that dies mid-send loses its lease and another
picks the item up. While Redis is unreachable, items wait in this process.

A send that timed out may still have reached Graph, so a retry can deliver a reply
twice; connection errors and 5xx answered before the request was handled cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from agent import codec
from agent.metrics import AgentMetrics
from agent.settings import RetrySettings
from agent.whatsapp import SendResult

log = structlog.get_logger(__name__)

QUEUE_KEY = "whatsapp:outbox"
ITEM_PREFIX = "whatsapp:outbox:item:"
LEASE_S = 30.0
BATCH = 50
_LEASE_DUE = """
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
for _, member in ipairs(items) do redis.call('ZADD', KEYS[1], ARGV[2], member) end
return items
"""

Send = Callable[[str, str], Awaitable[SendResult]]
OnSent = Callable[["OutboxItem", str], Awaitable[None]]


@dataclass
class OutboxItem:
    """One reply waiting to be sent; ``message_id`` is the inbound message it answers."""

    message_id: str
    channel: str
    to: str
    text: str
    attempts: int = 0
    queued_at: float = 0.0

    def encode(self) -> bytes:
        return codec.dumps(asdict(self))


def item_key(message_id: str) -> str:
    return ITEM_PREFIX + message_id


class Outbox:
    """Retries replies until Graph takes them; ``run`` drains it in the background."""

    def __init__(
        self,
        redis: aioredis.Redis,
        send: Send,
        metrics: AgentMetrics,
        retry: RetrySettings,
        *,
        on_sent: OnSent,
        interval_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._redis = redis
        self._send = send
        self._metrics = metrics
        self._retry = retry
        self._on_sent = on_sent
        self._interval_s = interval_s
        self._clock = clock
        self._lease = redis.register_script(_LEASE_DUE)
        self._local: dict[str, tuple[float, OutboxItem]] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def backoff_s(self, attempts: int) -> float:
        r = self._retry
        return min(r.backoff_max_s, r.backoff_base_s * r.backoff_factor ** max(0, attempts - 1))

    def staged(self, item: OutboxItem) -> list[tuple[str, bytes, float | None]]:
        """The writes that queue ``item`` (stored with the inbound message's answer)."""
        item.attempts = max(item.attempts, 1)
        due = self._clock() + self.backoff_s(item.attempts)
        return [
            (item_key(item.message_id), item.encode(), None),
            (QUEUE_KEY, item.message_id.encode(), due),
        ]

    def queued(self, item: OutboxItem, stored: bool) -> None:
        """Count a queued item; one Redis could not store waits in this process."""
        self._metrics.whatsapp_outbox.labels(outcome="queued").inc()
        if not stored:
            self._local[item.message_id] = (self._clock() + self.backoff_s(item.attempts), item)
        self._wake.set()

    async def kick(self, message_id: str) -> None:
        """Make a queued reply due now (a duplicate delivery asks for it again)."""
        if message_id in self._local:
            self._local[message_id] = (0.0, self._local[message_id][1])
        else:
            with contextlib.suppress(RedisError):
                await self._redis.zadd(QUEUE_KEY, {message_id: 0}, xx=True)
        self._wake.set()

    async def pending(self) -> int:
        """Replies waiting (in Redis and in this process)."""
        return int(await self._redis.zcard(QUEUE_KEY)) + len(self._local)

    async def run_once(self) -> int:
        """Attempt every due reply once; returns how many went out."""
        now = self._clock()
        due_local = [item for at, item in self._local.values() if at <= now]
        sent = 0
        for item in due_local:
            self._local.pop(item.message_id, None)
            sent += await self._attempt(item, redis_held=False)
        members = await self._lease(keys=[QUEUE_KEY], args=[now, now + LEASE_S, BATCH])
        for member in members:
            message_id = member.decode() if isinstance(member, bytes) else str(member)
            raw = await self._redis.get(item_key(message_id))
            if raw is None:
                await self._redis.zrem(QUEUE_KEY, message_id)
                continue
            sent += await self._attempt(OutboxItem(**codec.loads(raw)), redis_held=True)
        return sent

    async def _attempt(self, item: OutboxItem, *, redis_held: bool) -> int:
        result = await self._send(item.to, item.text)
        outcome = "sent" if result.ok else "failed"
        self._metrics.whatsapp_sends.labels(outcome=outcome).inc()
        item.attempts += 1
        if result.ok:
            self._metrics.whatsapp_outbox.labels(outcome="delivered").inc()
            await self._forget(item, redis_held)
            try:
                await self._on_sent(item, result.wamid or "")
            except RedisError as exc:
                log.warning("outbox_mark_sent_failed", error=str(exc))
            return 1
        if not result.retryable or item.attempts > self._retry.retries + 1:
            self._metrics.whatsapp_outbox.labels(outcome="given_up").inc()
            log.error("whatsapp_reply_undelivered", attempts=item.attempts, error=result.error)
            await self._forget(item, redis_held)
            return 0
        due = self._clock() + self.backoff_s(item.attempts)
        if redis_held:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(item_key(item.message_id), item.encode(), ex=86_400)
                pipe.zadd(QUEUE_KEY, {item.message_id: due})
                await pipe.execute()
        else:
            self._local[item.message_id] = (due, item)
        return 0

    async def _forget(self, item: OutboxItem, redis_held: bool) -> None:
        if redis_held:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zrem(QUEUE_KEY, item.message_id)
                pipe.delete(item_key(item.message_id))
                await pipe.execute()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            try:
                await self.run_once()
                self._metrics.whatsapp_outbox_pending.set(await self.pending())
            except RedisError as exc:  # retried next round
                log.warning("outbox_round_failed", error=str(exc))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="whatsapp-outbox")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
