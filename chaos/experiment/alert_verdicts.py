"""Verdicts on a run's alerts: each expected alert, and the quiet check.

An expected alert passes when it became active after the fault started, fired within
``within_s`` of that start, and Alertmanager routed it to the expected receiver: either a
notification reached that receiver, or an inhibition rule held it back while its cause
was notified (the detail says which). The quiet check fails on any alert of the run
that a ``forbid`` entry names, and on any page that is not expected. A source that could
not be read makes a verdict inconclusive unless the sources that could be read already
prove a failure.
"""

from __future__ import annotations

from typing import Any

from chaos.alerting import AlertEvidence, Episode, HeldAlert, Notification, matches
from chaos.experiment.alerts import (
    PAGE_RECEIVERS,
    AlertPlan,
    ExpectedAlert,
    ForbiddenAlert,
    rule_alerts,
)
from chaos.journal import Verdict

PASSED, FAILED, INCONCLUSIVE = "passed", "failed", "inconclusive"
# Prometheus sends an alert's firing time as startsAt: the same evaluation timestamp.
SAME_FIRING_S = 0.5


class Attribution:
    """Which alerts, held alerts and notifications belong to a run whose fault began at t0."""

    def __init__(self, ev: AlertEvidence, fault_start: float) -> None:
        self.ev = ev
        self.t0 = fault_start
        self.episodes = [e for e in ev.episodes if e.active_at >= fault_start]
        self.carried = [
            e for e in ev.episodes if e.active_at < fault_start and e.last_seen >= fault_start
        ]

    def episode_of(self, name: str, labels: dict[str, str], starts_at: float) -> Episode | None:
        for e in self.ev.episodes:
            # Alertmanager's copy also carries Prometheus' external labels.
            if (
                e.alertname == name
                and matches(labels, e.labels)
                and e.fired_at is not None
                and abs(e.fired_at - starts_at) <= SAME_FIRING_S
            ):
                return e
        return None

    def ours(self, name: str, labels: dict[str, str], starts_at: float) -> bool:
        """Did this run raise the alert that started (fired) at ``starts_at``?"""
        if name in rule_alerts():
            episode = self.episode_of(name, labels, starts_at)
            return episode is not None and episode.active_at >= self.t0
        return starts_at >= self.t0  # posted by the agent: its own startsAt is all there is

    def notifications(self) -> list[Notification]:
        return [
            n
            for n in self.ev.notifications
            if n.status == "firing" and self.ours(n.alertname, n.labels, n.starts_at)
        ]

    def held(self) -> list[HeldAlert]:
        return [h for h in self.ev.held if self.ours(h.alertname, h.labels, h.starts_at)]


def _missing(ev: AlertEvidence, *sources: str) -> str:
    gone = [f"{s}: {ev.errors[s]}" for s in sources if s in ev.errors]
    return "; ".join(gone)


def judge_expected(e: ExpectedAlert, att: Attribution) -> tuple[str, str, dict[str, Any]]:
    ev = att.ev
    rule = e.name in rule_alerts()
    fired_at: float | None = None
    if rule:
        if "prometheus" in ev.errors:
            return INCONCLUSIVE, f"Prometheus unreadable: {ev.errors['prometheus']}", {}
        episodes = [
            x for x in att.episodes if x.alertname == e.name and matches(x.labels, e.labels)
        ]
        fired = [x for x in episodes if x.fired_at is not None]
        if not fired:
            carried = [
                x for x in att.carried if x.alertname == e.name and matches(x.labels, e.labels)
            ]
            if carried:
                return (
                    INCONCLUSIVE,
                    f"already active {att.t0 - carried[0].active_at:.1f} s before the fault: "
                    "cannot tell this run's alert from an earlier one",
                    {},
                )
            why = "went pending but never fired" if episodes else "never became active"
            return FAILED, f"{e.name} {why} after the fault started", {}
        fired_at = min(x.fired_at for x in fired if x.fired_at is not None)
    else:
        held = [h for h in att.held() if h.alertname == e.name and matches(h.labels, e.labels)]
        if not held:
            if "alertmanager" in ev.errors:
                return INCONCLUSIVE, _missing(ev, "alertmanager"), {}
            return FAILED, f"the agent never posted {e.name} after the fault started", {}
        fired_at = min(h.starts_at for h in held)
    latency = fired_at - att.t0
    observed: dict[str, Any] = {"fired_after_s": round(latency, 2), "receiver": e.receiver}
    if latency > e.within_s:
        return (
            FAILED,
            f"fired {latency:.1f} s after the fault started (limit {e.within_s:g} s)",
            observed,
        )
    notes = [
        n for n in att.notifications() if n.alertname == e.name and matches(n.labels, e.labels)
    ]
    held = [h for h in att.held() if h.alertname == e.name and matches(h.labels, e.labels)]
    inhibitors = sorted({i for h in held for i in h.inhibited_by})
    to_right = [n for n in notes if n.receiver == e.receiver]
    if to_right:
        took = min(n.received_at for n in to_right) - att.t0
        observed.update(notified_after_s=round(took, 2), delivery="notified")
        if missing := _missing(ev, "alertmanager"):
            return INCONCLUSIVE, f"delivered, but {missing}", observed
        held_back = ""
        if inhibitors:
            observed["inhibited_by"] = inhibitors
            held_back = f" (held back while {', '.join(inhibitors)} fired)"
        return (
            PASSED,
            f"fired {latency:.1f} s after the fault started, reached {e.receiver} after "
            f"{took:.1f} s{held_back}",
            observed,
        )
    if notes:
        got = sorted({n.receiver for n in notes})
        observed["receivers"] = got
        return (
            FAILED,
            f"fired after {latency:.1f} s but reached {', '.join(got)}, not {e.receiver}",
            observed,
        )
    if missing := _missing(ev, "alertmanager", "sink"):
        return (
            INCONCLUSIVE,
            f"fired after {latency:.1f} s; cannot tell where it went: {missing}",
            observed,
        )
    if not held:
        return (
            FAILED,
            f"fired after {latency:.1f} s but Alertmanager never held it (is Prometheus "
            "sending to it?)",
            observed,
        )
    routed = sorted({r for h in held for r in h.receivers})
    if e.receiver not in routed:
        observed["receivers"] = routed
        return FAILED, f"Alertmanager routed it to {', '.join(routed)}, not {e.receiver}", observed
    if inhibitors:
        observed.update(delivery="inhibited", inhibited_by=inhibitors)
        return (
            PASSED,
            f"fired {latency:.1f} s after the fault started; Alertmanager routed it to "
            f"{e.receiver} and held it back while {', '.join(inhibitors)} fired (inhibition)",
            observed,
        )
    if any(h.silenced for h in held):
        return FAILED, f"routed to {e.receiver} but silenced: a silence hides it", observed
    return (
        FAILED,
        f"fired after {latency:.1f} s and Alertmanager routed it to {e.receiver}, but no "
        "notification reached the sink",
        observed,
    )


