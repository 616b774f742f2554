"""Every expectation kind judged on synthetic evidence: data that passes, data that fails,
and no data (inconclusive, never a pass)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.exceptions import ExperimentError
from chaos.experiment.expectations import (
    KINDS,
    AuditCheck,
    Evidence,
    ReplyCheck,
    ensure_expectation,
    evaluate,
)
from chaos.journal import Verdict
from chaos.metrics import Scrape, Timeline
from chaos.traffic import Sample

T0 = 1000.0
FAULT = (T0 + 10, T0 + 20)
# Every family the agent declares from start-up (labelled children appear later).
DECLARED = frozenset(
    {
        "circuit_breaker_state",
        "circuit_breaker_transitions_total",
        "retry_attempts_total",
        "session_save_retries_total",
        "audit_write_failures_total",
        "pms_api_latency_seconds_sum",
        "audit_fallback_writes_total",
        "audit_fallback_pending",
        "pms_cache_hits_total",
        "pms_cache_misses_total",
        "pms_cache_stale_served_total",
        "pms_api_latency_seconds_count",
        "nlu_fallbacks_total",
        "stt_requests_total",
        "whatsapp_outbox_pending",
    }
)


def page(values: dict[str, list[tuple[dict[str, str], float]]]) -> Scrape:
    return Scrape(values, DECLARED)


def readings(
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]],
    times: list[float] | None = None,
) -> Timeline:
    """A timeline read every second from T0 to T0+30 (or at ``times``)."""
    times = times if times is not None else [T0 + i for i in range(31)]
    pages = []
    for t in times:
        values: dict[str, list[tuple[dict[str, str], float]]] = {}
        for (name, labels), points in series.items():
            seen = [v for at, v in points if at <= t - T0]
            if seen:  # a labelled child appears at its first increment
                values.setdefault(name, []).append((dict(labels), seen[-1]))
        pages.append((t, page(values)))
    return Timeline.of(pages)


def sample(at: float, status: int = 200, latency: float = 0.05, **kw: Any) -> Sample:
    fields: dict[str, Any] = {
        "channel": "api",
        "message_id": f"m{at}",
        "degraded": False,
        "label": "availability",
    }
    fields.update(kw)
    return Sample(T0 + at, T0 + at, T0 + at + latency, status, **fields)


def traffic(latency_before: float = 0.05, latency_during: float = 0.05, **kw: Any) -> list[Sample]:
    return [sample(t * 0.5, latency=latency_before, **kw) for t in range(20)] + [
        sample(10 + t * 0.5, latency=latency_during, **kw) for t in range(20)
    ]


def evidence(
    timeline: Timeline | None = None, samples: list[Sample] | None = None, **kw: Any
) -> Evidence:
    return Evidence(
        timeline=timeline if timeline is not None else readings({}),
        samples=samples or [],
        fault_start=FAULT[0],
        fault_end=FAULT[1],
        run_start=T0,
        run_end=T0 + 30,
        **kw,
    )


def judge(spec: dict[str, Any], ev: Evidence) -> Verdict:
    return evaluate(ensure_expectation(spec, "e"), ev)


NOTHING = evidence(Timeline())  # the sampler never read the agent, no traffic, no audit

# --------------------------------------------------------------------------- counters

RETRIES = ("retry_attempts_total", (("operation", "session.save"), ("outcome", "success")))


def test_a_labelled_counter_first_seen_mid_run_counts_from_zero() -> None:
    # The child appears at t=12 with value 1: one retry, not zero.
    ev = evidence(readings({RETRIES: [(12, 1.0)]}))
    verdict = judge({"retries": {"operation": "session.save", "outcome": "success", "min": 1}}, ev)
    assert verdict.status == "passed", verdict.detail
    assert verdict.observed["value"] == 1.0


def test_a_counter_reset_keeps_counting_from_the_new_value() -> None:
    ev = evidence(
        readings({("session_save_retries_total", ()): [(0, 5.0), (8, 7.0), (15, 1.0), (20, 3.0)]})
    )
    verdict = judge({"session_save_retries": {"min": 5, "max": 5}}, ev)
    assert verdict.status == "passed", verdict.detail  # 2 before the restart, then 1 and 2


@pytest.mark.parametrize(
    ("kind", "series", "spec"),
    [
        ("fallback_writes", ("audit_fallback_writes_total", ()), {"min": 1}),
        ("session_save_retries", ("session_save_retries_total", ()), {"min": 1}),
        ("stale_served", ("pms_cache_stale_served_total", ()), {"min": 1}),
        (
            "audit_write_failures",
            ("audit_write_failures_total", (("reason", "timeout"),)),
            {"reason": "timeout", "min": 1},
        ),
        (
            "pms_calls",
            (
                "pms_api_latency_seconds_count",
                (("operation", "availability"), ("outcome", "timeout")),
            ),
            {"outcome": "timeout", "min": 1},
        ),
    ],
)
def test_counter_kinds_pass_fail_and_refuse_to_guess(
    kind: str, series: tuple[str, tuple[tuple[str, str], ...]], spec: dict[str, Any]
) -> None:
    grew = evidence(readings({series: [(0, 2.0), (15, 4.0)]}))
    assert judge({kind: spec}, grew).status == "passed"
    flat = evidence(readings({series: [(0, 2.0)]}))
    assert judge({kind: spec}, flat).status == "failed"
    assert judge({kind: spec}, NOTHING).status == "inconclusive"


def test_a_counter_window_is_judged_by_phase() -> None:
    ev = evidence(readings({("audit_fallback_writes_total", ()): [(0, 0.0), (5, 3.0)]}))
    assert judge({"fallback_writes": {"phase": "before", "min": 3}}, ev).status == "passed"
    assert judge({"fallback_writes": {"phase": "during", "min": 1}}, ev).status == "failed"


def test_readings_that_stop_before_the_window_ends_are_inconclusive() -> None:
    # The sampler lost the agent at t=12: nothing says what happened during the fault.
    ev = evidence(
        readings({("audit_fallback_writes_total", ()): [(0, 0.0)]}, [T0 + i for i in range(13)])
    )
    verdict = judge({"fallback_writes": {"phase": "during", "min": 1}}, ev)
    assert verdict.status == "inconclusive"
    assert "do not cover" in verdict.detail


def test_an_undeclared_metric_is_missing_not_zero() -> None:
    tl = Timeline.of([(T0 + i, Scrape({}, frozenset())) for i in range(31)])
    verdict = judge({"session_save_retries": {"max": 0}}, evidence(tl))
    assert verdict.status == "inconclusive"
    assert "never exported session_save_retries_total" in verdict.detail


def test_the_generic_counter_reads_any_watched_family_by_labels() -> None:
    stt = ("stt_requests_total", (("outcome", "timeout"),))
    ok = ("stt_requests_total", (("outcome", "ok"),))
    grew = evidence(readings({stt: [(0, 0.0), (12, 3.0)], ok: [(0, 9.0)]}))
    spec = {"metric": "stt_requests_total", "labels": {"outcome": "timeout"}, "phase": "during"}
    assert judge({"counter": {**spec, "min": 3}}, grew).status == "passed"
    assert judge({"counter": {**spec, "labels": {"outcome": "ok"}, "min": 1}}, grew).status == (
        "failed"
    )
    assert judge({"counter": {**spec, "min": 1}}, NOTHING).status == "inconclusive"
    assert ensure_expectation({"counter": {**spec, "min": 1}}, "e").proves_fault
    assert not ensure_expectation({"counter": {**spec, "max": 0}}, "e").proves_fault


def test_the_generic_counter_refuses_a_family_the_sampler_does_not_keep() -> None:
    with pytest.raises(ExperimentError, match="must be a counter the sampler reads"):
        ensure_expectation({"counter": {"metric": "process_cpu_seconds_total", "min": 1}}, "e")
    bad = {"metric": "stt_requests_total", "labels": ["a"], "min": 1}
    with pytest.raises(ExperimentError, match="labels: must be a mapping"):
        ensure_expectation({"counter": bad}, "e")


# --------------------------------------------------------------------------- breakers

STATE = ("circuit_breaker_state", (("breaker", "audit"),))


def transitions(
    *steps: tuple[float, str, str],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]]:
    series: dict[tuple[str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = {
        STATE: [(0, 0.0)]
    }
    counts: dict[tuple[str, str], float] = {}
    level = {"closed": 0.0, "open": 1.0, "half-open": 2.0}
    for at, a, b in steps:
        counts[(a, b)] = counts.get((a, b), 0.0) + 1
        key = (
            "circuit_breaker_transitions_total",
            (("breaker", "audit"), ("from_state", a), ("to_state", b)),
        )
        series.setdefault(key, []).append((at, counts[(a, b)]))
        series[STATE].append((at, level[b]))
    return series


CYCLE = {
    "breaker_transitions": {
        "breaker": "audit",
        "sequence": [
            {"from": "closed", "to": "open", "after": "fault_start", "within_s": 5},
            {"from": "open", "to": "half-open"},
            {"from": "half-open", "to": "closed", "after": "fault_end", "within_s": 8},
        ],
    }
}


def test_a_full_breaker_cycle_passes_with_failed_trials_in_between() -> None:
    ev = evidence(readings(transitions(
        (12, "closed", "open"), (15, "open", "half-open"), (15.5, "half-open", "open"),
        (19, "open", "half-open"), (23, "half-open", "closed"),
    )))  # fmt: skip
    verdict = judge(CYCLE, ev)
    assert verdict.status == "passed", verdict.detail


def test_a_breaker_that_never_opened_fails() -> None:
    verdict = judge(CYCLE, evidence(readings(transitions())))
    assert verdict.status == "failed"
    assert "never went closed>open" in verdict.detail


def test_a_transition_before_its_anchor_fails() -> None:
    ev = evidence(readings(transitions(
        (8, "closed", "open"), (13, "open", "half-open"), (23, "half-open", "closed"),
    )))  # fmt: skip
    verdict = judge(CYCLE, ev)
    assert verdict.status == "failed"
    assert "closed>open came 2.00 s before fault_start" in verdict.detail


def test_a_transition_too_late_fails_and_a_lower_bound_is_enforced() -> None:
    late = evidence(readings(transitions(
        (12, "closed", "open"), (15, "open", "half-open"), (29, "half-open", "closed"),
    )))  # fmt: skip
    assert "half-open>closed came 9.00 s after fault_end" in judge(CYCLE, late).detail
    early = {"breaker_transitions": {"breaker": "audit", "sequence": [
        {"from": "closed", "to": "open", "after": "fault_start", "min_s": 3},
    ]}}  # fmt: skip
    verdict = judge(early, evidence(readings(transitions((11, "closed", "open")))))
    assert verdict.status == "failed"


def test_a_breaker_that_reopens_after_the_sequence_fails_unless_allowed() -> None:
    ev = evidence(readings(transitions(
        (12, "closed", "open"), (15, "open", "half-open"), (21, "half-open", "closed"),
        (25, "closed", "open"),
    )))  # fmt: skip
    verdict = judge(CYCLE, ev)
    assert verdict.status == "failed"
    assert "unexpected transition(s) after the expected sequence: closed>open" in verdict.detail
    allowed = {"breaker_transitions": {**CYCLE["breaker_transitions"], "extra": "allow"}}
    assert judge(allowed, ev).status == "passed"


def test_lifetime_counts_at_the_first_reading_are_not_replayed() -> None:
    # The agent opened its breaker 3 times before the run; the run saw none.
    key = (
        "circuit_breaker_transitions_total",
        (("breaker", "audit"), ("from_state", "closed"), ("to_state", "open")),
    )
    ev = evidence(readings({key: [(0, 3.0)], STATE: [(0, 0.0)]}))
    assert judge({"breaker_quiet": {"breaker": "audit"}}, ev).status == "passed"


def test_breaker_checks_without_readings_are_inconclusive() -> None:
    assert judge(CYCLE, NOTHING).status == "inconclusive"
    assert judge({"breaker_quiet": {"breaker": "audit"}}, NOTHING).status == "inconclusive"
    moved = evidence(readings(transitions((12, "closed", "open"))))
    assert judge({"breaker_quiet": {"breaker": "audit"}}, moved).status == "failed"


# --------------------------------------------------------------------------- fallback


def pending(*points: tuple[float, float]) -> Timeline:
    return readings({("audit_fallback_pending", ()): list(points)})


def test_fallback_drained_within_and_beyond_its_limit() -> None:
    ok = judge({"fallback_drained": {"within_s": 5}}, evidence(pending((0, 0), (12, 8), (23, 0))))
    assert ok.status == "passed" and ok.observed["drained_after_s"] == 3.0
    slow = judge({"fallback_drained": {"within_s": 2}}, evidence(pending((0, 0), (12, 8), (23, 0))))
    assert slow.status == "failed"
    stuck = judge({"fallback_drained": {"within_s": 60}}, evidence(pending((0, 0), (12, 8))))
    assert stuck.status == "failed" and "still pending" in stuck.detail
    assert judge({"fallback_drained": {"within_s": 5}}, NOTHING).status == "inconclusive"


def test_fallback_drained_reads_the_outbox_gauge_when_asked() -> None:
    outbox = readings({("whatsapp_outbox_pending", ()): [(0, 0), (12, 5), (22, 0)]})
    spec = {"within_s": 5, "gauge": "whatsapp_outbox_pending"}
    verdict = judge({"fallback_drained": spec}, evidence(outbox))
    assert verdict.status == "passed" and verdict.observed["drained_after_s"] == 2.0
    assert judge({"fallback_drained": {"within_s": 5}}, evidence(outbox)).status == "inconclusive"


# --------------------------------------------------------------------------- replies


def test_whatsapp_replies_want_each_message_answered_exactly_once() -> None:
    spec = {"whatsapp_replies": {}}
    ok = judge(spec, evidence(replies=ReplyCheck(30, 10, 30, {}, {}, deliveries=45)))
    assert ok.status == "passed" and "30 replies for 30 messages (45 deliveries)" in ok.detail
    # A duplicate delivery answered again (dedupe broken): the guest got two replies.
    twice = judge(spec, evidence(replies=ReplyCheck(30, 10, 32, {}, {"5491": 2}, deliveries=45)))
    assert twice.status == "failed" and "2 answered twice or more" in twice.detail
    lost = judge(spec, evidence(replies=ReplyCheck(30, 10, 29, {"5492": 1}, {})))
    assert lost.status == "failed" and "1 never answered" in lost.detail
    assert judge(spec, evidence(replies=ReplyCheck(0, 0, 0, {}, {}))).status == "inconclusive"
    unread = ReplyCheck(30, 10, 0, {}, {}, error="connection refused")
    assert judge(spec, evidence(replies=unread)).status == "inconclusive"
    assert judge(spec, NOTHING).status == "inconclusive"


def test_please_type_replies_count_the_voice_notes_not_heard() -> None:
    heard = evidence(replies=ReplyCheck(12, 4, 12, {}, {}, please_type=0))
    assert judge({"please_type_replies": {"min": 1}}, heard).status == "failed"
    asked = evidence(replies=ReplyCheck(12, 4, 12, {}, {}, please_type=5))
    assert judge({"please_type_replies": {"min": 1}}, asked).status == "passed"
    assert judge({"please_type_replies": {"min": 1}}, NOTHING).status == "inconclusive"


# --------------------------------------------------------------------------- audit


def test_no_lost_audit_events_reconciles_message_ids() -> None:
    spec = {"no_lost_audit_events": {}}
    ok = evidence(audit=AuditCheck(40, 40, [], {}))
    assert judge(spec, ok).status == "passed"
    lost = judge(spec, evidence(audit=AuditCheck(40, 38, ["m1", "m2"], {})))
    assert lost.status == "failed" and "2 lost (e.g. m1, m2)" in lost.detail
    dup = judge(spec, evidence(audit=AuditCheck(40, 40, [], {"m3": 2})))
    assert dup.status == "failed" and "m3 x2" in dup.detail
    assert judge(spec, evidence(audit=AuditCheck(0, 0, [], {}))).status == "inconclusive"
    broken = evidence(audit=AuditCheck(40, 0, [], {}, error="connection refused"))
    assert judge(spec, broken).status == "inconclusive"
    assert judge(spec, NOTHING).status == "inconclusive"


# --------------------------------------------------------------------------- traffic


def test_no_5xx_counts_every_channel_and_transport_errors() -> None:
    clean = [*traffic(), sample(12, channel="whatsapp", degraded=None)]
    assert judge({"no_5xx": {}}, evidence(samples=clean)).status == "passed"
    whatsapp_500 = [*clean, sample(13, status=500, channel="whatsapp", degraded=None)]
    verdict = judge({"no_5xx": {}}, evidence(samples=whatsapp_500))
    assert verdict.status == "failed" and "whatsapp HTTP 500" in verdict.detail
    no_answer = [*clean, sample(14, status=0, error="ReadTimeout")]
    assert "no answer (ReadTimeout)" in judge({"no_5xx": {}}, evidence(samples=no_answer)).detail
    assert judge({"no_5xx": {}}, NOTHING).status == "inconclusive"


def test_latency_is_judged_from_the_intended_send_time() -> None:
    # Sent 2 s late (a stalled client) and answered in 10 ms: the guest waited 2 s.
    late = [Sample(T0 + 10 + i * 0.5, T0 + 12 + i * 0.5, T0 + 12.01 + i * 0.5, 200, "api", f"m{i}")
            for i in range(20)]  # fmt: skip
    verdict = judge({"p95_latency": {"max_s": 1.0}}, evidence(samples=late))
    assert verdict.status == "failed" and verdict.observed["p95_s"] == pytest.approx(2.01)


def test_phases_are_assigned_by_send_time_not_completion() -> None:
    # Sent during the fault, answered after it ended: the request belongs to "during".
    slow = [sample(10 + i * 0.4, latency=12.0) for i in range(20)]
    verdict = judge({"p95_latency": {"phase": "during", "max_s": 5}}, evidence(samples=slow))
    assert verdict.status == "failed" and verdict.observed["n"] == 20


def test_p95_needs_enough_requests() -> None:
    few = [sample(12, latency=0.1), sample(13, latency=0.1)]
    verdict = judge({"p95_latency": {"max_s": 1}}, evidence(samples=few))
    assert verdict.status == "inconclusive" and "need 10" in verdict.detail
    assert judge({"p95_latency": {"max_s": 1}}, evidence(samples=traffic())).status == "passed"


def test_latency_shift_needs_the_fault_to_show_in_the_replies() -> None:
    spec = {"latency_shift": {"min": 0.2}}
    assert judge(spec, evidence(samples=traffic(0.05, 0.5))).status == "passed"
    no_effect = judge(spec, evidence(samples=traffic(0.05, 0.06)))
    assert no_effect.status == "failed" and "+10 ms" in no_effect.detail
    assert judge(spec, NOTHING).status == "inconclusive"
    scoped = {"latency_shift": {"min": 0.2, "label": "room_options"}}
    assert judge(scoped, evidence(samples=traffic(0.05, 0.5))).status == "inconclusive"


def test_degraded_replies_ignore_transport_errors_and_whatsapp() -> None:
    spec = {"degraded_replies": {"min": 1}}
    errors_only = [*traffic(), sample(12, status=0, error="ConnectError", degraded=None)]
    assert judge(spec, evidence(samples=errors_only)).status == "failed"
    degraded = [*traffic(), sample(12, degraded=True)]
    assert judge(spec, evidence(samples=degraded)).status == "passed"
    whatsapp_only = [sample(12, channel="whatsapp", degraded=None)]
    assert judge(spec, evidence(samples=whatsapp_only)).status == "inconclusive"


def test_cache_hit_rate_passes_fails_and_needs_lookups() -> None:
    hits = ("pms_cache_hits_total", (("kind", "availability"),))
    misses = ("pms_cache_misses_total", (("kind", "availability"),))
    good = evidence(readings({hits: [(0, 0.0), (20, 9.0)], misses: [(0, 0.0), (20, 1.0)]}))
    assert judge({"cache_hit_rate": {"min": 0.8}}, good).status == "passed"
    assert judge({"cache_hit_rate": {"min": 0.95}}, good).status == "failed"
    idle = evidence(readings({hits: [(0, 4.0)], misses: [(0, 4.0)]}))
    assert judge({"cache_hit_rate": {"min": 0.8}}, idle).status == "inconclusive"


PINGS = ("pms_api_latency_seconds_count", (("operation", "ping"), ("outcome", "success")))


def test_agent_restarts_are_counters_starting_over() -> None:
    # The agent pings the PMS every second; killed at 13 s, a new process from 16 s.
    once = evidence(readings({PINGS: [(0, 500.0), (13, 513.0), (16, 1.0), (30, 15.0)]}))
    verdict = judge({"agent_restarts": {"min": 1, "max": 1}}, once)
    assert verdict.status == "passed", verdict.detail
    assert verdict.observed["at_s"] == [6.0]  # the first reading of the new process
    steady = evidence(readings({PINGS: [(t, 500.0 + t) for t in range(31)]}))
    no_kill = judge({"agent_restarts": {"min": 1}}, steady)
    assert no_kill.status == "failed" and "agent restarts (run) = 0" in no_kill.detail
    # A counter of the old process missing from the new one's page is a drop to zero.
    twice = evidence(readings({PINGS: [(0, 500.0), (16, 1.0), (20, 9.0), (22, 2.0)]}))
    assert judge({"agent_restarts": {"min": 1, "max": 1}}, twice).status == "failed"
    assert judge({"agent_restarts": {"min": 1}}, NOTHING).status == "inconclusive"
    assert judge({"agent_restarts": {"min": 1}}, NOTHING).proves_fault


WRITTEN = ("audit_events_total", (("outcome", "written"),))
REPLAYED = ("audit_events_total", (("outcome", "replayed"),))
RECOVERED = T0 + 12  # PostgreSQL answered again


def test_audit_inserts_resume_times_the_first_row_after_the_recovery() -> None:
    spec = {"audit_inserts_resume": {"within_s": 5}}
    # Writes stop at 11 s (down), the breaker lets one through at 15 s.
    series = {WRITTEN: [(0, 40.0), (11, 60.0), (15, 61.0), (30, 90.0)]}
    ok = judge(spec, evidence(readings(series), traffic(), recovered_at=RECOVERED))
    assert ok.status == "passed", ok.detail
    assert ok.observed["first_insert_after_s"] == 3.0
    slow = judge(
        {"audit_inserts_resume": {"within_s": 2}},
        evidence(readings(series), traffic(), recovered_at=RECOVERED),
    )
    assert slow.status == "failed" and "3.0 s after the recovery" in slow.detail
    # Replays count too: they are rows reaching PostgreSQL.
    replays = {WRITTEN: [(0, 40.0)], REPLAYED: [(14, 5.0)]}
    replayed = judge(spec, evidence(readings(replays), traffic(), recovered_at=RECOVERED))
    assert replayed.status == "passed" and replayed.observed["first_insert_after_s"] == 2.0
    stuck = judge(
        spec,
        evidence(readings({WRITTEN: [(0, 40.0), (11, 60.0)]}), traffic(), recovered_at=RECOVERED),
    )
    assert stuck.status == "failed" and "no audit row reached PostgreSQL" in stuck.detail


def test_audit_inserts_resume_without_data_is_inconclusive() -> None:
    spec = {"audit_inserts_resume": {"within_s": 5}}
    series = {WRITTEN: [(0, 40.0), (15, 61.0)]}
    no_recovery = judge(spec, evidence(readings(series), traffic()))
    assert (
        no_recovery.status == "inconclusive" and "no process fault recovered" in no_recovery.detail
    )
    anchored_on_end = {"audit_inserts_resume": {"within_s": 5, "after": "fault_end"}}
    late_traffic = [*traffic(), sample(25)]
    assert judge(anchored_on_end, evidence(readings(series), late_traffic)).status == "failed"
    quiet = judge(spec, evidence(readings(series), traffic()[:20], recovered_at=RECOVERED))
    assert quiet.status == "inconclusive" and "no guest message" in quiet.detail
    assert judge(spec, evidence(Timeline(), traffic(), recovered_at=RECOVERED)).status == (
        "inconclusive"
    )
    assert not ensure_expectation(spec, "e").proves_fault


def test_pms_latency_shift_reads_the_agents_own_timing() -> None:
    count = ("pms_api_latency_seconds_count", (("operation", "availability"),))
    total = ("pms_api_latency_seconds_sum", (("operation", "availability"),))
    # 10 calls of 10 ms before the fault; 10 calls of 310 ms during it.
    slow = readings(
        {count: [(0, 0.0), (9, 10.0), (19, 20.0)], total: [(0, 0.0), (9, 0.1), (19, 3.2)]}
    )
    verdict = judge({"pms_latency_shift": {"min": 0.25}}, evidence(slow))
    assert verdict.status == "passed" and verdict.observed["shift_s"] == pytest.approx(0.3)
    same = readings(
        {count: [(0, 0.0), (9, 10.0), (19, 20.0)], total: [(0, 0.0), (9, 0.1), (19, 0.2)]}
    )
    assert judge({"pms_latency_shift": {"min": 0.25}}, evidence(same)).status == "failed"
    idle = readings({count: [(0, 0.0), (19, 2.0)], total: [(0, 0.0), (19, 0.1)]})
    assert judge({"pms_latency_shift": {"min": 0.25}}, evidence(idle)).status == "inconclusive"
    assert judge({"pms_latency_shift": {"min": 0.25}}, NOTHING).status == "inconclusive"


def test_every_kind_has_a_no_data_case_here() -> None:
    covered = {
        "breaker_transitions", "breaker_quiet", "retries", "session_save_retries",
        "fallback_writes", "stale_served", "pms_calls", "fallback_drained", "audit_write_failures",
        "pms_latency_shift",
        "no_lost_audit_events", "no_5xx", "p95_latency", "latency_shift", "cache_hit_rate",
        "degraded_replies", "agent_restarts", "audit_inserts_resume", "counter",
        "whatsapp_replies", "please_type_replies",
    }  # fmt: skip
    assert covered == set(KINDS)
