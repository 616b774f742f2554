"""``run_experiment``: steady state -> method (faults on a schedule, under load) ->
rollbacks (always) -> steady state -> verdicts -> journal.

Three things run side by side during the method and never wait on each other: the fault
scheduler (its own thread, nothing else in it), the steady-state probes (another thread,
about once a second) and the guest load (the open-model driver's own thread, or Locust).
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import httpx
import psycopg

from chaos import __name__ as _pkg
from chaos.alerting import AlertEvidence
from chaos.exceptions import ChaosError, ExperimentAborted
from chaos.experiment.alert_verdicts import judge_alerts
from chaos.experiment.alerts import AlertCheck
from chaos.experiment.compare import compare
from chaos.experiment.expectations import (
    AuditCheck,
    Evidence,
    ReplyCheck,
    evaluate,
    first_insert_after,
)
from chaos.experiment.guardrails import Guard
from chaos.experiment.model import Experiment
from chaos.experiment.probes import breakers_closed, run_probe
from chaos.faults import FaultWindow, verify_clean
from chaos.journal import FaultRecord, Journal, ProbeResult, Rollback
from chaos.lease import Lease
from chaos.metrics import MetricsSampler, Timeline, quantile, wait_scraped
from chaos.processfaults import PROCESS_FAULTS, NativeServices, Services, is_process_fault
from chaos.scheduler import FaultScheduler
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient
from chaos.traffic import OpenLoad, Sample

Progress = Callable[[str], None]
AUDIT_BATCH = 1000
PMS_API_KEY = "pms-dev-key"  # the simulator's default, for a stack that recorded none


class Traffic(Protocol):
    """A source of guest traffic: the open-model driver, or Locust in a subprocess."""

    def start(self) -> Any: ...

    def stop(self) -> list[Sample]: ...

    def live_samples(self) -> list[Sample]: ...

    def waiting(self) -> list[float]: ...


def _probes(
    exp: Experiment, phase: str, agent_url: str, memory: dict[str, Any] | None = None
) -> list[ProbeResult]:
    return [run_probe(p, phase, agent_url, memory) for p in exp.steady_state if phase in p.when]


def _settled(
    exp: Experiment, agent_url: str, wait_s: float, memory: dict[str, Any]
) -> list[ProbeResult]:
    """The "before" probes and closed breakers, once all hold or ``wait_s`` has passed."""
    deadline = time.monotonic() + wait_s
    while True:
        results = [*_probes(exp, "before", agent_url, memory), breakers_closed(agent_url)]
        if all(r.ok for r in results) or time.monotonic() >= deadline:
            return results
        time.sleep(1.0)


def reconcile_audit(
    dsn: str, samples: Sequence[Sample], since: float, within_s: float = 0.0
) -> AuditCheck:
    """Every acknowledged message id in the audit log exactly once? Waits up to ``within_s``.

    Waiting lets events still in the fallback file be replayed; a message id that is still
    missing when the time is up is lost.
    """
    acked = sorted({s.message_id for s in samples if s.acknowledged})
    deadline = time.monotonic() + within_s
    while True:
        try:
            counts = _audit_counts(dsn, acked, since)
        except psycopg.Error as exc:
            return AuditCheck(len(acked), 0, [], {}, error=str(exc).splitlines()[0])
        lost = [m for m in acked if m not in counts]
        if not lost or time.monotonic() >= deadline:
            duplicated = {m: n for m, n in counts.items() if n > 1}
            return AuditCheck(len(acked), len(counts), lost, duplicated)
        time.sleep(0.5)


def _audit_counts(dsn: str, message_ids: list[str], since: float) -> dict[str, int]:
    counts: dict[str, int] = {}
    with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
        for i in range(0, len(message_ids), AUDIT_BATCH):
            rows = conn.execute(
                "SELECT payload->>'message_id', count(*) FROM audit_logs "
                "WHERE event_type = 'message' AND occurred_at >= to_timestamp(%s) "
                "AND payload->>'message_id' = ANY(%s) GROUP BY 1",
                (since - 60, message_ids[i : i + AUDIT_BATCH]),
            ).fetchall()
            counts.update({str(m): int(n) for m, n in rows})
    return counts


REPLY_KINDS = ("whatsapp_replies", "please_type_replies")


def please_type_texts() -> frozenset[str]:
    """The replies that ask a guest to type what their voice note said, in each language."""
    from agent.conversation.templates import TEMPLATES

    return frozenset(TEMPLATES["voice_please_type"].values())


def match_replies(samples: Sequence[Sample], sent: Sequence[dict[str, Any]]) -> ReplyCheck:
    """The Graph recorder's ``sent`` messages matched with the acknowledged WhatsApp
    messages: one reply owed per distinct message id, whatever the copies delivered.

    Replies are matched by recipient: each load guest is a phone number of its own run,
    so another run's replies never count.
    """
    owed: dict[str, set[str]] = {}
    deliveries = 0
    for s in samples:
        if s.channel == "whatsapp" and s.acknowledged:
            owed.setdefault(s.guest_id, set()).add(s.message_id)
            deliveries += 1
    got: dict[str, int] = {}
    ours = [m for m in sent if m.get("to") in owed]
    for m in ours:
        got[m["to"]] = got.get(m["to"], 0) + 1
    asking = please_type_texts()
    return ReplyCheck(
        messages=sum(len(ids) for ids in owed.values()),
        guests=len(owed),
        replies=len(ours),
        short={g: len(ids) - got.get(g, 0) for g, ids in owed.items() if got.get(g, 0) < len(ids)},
        extra={g: n - len(owed[g]) for g, n in got.items() if n > len(owed[g])},
        please_type=sum(
            1 for m in ours if m.get("payload", {}).get("text", {}).get("body") in asking
        ),
        deliveries=deliveries,
    )


def reconcile_replies(
    graph_url: str, api_key: str, samples: Sequence[Sample], within_s: float = 0.0
) -> ReplyCheck:
    """One Graph reply per acknowledged WhatsApp message id? Waits up to ``within_s``,
    so the outbox can deliver what it holds; a guest still owed a reply then never got it."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            response = httpx.get(
                f"{graph_url.rstrip('/')}/graph/_sent", headers={"X-API-Key": api_key}, timeout=5
            )
            response.raise_for_status()
            check = match_replies(samples, response.json()["messages"])
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            unread = match_replies(samples, [])
            return dataclasses.replace(unread, replies=0, short={}, error=str(exc) or "unread")
        if not check.short or time.monotonic() >= deadline:
            return check
        time.sleep(0.5)


