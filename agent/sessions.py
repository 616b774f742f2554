"""Guest sessions in Redis: multi-turn context with a TTL and retried saves.

A session is one JSON value per guest (``session:{channel}:{guest_id}``) that expires
after ``ttl_s`` of silence. An index sorted set records when each session was last seen
so the periodic cleanup can drop index entries whose session has expired.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
        try:
            raw = await self._redis.get(session_key(channel, guest_id))
        except RedisError as exc:
            raise SessionStoreUnavailable(f"session load failed: {exc}") from exc
        if raw is None:
            return Session(guest_id=guest_id, channel=channel)
        data = json.loads(raw)
        return Session(**data)

    async def save(self, session: Session) -> None:
        """Persist the session with its TTL, retrying transient Redis errors."""
        session.updated_at = time.time()
        payload = json.dumps(asdict(session), ensure_ascii=False)
        key = session_key(session.channel, session.guest_id)
        try:
            await self._save_policy.call(self._write, key, payload, session.updated_at)
        except RedisError as exc:
            raise SessionStoreUnavailable(f"session save failed: {exc}") from exc

    async def _write(self, key: str, payload: str, seen_at: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, payload, ex=self._settings.ttl_s)
            pipe.zadd(INDEX_KEY, {key: seen_at})
            await pipe.execute()

    async def cleanup(self, now: float | None = None) -> int:
        """Drop index entries older than the TTL; returns how many were removed."""
        cutoff = (now if now is not None else time.time()) - self._settings.ttl_s
        removed = await self._redis.zremrangebyscore(INDEX_KEY, "-inf", cutoff)
        return int(removed)

    async def active(self) -> int:
        """How many sessions were seen within the TTL."""
        return int(await self._redis.zcard(INDEX_KEY))
