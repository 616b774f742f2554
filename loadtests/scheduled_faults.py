"""Load under a fault schedule: 8 guests for 4 minutes while the scenario breaks things.

Redis gets 150 ms of latency at minute 1, PostgreSQL goes down at minute 2, and both are
restored at minute 3; the last minute shows the recovery. Faults are always restored:
when the run ends, on the web UI's stop button, on Ctrl-C or SIGTERM, and at exit. The
real fault windows are written to ``<stats prefix>_faults.json`` next to the CSV/JSON.
Change the schedule with ``--fault-schedule`` and compress it with ``--time-scale``.

The guests must never see an error: replies may be slower or marked degraded, never 5xx.
"""

from __future__ import annotations

from guests import ApiGuest, WhatsAppGuest

from chaos.load import locust_hooks, shapes
from chaos.load.schedule import DEFAULT_SCHEDULE

THRESHOLDS = {"error_ratio": 0.0, "p99_ms": 5000, "min_rps": 1.0}
locust_hooks.install("scheduled_faults", THRESHOLDS, fault_schedule=DEFAULT_SCHEDULE)


class FaultWindowsShape(locust_hooks.StagesShape):
    stages = shapes.steady(users=8, duration_s=240, spawn_rate=4)


__all__ = ["ApiGuest", "FaultWindowsShape", "WhatsAppGuest"]
