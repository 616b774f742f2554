"""Claiming an inbound message id so that concurrent copies are answered once.

Meta delivers webhooks at least once and sometimes twice at the same moment. Checking
"seen?" before answering and recording after lets both copies through, so the id is
claimed atomically first: ``SET dedupe:{channel}:{id} {"processing": true} NX EX ttl``.
The copy that wins answers; a copy that loses waits (polling, or on an in-process future
when both reach the same process) for the winner's stored answer and replays nothing.

The marker expires after ``claim_ttl_s``: if the winner dies mid-answer, a later retry
from Meta is answered. While Redis is unreachable the claim is in-process only, which
still catches copies that reach this process.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from agent import codec
from agent.dedupe import Deduplicator, Earlier

log = structlog.get_logger(__name__)

MARKER = codec.dumps({"processing": True})


@dataclass(frozen=True)
class Claim:
    """Who answers: this copy (``owner``), or an earlier copy whose answer is ``earlier``.

    ``waited`` says the copy arrived while another was being answered; ``earlier`` is None
    with ``owner`` False when that other copy had not finished within the wait.
    """

    owner: bool
    earlier: Earlier | None = None
    waited: bool = False


class Claims:
    """Atomic claims on inbound message ids, and the answers stored under them."""

    def __init__(
        self,
        redis: aioredis.Redis,
        dedupe: Deduplicator,
        *,
        claim_ttl_s: int = 120,
        wait_s: float = 10.0,
        poll_s: float = 0.02,
    ) -> None:
        self._redis = redis
        self._dedupe = dedupe
        self._ttl_s = claim_ttl_s
        self._wait_s = wait_s
        self._poll_s = poll_s
        self._inflight: dict[str, asyncio.Future[Earlier | None]] = {}
        self._answers: dict[str, Earlier] = {}  # bounded like the dedupe's local map

    def key(self, channel: str, message_id: str) -> str:
        return self._dedupe.key(channel, message_id)

    async def claim(self, channel: str, message_id: str) -> Claim:
        """Claim the id, or wait for the copy that holds it."""
        key = self.key(channel, message_id)
        if key in self._answers:
            return Claim(owner=False, earlier=self._answers[key])
        pending = self._inflight.get(key)
        if pending is not None:
            try:
                earlier = await asyncio.wait_for(asyncio.shield(pending), self._wait_s)
            except TimeoutError:
                earlier = None
            return Claim(owner=False, earlier=earlier, waited=True)
        future: asyncio.Future[Earlier | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            claim = await self._claim_in_redis(key)
        except BaseException:
            self._settle(key, None)
            raise
        if not claim.owner:
            self._settle(key, claim.earlier)
        return claim

    async def _claim_in_redis(self, key: str) -> Claim:
        deadline = time.monotonic() + self._wait_s
        waited = False
        while True:
            try:
                if await self._redis.set(key, MARKER, nx=True, ex=self._ttl_s):
                    return Claim(owner=True, waited=waited)
                raw = await self._redis.get(key)
            except RedisError as exc:
                log.warning("claim_failed", error=str(exc))
                return Claim(owner=True, waited=waited)  # in-process claim only
            if raw is not None and not Deduplicator.processing(raw):
                return Claim(owner=False, earlier=Deduplicator.decode(raw), waited=waited)
            if raw is None:
                continue  # the marker expired or was released: claim again
            waited = True
            if time.monotonic() >= deadline:
                return Claim(owner=False, waited=True)
            await asyncio.sleep(self._poll_s)

    def _settle(self, key: str, earlier: Earlier | None) -> None:
        future = self._inflight.pop(key, None)
        if future is not None and not future.done():
            future.set_result(earlier)

    def _keep(self, key: str, earlier: Earlier) -> None:
        self._answers[key] = earlier
        while len(self._answers) > 10_000:
            self._answers.pop(next(iter(self._answers)))

    async def complete(
        self,
        channel: str,
        message_id: str,
        reply: dict[str, Any],
        events: list[dict[str, Any]],
        *,
        sent: bool,
        wamid: str | None = None,
        also: list[tuple[str, bytes, float | None]] | None = None,
    ) -> bool:
        """Store the answer under the id (replacing the claim) with ``also`` in one MULTI;
        False when Redis failed (the answer is then kept in-process only).

        ``also`` holds extra (key, value, score) writes: a score adds ``value`` to the
        sorted set ``key`` (the outbox) instead of setting it.
        """
        key = self.key(channel, message_id)
        earlier = Earlier(reply, events, sent=sent, wamid=wamid)
        self._keep(key, earlier)
        self._settle(key, earlier)
        entry = Deduplicator.encode(reply, events, sent=sent, wamid=wamid)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, entry, ex=self._dedupe.ttl_s)
                for other, value, score in also or []:
                    if score is None:
                        pipe.set(other, value, ex=self._dedupe.ttl_s)
                    else:
                        pipe.zadd(other, {value: score})
                await pipe.execute()
        except RedisError as exc:
            log.warning("claim_store_failed", error=str(exc))
            return False
        return True

    async def mark_sent(self, channel: str, message_id: str, wamid: str) -> None:
        """Record that a reply the outbox delivered went out."""
        key = self.key(channel, message_id)
        earlier = self._answers.get(key) or Deduplicator.decode(await self._redis.get(key))
        if earlier is None:
            return
        done = Earlier(earlier.reply, earlier.events, sent=True, wamid=wamid)
        self._keep(key, done)
        entry = Deduplicator.encode(done.reply, done.events, sent=True, wamid=wamid)
        await self._redis.set(key, entry, ex=self._dedupe.ttl_s)

    async def release(self, channel: str, message_id: str) -> None:
        """Give the id up unanswered (the answer failed), so a retry is answered."""
        key = self.key(channel, message_id)
        self._settle(key, None)
        try:
            await self._redis.delete(key)
        except RedisError as exc:
            log.warning("claim_release_failed", error=str(exc))
