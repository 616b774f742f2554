"""Refresh-ahead for the PMS cache: per-night availability for the coming weeks.

Every ``cache_refresh_interval_s`` one process (a short Redis claim picks it among the
workers) reads the night entries for ``cache_warm_days`` nights from today and the room
types in one MGET, and fetches from the PMS those missing or older than
``cache_refresh_ahead`` of their TTL, a few at a time, one attempt each under the PMS
breaker. A failure ends the round: an unavailable PMS is asked once per round, not once
per night. Guests' lookups then compose any stay from fresh nights (agent/pms/nights.py).

Stays the nights cannot prove (rooms taken on several of their nights) are cached whole
when a guest asks; the round also refreshes, ahead of expiry, up to ``STAYS_PER_ROUND``
such entries, soonest to expire first, so popular stays keep hitting.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from datetime import date, timedelta

import structlog

from agent.exceptions import PMSRejected, PMSUnavailable
from agent.metrics import AgentMetrics
from agent.pms.cache import ROOM_TYPES_KEY
from agent.pms.client import PMSClient
from agent.pms.nights import decode_night, night_key

log = structlog.get_logger("agent.pms.warmer")
CLAIM_KEY = "pms:warm:claim"
PARALLEL_FETCHES = 4
STAYS_PER_ROUND = 32


class CacheWarmer:
    """Keeps the next ``cache_warm_days`` nights fresh in Redis."""

    def __init__(self, pms: PMSClient, metrics: AgentMetrics) -> None:
        self._pms = pms
        self._metrics = metrics
        self._task: asyncio.Task[None] | None = None

    async def refresh_once(self, today: date | None = None, *, claim: bool = True) -> int:
        """One round; returns how many entries were fetched from the PMS."""
        s = self._pms.settings
        if s.cache_warm_days == 0:
            return 0
        if claim and not await self._pms.cache.claim(CLAIM_KEY, s.cache_refresh_interval_s * 0.9):
            return 0  # another worker (or process) warms this round
        today = today or date.today()
        nights = [today + timedelta(days=i) for i in range(s.cache_warm_days)]
        raws = await self._pms.cache.mget([ROOM_TYPES_KEY, *(night_key(n) for n in nights)])
        due_after = time.time() - s.cache_availability_ttl_s * s.cache_refresh_ahead
        due = [
            n
            for n, raw in zip(nights, raws[1:], strict=True)
            if (entry := decode_night(raw)) is None or entry.at < due_after
        ]
        fetched = 0
        try:
            if raws[0] is None:
                await self._pms.refresh_room_types()
                fetched += 1
            for start in range(0, len(due), PARALLEL_FETCHES):
                batch = due[start : start + PARALLEL_FETCHES]
                await asyncio.gather(*(self._pms.refresh_night(n) for n in batch))
                fetched += len(batch)
            window_s = s.cache_availability_ttl_s * (1 - s.cache_refresh_ahead)
            stays = await self._pms.cache.expiring_stays(nights, window_s)
            for start in range(0, min(len(stays), STAYS_PER_ROUND), PARALLEL_FETCHES):
                keys = stays[start : min(start + PARALLEL_FETCHES, STAYS_PER_ROUND)]
                await asyncio.gather(*(self._pms.refresh_stay(k, quiet=False) for k in keys))
                fetched += len(keys)
        except (PMSUnavailable, PMSRejected) as exc:
            self._metrics.pms_cache_refreshes.labels(outcome="failed").inc()
            log.info("pms.warm_round_stopped", error=type(exc).__name__, fetched=fetched)
        self._metrics.pms_cache_refreshes.labels(outcome="fetched").inc(fetched)
        return fetched

    def start(self) -> None:
        """Run a round now and then every ``cache_refresh_interval_s``."""

        async def loop() -> None:
            while True:
                try:
                    await self.refresh_once()
                except Exception:  # the loop must outlive any single failure
                    log.exception("pms.warm_round_failed")
                await asyncio.sleep(self._pms.settings.cache_refresh_interval_s)

        if self._pms.settings.cache_warm_days > 0:
            self._pms.refresh_in_background = True
            self._task = asyncio.create_task(loop(), name=f"pms-cache-warmer-{os.getpid()}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
