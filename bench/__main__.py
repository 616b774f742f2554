"""``python -m bench``: benchmark the running stack and write ``reports/bench.json``.

Options shorten the phases (``--quick`` for a smoke run); see ``bench/agent_bench.py``
for what each figure means.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.agent_bench import AgentBench, BenchConfig
from bench.util import load_proxy_bench
from chaos.exceptions import ChaosError
from chaos.stack.state import discover


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def _valid(fig: dict[str, Any]) -> str:
    share = fig.get("generator_cpu_share")
    if share is None:
        return ""
    note = f"wrk {share:.0%} of a core"
    return f"   [{note}]" if fig.get("valid", True) else f"   [INVALID: {note}, generator-bound]"


def summary(report: dict[str, Any]) -> str:
    """The figures as a short table for the terminal."""
    cached, live, bare = report["agent_cached"], report["bare_endpoint"], report["bare_app"]
    deg = report["degradation"]
    pg, rl = deg["postgres_outage"], deg["redis_latency"]

    def latency(fig: dict[str, Any]) -> str:
        return (
            f"p50 {_fmt(fig['p50_ms'], '', 1)} / p95 {_fmt(fig['p95_ms'], '', 1)} / "
            f"p99 {_fmt(fig['p99_ms'], '', 1)} ms"
        )

    healthy = _fmt(deg["healthy_p95_ms"], "", 1)
    load = report["machine"]
    lines = [
        f"machine: {load['cpus']} CPUs, load average {load['load_average_at_start'][0]} at start, "
        f"{load.get('load_average_at_end', ['?'])[0]} at end"
        + ("   (BUSY: other work shared the CPUs)" if _busy(report) else ""),
        f"agent, cached path      {_fmt(cached['rps'], ' msg/s', 1):>14}   {latency(cached)}   "
        f"({cached['requests']} requests, {cached['failures']} failed){_valid(cached)}",
        f"agent GET /health/live  {_fmt(live['rps'], ' req/s', 1):>14}   {latency(live)}"
        f"{_valid(live)}",
        f"bare FastAPI app        {_fmt(bare['rps'], ' req/s', 1):>14}   {latency(bare)}"
        f"{_valid(bare)}",
        f"agent msg / live        {_fmt(report['agent_to_bare_ratio'], '', 3):>14}",
        f"agent live / bare app   {_fmt(report['live_to_bare_app_ratio'], '', 3):>14}",
        f"agent CPU per message   {_fmt(report['agent_cpu_ms_per_message'], ' ms', 3):>14}   "
        f"(agent CPU seconds / messages, from /proc)",
    ]
    for profile, mix in report.get("guest_mix_profiles", {}).items():
        lines.append(
            f"PMS cache hit ratio     {_fmt(mix['cache_hit_ratio'], '', 3):>14}   (default guest "
            f"mix, {profile} profile, {_fmt(mix['lookups'])} lookups after a "
            f"{mix['warm_up_s']} s warm-up)"
        )
    lines += [
        f"degradation, PostgreSQL {_fmt(pg['ratio'], ' x', 2):>14}   p95 {_fmt(pg['p95_ms'])} ms "
        f"vs {healthy} ms healthy (audit breaker open: {pg['audit_breaker_open']})",
        f"degradation, Redis      {_fmt(rl['ratio'], ' x', 2):>14}   p95 {_fmt(rl['p95_ms'])} ms "
        f"with {rl['latency_ms']} ms latency per Redis round trip "
        f"(= healthy + {_fmt(rl.get('redis_trips'), '', 2)} x the latency)",
    ]
    workers = report.get("workers")
    if workers:
        lines.append(
            f"{workers['workers']} workers              {_fmt(workers['rps'], ' msg/s', 1):>14}   "
            f"{latency(workers)}   ({_fmt(workers['to_one_worker_ratio'], ' x', 2)} one worker; "
            f"metrics counted every message: {workers['metrics_count_every_message']})"
            f"{_valid(workers)}"
        )
    proxy = report["proxy"]
    if isinstance(proxy, dict):
        lines.append("fault proxy overhead    " + json.dumps(proxy, sort_keys=True))
    else:
        lines.append(f"fault proxy overhead    {proxy} ({report['proxy_note']})")
    return "\n".join(lines)


def _busy(report: dict[str, Any]) -> bool:
    """Whether something besides the bench loaded the machine (load above its CPUs)."""
    machine = report["machine"]
    return machine["load_average_at_start"][0] > 0.5 * (machine["cpus"] or 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=10, help="closed-loop users per phase")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--mix-users", type=int, default=10)
    parser.add_argument(
        "--mix-duration",
        type=float,
        default=60.0,
        help="seconds of the guest-mix phase (a third is warm-up)",
    )
    parser.add_argument("--redis-latency-ms", type=int, default=150)
    parser.add_argument(
        "--workers", type=int, default=2, help="worker processes of the extra agent (1: skip)"
    )
    parser.add_argument(
        "--mix-profiles",
        default="lab,default",
        help="agent profiles whose guest-mix hit ratio is measured (lab,default)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 3 users, 1 s phases, 3 s guest mixes"
    )
    parser.add_argument(
        "--skip-proxy",
        action="store_true",
        help="do not run bench/proxy_bench.py (reported as unavailable)",
    )
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.duration, args.mix_users, args.mix_duration = 3, 1.0, 4, 3.0
    config = BenchConfig(
        users=args.users,
        duration_s=args.duration,
        mix_users=args.mix_users,
        mix_duration_s=args.mix_duration,
        redis_latency_ms=args.redis_latency_ms,
        workers=args.workers,
        mix_profiles=tuple(p for p in args.mix_profiles.split(",") if p),
        work_dir=args.out.parent / "bench",
    )
    try:
        bench = AgentBench(discover(), config)
        try:
            report = bench.run(
                None if args.skip_proxy else load_proxy_bench(args.quick),
                proxy_skipped=args.skip_proxy,
            )
        finally:
            bench.close()
    except ChaosError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    print()
    print(summary(report))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
