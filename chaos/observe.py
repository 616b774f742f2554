"""Observation during an experiment: sample the agent's ``/metrics`` into a timeline.

The sampler polls in a thread and keeps only the families an experiment can judge, so a
run of a few minutes stays a few thousand rows. ``marks`` records fault start and stop.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd
from prometheus_client.parser import text_string_to_metric_families

WATCHED = (
    "circuit_breaker_state",
    "circuit_breaker_transitions_total",
    "audit_circuit_breaker_state",
    "retry_attempts_total",
    "session_save_retries_total",
    "audit_fallback_writes_total",
    "audit_fallback_pending",
    "audit_events_total",
    "pms_cache_hits_total",
    "pms_cache_misses_total",
    "pms_cache_stale_served_total",
    "alerts_sent_total",
    "orchestrator_messages_total",
    "dependency_up",
    "http_requests_total",
)


def scrape(agent_url: str, client: httpx.Client | None = None) -> list[dict[str, Any]]:
    """One reading of the watched metrics: rows of (metric, labels, value)."""
    http = client or httpx.Client(timeout=2.0)
    try:
        text = http.get(f"{agent_url.rstrip('/')}/metrics").text
    finally:
        if client is None:
            http.close()
    rows = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name in WATCHED or family.name in WATCHED:
                if sample.name.endswith("_created"):
                    continue
                rows.append(
                    {
                        "metric": sample.name,
                        "labels": dict(sample.labels),
                        "value": float(sample.value),
                    }
                )
    return rows


def label_key(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


#: Prometheus views recorded beside the agent's own counters when Prometheus is up.
PROMETHEUS_QUERIES = {
    "message_rate": 'sum(rate(http_requests_total{endpoint="/api/v1/messages"}[30s]))',
    "http_5xx_rate": 'sum(rate(http_requests_total{status_code=~"5.."}[30s])) or vector(0)',
    "redis_up": "max(redis_up)",
    "postgres_up": "max(pg_up)",
}


@dataclass
class MetricsSampler:
    """Polls the agent's metrics every ``interval_s`` seconds in a background thread.

    With ``prometheus_url`` it also records ``prometheus_queries`` every
    ``prometheus_every_s`` as metrics named ``prometheus:<name>``; a Prometheus that does
    not answer is counted in ``errors`` and otherwise ignored.
    """

    agent_url: str
    interval_s: float = 0.25
    prometheus_url: str | None = None
    prometheus_queries: dict[str, str] = field(default_factory=lambda: dict(PROMETHEUS_QUERIES))
    prometheus_every_s: float = 2.0
    rows: list[dict[str, Any]] = field(default_factory=list)
    marks: list[dict[str, Any]] = field(default_factory=list)
    errors: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample_once(self, client: httpx.Client) -> None:
        at = time.time()
        try:
            readings = scrape(self.agent_url, client)
        except (httpx.HTTPError, ValueError):
            self.errors += 1
            return
        for r in readings:
            self.rows.append(
                {
                    "t": at,
                    "metric": r["metric"],
                    "labels": label_key(r["labels"]),
                    "value": r["value"],
                }
            )

    def sample_prometheus(self, client: httpx.Client) -> None:
        assert self.prometheus_url is not None
        at = time.time()
        for name, promql in self.prometheus_queries.items():
            try:
                result = prometheus_query(self.prometheus_url, promql, client=client)
            except (httpx.HTTPError, KeyError, ValueError):
                self.errors += 1
                continue
            for item in result:
                self.rows.append(
                    {
                        "t": at,
                        "metric": f"prometheus:{name}",
                        "labels": label_key(item.get("metric", {})),
                        "value": float(item["value"][1]),
                    }
                )

    def _run(self) -> None:
        next_prometheus = 0.0
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                self.sample_once(client)
                if self.prometheus_url and time.monotonic() >= next_prometheus:
                    self.sample_prometheus(client)
                    next_prometheus = time.monotonic() + self.prometheus_every_s
                self._stop.wait(self.interval_s)
            self.sample_once(client)

    def mark(self, label: str) -> None:
        self.marks.append({"t": time.time(), "label": label})

    def start(self) -> MetricsSampler:
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)

    def frame(self) -> pd.DataFrame:
        """The timeline as a DataFrame with columns t, metric, labels, value."""
        return pd.DataFrame(self.rows, columns=["t", "metric", "labels", "value"])


def series(timeline: pd.DataFrame, metric: str, **labels: str) -> pd.Series:
    """One metric's values over time, summed over label sets that match ``labels``."""
    rows = timeline[timeline["metric"] == metric]
    for key, value in labels.items():
        rows = rows[rows["labels"].str.contains(f"(?:^|,){key}={value}(?:,|$)", regex=True)]
    return rows.groupby("t")["value"].sum().sort_index()


def transitions(timeline: pd.DataFrame, breaker: str) -> list[dict[str, Any]]:
    """Breaker transitions in time order, from increments of the transitions counter.

    A transition's time is the first sample that shows the increment, so it is known to
    within one sampling interval.
    """
    rows = timeline[timeline["metric"] == "circuit_breaker_transitions_total"]
    rows = rows[rows["labels"].str.contains(f"(?:^|,)breaker={breaker}(?:,|$)", regex=True)]
    found = []
    first_t = float(timeline["t"].min()) if len(timeline) else 0.0
    for labels, group in rows.groupby("labels"):
        parts = dict(p.split("=", 1) for p in str(labels).split(","))
        values = group.sort_values("t")[["t", "value"]].to_numpy().tolist()
        if values and values[0][0] > first_t:
            # A labelled counter appears on its first increment: it was 0 before.
            values.insert(0, [first_t, 0.0])
        for (_, before), (t, after) in itertools.pairwise(values):
            for _ in range(int(after - before)):
                found.append(
                    {
                        "breaker": breaker,
                        "from": parts["from_state"],
                        "to": parts["to_state"],
                        "at": float(t),
                    }
                )
    return sorted(found, key=lambda x: (x["at"], ORDER_HINT.get((x["from"], x["to"]), 9)))


# Within one sampling interval several transitions can appear at once; this is the
# order they must have happened in.
ORDER_HINT = {
    ("closed", "open"): 0,
    ("open", "half-open"): 1,
    ("half-open", "open"): 2,
    ("half-open", "closed"): 3,
}


def prometheus_query(
    prometheus_url: str, promql: str, timeout_s: float = 5.0, client: httpx.Client | None = None
) -> list[dict[str, Any]]:
    """An instant query against Prometheus; returns the result vector."""
    http = client or httpx.Client(timeout=timeout_s)
    try:
        response = http.get(f"{prometheus_url.rstrip('/')}/api/v1/query", params={"query": promql})
    finally:
        if client is None:
            http.close()
    response.raise_for_status()
    result: list[dict[str, Any]] = response.json()["data"]["result"]
    return result
