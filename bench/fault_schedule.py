"""How late faults start and end against their plan: ``python -m bench.fault_schedule``.

Drives the experiments' own ``FaultScheduler`` against the running stack's proxy with a
dense schedule (short toxics back to back on every proxy) while steady-state probes run
beside it, as in an experiment, and prints the lag from each planned start or end to the
proxy's confirmation: p50, p99 and max over every start and end.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from pathlib import Path

from chaos.experiment.model import Probe
from chaos.experiment.probes import run_probe
from chaos.faults import Fault, FaultScheduler, FaultWindow, verify_clean
from chaos.metrics import quantile
from chaos.stack.state import discover
from chaos.toxiproxy import ToxiproxyClient


def measure(windows: int, hold_s: float, gap_s: float) -> dict[str, float]:
    """Lags (ms) of ``windows`` faults, each held ``hold_s`` with ``gap_s`` between starts."""
    state = discover()
    faults = [
        Fault("redis", "latency", {"latency": 1}),
        Fault("postgres", "latency", {"latency": 1}),
        Fault("pms", "down"),
    ]
    plan = [FaultWindow(i * gap_s, i * gap_s + hold_s, faults[i % 3]) for i in range(windows)]
    probe = Probe("guest", "message", {"text": "Hola"})
    stop = threading.Event()

    def probing() -> None:  # what an experiment's probe thread does meanwhile
        while not stop.is_set():
            run_probe(probe, "during", state.url("agent"))
            stop.wait(0.2)

    with ToxiproxyClient(state.url("proxy_api")) as client:
        if verify_clean(client):
            raise SystemExit("the proxy is not clean; run `chaoslab status`")
        scheduler = FaultScheduler(client, plan)
        prober = threading.Thread(target=probing, daemon=True)
        prober.start()
        try:
            scheduler.run(threading.Event())
        finally:
            stop.set()
            scheduler.restore()
            prober.join(5)
        lags = [
            (r.started_at - r.planned_start_at) * 1000
            for r in scheduler.records
            if r.started_at and r.planned_start_at
        ] + [
            (r.ended_at - r.planned_end_at) * 1000
            for r in scheduler.records
            if r.ended_at and r.planned_end_at
        ]
    return {
        "events": len(lags),
        "p50_ms": round(quantile(lags, 0.5), 2),
        "p99_ms": round(quantile(lags, 0.99), 2),
        "max_ms": round(max(lags), 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fault_schedule", description=__doc__)
    parser.add_argument("--windows", type=int, default=150)
    parser.add_argument("--hold-s", type=float, default=0.2)
    parser.add_argument("--gap-s", type=float, default=0.1)
    parser.add_argument("--out", type=Path, default=Path("reports/fault_schedule.json"))
    args = parser.parse_args(argv)
    began = time.monotonic()
    figures = measure(args.windows, args.hold_s, args.gap_s)
    figures["wall_s"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    print(
        f"fault schedule lag over {figures['events']} starts and ends: p50 {figures['p50_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, max {figures['max_ms']} ms (probes running beside it)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