def _forbidden(f: ForbiddenAlert, att: Attribution) -> list[str]:
    found = []
    if f.receiver:
        for n in att.notifications():
            named = not f.name or n.alertname == f.name
            if n.receiver == f.receiver and named and matches(n.labels, f.labels):
                found.append(f"{n.alertname} notified to {n.receiver}")
    else:
        for e in att.episodes:
            if e.alertname == f.name and matches(e.labels, f.labels) and e.fired_at is not None:
                found.append(f"{e.alertname} fired {e.fired_at - att.t0:.1f} s after the fault")
        for h in att.held():
            posted = h.alertname not in rule_alerts()  # rule alerts: judged on episodes above
            if h.alertname == f.name and posted and matches(h.labels, f.labels):
                found.append(f"{h.alertname} posted {h.starts_at - att.t0:.1f} s after the fault")
    return sorted(set(found))


def judge_quiet(plan: AlertPlan, att: Attribution) -> tuple[str, str, dict[str, Any]]:
    ev = att.ev
    notes = att.notifications()
    pages = sorted(
        {
            n.alertname
            for n in notes
            if n.receiver in PAGE_RECEIVERS
            and not any(n.alertname == e.name and matches(n.labels, e.labels) for e in plan.expect)
        }
    )
    forbidden = sorted({hit for f in plan.forbid for hit in _forbidden(f, att)})
    others = sorted(
        {f"{n.alertname} -> {n.receiver}" for n in notes if n.receiver not in PAGE_RECEIVERS}
    )
    observed = {
        "unexpected_pages": pages,
        "forbidden": forbidden,
        "other_notifications": others,
        "carried_over": sorted({e.alertname for e in att.carried}),
    }
    if pages or forbidden:
        parts = ([f"unexpected page(s): {', '.join(pages)}"] if pages else []) + (
            [f"forbidden: {'; '.join(forbidden)}"] if forbidden else []
        )
        return FAILED, "; ".join(parts), observed
    if missing := _missing(ev, "prometheus", "alertmanager", "sink"):
        return INCONCLUSIVE, f"cannot tell whether anything paged: {missing}", observed
    told = f"; notified: {', '.join(others)}" if others else "; nothing else notified"
    return PASSED, f"0 unexpected pages, nothing forbidden{told}", observed


def judge_alerts(plan: AlertPlan, ev: AlertEvidence, fault_start: float) -> list[Verdict]:
    """One verdict per expected alert, then the quiet check."""
    att = Attribution(ev, fault_start)
    verdicts = []
    for e in plan.expect:
        status, detail, observed = judge_expected(e, att)
        verdicts.append(Verdict(e.describe(), "alert", status, detail, observed, True))
    status, detail, observed = judge_quiet(plan, att)
    forbid = ", ".join(f.describe() for f in plan.forbid)
    what = "no unexpected page" + (f"; forbidden: {forbid}" if forbid else "")
    verdicts.append(Verdict(what, "alerts_quiet", status, detail, observed, False))
    return verdicts
