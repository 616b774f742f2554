"""Unit tests of ``chaos.lab`` on synthetic timelines (no servers).

The notebook-facing API lives in ``chaos/lab``; its tests sit with the notebooks that use
it. Timelines are built the way ``MetricsSampler`` records them: (t, metric, labels, value).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from agent.audit.errors import AuditUnavailable
from agent.audit.events import new_event
from agent.audit.fallback import FallbackFile
from chaos.exceptions import ExperimentError
from chaos.experiment.model import catalogue
from chaos.lab import checks
from chaos.lab.agents import discarding_fallback, settings_for
from chaos.lab.analysis import step_table
from chaos.lab.errors import LabError
from chaos.lab.figure import new_figure
from chaos.lab.load import Traffic, locust_args
from chaos.lab.metrics import increase, total_increase, window_ratio
from chaos.lab.runs import FaultWindow, Run, requests_frame, with_overrides
from chaos.stack.state import StackState

COLUMNS = ["t", "metric", "labels", "value"]


def timeline(rows: list[tuple[float, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=COLUMNS)


def make_run(
    rows: list[tuple[float, str, str, float]],
    requests: list[list[object]],
    windows: list[tuple[float, float]],
    **notes: object,
) -> Run:
    reqs = requests_frame(requests, 0.0, windows[0] if windows else (0.0, 0.0))
    return Run(
        journal={"experiment": {"name": "t"}, "status": "passed"},
        t0=0.0,
        timeline=timeline(rows),
        requests=reqs,
        verdicts=pd.DataFrame(),
        fault_windows=[FaultWindow(a, b, "f") for a, b in windows],
        notes=dict(notes),
    )


# --------------------------------------------------------------------------- metrics


def test_increase_counts_a_late_labelled_counter_from_zero_and_survives_a_restart() -> None:
    tl = timeline(
        [
            (0.0, "other", "", 1.0),
            (1.0, "c", "op=a", 2.0),  # appears on its first increments: it was 0 before
            (2.0, "c", "op=a", 5.0),
            (3.0, "c", "op=a", 1.0),  # restart: the new value is the increase
            (3.0, "c", "op=b", 4.0),
        ]
    )
    inc = increase(tl, "c", by="op")
    assert inc["a"].tolist() == [0.0, 2.0, 5.0, 6.0]
    assert inc["b"].tolist() == [0.0, 0.0, 0.0, 4.0]
    assert total_increase(tl, "c", op="a") == 6.0
    assert total_increase(tl, "missing") == 0.0


def test_window_ratio_uses_only_the_trailing_window() -> None:
    idx = pd.Index([0.0, 1.0, 2.0, 3.0, 4.0])
    hits = pd.Series([0, 0, 0, 4, 8], index=idx, dtype=float)
    misses = pd.Series([0, 4, 8, 8, 8], index=idx, dtype=float)
    ratio = window_ratio(hits, misses, 2.0)
    assert ratio.iloc[2] == 0.0  # only misses in (0, 2]
    assert ratio.iloc[4] == 1.0  # only hits in (2, 4]
    assert pd.isna(ratio.iloc[0])


# --------------------------------------------------------------------------- runs


def test_overrides_change_every_step_and_are_validated_again() -> None:
    exp = catalogue()["flapping-postgres"]
    changed = with_overrides(exp, fault_s=0.5, settle_s=3, rate_per_s=2)
    assert {s.duration_s for s in changed.method} == {0.5}
    assert changed.settle_s == 3 and changed.load is not None and changed.load.rate_per_s == 2
    assert with_overrides(exp, load=False).load is None
    with pytest.raises(ExperimentError, match=r"method\[0\]\.duration_s"):
        with_overrides(exp, fault_s=0)
    with pytest.raises(LabError, match="unknown override"):
        with_overrides(exp, outage=3)


def test_requests_are_split_into_phases_by_the_fault_window() -> None:
    req = requests_frame(
        [[9.0, 200, 0.1, False, "x"], [11.0, 503, 0.2, False, "x"], [13.0, 200, 0.3, True, "x"]],
        10.0,
        (10.5, 12.0),
    )
    assert req["t"].tolist() == [-1.0, 1.0, 3.0]
    assert req["phase"].tolist() == ["before", "during", "after"]
    assert req["outcome"].tolist() == ["ok", "5xx / no answer", "degraded"]


# --------------------------------------------------------------------------- checks

TRANSITIONS = "circuit_breaker_transitions_total"


def breaker_rows(*steps: tuple[float, str, str]) -> list[tuple[float, str, str, float]]:
    rows: list[tuple[float, str, str, float]] = [(0.0, "circuit_breaker_state", "breaker=audit", 0)]
    counts: dict[str, float] = {}
    for t, a, b in steps:
        key = f"breaker=audit,from_state={a},to_state={b}"
        counts[key] = counts.get(key, 0) + 1
        rows.append((t, TRANSITIONS, key, counts[key]))
    rows.append((20.0, "circuit_breaker_state", "breaker=audit", 0))
    return rows


def test_breaker_cycle_passes_on_open_half_open_closed_during_the_fault() -> None:
    run = make_run(
        breaker_rows(
            (1.0, "closed", "open"), (6.0, "open", "half-open"), (6.0, "half-open", "closed")
        ),
        [],
        [(0.0, 8.0)],
    )
    assert checks.check_breaker_cycle(run, "audit").startswith("ok:")


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


def accepted(n: int) -> list[list[object]]:
    return [[float(i), 200, 0.01, False, "greeting"] for i in range(n)]


def test_no_lost_events_compares_accepted_messages_with_audit_rows() -> None:
    ok = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)], audit_rows=5, audit_distinct=5)
    assert (
        checks.check_no_lost_events(ok) == "ok: 5 messages accepted = 5 audit rows, no duplicates"
    )
    lost = make_run([(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)], audit_rows=3, audit_distinct=3)
    with pytest.raises(AssertionError, match="2 audit events lost"):
        checks.check_no_lost_events(lost)
    doubled = make_run(
        [(0.0, "x", "", 0)], accepted(5), [(1.0, 2.0)], audit_rows=6, audit_distinct=5
    )
    with pytest.raises(AssertionError, match="1 duplicated"):
        checks.check_no_lost_events(doubled)


def test_drained_fails_while_events_are_still_pending() -> None:
    rows = [
        (0.0, "audit_fallback_pending", "", 0),
        (2.0, "audit_fallback_pending", "", 7),
        (9.0, "audit_fallback_pending", "", 3),
    ]
    with pytest.raises(AssertionError, match="3 audit events still pending"):
        checks.check_drained(make_run(rows, [], [(1.0, 4.0)]))
    rows.append((10.0, "audit_fallback_pending", "", 0))
    assert "drained to 0 6.0 s after" in checks.check_drained(make_run(rows, [], [(1.0, 4.0)]))


def test_no_5xx_names_the_first_failure() -> None:
    run = make_run([(0.0, "x", "", 0)], [*accepted(3), [5.0, 502, 1.0, False, ""]], [(1.0, 2.0)])
    with pytest.raises(AssertionError, match=r"1 of 4 .* t=\+5\.0 s with status 502"):
        checks.check_no_5xx(run)


def test_step_table_bounds_the_saves_that_ran_out_of_retries() -> None:
    retry = "retry_attempts_total"
    rows = [
        (0.0, "session_save_retries_total", "", 0),
        # step 1: one save recovered after two failures -> nothing exhausted
        (4.0, retry, "operation=session.save,outcome=failure", 2),
        (4.0, retry, "operation=session.save,outcome=success", 1),
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
    rows = [
        (0.0, "pms_cache_hits_total", "kind=room_types", 0),
        (0.0, "pms_cache_misses_total", "kind=room_types", 0),
        (0.0, "pms_cache_misses_total", "kind=availability", 0),
        (5.0, "pms_cache_hits_total", "kind=room_types", 9),
        (5.0, "pms_cache_misses_total", "kind=room_types", 1),
        (5.0, "pms_cache_misses_total", "kind=availability", 10),
    ]
    t = Traffic("t", 0.0, timeline(rows), requests_frame([], 0.0, (0.0, 0.0)), tmp_path)
    assert checks.check_hit_ratio(t, 0.7, "room_types").startswith("ok: room_types hit ratio 90.0%")
    with pytest.raises(AssertionError, match=r"hit ratio 45\.0% over 20 lookups is below 70%"):
        checks.check_hit_ratio(t, 0.7)
