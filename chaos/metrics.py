"""The one reader of Prometheus metrics: a page of exposition text, counters over time.

Experiments, load thresholds, inspections, the bench and the notebooks all read the
agent's ``/metrics`` through this module, so they agree on what a counter did:

- a counter's increase handles resets (a drop is a restart; counting goes on from the new
  value, as Prometheus' ``increase()`` does);
- a labelled child that first appears mid-run was 0 before: prometheus_client exports a
  labelled child only after its first increment, but declares the family from start-up;
- missing data is ``None``, never 0: a family the agent never declared, or fewer than two
  readings over the window asked about, cannot say how much anything grew.

Pure Python (no pandas), because it also runs inside Locust processes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.exceptions import MetricsError

Labels = dict[str, str]
Row = tuple[float, str, str, float]  # time, sample name, label key, value

# A window whose edges are further than this from a reading is not covered by the data.
MAX_EDGE_GAP_S = 2.0

_SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "histogram": ("_bucket", "_count", "_sum"),
    "summary": ("", "_count", "_sum"),
}


def quantile(values: Iterable[float], q: float) -> float:
    """The ``q`` quantile of ``values``, interpolated between the closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values to take a quantile of")
    rank = q * (len(ordered) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def label_key(labels: Mapping[str, str]) -> str:
    """Labels as one sortable string, ``k=v,k2=v2``, as the journal stores them."""
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def parse_labels(key: str) -> Labels:
    """The inverse of ``label_key``."""
    return dict(part.split("=", 1) for part in key.split(",") if "=" in part)


def _matches(key: str, wanted: Mapping[str, str]) -> bool:
    if not wanted:
        return True
    have = parse_labels(key)
    return all(have.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class Scrape:
    """One page of exposition text: samples by name, and every sample name it declares."""

    samples: dict[str, list[tuple[Labels, float]]]
    declared: frozenset[str] = frozenset()

    def total(self, name: str, **labels: str) -> float | None:
        """Sum of ``name``'s samples whose labels include ``labels``; None if undeclared."""
        if name not in self.declared and name not in self.samples:
            return None
        rows = self.samples.get(name, [])
        return sum(v for lab, v in rows if all(lab.get(k) == want for k, want in labels.items()))

    def by_label(self, name: str, label: str) -> dict[str, float]:
        """``name``'s values keyed by one label's value (summed over the other labels)."""
        out: dict[str, float] = {}
        for lab, value in self.samples.get(name, []):
            out[lab.get(label, "")] = out.get(lab.get(label, ""), 0.0) + value
        return out


def parse(text: str) -> Scrape:
    """Read Prometheus exposition text; ``MetricsError`` when it is not exposition text."""
    samples: dict[str, list[tuple[Labels, float]]] = {}
    declared: set[str] = set()
    try:
        for family in text_string_to_metric_families(text):
            declared.update(family.name + s for s in _SAMPLE_SUFFIXES.get(family.type, ("",)))
            for s in family.samples:
                declared.add(s.name)
                samples.setdefault(s.name, []).append((dict(s.labels), float(s.value)))
    except ValueError as exc:
        raise MetricsError(f"not Prometheus exposition text: {exc}") from exc
    return Scrape(samples, frozenset(declared))


def scrape(url: str, *, client: httpx.Client | None = None, timeout_s: float = 2.0) -> Scrape:
    """``GET {url}/metrics``, parsed; ``MetricsError`` naming the URL when that fails."""
    target = f"{url.rstrip('/')}/metrics"
    try:
        if client is None:
            response = httpx.get(target, timeout=timeout_s)
        else:
            response = client.get(target, timeout=timeout_s)
        response.raise_for_status()
    except httpx.HTTPError as exc:
        raise MetricsError(f"{target}: {type(exc).__name__}: {exc}".strip(": ")) from exc
    try:
        return parse(response.text)
    except MetricsError as exc:
        raise MetricsError(f"{target}: {exc}") from exc


def prometheus_query(
    prometheus_url: str, promql: str, *, client: httpx.Client | None = None, timeout_s: float = 5.0
) -> list[dict[str, Any]]:
    """An instant PromQL query; the result vector, or ``MetricsError``."""
    target = f"{prometheus_url.rstrip('/')}/api/v1/query"
    try:
        if client is None:
            response = httpx.get(target, params={"query": promql}, timeout=timeout_s)
        else:
            response = client.get(target, params={"query": promql}, timeout=timeout_s)
        response.raise_for_status()
        result: list[dict[str, Any]] = response.json()["data"]["result"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
        raise MetricsError(f"Prometheus query {promql!r} failed: {exc}") from exc
    return result


def wait_scraped(
    prometheus_url: str, jobs: Iterable[str], *, scrapes: int = 3, timeout_s: float = 15.0
) -> bool:
    """Wait until Prometheus has scraped each job ``scrapes`` times in the last 10 s.

    A freshly started Prometheus applies its targets only after a few seconds: a fault
    injected before that would be missing from its series (and so from the dashboards).
    """
    wanted = set(jobs)
    query = f"count_over_time(up[10s]) >= {scrapes}"  # per target: its scrapes in 10 s
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            done = {r["metric"].get("job") for r in prometheus_query(prometheus_url, query)}
        except MetricsError:
            done = set()
        if wanted <= done:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


@dataclass(frozen=True)
class SourceError:
    """A reading that failed: when, from which source, and why."""

    t: float
    source: str
    message: str


@dataclass(frozen=True)
class Transition:
    """A breaker transition, known to have happened in ``(earliest, latest]``."""

    breaker: str
    source: str
    target: str
    earliest: float
    latest: float

    @property
    def pair(self) -> str:
        return f"{self.source}>{self.target}"


@dataclass
class Timeline:
    """Readings of the agent's metrics over a run, and of Prometheus queries beside them.

    ``rows`` hold every watched sample; ``scrapes`` the times of the readings that
    succeeded, per source (``agent``, ``prometheus``); ``declared`` every sample name the
    agent declared; ``errors`` every reading that failed.
    """

    rows: list[Row] = field(default_factory=list)
    scrapes: dict[str, list[float]] = field(default_factory=dict)
    declared: set[str] = field(default_factory=set)
    errors: list[SourceError] = field(default_factory=list)

    @classmethod
    def of(cls, readings: Iterable[tuple[float, Scrape]]) -> Timeline:
        """A timeline of agent readings taken elsewhere (two, for a before/after delta)."""
        timeline = cls()
        for t, page in readings:
            timeline.add(t, page)
        return timeline

    def add(self, t: float, page: Scrape, watched: frozenset[str] | None = None) -> None:
        """Record one successful agent reading (only ``watched`` sample names, if given)."""
        self.scrapes.setdefault("agent", []).append(t)
        self.declared.update(page.declared)
        for name, rows in page.samples.items():
            if watched is None or name in watched:
                self.rows.extend((t, name, label_key(lab), v) for lab, v in rows)

    def add_query(self, t: float, name: str, result: list[dict[str, Any]]) -> None:
        """Record one Prometheus instant-query result as ``prometheus:<name>`` rows."""
        self.rows.extend(
            (t, f"prometheus:{name}", label_key(item.get("metric", {})), float(item["value"][1]))
            for item in result
        )

    def fail(self, t: float, source: str, message: str) -> None:
        self.errors.append(SourceError(t, source, message))

    def times(self, source: str = "agent") -> list[float]:
        return sorted(self.scrapes.get(source, []))

    def readings(self, metric: str, **labels: str) -> dict[float, dict[str, float]]:
        """Per successful agent reading: the value of each child of ``metric`` it held."""
        out: dict[float, dict[str, float]] = {t: {} for t in self.times()}
        for t, name, key, value in self.rows:
            if name == metric and t in out and _matches(key, labels):
                out[t][key] = value
        return out

    def span(self, start: float | None, end: float | None) -> list[float] | None:
        """The reading times that bracket ``[start, end]``, or None if they do not cover it."""
        times = self.times()
        if len(times) < 2:
            return None
        lo = 0 if start is None else max(0, bisect.bisect_right(times, start) - 1)
        hi = len(times) - 1 if end is None else min(len(times) - 1, bisect.bisect_left(times, end))
        if hi - lo < 1:
            return None
        if start is not None and times[lo] > start + MAX_EDGE_GAP_S:
            return None
        if end is not None and times[hi] < end - MAX_EDGE_GAP_S:
            return None
        return times[lo : hi + 1]

    def increase(
        self, metric: str, start: float | None = None, end: float | None = None, /, **labels: str
    ) -> float | None:
        """How much a counter (its matching children summed) grew over ``[start, end]``.

        None when the agent never declared ``metric`` or the readings do not cover the
        window. A child absent from a reading was 0 then (not yet incremented, or reset).
        """
        if metric not in self.declared:
            return None
        times = self.span(start, end)
        if times is None:
            return None
        values = self.readings(metric, **labels)
        grown = 0.0
        for earlier, later in itertools.pairwise(times):
            before, after = values[earlier], values[later]
            for key in before.keys() | after.keys():
                a, b = before.get(key, 0.0), after.get(key, 0.0)
                grown += b - a if b >= a else b
        return grown

    def increases(
        self, metric: str, by: str | None = None, **labels: str
    ) -> dict[str, list[tuple[float, float]]]:
        """Cumulative increase since the first reading, per value of label ``by``.

        Empty when ``metric`` was never declared; otherwise one series per group, each a
        list of ``(t, increase so far)`` at every successful reading.
        """
        if metric not in self.declared:
            return {}
        values = self.readings(metric, **labels)
        times = sorted(values)
        groups: dict[str, list[tuple[float, float]]] = {}
        keys = sorted({k for v in values.values() for k in v})
        names = {k: (parse_labels(k).get(by, "") if by else metric) for k in keys}
        for name in set(names.values()) or ({metric} if by is None else set()):
            groups[name] = []
        totals = dict.fromkeys(groups, 0.0)
        previous: dict[str, float] = {}
        for i, t in enumerate(times):
            current = values[t]
            if i:
                for key in previous.keys() | current.keys():
                    a, b = previous.get(key, 0.0), current.get(key, 0.0)
                    totals[names[key]] += b - a if b >= a else b
            for name in groups:
                groups[name].append((t, totals[name]))
            previous = current
        return groups

    def gauge(self, metric: str, **labels: str) -> list[tuple[float, float]]:
        """A gauge's value (matching children summed) at each reading that held it."""
        out = []
        for t, children in sorted(self.readings(metric, **labels).items()):
            if children:
                out.append((t, sum(children.values())))
        return out

    def transitions(self, breaker: str) -> list[Transition]:
        """The breaker's transitions in the order they happened, from its counter's steps.

        Several transitions between two readings are ordered by walking the state machine
        from the state the breaker's gauge showed at the earlier reading.
        """
        values = self.readings("circuit_breaker_transitions_total", breaker=breaker)
        states = dict(self.gauge("circuit_breaker_state", breaker=breaker))
        times = sorted(values)
        found: list[Transition] = []
        for earlier, later in itertools.pairwise(times):
            steps: list[tuple[str, str]] = []
            for key in values[earlier].keys() | values[later].keys():
                a, b = values[earlier].get(key, 0.0), values[later].get(key, 0.0)
                labels = parse_labels(key)
                steps += [(labels["from_state"], labels["to_state"])] * int(b - a if b >= a else b)
            state = STATE_NAMES.get(int(states.get(earlier, -1)), "")
            for source, target in _walk(steps, state):
                found.append(Transition(breaker, source, target, earlier, later))
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [list(r) for r in self.rows],
            "scrapes": self.scrapes,
            "declared": sorted(self.declared),
            "errors": [vars(e) for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Timeline:
        return cls(
            rows=[(float(t), str(m), str(k), float(v)) for t, m, k, v in data.get("rows", [])],
            scrapes={s: [float(t) for t in ts] for s, ts in data.get("scrapes", {}).items()},
            declared=set(data.get("declared", [])),
            errors=[SourceError(**e) for e in data.get("errors", [])],
        )


STATE_NAMES = {0: "closed", 1: "open", 2: "half-open"}  # the state gauges' encoding
# When the gauge cannot order several transitions seen at once, this order is the one a
# breaker can go through them in.
_ORDER = {("closed", "open"): 0, ("open", "half-open"): 1, ("half-open", "open"): 2}


def _walk(steps: list[tuple[str, str]], state: str) -> list[tuple[str, str]]:
    ordered: list[tuple[str, str]] = []
    pending = sorted(steps, key=lambda s: _ORDER.get(s, 3))
    while pending:
        nxt = next((s for s in pending if s[0] == state), pending[0])
        pending.remove(nxt)
        ordered.append(nxt)
        state = nxt[1]
    return ordered


def cache_hit_ratio(before: Scrape, after: Scrape) -> float | None:
    """PMS cache hits / lookups between two readings; None without a lookup between them."""
    timeline = Timeline.of([(0.0, before), (1.0, after)])
    hits = timeline.increase("pms_cache_hits_total")
    misses = timeline.increase("pms_cache_misses_total")
    if hits is None or misses is None or hits + misses <= 0:
        return None
    return hits / (hits + misses)


#: The agent families an experiment can judge; the sampler keeps only these.
WATCHED = frozenset(
    {
        "circuit_breaker_state",
        "circuit_breaker_transitions_total",
        "audit_circuit_breaker_state",
        "retry_attempts_total",
        "session_save_retries_total",
        "audit_fallback_writes_total",
        "audit_write_failures_total",
        "audit_fallback_pending",
        "audit_events_total",
        "pms_cache_hits_total",
        "pms_cache_misses_total",
        "pms_cache_stale_served_total",
        "pms_api_latency_seconds_count",
        "pms_api_latency_seconds_sum",
        "alerts_sent_total",
        "orchestrator_messages_total",
        "dependency_up",
        "http_requests_total",
        "nlu_requests_total",
        "nlu_fallbacks_total",
        "stt_requests_total",
        "whatsapp_messages_total",
        "whatsapp_duplicates_total",
        "whatsapp_sends_total",
        "whatsapp_outbox_total",
        "whatsapp_outbox_pending",
    }
)

#: Prometheus views recorded beside the agent's own counters when Prometheus is up.
PROMETHEUS_QUERIES = {
    "message_rate": 'sum(rate(http_requests_total{endpoint="/api/v1/messages"}[30s]))',
    "http_5xx_rate": 'sum(rate(http_requests_total{status_code=~"5.."}[30s])) or vector(0)',
    "redis_up": "max(redis_up)",
    "postgres_up": "max(pg_up)",
}


@dataclass
class MetricsSampler:
    """Reads the agent's ``/metrics`` every ``interval_s`` in a thread, into a ``Timeline``.

    With ``prometheus_url`` it also records ``queries`` every ``prometheus_every_s``.
    Every failed reading is kept in ``timeline.errors`` with its reason.
    """

    agent_url: str
    interval_s: float = 0.25
    prometheus_url: str | None = None
    queries: dict[str, str] = field(default_factory=lambda: dict(PROMETHEUS_QUERIES))
    prometheus_every_s: float = 2.0
    watched: frozenset[str] = WATCHED
    timeline: Timeline = field(default_factory=Timeline)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample_once(self, client: httpx.Client) -> None:
        at = time.time()
        try:
            page = scrape(self.agent_url, client=client)
        except MetricsError as exc:
            self.timeline.fail(at, "agent", str(exc))
            return
        self.timeline.add(at, page, self.watched)

    def sample_prometheus(self, client: httpx.Client) -> None:
        assert self.prometheus_url is not None
        at = time.time()
        ok = True
        for name, promql in self.queries.items():
            try:
                result = prometheus_query(self.prometheus_url, promql, client=client)
            except MetricsError as exc:
                self.timeline.fail(at, "prometheus", str(exc))
                ok = False
                continue
            self.timeline.add_query(at, name, result)
        if ok:
            self.timeline.scrapes.setdefault("prometheus", []).append(at)

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

    def start(self) -> MetricsSampler:
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Timeline:
        self._stop.set()
        if self._thread:
            self._thread.join(10)
        return self.timeline
