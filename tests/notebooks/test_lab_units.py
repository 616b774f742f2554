"""Unit tests of ``chaos.lab`` on synthetic timelines (no servers).

The notebook-facing API lives in ``chaos/lab``; its tests sit with the notebooks that use
it. Timelines are built the way ``MetricsSampler`` records them: (t, metric, labels, value).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.audit.errors import AuditUnavailable
from agent.audit.events import new_event
from agent.audit.fallback import FallbackFile
from chaos.exceptions import ExperimentError
from chaos.experiment.model import catalogue
from chaos.figures.base import new_figure
from chaos.journal import FaultRecord, Journal
from chaos.lab import checks
from chaos.lab.agents import discarding_fallback, settings_for
from chaos.lab.analysis import step_table
from chaos.lab.errors import LabError
from chaos.lab.load import Traffic, locust_args
from chaos.lab.runs import Run, with_overrides
from chaos.metrics import Scrape, Timeline, parse_labels
from chaos.stack.config import Ports, StackSettings
from chaos.stack.services import stack_urls
from chaos.stack.state import StackState
from chaos.traffic import Sample

T0 = 5000.0  # run times below are relative to this
# Families the agent declares from start-up, whether or not a child has appeared yet.
DECLARED = frozenset({"circuit_breaker_transitions_total", "retry_attempts_total"})


def timeline(rows: list[tuple[float, str, str, float]]) -> Timeline:
    """Readings at every time a row has, each holding every child seen so far (as the agent
    exports them: a labelled child appears at its first increment, then stays)."""
    known: dict[tuple[str, str], float] = {}
    pages = []
    names = frozenset(m for _, m, _, _ in rows) | DECLARED
    for t in sorted({r[0] for r in rows}):
        known.update({(m, k): v for at, m, k, v in rows if at == t})
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for (m, k), v in known.items():
            samples.setdefault(m, []).append((parse_labels(k), v))
        pages.append((T0 + t, Scrape(samples, names)))
    return Timeline.of(pages)


def sample(t: float, status: int = 200, latency: float = 0.01, degraded: bool = False) -> Sample:
    at = T0 + t
    return Sample(at, at, at + latency, status, "api", f"m{t}", degraded=degraded)


def make_run(
    rows: list[tuple[float, str, str, float]],
    samples: list[Sample],
    windows: list[tuple[float, float]],
    audit: dict[str, object] | None = None,
    **notes: object,
) -> Run:
    journal = Journal(
        run_id="r",
        experiment={"name": "t"},
        stack={},
        started_at=T0 - 5,
        ended_at=T0 + 30,
        status="passed",
        faults=[
            FaultRecord(i, "f", "redis", "down", a, b, started_at=T0 + a, ended_at=T0 + b)
            for i, (a, b) in enumerate(windows)
        ],
        samples=samples,
        timeline=timeline(rows),
        audit=audit,
    )
    return Run(journal, notes=dict(notes))


# --------------------------------------------------------------------------- runs


def test_overrides_change_every_step_and_are_validated_again() -> None:
    exp = catalogue()["flapping-postgres"]
    changed = with_overrides(exp, fault_s=0.5, settle_s=3, rate_per_s=2)
    assert {s.duration_s for s in changed.method} == {0.5}
    assert changed.settle_s == 3 and changed.load is not None and changed.load.rate_per_s == 2
    with pytest.raises(ExperimentError, match="load: is off"):
        with_overrides(exp, load=False)
    with pytest.raises(ExperimentError, match=r"method\[0\]\.duration_s"):
        with_overrides(exp, fault_s=0)
    with pytest.raises(LabError, match="unknown override"):
        with_overrides(exp, outage=3)


def test_requests_are_split_into_phases_by_the_intended_send_time() -> None:
    run = make_run([(0.0, "x", "", 0)], [sample(-1), sample(1, 503), sample(3, degraded=True)],
                   [(0.5, 2.0)])  # fmt: skip
    req = run.requests
    assert req["t"].tolist() == [-1.5, 0.5, 2.5]  # seconds since the fault began
    assert req["phase"].tolist() == ["before", "during", "after"]
    assert req["outcome"].tolist() == ["ok", "5xx / no answer", "degraded"]


# --------------------------------------------------------------------------- checks

TRANSITIONS = "circuit_breaker_transitions_total"


def breaker_rows(*steps: tuple[float, str, str]) -> list[tuple[float, str, str, float]]:
    level = {"closed": 0, "open": 1, "half-open": 2}
    rows: list[tuple[float, str, str, float]] = [
        (-1.0, "circuit_breaker_state", "breaker=audit", 0)
    ]
    counts: dict[str, float] = {}
    for t, a, b in steps:
        key = f"breaker=audit,from_state={a},to_state={b}"
        counts[key] = counts.get(key, 0) + 1
        rows.append((t, TRANSITIONS, key, counts[key]))
        rows.append((t, "circuit_breaker_state", "breaker=audit", level[b]))
    rows.append((20.0, "x", "", 0))
    return rows


def test_breaker_cycle_passes_on_open_half_open_closed_during_the_fault() -> None:
    run = make_run(
        breaker_rows(
            (1.0, "closed", "open"), (6.0, "open", "half-open"), (9.0, "half-open", "closed")
        ),
        [],
        [(0.0, 8.0)],
    )
    assert checks.check_breaker_cycle(run, "audit").startswith("ok: audit breaker went")


def test_breaker_cycle_fails_when_the_breaker_never_opened() -> None:
    run = make_run(breaker_rows(), [], [(0.0, 0.2)])
    with pytest.raises(AssertionError, match="never went closed>open"):
        checks.check_breaker_cycle(run, "audit")


def test_breaker_cycle_fails_when_it_never_closed_again() -> None:
    run = make_run(
        breaker_rows(
            (1.0, "closed", "open"), (6.0, "open", "half-open"), (6.0, "half-open", "open")
        ),
        [],
        [(0.0, 8.0)],
    )
    with pytest.raises(AssertionError, match="half-open>closed"):
        checks.check_breaker_cycle(run, "audit")


def accepted(n: int) -> list[Sample]:
    return [sample(float(i)) for i in range(n)]


def test_no_lost_events_reconciles_acknowledged_message_ids() -> None:
    audit = {"acknowledged": 5, "present": 5, "lost": [], "duplicated": {}, "error": ""}
    ok = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)], audit)
    assert checks.check_no_lost_events(ok) == (
        "ok: all 5 acknowledged message ids in PostgreSQL exactly once"
    )
    lost = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)],
                    {**audit, "present": 3, "lost": ["m3.0", "m4.0"]})  # fmt: skip
    with pytest.raises(AssertionError, match=r"FAILED: of 5 acknowledged messages: 2 lost"):
        checks.check_no_lost_events(lost)
    doubled = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)],
                       {**audit, "duplicated": {"m1.0": 2}})  # fmt: skip
    with pytest.raises(AssertionError, match=r"1 duplicated \(m1\.0 x2\)"):
        checks.check_no_lost_events(doubled)
    unknown = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)], None)
    with pytest.raises(AssertionError, match="INCONCLUSIVE: could not reconcile"):
        checks.check_no_lost_events(unknown)


def test_drained_fails_while_events_are_still_pending() -> None:
    rows = [
        (0.0, "audit_fallback_pending", "", 0),
        (2.0, "audit_fallback_pending", "", 7),
        (9.0, "audit_fallback_pending", "", 3),
    ]
    with pytest.raises(AssertionError, match="3 audit events still pending"):
        checks.check_drained(make_run(rows, [], [(1.0, 4.0)]))
    rows.append((10.0, "audit_fallback_pending", "", 0))
    assert "back to 0 6.0 s after" in checks.check_drained(make_run(rows, [], [(1.0, 4.0)]))


def test_no_5xx_names_the_first_failure() -> None:
    run = make_run([(0.0, "x", "", 0)], [*accepted(3), sample(5.0, 502, 1.0)], [(1.0, 2.0)])
    with pytest.raises(
        AssertionError, match=r"1 of 4 guest requests failed \(api\); first: api HTTP 502"
    ):
        checks.check_no_5xx(run)


def test_step_table_bounds_the_saves_that_ran_out_of_retries() -> None:
    retry = "retry_attempts_total"
    rows = [
        (0.0, "session_save_retries_total", "", 0),
        # step 1: one save recovered after two failures -> nothing exhausted
        (4.0, retry, "operation=session.save,outcome=failure", 2),
        (4.0, retry, "operation=session.save,outcome=success", 1),
        (10.0, "session_save_retries_total", "", 3),
        # step 2: six more failures and no success -> at least two saves gave up
        (14.0, retry, "operation=session.save,outcome=failure", 8),
        (20.0, "session_save_retries_total", "", 9),
    ]
    run = make_run(rows, accepted(1), [(0.0, 10.0), (10.0, 20.0)], steps_ms=[300, 700])
    table = step_table(run)
    assert table["exhausted_saves"].tolist() == [0, 2]
    assert table["budget_exceeded"].tolist() == [False, True]


# --------------------------------------------------------------------------- load and agents


def test_locust_args_restrict_both_guest_classes_to_the_mix() -> None:
    args = locust_args("browsing", "0.2,1", 7)
    users = json.loads(args[args.index("--config-users") + 1])
    assert {u["user_class_name"] for u in users} == {"ApiGuest", "WhatsAppGuest"}
    assert all(u["tasks"] == ["room_options", "information"] for u in users)
    assert "--config-users" not in locust_args("default", "0.2,1", 7)
    with pytest.raises(LabError, match="unknown mix"):
        locust_args("breakfast", "1,2", 7)


def test_throwaway_agent_settings_reuse_the_stack_ports(tmp_path: Path) -> None:
    state = StackState(urls={
        "agent": "http://127.0.0.1:18080", "pms": "http://127.0.0.1:18081",
        "redis_proxied": "redis://127.0.0.1:26001/0",
        "postgres_proxied": "postgresql://postgres@127.0.0.1:26002/hotel",
        "pms_proxied": "http://127.0.0.1:26003", "alertmanager": "http://127.0.0.1:19093",
    })  # fmt: skip
    s = settings_for(state, tmp_path, 40000, {"AGENT_PMS__CACHE_AVAILABILITY_TTL_S": "3"})
    assert (s.ports.agent, s.ports.proxy_redis, s.ports.proxy_postgres, s.ports.proxy_pms) == (
        40000,
        26001,
        26002,
        26003,
    )
    assert s.agent_env == {"AGENT_PMS__CACHE_AVAILABILITY_TTL_S": "3"}
    with pytest.raises(LabError, match="redis_proxied"):
        settings_for(StackState(urls={"agent": "http://127.0.0.1:1"}), tmp_path, 2, {})


def test_throwaway_agent_settings_keep_every_port_of_the_stack(tmp_path: Path) -> None:
    """Every address the stack exposes, proxies of later services (nlu, stt) included."""
    ports = Ports(**{name: 30000 + i for i, name in enumerate(Ports.model_fields)})
    urls = stack_urls(StackSettings(state_dir=tmp_path, ports=ports))
    s = settings_for(StackState(urls=urls), tmp_path, 40000, {})
    assert s.ports == ports.model_copy(update={"agent": 40000})


async def test_a_discarding_fallback_cannot_keep_an_event(tmp_path: Path) -> None:
    """What ``audit_fallback="discard"`` gives the agent: appends fail, the event is lost."""
    link = discarding_fallback(tmp_path / "fb")
    assert link.resolve() == Path("/dev/null")
    fallback = FallbackFile(link)
    assert await fallback.open() == 0
    try:
        event = new_event("message", "g-1", channel="api", payload={"message_id": "m"})
        with pytest.raises(AuditUnavailable, match="fallback write failed"):
            await fallback.append([event])
        assert fallback.pending == 0
    finally:
        await fallback.close()
    assert (tmp_path / "fb" / "audit_fallback.jsonl.lock").exists()  # beside the link, not in /dev


def test_lab_figures_render_as_png() -> None:
    fig, (ax,) = new_figure()
    ax.plot([0, 1], [1, 0])
    assert fig._repr_png_().startswith(b"\x89PNG")


def test_hit_ratio_check_judges_one_kind_against_the_minimum(tmp_path: Path) -> None:
    rows: list[tuple[float, str, str, float]] = [
        (0.0, "pms_cache_hits_total", "kind=room_types", 0),
        (0.0, "pms_cache_misses_total", "kind=room_types", 0),
        (0.0, "pms_cache_misses_total", "kind=availability", 0),
        (5.0, "pms_cache_hits_total", "kind=room_types", 9),
        (5.0, "pms_cache_misses_total", "kind=room_types", 1),
        (5.0, "pms_cache_misses_total", "kind=availability", 10),
    ]
    t = Traffic("t", T0, T0 + 5, timeline(rows), [], tmp_path)
    assert checks.check_hit_ratio(t, 0.7, "room_types").startswith("ok: room_types hit ratio 90.0%")
    with pytest.raises(AssertionError, match=r"hit ratio 45\.0% over 20 lookups is below 70%"):
        checks.check_hit_ratio(t, 0.7)