class _DuringProbes(threading.Thread):
    """Steady-state probes about once a second while the method runs; a failing safety
    probe sets ``abort`` and stops the scheduler through ``stop``."""

    def __init__(self, exp: Experiment, agent_url: str, stop: threading.Event) -> None:
        super().__init__(name="during-probes", daemon=True)
        self.exp, self.agent_url, self.stop = exp, agent_url, stop
        self.results: list[ProbeResult] = []
        self.abort: str | None = None
        self.done = threading.Event()

    def run(self) -> None:
        safety = {p.name for p in self.exp.steady_state if p.safety}
        while not self.done.is_set():
            began = time.monotonic()
            for result in _probes(self.exp, "during", self.agent_url):
                self.results.append(result)
                if not result.ok and result.probe in safety and self.abort is None:
                    self.abort = f"safety probe {result.probe} failed: {result.detail}"
                    self.stop.set()
            self.done.wait(max(0.0, 1.0 - (time.monotonic() - began)))


def _run_method(
    exp: Experiment,
    client: ToxiproxyClient,
    journal: Journal,
    state: StackState,
    progress: Progress,
    traffic: Traffic | None,
    timeline: Timeline,
    services: Services | None,
) -> None:
    agent_url = state.url("agent")
    windows = [FaultWindow(s.start_s, s.end_s, s.fault) for s in exp.method]
    lease = Lease(client.base_url).start()
    scheduler = FaultScheduler(
        client,
        windows,
        log=lambda m: progress(f"    {m}"),
        stack=state,
        services=services,
        lease=lease,
    )
    began = scheduler.began
    journal.faults = scheduler.records
    stop = threading.Event()
    probes = _DuringProbes(exp, agent_url, stop)
    guard = Guard(
        exp.guardrails,
        traffic.live_samples if traffic else list,
        traffic.waiting if traffic else list,
        timeline,
        state.urls.get("prometheus"),
        stop,
    )
    worker = threading.Thread(target=scheduler.run, args=(stop, began), name="faults")
    probes.start()
    if exp.guardrails:
        guard.start()
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.2)
    finally:
        # Rollback: leave no fault behind, whatever happened (Ctrl-C included).
        stop.set()
        worker.join(30)
        scheduler.restore()
        lease.close()
        guard.done.set()
        probes.done.set()
        probes.join(15)
        journal.steady_state["during"] = probes.results
        if guard.breach is not None:
            clean = not verify_clean(client)
            journal.abort = {
                "guardrail": guard.breach.guardrail,
                "value": guard.breach.value,
                "breached_at": guard.breach.at,
                "clean_at": time.time() if clean else None,
            }
    failed = [r for r in journal.faults if r.error and r.started_at is None]
    if failed:
        raise ChaosError(f"fault not applied: {failed[0].fault}: {failed[0].error}")
    if probes.abort:
        raise ExperimentAborted(probes.abort)
    if guard.breach is not None:
        offset = guard.breach.at - (scheduler.started_at or guard.breach.at)
        raise ExperimentAborted(
            f"guardrail breached {offset:+.1f} s into the method: {guard.breach.detail}"
        )


