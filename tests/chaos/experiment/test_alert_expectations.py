"""Alert expectations: the schema, and every verdict from data that passes, fails or is missing."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.alerting import AlertEvidence, Episode, HeldAlert, Notification
from chaos.exceptions import ExperimentError
from chaos.experiment.alert_verdicts import judge_alerts
from chaos.experiment.alerts import AlertPlan, ensure_alerts
from chaos.journal import Journal

T0 = 1_000_000.0  # the fault's start
PG = {"dependency": "postgres", "severity": "warning", "component": "agent", "job": "agent"}
PLAN = ensure_alerts(
    {
        "expect": [
            {
                "name": "AgentDependencyDown",
                "labels": {"dependency": "postgres"},
                "receiver": "tickets",
                "within_s": 10,
            }
        ],
        "forbid": [{"receiver": "pager"}, {"name": "CircuitBreakerOpen"}],
    }
)


def episode(
    name: str = "AgentDependencyDown",
    active: float = 2.0,
    fired: float | None = 4.0,
    labels: dict[str, str] | None = None,
    last: float = 9.0,
) -> Episode:
    return Episode(
        alertname=name,
        labels=dict(PG if labels is None else labels),
        active_at=T0 + active,
        last_seen=T0 + last,
        fired_at=None if fired is None else T0 + fired,
    )


def held(
    name: str = "AgentDependencyDown",
    receiver: str = "tickets",
    starts: float = 4.0,
    inhibited_by: tuple[str, ...] = (),
    labels: dict[str, str] | None = None,
) -> HeldAlert:
    # Alertmanager's copy carries Prometheus' external labels too.
    return HeldAlert(
        alertname=name,
        labels={**(PG if labels is None else labels), "lab": "hotel-chaos-lab"},
        fingerprint=f"fp-{name}",
        starts_at=T0 + starts,
        receivers=[receiver],
        first_seen=T0 + starts,
        last_seen=T0 + 9,
        inhibited_by=list(inhibited_by),
    )


def note(
    name: str = "AgentDependencyDown",
    receiver: str = "tickets",
    starts: float = 4.0,
    at: float = 5.0,
    status: str = "firing",
    labels: dict[str, str] | None = None,
) -> Notification:
    return Notification(
        received_at=T0 + at,
        receiver=receiver,
        status=status,
        alertname=name,
        labels={**(PG if labels is None else labels), "lab": "hotel-chaos-lab"},
        starts_at=T0 + starts,
    )


def evidence(**kw: Any) -> AlertEvidence:
    base: dict[str, Any] = {
        "episodes": [episode()],
        "held": [held()],
        "notifications": [note()],
        "alertmanager_polls": 10,
    }
    return AlertEvidence(**{**base, **kw})


def verdicts(ev: AlertEvidence, plan: AlertPlan = PLAN) -> dict[str, Any]:
    found = judge_alerts(plan, ev, T0)
    return {v.kind: v for v in found}


# -- schema -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "needs expect or forbid"),
        ({"expect": [{"name": "AgentDependencyDown", "receiver": "tickets"}]},
         r"alerts.expect\[0\].within_s: is required"),
        ({"expect": [{"name": "NoSuchAlert", "receiver": "tickets", "within_s": 5}]},
         r"alerts.expect\[0\].name: no alert named 'NoSuchAlert'"),
        ({"expect": [{"name": "AgentDown", "receiver": "slack", "within_s": 5}]},
         r"alerts.expect\[0\].receiver: no receiver 'slack'"),
        ({"expect": [{"name": "AgentDown", "receiver": "pager", "within_s": 0}]},
         "must be a number of seconds above 0"),
        ({"expect": [{"name": "AgentDown", "receiver": "pager", "within_s": 5, "when": 1}]},
         "unknown field"),
        ({"forbid": [{"labels": {"a": "b"}}]}, "needs a name, a receiver, or both"),
        ({"expect": [{"name": "AgentDown", "receiver": "pager", "within_s": 5}],
          "forbid": [{"receiver": "pager"}]}, "is also forbidden"),
        ({"forbid": [{"receiver": "pager"}], "settle": 5}, "unknown field"),
    ],
)  # fmt: skip
def test_the_schema_refuses_a_bad_section_naming_the_field(data: Any, message: str) -> None:
    with pytest.raises(ExperimentError, match=message):
        ensure_alerts(data)


def test_the_schema_knows_rule_and_agent_alerts() -> None:
    plan = ensure_alerts(
        {
            "expect": [{"name": "AgentBreakerOpened", "receiver": "tickets", "within_s": 3}],
            "forbid": [{"name": "AgentErrorBudgetBurnFast"}],  # a generated SLO alert
            "settle_s": 20,
        }
    )
    assert plan.settle_s == 20
    assert plan.expect[0].describe() == "alert AgentBreakerOpened -> tickets within 3 s"


# -- expected alerts ----------------------------------------------------------------------------


def test_an_alert_that_fired_and_reached_its_receiver_passes_with_its_latencies() -> None:
    v = verdicts(evidence())["alert"]
    assert v.status == "passed", v.detail
    assert v.observed["fired_after_s"] == 4.0
    assert v.observed["notified_after_s"] == 5.0
    assert v.proves_fault


def test_an_alert_that_never_fired_fails() -> None:
    v = verdicts(evidence(episodes=[], held=[], notifications=[]))["alert"]
    assert v.status == "failed"
    assert "never became active" in v.detail
    pending = verdicts(evidence(episodes=[episode(fired=None)], held=[], notifications=[]))
    assert "went pending but never fired" in pending["alert"].detail


def test_an_alert_that_fired_too_late_fails() -> None:
    late = evidence(episodes=[episode(active=9, fired=12, last=20)], held=[], notifications=[])
    v = verdicts(late)["alert"]
    assert v.status == "failed"
    assert "fired 12.0 s after the fault started (limit 10 s)" in v.detail


def test_an_alert_active_before_the_fault_is_carried_over_not_this_runs() -> None:
    carried = episode(active=-30, fired=-28, last=9)
    ev = evidence(episodes=[carried], held=[], notifications=[note(starts=-28, at=1)])
    found = verdicts(ev)
    assert found["alert"].status == "inconclusive"
    assert "already active 30.0 s before the fault" in found["alert"].detail
    assert found["alerts_quiet"].observed["carried_over"] == ["AgentDependencyDown"]


def test_an_alert_delivered_to_the_wrong_receiver_fails() -> None:
    ev = evidence(notifications=[note(receiver="pager")])
    found = verdicts(ev)
    assert found["alert"].status == "failed"
    assert "reached pager, not tickets" in found["alert"].detail
    # An expected alert that pages is not an unexpected page, but pager is forbidden here.
    assert "forbidden: AgentDependencyDown notified to pager" in found["alerts_quiet"].detail


def test_an_alert_alertmanager_never_received_fails() -> None:
    v = verdicts(evidence(held=[], notifications=[]))["alert"]
    assert v.status == "failed"
    assert "Alertmanager never held it" in v.detail


def test_an_alert_routed_but_never_delivered_fails() -> None:
    """The native stack once sent every notification to the sink's root (a 404)."""
    v = verdicts(evidence(notifications=[]))["alert"]
    assert v.status == "failed"
    assert "routed it to tickets, but no notification reached the sink" in v.detail


