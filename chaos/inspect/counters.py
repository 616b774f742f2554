"""Hit and miss counters at one instant: the agent's PMS cache and Redis's keyspace.

Cumulative counters, so a window is the difference of two readings (``Counters.minus``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis

from chaos.inspect.errors import InspectError
from chaos.inspect.sources import Scrape, scrape_agent

KINDS = ("availability", "room_types")


@dataclass(frozen=True)
class Counters:
    """Cumulative counters at one instant (app figures None when the agent is unreachable)."""

    app_hits: dict[str, float] | None
    app_misses: dict[str, float] | None
    stale_served: float | None
    agent_started_at: float | None
    redis_hits: float
    redis_misses: float
    evicted: float
    expired: float

    def minus(self, earlier: Counters) -> Counters:
        """The change since ``earlier``; a counter that went down (restart) counts from 0."""

        def d(now: float, before: float) -> float:
            return now - before if now >= before else now

        def dk(now: dict[str, float] | None, before: dict[str, float] | None) -> Any:
            if now is None or before is None:
                return None
            return {k: d(now.get(k, 0.0), before.get(k, 0.0)) for k in now}

        stale = (
            d(self.stale_served, earlier.stale_served)
            if self.stale_served is not None and earlier.stale_served is not None
            else None
        )
        return Counters(
            dk(self.app_hits, earlier.app_hits),
            dk(self.app_misses, earlier.app_misses),
            stale,
            self.agent_started_at,
            d(self.redis_hits, earlier.redis_hits),
            d(self.redis_misses, earlier.redis_misses),
            d(self.evicted, earlier.evicted),
            d(self.expired, earlier.expired),
        )


def _app_counters(scrape: Scrape) -> tuple[dict[str, float], dict[str, float], float, float | None]:
    hits = {k: scrape.total("pms_cache_hits_total", kind=k) or 0.0 for k in KINDS}
    misses = {k: scrape.total("pms_cache_misses_total", kind=k) or 0.0 for k in KINDS}
    if scrape.total("pms_cache_hits_total") is None:
        raise InspectError("the agent's /metrics has no pms_cache_hits_total")
    stale = scrape.total("pms_cache_stale_served_total") or 0.0
    created = scrape.samples.get("pms_cache_hits_created")
    started = min(v for _, v in created) if created else None
    return hits, misses, stale, started


def read_counters(
    client: redis.Redis, agent_url: str | None, timeout_s: float
) -> tuple[Counters, str | None]:
    """Counters now, and why the agent's part is missing (None when it answered)."""
    hits = misses = None
    stale = started = None
    error = None
    if agent_url:
        try:
            hits, misses, stale, started = _app_counters(
                scrape_agent(agent_url, timeout_s=timeout_s)
            )
        except InspectError as exc:
            error = str(exc)
    info = client.info("stats")
    return (
        Counters(
            hits,
            misses,
            stale,
            started,
            float(info.get("keyspace_hits", 0)),
            float(info.get("keyspace_misses", 0)),
            float(info.get("evicted_keys", 0)),
            float(info.get("expired_keys", 0)),
        ),
        error,
    )
