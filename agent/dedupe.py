"""Answer each inbound message id once: the first reply is stored and replayed for repeats.

Redis holds the replies for a day so duplicates are caught across restarts; while Redis
is down a bounded in-process map keeps catching retries that reach this process.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)


class Deduplicator:
    """Stores replies by message id; ``seen`` returns the earlier reply for a repeat."""

    def __init__(self, redis: aioredis.Redis, ttl_s: int = 86_400, local_max: int = 10_000) -> None:
        self._redis = redis
        self._ttl_s = ttl_s
        self._local: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._local_max = local_max

    @staticmethod
    def _key(channel: str, message_id: str) -> str:
        return f"dedupe:{channel}:{message_id}"

    async def seen(self, channel: str, message_id: str) -> dict[str, Any] | None:
        """The stored reply for this message id, or ``None`` if it is new."""
        key = self._key(channel, message_id)
        if key in self._local:
            return self._local[key]
        try:
            raw = await self._redis.get(key)
        except RedisError as exc:
            log.warning("dedupe_lookup_failed", error=str(exc))
            return None
        return json.loads(raw) if raw else None

    async def remember(self, channel: str, message_id: str, reply: dict[str, Any]) -> None:
        """Store the reply for this message id (in Redis when possible, locally always)."""
        key = self._key(channel, message_id)
        self._local[key] = reply
        self._local.move_to_end(key)
        while len(self._local) > self._local_max:
            self._local.popitem(last=False)
        try:
            await self._redis.set(key, json.dumps(reply, ensure_ascii=False), ex=self._ttl_s)
        except RedisError as exc:
            log.warning("dedupe_store_failed", error=str(exc))
