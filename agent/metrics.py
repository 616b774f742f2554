"""The agent's Prometheus metrics: the metric contract (docs/architecture.md), in one place.

Every metric lives on a registry owned by the app, so tests get a fresh one and two
apps in one process never share counters. Gauges get their value at start-up.

With several worker processes (``AGENT_WORKERS``, agent/main.py) prometheus_client runs
in multiprocess mode: each worker writes its values to ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` merges them. Counters and histograms add up; each gauge names how it merges:
a breaker counts as open when any live worker's is (max), a dependency as up only when
every live worker reaches it (min), fallback backlogs and pool figures add up (sum).
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    """Whether this process writes its metrics for a multi-worker ``/metrics``."""
    return bool(os.environ.get(MULTIPROC_ENV))


def exposition(registry: CollectorRegistry) -> bytes:
    """The text ``/metrics`` serves: this registry, or every worker's values merged."""
    if not multiprocess():
        return generate_latest(registry)
    from prometheus_client import multiprocess as mp

    merged = CollectorRegistry()
    mp.MultiProcessCollector(merged)
    return generate_latest(merged)


# Breakers of dependencies every agent has; the nlp and stt breakers are exported once
# the agent is configured with the service behind them (their gauge starts when made).
BREAKERS = ("pms", "audit")
DEPENDENCIES = ("redis", "postgres", "pms")
CACHE_KINDS = ("availability", "room_types")
# Connection pools whose figures are exported (psycopg pool names); see agent/pools.py.
DB_POOLS = ("audit",)
POOL_STATES = ("in_use", "available")
BREAKER_STATE_VALUE = {"closed": 0, "open": 1, "half-open": 2}

