"""Steady: a constant number of guests (from -u/-r/-t, or loadtests/locust.conf).

The default scenario of ``make load`` and of ``chaoslab run NAME --load steady``.
"""

from __future__ import annotations

from guests import ApiGuest, WhatsAppGuest

from chaos.load import locust_hooks

# Judged on the native lab stack (2 cores, Locust on the same machine); see README.md.
THRESHOLDS = {
    "p95_ms": 500,
    "p99_ms": 1500,
    "error_ratio": 0.01,
    "min_rps": 1.0,
    "min_cache_hit_ratio": 0.35,
}
locust_hooks.install("steady", THRESHOLDS)

__all__ = ["ApiGuest", "WhatsAppGuest"]