def test_an_alert_inhibited_by_its_cause_passes_and_says_so() -> None:
    ev = evidence(held=[held(inhibited_by=("PostgresDown",))], notifications=[])
    v = verdicts(ev)["alert"]
    assert v.status == "passed", v.detail
    assert v.observed["delivery"] == "inhibited"
    assert "held it back while PostgresDown fired" in v.detail


def test_an_alert_routed_elsewhere_fails() -> None:
    v = verdicts(evidence(held=[held(receiver="blackhole")], notifications=[]))["alert"]
    assert v.status == "failed"
    assert "routed it to blackhole, not tickets" in v.detail


@pytest.mark.parametrize("source", ["prometheus", "alertmanager", "sink"])
def test_a_source_that_could_not_be_read_is_never_a_pass(source: str) -> None:
    lost = {"prometheus": "episodes", "alertmanager": "held", "sink": "notifications"}[source]
    ev = evidence(errors={source: "connection refused"}, **{lost: []})
    found = verdicts(ev)
    assert found["alert"].status == "inconclusive"
    assert found["alerts_quiet"].status == "inconclusive"
    assert "connection refused" in found["alerts_quiet"].detail


def test_an_agent_posted_alert_is_judged_from_alertmanager() -> None:
    plan = ensure_alerts(
        {"expect": [{"name": "AgentBreakerOpened", "receiver": "tickets", "within_s": 3}]}
    )
    labels = {"breaker": "audit", "source": "agent", "severity": "warning"}
    ev = evidence(
        episodes=[],
        held=[held("AgentBreakerOpened", starts=1.5, labels=labels)],
        notifications=[note("AgentBreakerOpened", starts=1.5, at=2.5, labels=labels)],
    )
    v = verdicts(ev, plan)["alert"]
    assert v.status == "passed", v.detail
    assert v.observed["fired_after_s"] == 1.5


