"""Faults outlive a killed runner by the lease's TTL at most: ``python -m bench.killed_runner``.

Each trial starts ``chaoslab run`` on an experiment whose fault (Redis 200 ms slower and
PostgreSQL disabled) would last a minute, SIGKILLs the runner as soon as both faults are
in place, waits the lease's TTL plus one second, and reads the proxy back: no toxic, every
proxy enabled. The runner's own rollback never runs; the lease's watchdog (or, on our
proxy, the faults' own ``ttl_ms``, here a minute away) must clean up.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from chaos.faults import verify_clean
from chaos.lease import Lease
from chaos.stack.state import discover
from chaos.toxiproxy import ToxiproxyClient

EXPERIMENT = {
    "name": "killed-runner",
    "title": "A runner killed mid-fault",
    "purpose": "The lease removes what a dead runner left behind.",
    "steady_state": [],
    "method": [
        {"fault": {"proxy": "redis", "type": "latency", "attributes": {"latency": 200}},
         "start_s": 0, "duration_s": 60},
        {"fault": {"proxy": "postgres", "type": "down"}, "start_s": 0, "duration_s": 60},
    ],
    "baseline_s": 0,
    "settle_s": 0,
    "load": {"rate_per_s": 2, "whatsapp_share": 0},
    "expectations": [{"fallback_writes": {"min": 1}}],
}  # fmt: skip


def trial(state_file: str, experiment: Path, work: Path) -> dict[str, object]:
    """Kill one runner mid-fault; how the proxy looked after the lease's TTL plus a second."""
    env = {**os.environ, "CHAOSLAB_STATE_FILE": state_file, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "chaos.cli", "run", str(experiment), "--out", str(work)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    started, deadline = 0, time.monotonic() + 60
    while started < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        started += "fault start" in line
    with ToxiproxyClient(discover(Path(state_file)).url("proxy_api")) as client:
        faulted = verify_clean(client)
        proc.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        proc.wait(10)
        proc.stdout.close()
        time.sleep(Lease.ttl_s + 1.0)
        left = verify_clean(client)
    return {
        "faults_in_place": len(faulted),  # toxics or disabled proxies seen before the kill
        "left_after_ttl_plus_1s": left,
        "waited_s": round(time.monotonic() - killed_at, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.killed_runner", description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("reports/killed_runner.json"))
    args = parser.parse_args(argv)
    state_file = os.environ.get("CHAOSLAB_STATE_FILE") or str(discover().state_dir + "/stack.json")
    work = Path(tempfile.mkdtemp(prefix="hcl-killed-"))
    experiment = work / "killed-runner.yaml"
    experiment.write_text(yaml.safe_dump(EXPERIMENT))
    results = [trial(state_file, experiment, work) for _ in range(args.trials)]
    clean = sum(1 for r in results if r["faults_in_place"] and not r["left_after_ttl_plus_1s"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"trials": args.trials, "clean": clean, "results": results}, indent=2)
    )
    print(
        f"runner SIGKILLed mid-fault {args.trials} times: proxy clean {Lease.ttl_s + 1:g} s "
        f"later in {clean} of {args.trials}"
    )
    return 0 if clean == args.trials else 1


if __name__ == "__main__":
    raise SystemExit(main())
