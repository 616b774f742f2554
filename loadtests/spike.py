"""Spike: 5 guests for 30 s, 30 guests arriving at once for 20 s, back to 5 for 40 s.

Latency may rise during the burst; the thresholds ask that nothing fails and that the
tail stays bounded.
"""

from __future__ import annotations

from guests import ApiGuest, WhatsAppGuest

from chaos.load import locust_hooks, shapes

THRESHOLDS = {"p95_ms": 1500, "p99_ms": 4000, "error_ratio": 0.01, "min_rps": 2.0}
locust_hooks.install("spike", THRESHOLDS)


class SpikeShape(locust_hooks.StagesShape):
    stages = shapes.spike(base_users=5, peak_users=30, warm_s=30, spike_s=20, recover_s=40)


__all__ = ["ApiGuest", "SpikeShape", "WhatsAppGuest"]