# -- the quiet check ----------------------------------------------------------------------------


def test_a_quiet_run_passes_and_lists_what_was_notified() -> None:
    v = verdicts(evidence())["alerts_quiet"]
    assert v.status == "passed"
    assert (
        v.detail
        == "0 unexpected pages, nothing forbidden; notified: AgentDependencyDown -> tickets"
    )
    assert not v.proves_fault


def test_an_unexpected_page_fails_even_without_a_forbid_entry() -> None:
    plan = ensure_alerts({"forbid": [{"name": "CircuitBreakerOpen"}]})
    crit = {"severity": "critical", "component": "agent", "job": "agent"}
    ev = evidence(
        episodes=[episode("AgentDown", labels=crit)],
        held=[held("AgentDown", receiver="pager", labels=crit)],
        notifications=[note("AgentDown", receiver="pager", labels=crit)],
    )
    v = verdicts(ev, plan)["alerts_quiet"]
    assert v.status == "failed"
    assert v.detail == "unexpected page(s): AgentDown"


def test_a_page_from_an_earlier_run_is_not_blamed() -> None:
    crit = {"severity": "critical", "component": "agent", "job": "agent"}
    earlier = episode("AgentDown", active=-20, fired=-18, labels=crit, last=3)
    ev = evidence(
        episodes=[episode(), earlier],
        notifications=[note(), note("AgentDown", receiver="pager", starts=-18, at=1, labels=crit)],
    )
    assert verdicts(ev)["alerts_quiet"].status == "passed"


def test_a_forbidden_alert_that_fired_fails() -> None:
    breaker = {"breaker": "pms", "dependency": "pms", "severity": "warning"}
    ev = evidence(episodes=[episode(), episode("CircuitBreakerOpen", labels=breaker, fired=6)])
    v = verdicts(ev)["alerts_quiet"]
    assert v.status == "failed"
    assert "forbidden: CircuitBreakerOpen fired 6.0 s after the fault" in v.detail


def test_a_forbidden_alert_that_only_went_pending_is_not_a_failure() -> None:
    breaker = {"breaker": "pms", "dependency": "pms", "severity": "warning"}
    ev = evidence(episodes=[episode(), episode("CircuitBreakerOpen", labels=breaker, fired=None)])
    assert verdicts(ev)["alerts_quiet"].status == "passed"


def test_the_evidence_round_trips_through_the_journal(tmp_path: Any) -> None:
    ev = evidence(settled_after_s=3.5, unsettled=["X"])
    journal = Journal(run_id="r", experiment={"name": "x"}, stack={}, started_at=T0)
    journal.alerts = ev.to_dict()
    path = journal.write(tmp_path / "j.json")
    again = AlertEvidence.from_dict(Journal.read(path).alerts or {})
    assert again == ev
