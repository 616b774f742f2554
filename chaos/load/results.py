"""Exact figures from Locust's ``--json-file`` output.

The CSV files are rewritten by a timer and miss the last second of a run; the JSON file
is written once at shutdown from the final stats, so totals read here are exact.
Percentiles follow Locust's own rule over its response-time histogram.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from chaos.load.errors import LoadError
from chaos.load.thresholds import AGGREGATED, Figures


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The per-request-name entries of a ``--json-file`` (``path`` with or without .json)."""
    file = path if path.suffix == ".json" else path.with_name(path.name + ".json")
    try:
        data = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise LoadError(f"no Locust results at {file} (did the run start?)") from exc
    except json.JSONDecodeError as exc:
        raise LoadError(f"unreadable Locust results {file}: {exc}") from exc
    if not isinstance(data, list):
        raise LoadError(f"{file} is not a list of Locust stats entries")
    return data


def percentile(histogram: Mapping[Any, int], fraction: float) -> float:
    """The response time (ms) below which ``fraction`` of the requests fall (Locust's rule)."""
    counts = {float(k): int(v) for k, v in histogram.items()}
    total = sum(counts.values())
    if total == 0:
        return 0.0
    wanted = int(total * fraction)
    processed = 0
    for rt in sorted(counts, reverse=True):
        processed += counts[rt]
        if total - processed <= wanted:
            return rt
    return min(counts)


def figures(entries: Iterable[Mapping[str, Any]]) -> Figures:
    """Totals and latency figures over ``entries`` (one name, or all of them)."""
    entries = list(entries)
    requests = sum(int(e["num_requests"]) for e in entries)
    failures = sum(int(e["num_failures"]) for e in entries)
    histogram: Counter[float] = Counter()
    for e in entries:
        for k, v in (e.get("response_times") or {}).items():
            histogram[float(k)] += int(v)
    total_time = sum(float(e.get("total_response_time") or 0) for e in entries)
    starts = [float(e["start_time"]) for e in entries if e.get("start_time")]
    ends = [float(e["last_request_timestamp"]) for e in entries if e.get("last_request_timestamp")]
    span = (max(ends) - min(starts)) if starts and ends else 0.0
    return Figures(
        requests=requests,
        failures=failures,
        p50_ms=percentile(histogram, 0.50),
        p95_ms=percentile(histogram, 0.95),
        p99_ms=percentile(histogram, 0.99),
        avg_ms=total_time / requests if requests else 0.0,
        max_ms=max((float(e.get("max_response_time") or 0) for e in entries), default=0.0),
        rps=requests / span if span > 0 else 0.0,
    )


def figures_by_name(entries: list[dict[str, Any]]) -> dict[str, Figures]:
    """Figures per request name plus ``Aggregated`` over every entry."""
    names = sorted({str(e["name"]) for e in entries})
    out = {n: figures(e for e in entries if e["name"] == n) for n in names}
    out[AGGREGATED] = figures(entries)
    return out
