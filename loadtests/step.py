"""Step: 5 guests, then 5 more every 30 s up to 20 (2 minutes; --time-scale stretches it)."""

from __future__ import annotations

from guests import ApiGuest, WhatsAppGuest

from chaos.load import locust_hooks, shapes

THRESHOLDS = {"p95_ms": 800, "p99_ms": 2000, "error_ratio": 0.01, "min_rps": 2.0,
              "min_cache_hit_ratio": 0.35}  # fmt: skip
locust_hooks.install("step", THRESHOLDS)


class StepShape(locust_hooks.StagesShape):
    stages = shapes.step(start_users=5, increment=5, steps=4, step_s=30)


__all__ = ["ApiGuest", "StepShape", "WhatsAppGuest"]
