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

from bench.agent_bench import AgentBench, BenchConfig, load_proxy_bench
from chaos.exceptions import ChaosError
from chaos.stack.state import discover


def _fmt(value: Any, unit: str = "", digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}{unit}"


def summary(report: dict[str, Any]) -> str:
    """The figures as a short table for the terminal."""
    cached, bare, mix = report["agent_cached"], report["bare_endpoint"], report["guest_mix"]
    deg = report["degradation"]
    pg, rl = deg["postgres_outage"], deg["redis_latency"]

    def latency(fig: dict[str, Any]) -> str:
        return (
            f"p50 {_fmt(fig['p50_ms'])} / p95 {_fmt(fig['p95_ms'])} / p99 {_fmt(fig['p99_ms'])} ms"
        )

    healthy = _fmt(deg["healthy_p95_ms"])
    lines = [
        f"agent, cached path      {_fmt(cached['rps'], ' msg/s', 1):>14}   {latency(cached)}   "
        f"({cached['requests']} requests, {cached['failures']} failed)",
        f"bare GET /health/live   {_fmt(bare['rps'], ' req/s', 1):>14}   {latency(bare)}",
        f"agent / bare throughput {_fmt(report['agent_to_bare_ratio'], '', 3):>14}",
        f"PMS cache hit ratio     {_fmt(mix['cache_hit_ratio'], '', 3):>14}   (default guest mix, "
        f"{_fmt(mix['lookups'])} lookups after a {mix['warm_up_s']} s warm-up)",
        f"degradation, PostgreSQL {_fmt(pg['ratio'], ' x', 2):>14}   p95 {_fmt(pg['p95_ms'])} ms "
        f"vs {healthy} ms healthy (audit breaker open: {pg['audit_breaker_open']})",
        f"degradation, Redis      {_fmt(rl['ratio'], ' x', 2):>14}   p95 {_fmt(rl['p95_ms'])} ms "
        f"with {rl['latency_ms']} ms latency per Redis round trip",
    ]
    proxy = report["proxy"]
    if isinstance(proxy, dict):
        lines.append("fault proxy overhead    " + json.dumps(proxy, sort_keys=True))
    else:
        lines.append(f"fault proxy overhead    {proxy} ({report['proxy_note']})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--users", type=int, default=10, help="closed-loop users per phase")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per phase")
    parser.add_argument("--mix-users", type=int, default=10)
    parser.add_argument(
        "--mix-duration",
        type=float,
        default=30.0,
        help="seconds of the guest-mix phase (a third is warm-up)",
    )
    parser.add_argument("--redis-latency-ms", type=int, default=150)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 3 users, 1 s phases, 3 s guest mix"
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
