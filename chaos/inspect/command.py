"""Argument parsing and dispatch for ``chaoslab inspect ...`` and ``chaoslab seed-audit``.

Thresholds are given in the units operators think in (percent, milliseconds, seconds);
the JSON reports them as ratios. Exit codes: 0 passed, 1 a threshold crossed (see
``--fail-on``), 2 a source could not be reached (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

Handler = Callable[[argparse.Namespace], int]
NEEDS = {
    "cache": ("agent", "redis"),
    "db": ("postgres",),
    "pools": ("agent", "redis", "postgres"),
}


def _percent(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError("a percentage between 0 and 100")
    return value / 100


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must not be negative")
    return value


def _common(p: argparse.ArgumentParser, needs: tuple[str, ...]) -> None:
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="the report as JSON")
    out.add_argument(
        "--prometheus",
        action="store_true",
        help="the report in the Prometheus text exposition format",
    )
    for name in needs:
        p.add_argument(
            f"--{name}-url", metavar="URL", help=f"{name} URL (default: from the stack state file)"
        )
    p.add_argument(
        "--timeout",
        type=_positive,
        default=5.0,
        metavar="S",
        help="connect and read timeout per source (default 5)",
    )
    p.add_argument(
        "--fail-on",
        choices=["warning", "critical"],
        default="warning",
        help="lowest status that makes the exit code 1 (default warning)",
    )


def add_parsers(sub: Any, inspect_handler: Handler, seed_handler: Handler) -> None:
    """Add ``inspect {cache,db,pools}`` and ``seed-audit`` to the chaoslab subparsers."""
    p = sub.add_parser("inspect", help="operator checks: cache, db, pools (exit 1 on a threshold)")
    kinds = p.add_subparsers(dest="inspect_command", required=True)

    c = kinds.add_parser("cache", help="PMS cache and Redis keyspace hit ratios, memory, key TTLs")
    _common(c, NEEDS["cache"])
    c.add_argument(
        "--min-hit-percent",
        type=_percent,
        default=0.70,
        metavar="PCT",
        help="target for the agent's PMS cache hit ratio (default 70)",
    )
    c.add_argument(
        "--min-lookups",
        type=_count,
        default=20,
        metavar="N",
        help="fewer lookups than this are not judged (default 20)",
    )
    c.add_argument(
        "--window",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="measure the change over S seconds instead of since start (default 0)",
    )
    c.add_argument(
        "--max-evictions",
        type=int,
        default=1000,
        metavar="N",
        help="evicted keys tolerated (default 1000)",
    )
    c.add_argument(
        "--max-memory-percent",
        type=_percent,
        default=0.90,
        metavar="PCT",
        help="used memory against maxmemory (default 90)",
    )
    c.add_argument(
        "--max-keys",
        type=_count,
        default=100_000,
        metavar="N",
        help="keys surveyed at most (default 100000)",
    )
    c.set_defaults(handler=inspect_handler)

    d = kinds.add_parser("db", help="declared indexes and EXPLAIN ANALYZE of critical queries")
    _common(d, NEEDS["db"])
    d.add_argument(
        "--max-ms",
        type=_positive,
        default=100.0,
        metavar="MS",
        help="execution time limit per critical query (default 100)",
    )
    d.add_argument(
        "--min-rows",
        type=_count,
        default=100_000,
        metavar="N",
        help="plans are judged from this table size (default 100000)",
    )
    d.add_argument(
        "--statement-timeout-ms",
        type=_count,
        default=10_000,
        metavar="MS",
        help="statement timeout of the inspection's queries (default 10000)",
    )
    d.set_defaults(handler=inspect_handler)

    o = kinds.add_parser("pools", help="connections in PostgreSQL, the agent's pools and Redis")
    _common(o, NEEDS["pools"])
    o.add_argument(
        "--warn-percent",
        type=_percent,
        default=0.75,
        metavar="PCT",
        help="utilisation warning (default 75)",
    )
    o.add_argument(
        "--critical-percent",
        type=_percent,
        default=0.90,
        metavar="PCT",
        help="utilisation critical (default 90)",
    )
    o.add_argument(
        "--long-query-seconds",
        type=_positive,
        default=30.0,
        metavar="S",
        help="active queries or open transactions older than this (default 30)",
    )
    o.set_defaults(handler=inspect_handler)

    s = sub.add_parser("seed-audit", help="fill audit_logs with N realistic events ('seed-' ids)")
    s.add_argument("rows", type=_count, nargs="?", help="how many events to add")
    s.add_argument("--purge", action="store_true", help="delete the seeded events instead")
    s.add_argument("--prefix", default="seed-", help="guest and event id prefix (default seed-)")
    s.add_argument(
        "--days",
        type=_positive,
        default=30.0,
        help="spread events over this many past days (default 30)",
    )
    s.add_argument(
        "--postgres-url", metavar="URL", help="PostgreSQL URL (default: from the stack state file)"
    )
    s.add_argument(
        "--timeout", type=_positive, default=5.0, metavar="S", help="connect timeout (default 5)"
    )
    s.add_argument("--json", action="store_true", help="the result as JSON")
    s.set_defaults(handler=seed_handler)


def run_inspect(args: argparse.Namespace) -> int:
    """Run one inspect command and print its report; returns the exit code."""
    from chaos.inspect.report import to_json, to_prometheus
    from chaos.inspect.sources import resolve_targets

    kind = args.inspect_command
    targets = resolve_targets(
        NEEDS[kind],
        agent=getattr(args, "agent_url", None),
        redis_url=getattr(args, "redis_url", None),
        postgres=getattr(args, "postgres_url", None),
    )
    if kind == "cache":
        from chaos.inspect.cache import CacheThresholds, inspect_cache

        report = inspect_cache(
            targets,
            CacheThresholds(
                args.min_hit_percent, args.min_lookups, args.max_evictions, args.max_memory_percent
            ),
            window_s=args.window,
            max_keys=args.max_keys,
            timeout_s=args.timeout,
        )
    elif kind == "db":
        from chaos.inspect.db import DbThresholds, inspect_db

        report = inspect_db(
            targets,
            DbThresholds(args.max_ms, args.min_rows),
            timeout_s=args.timeout,
            statement_timeout_ms=args.statement_timeout_ms,
        )
    else:
        from chaos.inspect.pools import PoolThresholds, inspect_pools

        report = inspect_pools(
            targets,
            PoolThresholds(args.warn_percent, args.critical_percent, args.long_query_seconds),
            timeout_s=args.timeout,
        )
    if args.json:
        print(to_json(report, args.fail_on))
    elif args.prometheus:
        print(to_prometheus(report, args.fail_on), end="")
    else:
        from chaos.inspect.render import to_text

        print(to_text(report, args.fail_on), end="")
    return report.exit_code(args.fail_on)


def run_seed(args: argparse.Namespace) -> int:
    """Seed (or purge) the audit log and print what was done."""
    from chaos.inspect.errors import InspectError
    from chaos.inspect.seed import purge_seeded, seed_audit
    from chaos.inspect.sources import resolve_targets

    if args.purge == (args.rows is not None):
        raise InspectError("give a number of rows to add, or --purge (not both)")
    dsn = resolve_targets(("postgres",), postgres=args.postgres_url).postgres
    assert dsn is not None
    if args.purge:
        result = purge_seeded(dsn, prefix=args.prefix, timeout_s=args.timeout)
        text = f"deleted {result.deleted} seeded events in {result.seconds:.2f} s"
    else:
        result = seed_audit(
            dsn, args.rows, prefix=args.prefix, days=args.days, timeout_s=args.timeout
        )
        text = (
            f"inserted {result.inserted} events ({args.prefix}*) in {result.seconds:.2f} s, "
            "ANALYZE done"
        )
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(f"{text}; audit_logs now holds about {result.table_rows} rows")
    return 0
