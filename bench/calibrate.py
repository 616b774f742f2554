"""How often comparisons are wrong: ``python -m bench.calibrate`` (``make calibrate``).

The same experiment runs ``--runs`` times with no fault in either window (its fault goes
to the null-fault proxy, which applies none) and ``--runs`` times with ``--added-ms`` of
latency on the PMS path, under an open-model load of availability questions, against a
throwaway agent whose PMS cache answers nothing from memory (no warmer, no per-night
composition, one-second entries), so every question is an uncached PMS lookup. Its
comparison claims "the median reply of those questions may rise at most
``--tolerance-ms``". Printed: the false DEGRADED rate without a fault, the detection rate
with it, and the requests per window.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from chaos.experiment.model import ensure_experiment
from chaos.experiment.runner import run_experiment
from chaos.lab.agents import temporary_agent
from chaos.lab.load import cold_cache
from chaos.nullproxy import NullFaultProxy
from chaos.stack.state import StackState, discover

# The agent's PMS cache, left with nothing to answer from: every question is a lookup.
UNCACHED = {
    "AGENT_PMS__CACHE_WARM_DAYS": "0",
    "AGENT_PMS__CACHE_COMPOSE_MAX_NIGHTS": "1",
    "AGENT_PMS__CACHE_AVAILABILITY_TTL_S": "1",
}


def experiment(added_ms: int, tolerance_ms: float, window_s: float, rate: float) -> dict[str, Any]:
    return {
        "name": "calibrate-pms-latency",
        "title": f"PMS +{added_ms} ms on uncached lookups",
        "purpose": "Calibration of the latency comparison.",
        "steady_state": [{"name": "live", "type": "http", "path": "/health/live"}],
        "method": [
            {
                "fault": {"proxy": "pms", "type": "latency", "attributes": {"latency": added_ms}},
                "start_s": 0,
                "duration_s": window_s,
            }
        ],
        "baseline_s": window_s,
        "settle_s": 1,
        "load": {
            "rate_per_s": rate,
            "guests": 20,
            "stays": 200,
            "skew": 0,
            "mix": ["availability"],
            "lead_days": 120,
            "whatsapp_share": 0,
        },
        "compare": [
            {"metric": "latency", "label": "availability", "max_increase": tolerance_ms / 1000},
            # What a run must also show for its fault to count as applied.
            {"metric": "latency", "label": "availability", "min_increase": added_ms / 2000},
        ],
    }


def one_run(state: StackState, spec: dict[str, Any], null: bool) -> dict[str, Any]:
    # Every run asks the same seeded questions: from a cold cache, each is a PMS lookup.
    cold_cache(state)
    exp = ensure_experiment(spec)
    if null:
        with NullFaultProxy(state.url("proxy_api")) as proxy:
            fake = dataclasses.replace(state, urls={**state.urls, "proxy_api": proxy.url})
            journal = run_experiment(exp, fake, progress=lambda _: None)
    else:
        journal = run_experiment(exp, state, progress=lambda _: None)
    claims = [v for v in journal.verdicts if "rises by <=" in v.expectation]
    if not claims:
        raise SystemExit(f"calibration run {journal.status} without a verdict: {journal.error}")
    claim = claims[0]
    return {
        "class": claim.observed.get("class"),
        "n_a": claim.observed.get("n_a"),
        "n_b": claim.observed.get("n_b"),
        "estimate_ms": round(1000 * (claim.observed.get("estimate") or 0.0), 2),
        "status": journal.status,
    }


def calibrate(
    runs: int,
    added_ms: int,
    tolerance_ms: float,
    window_s: float,
    rate: float,
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Run both conditions ``runs`` times; the rates and every run's figures."""
    spec = experiment(added_ms, tolerance_ms, window_s, rate)
    results: dict[str, list[dict[str, Any]]] = {"no_fault": [], "fault": []}
    with temporary_agent(discover(), UNCACHED) as state:
        for i in range(runs):
            for condition in ("no_fault", "fault"):
                result = one_run(state, spec, null=condition == "no_fault")
                results[condition].append(result)
                progress(
                    f"  run {i + 1:2d} {condition:8s} {result['class']:8s} shift "
                    f"{result['estimate_ms']:+7.2f} ms, n={result['n_a']}/{result['n_b']}"
                )
    degraded = {c: sum(r["class"] == "DEGRADED" for r in rs) for c, rs in results.items()}
    sizes = [r["n_a"] for rs in results.values() for r in rs if r["n_a"]] + [
        r["n_b"] for rs in results.values() for r in rs if r["n_b"]
    ]
    return {
        "runs": runs,
        "added_ms": added_ms,
        "tolerance_ms": tolerance_ms,
        "false_degraded": degraded["no_fault"],
        "false_positive_rate": degraded["no_fault"] / runs,
        "detected": degraded["fault"],
        "detection_rate": degraded["fault"] / runs,
        "requests_per_window": {"min": min(sizes, default=0), "max": max(sizes, default=0)},
        "results": results,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.calibrate", description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--added-ms", type=int, default=50)
    parser.add_argument("--tolerance-ms", type=float, default=20.0)
    parser.add_argument("--window-s", type=float, default=6.0)
    parser.add_argument("--rate", type=float, default=20.0, help="requests per second")
    parser.add_argument("--out", type=Path, default=Path("reports/calibration.json"))
    args = parser.parse_args(argv)
    began = time.monotonic()
    figures = calibrate(args.runs, args.added_ms, args.tolerance_ms, args.window_s, args.rate)
    figures["wall_s"] = round(time.monotonic() - began, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    size = figures["requests_per_window"]
    print(
        f"without a fault: {figures['false_degraded']} false DEGRADED in {args.runs} runs "
        f"({figures['false_positive_rate']:.0%}); with +{args.added_ms} ms on the PMS path: "
        f"DEGRADED in {figures['detected']} of {args.runs} ({figures['detection_rate']:.0%}); "
        f"{size['min']}-{size['max']} requests per window; tolerance {args.tolerance_ms:g} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