def _traffic(
    exp: Experiment, state: StackState, prefix: str, load: Traffic | None
) -> Traffic | None:
    if load is not None or exp.load is None:
        return load
    if exp.load.locust:
        from chaos.load.runner import LocustLoad

        return LocustLoad(state.url("agent"), exp.load.locust, guest_prefix=prefix)
    return OpenLoad(
        state.url("agent"),
        rate_per_s=exp.load.rate_per_s,
        guests=exp.load.guests,
        guest_prefix=prefix,
        whatsapp_share=exp.load.whatsapp_share,
        whatsapp_secret=state.whatsapp_secret,
        voice_share=exp.load.voice_share,
        voice_notes=_voice_notes(state) if exp.load.voice_share else (),
        duplicate_share=exp.load.duplicate_share,
        concurrent_share=exp.load.concurrent_share,
        stays=exp.load.stays,
        skew=exp.load.skew,
        kinds=exp.load.mix,
        lead_days=exp.load.lead_days,
    )


def _pms_key(state: StackState) -> str:
    return str(state.settings.get("pms_api_key", PMS_API_KEY))


def _voice_notes(state: StackState) -> tuple[str, ...]:
    """The load's voice notes in the stack's Graph recorder (synthesised once a process)."""
    from chaos.stt.voices import upload_notes

    return upload_notes(state.url("pms"), _pms_key(state))


def _describe_load(load: Traffic | None) -> dict[str, Any]:
    if load is None:
        return {"kind": "none"}
    if isinstance(load, OpenLoad):
        return {
            "kind": "open",
            "rate_per_s": load.rate_per_s,
            "guests": load.guests,
            "whatsapp_share": load.whatsapp_share,
            "voice_share": load.voice_share,
            "duplicate_share": load.duplicate_share,
            "concurrent_share": load.concurrent_share,
            "stays": load.stays,
            "skew": load.skew,
            "mix": list(load.kinds) or "default",
            "lead_days": load.lead_days,
        }
    return {"kind": type(load).__name__, "scenario": str(getattr(load, "scenario", ""))}


