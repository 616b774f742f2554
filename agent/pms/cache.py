"""Redis cache for PMS lookups, and single-flight for concurrent identical lookups.

Keys:
  ``pms:room_types``                                            fresh room types
  ``pms:availability:{check_in}:{check_out}:{guests}:{type|any}`` fresh availability
  ``pms:stale:<rest of the fresh key>``                         long-lived stale copy
  ``pms:index:availability:{night}``                            set of availability keys
                                                                covering that night
  ``pms:night:{night}`` and ``pms:stale:night:{night}``         one night's offers, kept
                                                                fresh by the warmer
                                                                (agent/pms/nights.py)
The per-night index lets a booking delete exactly the availability entries it can
change, without scanning the keyspace. Every Redis call is bounded by a short timeout
and never raises: a slow or dead Redis makes the cache miss, never the lookup fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import date, timedelta
from typing import Any, TypeVar
from urllib.parse import quote, unquote

import structlog
from redis.asyncio import Redis

from agent.pms.nights import PREFETCHED, night_key, stale_night_key

T = TypeVar("T")

ROOM_TYPES_KEY = "pms:room_types"
_STALE_PREFIX = "pms:stale:"
_INDEX_PREFIX = "pms:index:availability:"
# A booking longer than this cannot be valid; it bounds the index work per request.
MAX_INDEXED_NIGHTS = 366

log = structlog.get_logger("agent.pms.cache")


def availability_key(check_in: date, check_out: date, guests: int, room_type: str | None) -> str:
    """The fresh cache key of one availability lookup."""
    # Quoting keeps a guest-supplied room type from adding ':' separators to the key.
    kind = quote(room_type, safe="") if room_type else "any"
    return f"pms:availability:{check_in.isoformat()}:{check_out.isoformat()}:{guests}:{kind}"


def parse_availability_key(key: str) -> tuple[date, date, int, str | None] | None:
    """The stay an ``availability_key`` names, or None if ``key`` is not one."""
    parts = key.split(":")
    if len(parts) != 6 or parts[:2] != ["pms", "availability"]:
        return None
    try:
        check_in, check_out = date.fromisoformat(parts[2]), date.fromisoformat(parts[3])
        guests = int(parts[4])
    except ValueError:
        return None
    return check_in, check_out, guests, None if parts[5] == "any" else unquote(parts[5])


def stale_key(key: str) -> str:
    """The key of the long-lived stale copy of ``key``."""
    return _STALE_PREFIX + key.removeprefix("pms:")


def night_index_key(night: date) -> str:
    return _INDEX_PREFIX + night.isoformat()


def nights_between(check_in: date, check_out: date) -> list[date]:
    """The nights of a stay, capped at MAX_INDEXED_NIGHTS."""
    count = min(max((check_out - check_in).days, 0), MAX_INDEXED_NIGHTS)
    return [check_in + timedelta(days=i) for i in range(count)]


class PMSCache:
    """Bounded, failure-tolerant Redis operations for the PMS adapter."""

    def __init__(self, redis: Redis | None, *, timeout_s: float) -> None:
        self._redis = redis
        self._timeout_s = timeout_s
        self._healthy = True

    async def get(self, key: str) -> bytes | str | None:
        """The cached payload, or None on a miss or any Redis trouble."""
        redis = self._redis
        if redis is None:
            return None
        result: bytes | str | None = await self._run("get", lambda: redis.get(key))
        return result

    async def mget(self, keys: list[str]) -> list[Any]:
        """The payloads of ``keys`` (None for each on a miss or any Redis trouble).

        Values the request already read with its session (``PREFETCHED``) cost no round trip.
        """
        prefetched = PREFETCHED.get()
        if prefetched is not None and all(k in prefetched for k in keys):
            return [prefetched[k] for k in keys]
        redis = self._redis
        if redis is None or not keys:
            return [None] * len(keys)
        result = await self._run("mget", lambda: redis.mget(keys))
        return list(result) if result is not None else [None] * len(keys)

    async def store_night(
        self, night: date, payload: bytes, *, ttl_s: int, stale_ttl_s: int, fresh: bool
    ) -> None:
        """Write one night's entry (unless ``fresh`` is False) and its stale copy."""
        redis = self._redis
        if redis is None:
            return

        async def write() -> Any:
            pipe = redis.pipeline(transaction=False)
            if fresh:
                pipe.set(night_key(night), payload, ex=ttl_s)
            pipe.set(stale_night_key(night), payload, ex=stale_ttl_s)
            return await pipe.execute()

        await self._run("store_night", write)

    async def expiring_stays(self, nights: Iterable[date], within_s: float) -> list[str]:
        """Keys of the cached stay entries on ``nights`` that expire within ``within_s``,
        soonest first (two round trips: the night indexes, then each entry's TTL)."""
        redis = self._redis
        indexes = [night_index_key(n) for n in nights]
        if redis is None or not indexes:
            return []

        async def find() -> Any:
            members = sorted(await redis.sunion(indexes))
            if not members:
                return []
            pipe = redis.pipeline(transaction=False)
            for member in members:
                pipe.pttl(member)
            ttls = await pipe.execute()
            due = [(t, m) for m, t in zip(members, ttls, strict=True) if 0 < t < within_s * 1000]
            return [m.decode() if isinstance(m, bytes) else str(m) for _, m in sorted(due)]

        return list(await self._run("expiring", find) or [])

    async def claim(self, key: str, ttl_s: float) -> bool:
        """True for the one caller (of any process) that sets ``key`` first within ``ttl_s``."""
        redis = self._redis
        if redis is None:
            return True
        ok = await self._run("claim", lambda: redis.set(key, "1", nx=True, px=int(ttl_s * 1000)))
        return bool(ok)

    async def store(
        self,
        key: str,
        payload: bytes,
        *,
        ttl_s: int,
        stale_ttl_s: int,
        nights: Iterable[date] = (),
        fresh: bool = True,
    ) -> None:
        """Write the fresh entry (unless ``fresh`` is False) and its stale copy."""
        redis = self._redis
        if redis is None:
            return

        async def write() -> Any:
            pipe = redis.pipeline(transaction=False)
            if fresh:
                pipe.set(key, payload, ex=ttl_s)
                for night in nights:
                    index = night_index_key(night)
                    pipe.sadd(index, key)
                    pipe.expire(index, ttl_s)
            pipe.set(stale_key(key), payload, ex=stale_ttl_s)
            return await pipe.execute()

        await self._run("store", write)

    async def invalidate_nights(self, nights: Iterable[date]) -> list[str]:
        """Delete every fresh availability entry that covers one of ``nights``; returns the
        keys of the stay entries deleted."""
        redis = self._redis
        nights = list(nights)
        indexes = [night_index_key(n) for n in nights]
        if redis is None or not indexes:
            return []

        async def drop() -> Any:
            members = await redis.sunion(indexes)
            await redis.delete(*members, *indexes, *(night_key(n) for n in nights))
            return members

        members = await self._run("invalidate", drop) or ()
        return sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)

    async def _run(self, op: str, fn: Callable[[], Awaitable[Any]]) -> Any:
        try:
            async with asyncio.timeout(self._timeout_s):
                result = await fn()
        except Exception as exc:  # any cache failure degrades to a miss, by design
            if self._healthy:
                self._healthy = False
                log.warning("pms.cache_unavailable", op=op, error=type(exc).__name__)
            return None
        if not self._healthy:
            self._healthy = True
            log.info("pms.cache_recovered", op=op)
        return result


class SingleFlight:
    """Collapses concurrent calls with the same key into one execution.

    The shared call runs in its own task, shielded from the callers: one caller being
    cancelled does not cancel the call the others are waiting for.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    def in_flight(self, key: str) -> bool:
        return key in self._inflight

    async def do(self, key: str, fn: Callable[[], Awaitable[T]]) -> T:
        """Await ``fn()``, or the identical call already running under ``key``."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(fn())
            self._inflight[key] = task
            task.add_done_callback(lambda t: self._finished(key, t))
        result: T = await asyncio.shield(task)
        return result

    def _finished(self, key: str, task: asyncio.Task[Any]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]
        if not task.cancelled():
            task.exception()  # mark it retrieved even if every caller went away
