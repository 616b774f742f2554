"""Answer each inbound message id once: the first reply is stored and replayed for repeats.

Redis holds the replies for a day so duplicates are caught across restarts; while Redis
is down a bounded in-process map keeps catching retries that reach this process.

On the message API the Redis entry travels in the session's own round trips (read with
the session, written in the session's transaction), concurrently with the audit write.
Such an entry also carries the message's audit events: if the process dies after the
entry is stored but before its events are durable, the retry that finds the entry
records them again (inserts are idempotent on the event id), so a reply is never
acknowledged without its audit events.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from agent import codec

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Earlier:
    """The stored answer to a message id, and the audit events (as dicts) it produced."""

    reply: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    # WhatsApp: whether the reply really went out (False while it waits in the outbox).
    sent: bool = True
    wamid: str | None = None


class Deduplicator:
    """Stores replies by message id; ``seen`` returns the earlier reply for a repeat."""

    def __init__(self, redis: aioredis.Redis, ttl_s: int = 86_400, local_max: int = 10_000) -> None:
        self._redis = redis
        self.ttl_s = ttl_s
        self._local: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._local_max = local_max

    @staticmethod
    def _key(channel: str, message_id: str) -> str:
        return f"dedupe:{channel}:{message_id}"

    key = _key

    def local(self, channel: str, message_id: str) -> dict[str, Any] | None:
        """The reply this process stored for the id (its events are durable already)."""
        return self._local.get(self._key(channel, message_id))

    @staticmethod
    def decode(raw: bytes | str | None) -> Earlier | None:
        """An entry read from Redis; replies stored without events are plain reply dicts.

        A claim still being processed (``PROCESSING``) is no answer yet: None.
        """
        if not raw:
            return None
        data = codec.loads(raw)
        if isinstance(data, dict) and data.get("processing"):
            return None
        if isinstance(data, dict) and "reply" in data and "events" in data:
            return Earlier(
                data["reply"],
                data["events"],
                sent=bool(data.get("sent", True)),
                wamid=data.get("wamid"),
            )
        return Earlier(data)

    @staticmethod
    def processing(raw: bytes | str | None) -> bool:
        """Whether a raw entry is a claim whose message is still being answered."""
        if not raw:
            return False
        data = codec.loads(raw)
        return isinstance(data, dict) and bool(data.get("processing"))

    @staticmethod
    def encode(
        reply: dict[str, Any],
        events: list[dict[str, Any]],
        *,
        sent: bool = True,
        wamid: str | None = None,
    ) -> bytes:
        if sent and wamid is None:
            return codec.dumps({"reply": reply, "events": events})
        return codec.dumps({"reply": reply, "events": events, "sent": sent, "wamid": wamid})

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
        earlier = self.decode(raw)
        return earlier.reply if earlier else None

    def remember_local(self, channel: str, message_id: str, reply: dict[str, Any]) -> None:
        """Keep the reply in the bounded in-process map."""
        key = self._key(channel, message_id)
        self._local[key] = reply
        self._local.move_to_end(key)
        while len(self._local) > self._local_max:
            self._local.popitem(last=False)

    async def remember(self, channel: str, message_id: str, reply: dict[str, Any]) -> None:
        """Store the reply for this message id (in Redis when possible, locally always)."""
        self.remember_local(channel, message_id, reply)
        try:
            key = self._key(channel, message_id)
            await self._redis.set(key, json.dumps(reply, ensure_ascii=False), ex=self.ttl_s)
        except RedisError as exc:
            log.warning("dedupe_store_failed", error=str(exc))