def run_experiment(
    exp: Experiment,
    state: StackState,
    *,
    progress: Progress = print,
    sample_interval_s: float = 0.25,
    load: Traffic | None = None,
    steady_wait_s: float = 30.0,
    services: Services | None = None,
) -> Journal:
    """Run one experiment against a running stack and return its journal.

    ``load`` replaces the experiment's own traffic (a ``LocustLoad``, say). The method
    begins once the steady state holds; ``steady_wait_s`` is how long to wait for that
    (a previous run's breaker may still be half-open) before the run fails on it.
    ``services`` is what process faults act through (default: the native stack's).
    """
    agent_url = state.url("agent")
    run_id = uuid.uuid4().hex[:12]
    journal = Journal(
        run_id=run_id,
        experiment={
            "name": exp.name,
            "title": exp.title,
            "purpose": exp.purpose,
            "path": exp.path,
            "spec": exp.raw,
        },
        stack=dict(state.urls),
        started_at=time.time(),
        generator=_pkg,
    )
    if services is None and any(is_process_fault(s.fault) for s in exp.method):
        services = NativeServices.of(state)  # refused before anything runs on a compose stack
    client = ToxiproxyClient(state.url("proxy_api"), run_id=run_id)
    sampler = MetricsSampler(
        agent_url, interval_s=sample_interval_s, prometheus_url=state.urls.get("prometheus")
    )
    traffic: Traffic | None = None
    alert_check = AlertCheck(exp.alerts, dict(state.urls), progress) if exp.alerts else None
    samples: list[Sample] = []
    memory: dict[str, Any] = {}  # what stateful probes carry from before to after
    began = False
    try:
        # Inside the try: preparing the load (voice notes) can fail, and the journal stays.
        traffic = _traffic(exp, state, f"exp-{run_id}", load)
        journal.load = _describe_load(traffic)
        dirty = verify_clean(client)
        if dirty:
            raise ChaosError(f"proxy not clean before the run: {'; '.join(dirty)}")
        journal.steady_state["before"] = _settled(exp, agent_url, steady_wait_s, memory)
        if not all(r.ok for r in journal.steady_state["before"]):
            journal.status = "failed"
            journal.error = "steady state not met before the method: " + "; ".join(
                r.detail for r in journal.steady_state["before"] if not r.ok
            )
            return journal
        if state.urls.get("prometheus"):
            # The dashboards' chaos windows and the alerts are read from Prometheus.
            wait_scraped(state.url("prometheus"), ("agent", "proxy"))
        if alert_check is not None:
            alert_check.wait_quiet()
            alert_check.start()
        sampler.start()
        if traffic is not None:
            progress(f"  guest load: {journal.load}")
            traffic.start()
        began = True
        time.sleep(exp.baseline_s)
        progress(f"  method ({exp.method_s:g} s of faults)")
        _run_method(exp, client, journal, state, progress, traffic, sampler.timeline, services)
        progress(f"  settling for {exp.settle_s:g} s")
        time.sleep(exp.settle_s)
        journal.status = "completed"
    except ExperimentAborted as exc:
        journal.status, journal.error = "aborted", str(exc)
    except KeyboardInterrupt:
        journal.status, journal.error = "interrupted", "interrupted by the user; faults rolled back"
        raise
    except ChaosError as exc:
        journal.status, journal.error = "error", str(exc)
    finally:
        if traffic is not None and began:
            samples = traffic.stop()
        journal.timeline = sampler.stop() if began else Timeline()
        journal.samples = samples
        problems = verify_clean(client) if began else []
        journal.rollbacks = [
            Rollback(_undo(r), bool(r.removed_ok), r.removal_detail)
            for r in journal.faults
            if r.started_at is not None
        ] + [Rollback("verify proxy clean", not problems, "; ".join(problems))]
        client.close()
        journal.ended_at = time.time()
        if alert_check is not None and journal.status != "completed":
            # Stops the watcher; the evidence goes in the report, with no verdict.
            journal.alerts = alert_check.finish(journal.started_at, None).to_dict()
    if journal.status != "completed":
        return journal
    if alert_check is not None:
        window = journal.fault_window
        fault_start = window[0] if window else None
        journal.alerts = alert_check.finish(journal.started_at, fault_start).to_dict()
    _conclude(exp, state, journal, memory)
    return journal


def _undo(record: FaultRecord) -> str:
    return (
        f"bring back {record.target}" if record.type in PROCESS_FAULTS else f"remove {record.fault}"
    )


def _conclude(exp: Experiment, state: StackState, journal: Journal, memory: dict[str, Any]) -> None:
    journal.steady_state["after"] = _probes(exp, "after", state.url("agent"), memory)
    window = journal.fault_window
    assert window is not None  # a completed method started its faults
    waits = [e.spec["within_s"] for e in exp.expectations if e.kind == "no_lost_audit_events"]
    audit = reconcile_audit(
        state.url("postgres"), journal.samples, journal.started_at, max(waits, default=0.0)
    )
    journal.audit = {
        "acknowledged": audit.acknowledged,
        "present": audit.present,
        "lost": audit.lost,
        "duplicated": audit.duplicated,
        "error": audit.error,
    }
    if any(e.kind in REPLY_KINDS for e in exp.expectations):
        waits = [e.spec.get("within_s", 0.0) for e in exp.expectations if e.kind in REPLY_KINDS]
        replies = reconcile_replies(
            state.url("pms"),
            _pms_key(state),
            journal.samples,
            max(waits),
        )
        journal.replies = dataclasses.asdict(replies)
    evidence = Evidence.of(journal)
    journal.verdicts = [evaluate(e, evidence) for e in exp.expectations] + [
        compare(c, evidence) for c in exp.comparisons
    ]
    if exp.alerts is not None and journal.alerts is not None:
        alerts = AlertEvidence.from_dict(journal.alerts)
        journal.verdicts += judge_alerts(exp.alerts, alerts, window[0])
    journal.figures = figures(journal, evidence)
    from chaos.dashboards.snapshot import capture as capture_panels  # matplotlib: import late

    journal.panels = capture_panels(
        state.urls.get("prometheus"), {f.target for f in journal.faults}, journal.started_at,
        time.time(),
    )  # fmt: skip
    journal.ended_at = time.time()
    after_failed = [r.detail for r in journal.steady_state["after"] if not r.ok]
    rollback_failed = [r.detail or r.action for r in journal.rollbacks if not r.ok]
    statuses = {v.status for v in journal.verdicts}
    if rollback_failed:
        journal.status, journal.error = "error", "rollback failed: " + "; ".join(rollback_failed)
    elif after_failed or "failed" in statuses:
        journal.status = "failed"
        if after_failed:
            journal.error = "steady state not restored after the method: " + "; ".join(after_failed)
    else:
        journal.status = "inconclusive" if "inconclusive" in statuses else "passed"