WHATSAPP_KINDS = (
    "text", "interactive", "button", "image", "location", "reaction", "audio", "unsupported",
)  # fmt: skip
WHATSAPP_STATUSES = ("sent", "delivered", "read", "failed", "other")

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class AgentMetrics:
    """Holds every metric the agent exports, registered on one registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.session_save_retries = Counter(
            "session_save_retries_total", "Session saves retried after a Redis error.", registry=r
        )
        self.audit_fallback_writes = Counter(
            "audit_fallback_writes_total",
            "Audit events written to the fallback file instead of PostgreSQL.",
            registry=r,
        )
        self.audit_breaker_state = Gauge(
            "audit_circuit_breaker_state",
            "Audit breaker state (0 closed, 1 open, 2 half-open).",
            multiprocess_mode="livemax",
            registry=r,
        )
        self.breaker_state = Gauge(
            "circuit_breaker_state",
            "Breaker state (0 closed, 1 open, 2 half-open).",
            ["breaker"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.breaker_transitions = Counter(
            "circuit_breaker_transitions_total",
            "Breaker state transitions.",
            ["breaker", "from_state", "to_state"],
            registry=r,
        )
        self.retry_attempts = Counter(
            "retry_attempts_total",
            "Retry attempts after a failed first call, by how the attempt ended.",
            ["operation", "outcome"],
            registry=r,
        )
        self.pms_cache_hits = Counter(
            "pms_cache_hits_total", "PMS answers served from Redis.", ["kind"], registry=r
        )
        self.pms_cache_misses = Counter(
            "pms_cache_misses_total", "PMS lookups not found in Redis.", ["kind"], registry=r
        )
        self.pms_cache_stale_served = Counter(
            "pms_cache_stale_served_total",
            "Stale PMS answers served while the PMS was unavailable.",
            registry=r,
        )
        self.pms_cache_refreshes = Counter(
            "pms_cache_refreshes_total",
            "PMS cache entries fetched ahead by the warmer (fetched), and warm rounds a "
            "PMS failure stopped (failed).",
            ["outcome"],
            registry=r,
        )
        self.pms_latency = Histogram(
            "pms_api_latency_seconds",
            "PMS API call latency, one observation per HTTP attempt.",
            ["operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.audit_events = Counter(
            "audit_events_total", "Audit events by where they went.", ["outcome"], registry=r
        )
        self.audit_write_failures = Counter(
            "audit_write_failures_total",
            "Direct audit writes that failed, by reason: timeout (the write budget ran out) "
            "or error (PostgreSQL refused or the connection broke).",
            ["reason"],
            registry=r,
        )
        self.audit_fallback_pending = Gauge(
            "audit_fallback_pending",
            "Audit events in the fallback file not yet replayed.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.alerts_sent = Counter(
            "alerts_sent_total", "Alerts to Alertmanager by outcome.", ["outcome"], registry=r
        )
        self.orchestrator_messages = Counter(
            "orchestrator_messages_total",
            "Guest messages handled, by intent and status.",
            ["intent", "status"],
            registry=r,
        )
        self.orchestrator_latency = Histogram(
            "orchestrator_latency_seconds",
            "Time to build a reply, by intent.",
            ["intent"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests by route template.",
            ["method", "endpoint", "status_code"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "HTTP request duration by route template.",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.dependency_up = Gauge(
            "dependency_up",
            "1 when the dependency answered its last check.",
            ["dependency"],
            multiprocess_mode="livemin",
            registry=r,
        )
        # Pool figures are read from the pools when /metrics is scraped (agent/pools.py);
        # until the pools exist they read 0. ``state`` values add up to the pool's size.
        self.db_pool_connections = Gauge(
            "db_pool_connections",
            "PostgreSQL pool connections: in_use (lent out or opening) and available (idle).",
            ["pool", "state"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.db_pool_max_connections = Gauge(
            "db_pool_max_connections",
            "PostgreSQL pool size limit.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.db_pool_requests_waiting = Gauge(
            "db_pool_requests_waiting",
            "Callers queued for a PostgreSQL pool connection right now.",
            ["pool"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.redis_pool_connections = Gauge(
            "redis_pool_connections",
            "Redis pool connections: in_use (checked out) and available (idle).",
            ["state"],
            multiprocess_mode="livesum",
            registry=r,
        )
        self.redis_pool_max_connections = Gauge(
            "redis_pool_max_connections",
            "Redis pool size limit.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.whatsapp_messages = Counter(
            "whatsapp_messages_total",
            "Inbound WhatsApp messages answered, by message type (first copies only).",
            ["kind"],
            registry=r,
        )
        self.whatsapp_duplicates = Counter(
            "whatsapp_duplicates_total",
            "Inbound WhatsApp copies not answered again: stored (answered before) or "
            "concurrent (arrived while another copy was being answered).",
            ["how"],
            registry=r,
        )
        self.whatsapp_statuses = Counter(
            "whatsapp_statuses_total",
            "Delivery statuses Meta reported for the agent's messages.",
            ["status"],
            registry=r,
        )
        self.whatsapp_sends = Counter(
            "whatsapp_sends_total",
            "Graph API send attempts by outcome (sent, failed).",
            ["outcome"],
            registry=r,
        )
        self.whatsapp_outbox = Counter(
            "whatsapp_outbox_total",
            "Replies through the outbox: queued after a failed send, delivered later, "
            "given_up after the last attempt.",
            ["outcome"],
            registry=r,
        )
        self.whatsapp_outbox_pending = Gauge(
            "whatsapp_outbox_pending",
            "Replies waiting in the outbox.",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.nlu_requests = Counter(
            "nlu_requests_total",
            "Calls to the NLU service by outcome (ok, timeout, error, breaker_open).",
            ["outcome"],
            registry=r,
        )
        self.nlu_latency = Histogram(
            "nlu_latency_seconds",
            "NLU service call time, by outcome.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.nlu_fallbacks = Counter(
            "nlu_fallbacks_total",
            "Messages the in-process rules analysed because the NLU service did not "
            "(timeout, error, breaker_open); their replies are marked degraded.",
            ["reason"],
            registry=r,
        )
        self.stt_requests = Counter(
            "stt_requests_total",
            "Voice note transcriptions by outcome (ok, empty, timeout, error, breaker_open).",
            ["outcome"],
            registry=r,
        )
        self.stt_latency = Histogram(
            "stt_latency_seconds",
            "Time to transcribe a voice note (retries included), by outcome.",
            ["outcome"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self._initialise()

    def _initialise(self) -> None:
        for outcome in ("ok", "empty", "timeout", "error", "breaker_open"):
            self.stt_requests.labels(outcome=outcome)
        for reason in ("timeout", "error", "breaker_open"):
            self.nlu_fallbacks.labels(reason=reason)
            self.nlu_requests.labels(outcome=reason)
        self.nlu_requests.labels(outcome="ok")
        for kind in WHATSAPP_KINDS:
            self.whatsapp_messages.labels(kind=kind)
        for how in ("stored", "concurrent"):
            self.whatsapp_duplicates.labels(how=how)
        for status in WHATSAPP_STATUSES:
            self.whatsapp_statuses.labels(status=status)
        for outcome in ("sent", "failed"):
            self.whatsapp_sends.labels(outcome=outcome)
        for outcome in ("queued", "delivered", "given_up"):
            self.whatsapp_outbox.labels(outcome=outcome)
        self.whatsapp_outbox_pending.set(0)
        self.audit_breaker_state.set(0)
        self.audit_fallback_pending.set(0)
        for name in BREAKERS:
            self.breaker_state.labels(breaker=name).set(0)
        for dep in DEPENDENCIES:
            self.dependency_up.labels(dependency=dep).set(0)
        for kind in CACHE_KINDS:
            self.pms_cache_hits.labels(kind=kind)
            self.pms_cache_misses.labels(kind=kind)
        for outcome in ("fetched", "failed"):
            self.pms_cache_refreshes.labels(outcome=outcome)
        for outcome in ("written", "fallback", "replayed"):
            self.audit_events.labels(outcome=outcome)
        for reason in ("timeout", "error"):
            self.audit_write_failures.labels(reason=reason)
        for outcome in ("sent", "suppressed", "failed"):
            self.alerts_sent.labels(outcome=outcome)
        for pool in DB_POOLS:
            for state in POOL_STATES:
                self.db_pool_connections.labels(pool=pool, state=state).set(0)
            self.db_pool_max_connections.labels(pool=pool).set(0)
            self.db_pool_requests_waiting.labels(pool=pool).set(0)
        for state in POOL_STATES:
            self.redis_pool_connections.labels(state=state).set(0)
        self.redis_pool_max_connections.set(0)
