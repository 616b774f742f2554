"""Small helpers of the agent bench: figure dicts, ratios, a counter from ``/metrics``, and
the optional proxy benchmark."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

import httpx

from chaos import metrics
from chaos.load.thresholds import Figures


def lookups(page: metrics.Scrape) -> float:
    """PMS cache lookups (hits and misses) counted so far."""
    hits = page.total("pms_cache_hits_total") or 0.0
    return hits + (page.total("pms_cache_misses_total") or 0.0)


def figures_of(fig: Figures) -> dict[str, float]:
    return {
        "rps": round(fig.rps, 2),
        "p50_ms": fig.p50_ms,
        "p95_ms": fig.p95_ms,
        "p99_ms": fig.p99_ms,
        "requests": fig.requests,
        "failures": fig.failures,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator or denominator <= 0:
        return None
    return round(numerator / denominator, 3)


def metric_sum(agent: str, name: str) -> float:
    """The sum of one counter over its labels, from the agent's ``/metrics``."""
    from prometheus_client.parser import text_string_to_metric_families

    text = httpx.get(f"{agent}/metrics", timeout=10.0).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


def load_proxy_bench(quick: bool) -> Callable[[], dict[str, Any]] | None:
    """``bench.proxy_bench.run`` when that module exists, bound to a quick run if asked."""
    try:
        module = importlib.import_module("bench.proxy_bench")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench.proxy_bench", "bench"):
            raise
        return None
    run = getattr(module, "run", None)
    if not callable(run):
        return None
    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {}
    if quick and "quick" in params:
        kwargs["quick"] = True

    def call() -> dict[str, Any]:
        result = run(**kwargs)
        return dict(result) if isinstance(result, dict) else {"result": result}

    return call
