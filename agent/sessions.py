"""Guest sessions in Redis: multi-turn context with a TTL and retried saves.

A session is one JSON value per guest (``session:{channel}:{guest_id}``) that expires
after ``ttl_s`` of silence. An index sorted set records when each session was last seen
so the periodic cleanup can drop index entries whose session has expired.

A message costs two Redis round trips: ``load`` reads the session together with any
other keys the caller names (the dedupe entry, cached PMS answers) in one MGET, and
``save`` writes the session, its index entry and any other values the caller adds
(the dedupe entry) in one MULTI/EXEC.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from agent import codec
from agent.exceptions import SessionStoreUnavailable
from agent.metrics import AgentMetrics
from agent.resilience.retry import RetryPolicy, Sleep
from agent.settings import SessionSettings

INDEX_KEY = "sessions:index"


def session_key(channel: str, guest_id: str) -> str:
    return f"session:{channel}:{guest_id}"


@dataclass
class Session:
    """A guest's conversation state."""

    guest_id: str
    channel: str
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    language: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, Any] | None = None
    clarifications: int = 0
    context: dict[str, Any] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        """The session as JSON values; shallow (``dataclasses.asdict`` deep-copies the history)."""
        return {
            "guest_id": self.guest_id,
            "channel": self.channel,
            "session_id": self.session_id,
            "language": self.language,
            "history": self.history,
            "pending": self.pending,
            "clarifications": self.clarifications,
            "context": self.context,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }

    def remember(self, role: str, text: str, limit: int, intent: str | None = None) -> None:
        """Append a turn to the history, keeping the newest ``limit`` turns."""
        self.history.append({"role": role, "text": text, "intent": intent, "at": time.time()})
        del self.history[:-limit]


def is_transient_redis_error(exc: BaseException) -> bool:
    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)


class SessionStore:
    """Loads and saves sessions; saves are retried on connection errors and timeouts."""

    def __init__(
        self,
        redis: aioredis.Redis,
        settings: SessionSettings,
        metrics: AgentMetrics,
        *,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._redis = redis
        self._settings = settings
        self._save_policy = RetryPolicy(
            "session.save",
            settings.retry,
            metrics,
            retry_on=is_transient_redis_error,
            sleep=sleep,
            on_retry=metrics.session_save_retries.inc,
        )

    async def load(self, guest_id: str, channel: str) -> Session:
        """The guest's session, a new one when none exists; raises when Redis fails."""
        session, _ = await self.load_with(guest_id, channel)
        return session

    async def load_with(
        self, guest_id: str, channel: str, also: Sequence[str] = ()
    ) -> tuple[Session, list[Any]]:
        """The session and the raw values of the keys ``also``, in one round trip (MGET)."""
        try:
            raws = await self._redis.mget([session_key(channel, guest_id), *also])
        except RedisError as exc:
            raise SessionStoreUnavailable(f"session load failed: {exc}") from exc
        raw = raws[0]
        if raw is None:
            return Session(guest_id=guest_id, channel=channel), list(raws[1:])
        return Session(**codec.loads(raw)), list(raws[1:])

    async def save(self, session: Session, also: Sequence[tuple[str, bytes, int]] = ()) -> None:
        """Persist the session with its TTL, plus ``also`` (key, value, TTL) in the same
        transaction, retrying transient Redis errors."""
        session.updated_at = time.time()
        payload = codec.dumps(session.to_dict())
        key = session_key(session.channel, session.guest_id)
        try:
            await self._save_policy.call(self._write, key, payload, session.updated_at, also)
        except RedisError as exc:
            raise SessionStoreUnavailable(f"session save failed: {exc}") from exc

    async def _write(
        self, key: str, payload: bytes, seen_at: float, also: Sequence[tuple[str, bytes, int]]
    ) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, payload, ex=self._settings.ttl_s)
            pipe.zadd(INDEX_KEY, {key: seen_at})
            for other, value, ttl_s in also:
                pipe.set(other, value, ex=ttl_s)
            await pipe.execute()

    async def cleanup(self, now: float | None = None) -> int:
        """Drop index entries older than the TTL; returns how many were removed."""
        cutoff = (now if now is not None else time.time()) - self._settings.ttl_s
        removed = await self._redis.zremrangebyscore(INDEX_KEY, "-inf", cutoff)
        return int(removed)

    async def active(self) -> int:
        """How many sessions were seen within the TTL."""
        return int(await self._redis.zcard(INDEX_KEY))