def figures(journal: Journal, ev: Evidence) -> dict[str, Any]:
    """Headline numbers for the report: traffic, latency per phase, counters, scheduling."""
    out: dict[str, Any] = {
        "requests": len(ev.samples),
        "failed": sum(1 for s in ev.samples if s.failed),
        "degraded": sum(1 for s in ev.samples if s.degraded),
        "fault_duration_s": round(ev.fault_end - ev.fault_start, 2),
        "sampler_errors": len(ev.timeline.errors),
    }
    for phase in ("before", "during", "after"):
        lat = [s.latency_s for s in ev.phase(phase)]
        for q in (0.5, 0.95):
            value = quantile(lat, q) if lat else None
            out[f"p{round(q * 100)}_{phase}_s"] = round(value, 4) if value is not None else None
    for metric in (
        "session_save_retries_total",
        "audit_fallback_writes_total",
        "pms_cache_stale_served_total",
        "pms_cache_hits_total",
        "pms_cache_misses_total",
        "nlu_fallbacks_total",
        "whatsapp_duplicates_total",
    ):
        out[metric] = ev.increase(metric)
    for metric, label, values in (
        ("stt_requests_total", "outcome", ("ok", "timeout", "error", "breaker_open")),
        ("whatsapp_outbox_total", "outcome", ("queued", "delivered", "given_up")),
        ("whatsapp_duplicates_total", "how", ("stored", "concurrent")),
    ):
        for child in values:
            out[f"{metric}{{{label}={child}}}"] = ev.increase(metric, "run", **{label: child})
    if ev.replies is not None and not ev.replies.error:
        r = ev.replies
        out.update(
            whatsapp_deliveries=r.deliveries,
            whatsapp_messages=r.messages,
            whatsapp_replies=r.replies,
            replies_missing=sum(r.short.values()),
            replies_duplicated=sum(r.extra.values()),
            please_type_replies=r.please_type,
        )
    lags = schedule_lags(journal)
    out["schedule_lag_max_ms"] = round(max(lags) * 1000, 1) if lags else None
    for f in journal.faults:
        if f.started_at and f.recovered_at and f.recovery_requested_at:
            # How long the service was away, and how long its restart or resume took.
            out[f"{f.fault}: down_s"] = round(f.recovered_at - f.started_at, 2)
            out[f"{f.fault}: back_in_s"] = round(f.recovered_at - f.recovery_requested_at, 2)
    out.update(recovery_figures(ev))
    return out


def schedule_lags(journal: Journal) -> list[float]:
    """Seconds from each planned fault start or end to the proxy's confirmation of it.

    A process fault's end counts when it was begun: bringing a service back takes its
    start-up time, which ``figures`` reports as ``recoveries``, not as lateness.
    """
    lags = []
    for f in journal.faults:
        if f.started_at is not None and f.planned_start_at is not None:
            lags.append(f.started_at - f.planned_start_at)
        end = f.end_requested_at if f.type in PROCESS_FAULTS else f.ended_at
        if end is not None and f.planned_end_at is not None:
            lags.append(end - f.planned_end_at)
    return lags


def recovery_figures(ev: Evidence) -> dict[str, Any]:
    """After the last recovery (or the fault's end): the first audit row in PostgreSQL,
    and the API guests whose session the agent replaced across the fault."""
    anchor = ev.recovered_at if ev.recovered_at is not None else ev.fault_end
    took = first_insert_after(ev, anchor)
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for s in ev.samples:
        if s.session_id and s.intended_at < ev.fault_start:
            before[s.guest_id] = s.session_id  # the last one before the fault
        elif s.session_id and s.intended_at > ev.fault_end:
            after.setdefault(s.guest_id, s.session_id)  # the first one after it
    both = before.keys() & after.keys()
    return {
        "first_insert_after_s": round(took, 2) if took is not None else None,
        "sessions_seen_across": len(both),
        "sessions_replaced": sum(1 for g in both if before[g] != after[g]),
    }
