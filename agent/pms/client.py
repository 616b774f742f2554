"""The agent's PMS adapter: the HTTP calls of agent/pms/transport.py, plus the cache.

Room types and availability are cached in Redis with a stale copy that
is served while the PMS is unavailable; bookings and late checkout are never cached.
Availability is first composed from per-night entries kept fresh by the warmer
(agent/pms/nights.py, agent/pms/warmer.py); a stay they cannot prove is looked up whole.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from types import TracebackType
from typing import TypeVar

import httpx
import structlog
from pydantic import TypeAdapter, ValidationError
from redis.asyncio import Redis

from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.metrics import AgentMetrics
from agent.pms import nights as per_night
from agent.pms.cache import (
    ROOM_TYPES_KEY,
    PMSCache,
    SingleFlight,
    availability_key,
    nights_between,
    parse_availability_key,
    stale_key,
)
from agent.pms.models import Booking, Lookup, RoomOffer, RoomType
from agent.pms.transport import PMSTransport, Sleep
from agent.settings import PMSSettings

T = TypeVar("T")

log = structlog.get_logger("agent.pms")
# The PMS refuses parties above this, so composing an answer for one would be wrong.
_MAX_GUESTS = 10
_SLUG = re.compile(r"^[a-z0-9_-]{1,32}$")
# How long a booking's reply may wait for the entries it dropped to be fetched again.
_REFETCH_WAIT_S = 0.5
_ROOM_TYPES = TypeAdapter(list[RoomType])
_OFFERS = TypeAdapter(list[RoomOffer])


class PMSClient(PMSTransport):
    """Async adapter for the hotel's PMS (the simulator's QloApps-like REST API)."""

    def __init__(
        self,
        settings: PMSSettings,
        metrics: AgentMetrics,
        redis: Redis | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache_timeout_s: float = 0.25,
        today: Callable[[], date] = date.today,
    ) -> None:
        super().__init__(settings, metrics, transport=transport, sleep=sleep, clock=clock)
        self._today = today
        self._cache = PMSCache(redis, timeout_s=cache_timeout_s)
        self._flights = SingleFlight()
        # Bumped by every booking; a lookup that started before one does not cache as fresh.
        self._epoch = 0
        # Set by the warmer: refresh invalidated or missing nights at once, in the background.
        self.refresh_in_background = False
        self._background: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> PMSClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool (the Redis client belongs to the caller)."""
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        await super().aclose()

    # Lookups (cached)

    async def room_types(self) -> Lookup[list[RoomType]]:
        """Every room type, from Redis when fresh, else the PMS, else the stale copy."""

        async def fetch() -> list[RoomType]:
            data = await self._get_json("room_types", "/api/v1/room-types")
            return self._parse(_ROOM_TYPES, data.get("room_types"), "room_types")

        return await self._lookup(
            "room_types",
            ROOM_TYPES_KEY,
            _ROOM_TYPES,
            fetch,
            ttl_s=self._settings.cache_room_types_ttl_s,
            nights=[],
        )

    async def availability(
        self, check_in: date, check_out: date, guests: int, room_type: str | None = None
    ) -> Lookup[list[RoomOffer]]:
        """Offers per room type for a stay: composed from fresh nights, else the stay's
        cached entry (one per stay, every room type for one guest, filtered for the
        party here), else the PMS."""
        composed = await self._composed(check_in, check_out, guests, room_type)
        if composed is not None:
            self._metrics.pms_cache_hits.labels(kind="availability").inc()
            return Lookup(composed, "cache")
        whole = guests <= _MAX_GUESTS and (room_type is None or _SLUG.match(room_type))
        # A party or room type the PMS would refuse is asked as it is, to get its answer.
        asked = (1, None) if whole else (guests, room_type)
        try:
            lookup = await self._lookup(
                "availability",
                availability_key(check_in, check_out, *asked),
                _OFFERS,
                self._stay_fetch(check_in, check_out, *asked),
                ttl_s=self._settings.cache_availability_ttl_s,
                nights=nights_between(check_in, check_out),
            )
        except PMSUnavailable:
            # No stale copy of the stay: compose one from the nights' stale copies.
            composed = None
            if whole:
                composed = await self._composed(check_in, check_out, guests, room_type, stale=True)
            if composed is None:
                raise
            self._metrics.pms_cache_stale_served.inc()
            log.info("pms.stale_served", kind="availability", composed=True)
            return Lookup(composed, "stale")
        if not whole:
            return lookup
        if room_type is not None and all(o.room_type != room_type for o in lookup.value):
            # Every room type holds one guest, so one missing here is unknown to the PMS.
            raise PMSNotFound(404, f"unknown room type {room_type!r}")
        return Lookup(per_night.for_party(lookup.value, guests, room_type), lookup.source)

    def _stay_fetch(
        self,
        check_in: date,
        check_out: date,
        guests: int,
        room_type: str | None,
        *,
        retry: bool = True,
    ) -> Callable[[], Awaitable[list[RoomOffer]]]:
        params: dict[str, str | int] = {
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
        }
        if room_type:
            params["room_type"] = room_type

        async def fetch() -> list[RoomOffer]:
            data = await self._get_json(
                "availability", "/api/v1/availability", params=params, retry=retry
            )
            return self._parse(_OFFERS, data.get("offers"), "availability")

        return fetch

    async def refresh_stay(self, key: str, *, quiet: bool = True) -> None:
        """Fetch a stay's whole entry again (one attempt). ``quiet`` logs a PMS failure
        instead of raising it (background refetches after a booking)."""
        stay = parse_availability_key(key)
        if stay is None:
            return
        check_in, check_out, guests, room_type = stay
        fetch = self._stay_fetch(check_in, check_out, guests, room_type, retry=False)
        ttl_s = self._settings.cache_availability_ttl_s
        nights = nights_between(check_in, check_out)
        try:
            await self._flights.do(
                key, lambda: self._fetch_and_store(key, _OFFERS, fetch, ttl_s, nights)
            )
        except (PMSUnavailable, PMSRejected) as exc:
            if not quiet:
                raise
            log.info("pms.stay_refresh_failed", error=type(exc).__name__)

    def lookup_keys(self, check_in: date, check_out: date | None) -> list[str]:
        """The cache keys an availability lookup for the stay reads first (for prefetching)."""
        check_out = check_out or date.fromordinal(check_in.toordinal() + 1)
        if not self._composable(check_in, check_out):
            return []
        nights = per_night.stay_nights(check_in, check_out)
        return [ROOM_TYPES_KEY, *(per_night.night_key(n) for n in nights)]

    def _composable(self, check_in: date, check_out: date) -> bool:
        count = (check_out - check_in).days
        limit = self._settings.cache_compose_max_nights
        return 0 < count <= limit and check_in >= self._today()

    async def _composed(
        self,
        check_in: date,
        check_out: date,
        guests: int,
        room_type: str | None,
        *,
        stale: bool = False,
    ) -> list[RoomOffer] | None:
        """The stay's offers composed from fresh per-night entries (or, with ``stale``,
        from their long-lived copies), or None."""
        if guests > _MAX_GUESTS:
            return None
        keys = self.lookup_keys(check_in, check_out)
        if not keys:
            return None
        if stale:
            keys = [stale_key(ROOM_TYPES_KEY), *(per_night.stale_night_key(n) for n in
                    per_night.stay_nights(check_in, check_out))]  # fmt: skip
        nights = per_night.stay_nights(check_in, check_out)
        raws = await self._cache.mget(keys)
        entries = [per_night.decode_night(raw) for raw in raws[1:]]
        # Fresh by this agent's TTL, whoever wrote the entry (agents may differ).
        oldest = 0.0 if stale else time.time() - self._settings.cache_availability_ttl_s
        if stale and any(e is None for e in entries):
            return None
        if any(e is None or e.at < oldest for e in entries):
            self._refresh_soon(
                [n for n, e in zip(nights, entries, strict=True) if e is None or e.at < oldest]
            )
            return None
        room_types = per_night.decode_room_types(raws[0]) or ()
        rooms = {rt.slug: rt.rooms for rt in room_types}
        offers = per_night.compose([e.offers for e in entries if e is not None], rooms)
        if offers is None or (room_type is not None and room_type not in rooms):
            return None
        return per_night.for_party(offers, guests, room_type)

    # Warming (agent/pms/warmer.py drives these)

    async def refresh_night(self, night: date) -> None:
        """Fetch one night from the PMS (one attempt, no retries) and cache it."""

        async def fetch_and_store() -> None:
            epoch = self._epoch
            params: dict[str, str | int] = {
                "check_in": night.isoformat(),
                "check_out": date.fromordinal(night.toordinal() + 1).isoformat(),
                "guests": 1,
            }
            data = await self._get_json(
                "availability", "/api/v1/availability", params=params, retry=False
            )
            offers = self._parse(_OFFERS, data.get("offers"), "availability")
            entry = per_night.NightEntry(at=time.time(), offers=tuple(offers))
            await self._cache.store_night(
                night,
                per_night.NIGHT_ENTRY.dump_json(entry),
                ttl_s=self._settings.cache_availability_ttl_s,
                stale_ttl_s=self._settings.cache_stale_ttl_s,
                fresh=epoch == self._epoch,
            )

        await self._flights.do(per_night.night_key(night), fetch_and_store)

    def _refresh_soon(
        self, nights: list[date], stays: Sequence[str] = ()
    ) -> list[asyncio.Task[None]]:
        """With the warmer running, fetch these nights (and stay entries, by key) now in
        the background, so the next lookup hits instead of waiting for the next round."""
        if not self.refresh_in_background:
            return []
        work = [self._refresh_quietly(n) for n in nights] + [self.refresh_stay(k) for k in stays]
        tasks = [asyncio.create_task(job) for job in work]
        for task in tasks:
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        return tasks

    async def _refresh_quietly(self, night: date) -> None:
        try:
            await self.refresh_night(night)
        except (PMSUnavailable, PMSRejected) as exc:
            log.info("pms.night_refresh_failed", error=type(exc).__name__)

    async def refresh_room_types(self) -> None:
        """Fetch the room types (one attempt, no retries) and cache them."""
        data = await self._get_json("room_types", "/api/v1/room-types", retry=False)
        value = self._parse(_ROOM_TYPES, data.get("room_types"), "room_types")
        await self._cache.store(
            ROOM_TYPES_KEY,
            _ROOM_TYPES.dump_json(value),
            ttl_s=self._settings.cache_room_types_ttl_s,
            stale_ttl_s=self._settings.cache_stale_ttl_s,
        )

    @property
    def cache(self) -> PMSCache:
        return self._cache

    @property
    def settings(self) -> PMSSettings:
        return self._settings

    # Bookings and late checkout (never cached)

    async def create_booking(
        self,
        *,
        room_type: str,
        check_in: date,
        check_out: date,
        guests: int,
        guest_name: str,
        guest_id: str,
    ) -> Booking:
        """Book a room; raises PMSRejected with status 409 when none is free."""
        body = {
            "room_type": room_type,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
            "guest_name": guest_name,
            "guest_id": guest_id,
        }
        # One key for every retry of this booking, so the PMS books it at most once.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        try:
            response = await self._send(
                "create_booking", "POST", "/api/v1/bookings", json=body, headers=headers
            )
        except PMSUnavailable:
            # The PMS may have booked before the answer was lost.
            await self._invalidate_availability(check_in, check_out)
            raise
        booking = self._parse_model(Booking, response, "create_booking")
        refetching = await self._invalidate_availability(booking.check_in, booking.check_out)
        if refetching:
            # The booking's reply waits (briefly) for the dropped entries to come back, so
            # the guests asking next about these dates find them instead of missing.
            await asyncio.wait(refetching, timeout=_REFETCH_WAIT_S)
        return booking

    # Internals

    async def _lookup(
        self,
        kind: str,
        key: str,
        adapter: TypeAdapter[list[T]],
        fetch: Callable[[], Awaitable[list[T]]],
        *,
        ttl_s: int,
        nights: list[date],
    ) -> Lookup[list[T]]:
        cached = self._decode(adapter, await self._cache.get(key))
        if cached is not None:
            self._metrics.pms_cache_hits.labels(kind=kind).inc()
            return Lookup(cached, "cache")
        self._metrics.pms_cache_misses.labels(kind=kind).inc()
        try:
            value = await self._flights.do(
                key, lambda: self._fetch_and_store(key, adapter, fetch, ttl_s, nights)
            )
        except PMSUnavailable:
            stale = self._decode(adapter, await self._cache.get(stale_key(key)))
            if stale is None:
                raise
            self._metrics.pms_cache_stale_served.inc()
            log.info("pms.stale_served", kind=kind)
            return Lookup(stale, "stale")
        # Each caller gets its own list; the single-flight result is shared.
        return Lookup(list(value), "pms")

    async def _fetch_and_store(
        self,
        key: str,
        adapter: TypeAdapter[list[T]],
        fetch: Callable[[], Awaitable[list[T]]],
        ttl_s: int,
        nights: list[date],
    ) -> list[T]:
        epoch = self._epoch
        value = await fetch()
        await self._cache.store(
            key,
            adapter.dump_json(value),
            ttl_s=ttl_s,
            stale_ttl_s=self._settings.cache_stale_ttl_s,
            nights=nights,
            fresh=epoch == self._epoch,
        )
        return value

    def _decode(self, adapter: TypeAdapter[list[T]], raw: bytes | str | None) -> list[T] | None:
        if raw is None:
            return None
        try:
            return adapter.validate_json(raw)
        except ValidationError:
            log.warning("pms.cache_entry_invalid")
            return None

    async def _invalidate_availability(
        self, check_in: date, check_out: date
    ) -> list[asyncio.Task[None]]:
        self._epoch += 1
        nights = nights_between(check_in, check_out)
        stays = await self._cache.invalidate_nights(nights)
        today = self._today()
        warmed = [n for n in nights[: self._settings.cache_warm_days] if n >= today]
        # The stays guests asked for come back at once too: popular dates stay cached.
        return self._refresh_soon(warmed, stays)
