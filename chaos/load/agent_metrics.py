"""The few agent metrics a load run reports: PMS cache hits and misses, breaker states.

Kept free of pandas (unlike ``chaos.observe``) because it runs inside Locust processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class AgentReading:
    """Counters summed over their labels, and gauges, from one scrape of ``/metrics``."""

    cache_hits: float
    cache_misses: float
    stale_served: float
    audit_breaker_state: float | None
    audit_fallback_pending: float | None

    @property
    def lookups(self) -> float:
        return self.cache_hits + self.cache_misses


def parse(text: str) -> AgentReading:
    """Read the PMS cache counters and audit gauges out of Prometheus exposition text."""
    sums = {
        "pms_cache_hits_total": 0.0,
        "pms_cache_misses_total": 0.0,
        "pms_cache_stale_served_total": 0.0,
    }
    gauges: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in sums:
                sums[sample.name] += float(sample.value)
            elif sample.name in ("audit_circuit_breaker_state", "audit_fallback_pending"):
                gauges[sample.name] = float(sample.value)
    return AgentReading(
        sums["pms_cache_hits_total"],
        sums["pms_cache_misses_total"],
        sums["pms_cache_stale_served_total"],
        gauges.get("audit_circuit_breaker_state"),
        gauges.get("audit_fallback_pending"),
    )


def read(agent_url: str, timeout_s: float = 5.0) -> AgentReading:
    """Scrape ``{agent_url}/metrics`` once."""
    response = httpx.get(f"{agent_url.rstrip('/')}/metrics", timeout=timeout_s)
    response.raise_for_status()
    return parse(response.text)


def cache_hit_ratio(before: AgentReading, after: AgentReading) -> float | None:
    """Hits / lookups between two readings; ``None`` when there was no lookup (or a restart)."""
    hits = after.cache_hits - before.cache_hits
    lookups = after.lookups - before.lookups
    if lookups <= 0 or hits < 0:
        return None
    return hits / lookups
