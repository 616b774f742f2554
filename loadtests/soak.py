"""Soak: 8 guests for 30 minutes after a 1-minute ramp.

Long enough for cache entries to expire and refill many times, sessions to time out and
bookings to fill popular dates; the cache hit ratio threshold guards the steady state.
"""

from __future__ import annotations

from guests import ApiGuest, WhatsAppGuest

from chaos.load import locust_hooks, shapes

THRESHOLDS = {"p95_ms": 500, "p99_ms": 1500, "error_ratio": 0.005, "min_rps": 1.0,
              "min_cache_hit_ratio": 0.35}  # fmt: skip
locust_hooks.install("soak", THRESHOLDS)


class SoakShape(locust_hooks.StagesShape):
    stages = shapes.soak(users=8, duration_s=1800, ramp_s=60)


__all__ = ["ApiGuest", "SoakShape", "WhatsAppGuest"]
