"""From a breached guardrail to a clean proxy: ``python -m bench.guardrails``.

Runs a short experiment ``--trials`` times against the running stack: Redis 400 ms slower
under an open-model load, and a guardrail that stops the run when the p90 reply over the
last second passes 0.5 s. Each run records when the guardrail saw the breach and when the
proxy read back clean (every toxic removed, every proxy enabled); printed: p50, p99 and
max of that time, and how late the breach was seen after the fault started.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from chaos.experiment.model import ensure_experiment
from chaos.experiment.runner import run_experiment
from chaos.metrics import quantile
from chaos.stack.state import discover

EXPERIMENT: dict[str, Any] = {
    "name": "bench-guardrail",
    "title": "A guardrail stops slow Redis",
    "purpose": "Breach-to-clean time of a guardrail.",
    "steady_state": [],
    "method": [
        {
            "fault": {"proxy": "redis", "type": "latency", "attributes": {"latency": 400}},
            "start_s": 0,
            "duration_s": 30,
        }
    ],
    "baseline_s": 0.5,
    "settle_s": 0.5,
    "load": {"rate_per_s": 20, "whatsapp_share": 0},
    "expectations": [{"session_save_retries": {"min": 1}}],
    "abort_when": [{"metric": "latency", "quantile": 0.9, "window_s": 1, "above": 0.5}],
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.guardrails", description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("reports/guardrails.json"))
    args = parser.parse_args(argv)
    state, exp = discover(), ensure_experiment(EXPERIMENT)
    to_clean, to_breach, statuses = [], [], []
    began = time.monotonic()
    for _ in range(args.trials):
        journal = run_experiment(exp, state, progress=lambda _: None, steady_wait_s=0)
        statuses.append(journal.status)
        abort = journal.abort or {}
        if abort.get("clean_at") and journal.fault_window:
            to_clean.append(abort["clean_at"] - abort["breached_at"])
            to_breach.append(abort["breached_at"] - journal.fault_window[0])
    figures = {
        "trials": args.trials,
        "aborted": statuses.count("aborted"),
        "breach_to_clean_s": {
            "p50": round(quantile(to_clean, 0.5), 3),
            "p99": round(quantile(to_clean, 0.99), 3),
            "max": round(max(to_clean), 3),
        }
        if to_clean
        else None,
        "fault_to_breach_s_p50": round(quantile(to_breach, 0.5), 3) if to_breach else None,
        "wall_s": round(time.monotonic() - began, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2))
    clean = figures["breach_to_clean_s"]
    print(
        f"{figures['aborted']} of {args.trials} runs stopped by their guardrail; breach to "
        f"verified-clean proxy: p50 {clean['p50'] if clean else 'n/a'} s, "
        f"p99 {clean['p99'] if clean else 'n/a'} s, max {clean['max'] if clean else 'n/a'} s; "
        f"breach seen {figures['fault_to_breach_s_p50']} s after the fault started (p50)"
    )
    return 0 if figures["aborted"] == args.trials else 1


if __name__ == "__main__":
    raise SystemExit(main())
