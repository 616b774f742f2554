"""Alert expectations: the alerts a fault must raise, where they must go, what must stay quiet.

An experiment declares::

    alerts:
      expect:    # each must fire within_s of the fault's start and reach its receiver
        - {name: AgentDependencyDown, labels: {dependency: postgres}, receiver: tickets,
           within_s: 10}
      forbid:    # none of these may fire (name) or be notified (receiver) during the run
        - {receiver: pager}
        - {name: CircuitBreakerOpen, labels: {breaker: pms}}
      settle_s: 60   # after the settle phase, wait up to this long for the run's alerts to end

Whatever the declaration, an alert that pages (a notification to a receiver of
``PAGE_RECEIVERS``) and is not expected fails the run.

Attribution keeps back-to-back runs apart: an alert belongs to a run when it became
active (pending, or firing for a rule without ``for``) at or after the run's first fault
started. Alerts already active then were caused by something earlier and are listed as
carried over, never blamed. Before the method the run waits for its expected alerts to
be inactive, and after the settle phase for its own alerts to end, so that the next run
starts clean.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from chaos.alerting import (
    AlertEvidence,
    AlertmanagerWatcher,
    active_alerts,
    matches,
    read_episodes,
    read_notifications,
)
from chaos.exceptions import ExperimentError, MetricsError

#: Receivers that wake someone up: an unexpected notification to one fails the run.
PAGE_RECEIVERS = ("pager",)
#: Alerts the agent posts to Alertmanager itself (``agent/alerts.py``), not rule alerts.
AGENT_ALERTS = ("AgentBreakerOpened", "AgentAuditFallback", "GuestEscalation")
DEFAULT_SETTLE_S = 60.0
QUIET_WAIT_S = 60.0


@lru_cache(maxsize=1)
def rule_alerts() -> frozenset[str]:
    from chaos.dashboards.assets import alert_rules

    return frozenset(rule["alert"] for rule in alert_rules())


@lru_cache(maxsize=1)
def receivers() -> frozenset[str]:
    from chaos.dashboards.assets import ALERTMANAGER_CONFIG, load_yaml

    return frozenset(r["name"] for r in load_yaml(ALERTMANAGER_CONFIG)["receivers"])


@dataclass(frozen=True)
class ExpectedAlert:
    name: str
    receiver: str
    within_s: float
    labels: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        scope = "".join(f" {k}={v}" for k, v in self.labels.items())
        return f"alert {self.name}{scope} -> {self.receiver} within {self.within_s:g} s"


@dataclass(frozen=True)
class ForbiddenAlert:
    name: str = ""
    receiver: str = ""
    labels: dict[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        scope = "".join(f" {k}={v}" for k, v in self.labels.items())
        what = f"{self.name or 'any alert'}{scope}"
        return f"{what} notified to {self.receiver}" if self.receiver else what


@dataclass(frozen=True)
class AlertPlan:
    expect: tuple[ExpectedAlert, ...] = ()
    forbid: tuple[ForbiddenAlert, ...] = ()
    settle_s: float = DEFAULT_SETTLE_S


# -- validation ----------------------------------------------------------------------------


def _fail(where: str, why: str) -> ExperimentError:
    return ExperimentError(f"{where}: {why}")


def _fields(data: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(where, f"must be a mapping, got {type(data).__name__}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise _fail(
            where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"
        )
    return data


def _name(value: Any, where: str) -> str:
    known = rule_alerts() | set(AGENT_ALERTS)
    if value not in known:
        raise _fail(where, f"no alert named {value!r}; known: {', '.join(sorted(known))}")
    return str(value)


def _receiver(value: Any, where: str) -> str:
    if value not in receivers():
        raise _fail(where, f"no receiver {value!r}; known: {', '.join(sorted(receivers()))}")
    return str(value)


def _labels(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _fail(where, "must be a mapping of label names to values")
    return {k: str(v) for k, v in value.items()}


def _seconds(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise _fail(where, f"must be a number of seconds above 0, got {value!r}")
    if not math.isfinite(value):
        raise _fail(where, "must be finite")
    return float(value)


def ensure_alerts(data: Any, where: str = "alerts") -> AlertPlan:
    """A valid ``alerts`` section, or an error naming the field."""
    d = _fields(data, where, {"expect", "forbid", "settle_s"})
    expect: list[ExpectedAlert] = []
    for i, raw in enumerate(d.get("expect") or []):
        here = f"{where}.expect[{i}]"
        spec = _fields(raw, here, {"name", "receiver", "within_s", "labels"})
        for required in ("name", "receiver", "within_s"):
            if required not in spec:
                raise _fail(f"{here}.{required}", "is required")
        expect.append(
            ExpectedAlert(
                name=_name(spec["name"], f"{here}.name"),
                receiver=_receiver(spec["receiver"], f"{here}.receiver"),
                within_s=_seconds(spec["within_s"], f"{here}.within_s"),
                labels=_labels(spec.get("labels", {}), f"{here}.labels"),
            )
        )
    forbid: list[ForbiddenAlert] = []
    for i, raw in enumerate(d.get("forbid") or []):
        here = f"{where}.forbid[{i}]"
        spec = _fields(raw, here, {"name", "receiver", "labels"})
        if "name" not in spec and "receiver" not in spec:
            raise _fail(here, "needs a name, a receiver, or both")
        forbid.append(
            ForbiddenAlert(
                name=_name(spec["name"], f"{here}.name") if "name" in spec else "",
                receiver=_receiver(spec["receiver"], f"{here}.receiver")
                if "receiver" in spec
                else "",
                labels=_labels(spec.get("labels", {}), f"{here}.labels"),
            )
        )
    if not expect and not forbid:
        raise _fail(where, "needs expect or forbid (or leave the section out)")
    for e in expect:
        for f in forbid:
            if _overlaps(e, f):
                raise _fail(where, f"{e.describe()} is also forbidden ({f.describe()})")
    settle = _seconds(d["settle_s"], f"{where}.settle_s") if "settle_s" in d else DEFAULT_SETTLE_S
    return AlertPlan(tuple(expect), tuple(forbid), settle)


def _overlaps(e: ExpectedAlert, f: ForbiddenAlert) -> bool:
    if f.name and f.name != e.name:
        return False
    if f.receiver and f.receiver != e.receiver:
        return False
    shared = set(e.labels) & set(f.labels)
    return all(e.labels[k] == f.labels[k] for k in shared)


# -- the run --------------------------------------------------------------------------------


class AlertCheck:
    """Collects the alert evidence of one run from Prometheus, Alertmanager and the sink."""

    def __init__(
        self,
        plan: AlertPlan,
        urls: dict[str, str],
        progress: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.plan = plan
        self.prometheus = urls.get("prometheus", "")
        self.alertmanager = urls.get("alertmanager", "")
        self.sink = urls.get("alert_sink", "")
        self.progress = progress
        self.watcher = AlertmanagerWatcher(self.alertmanager) if self.alertmanager else None

    def _active(self) -> list[dict[str, str]]:
        return active_alerts(self.prometheus) if self.prometheus else []

    def wait_quiet(self, timeout_s: float = QUIET_WAIT_S) -> float:
        """Wait until none of the expected alerts is active; returns the seconds waited.

        An expected alert still active from an earlier run could not be told apart from
        this run's own.
        """
        began = time.monotonic()
        while time.monotonic() - began < timeout_s:
            try:
                active = self._active()
            except MetricsError:
                break  # judged later as missing data
            if not any(_expected_match(e, a) for e in self.plan.expect for a in active):
                break
            time.sleep(1.0)
        return time.monotonic() - began

    def start(self) -> None:
        if self.watcher is not None:
            self.watcher.start()

    def settle(self, fault_start: float) -> tuple[float, list[str]]:
        """Wait up to ``settle_s`` for the alerts this run raised to end everywhere."""
        began = time.monotonic()
        left: list[str] = []
        while True:
            try:
                left = [a.get("alertname", "") for a in self._run_alerts(fault_start)]
            except MetricsError:
                break
            if not left or time.monotonic() - began >= self.plan.settle_s:
                break
            time.sleep(1.0)
        if left:
            self.progress(
                f"  alerts still active after {self.plan.settle_s:g} s: {', '.join(left)}"
            )
        return time.monotonic() - began, left

    def _run_alerts(self, fault_start: float) -> list[dict[str, str]]:
        """Alerts active now in Prometheus or Alertmanager that this run raised."""
        if not self.prometheus:
            return []
        since = read_episodes(self.prometheus, fault_start, time.time())
        ours = [e for e in since if e.active_at >= fault_start]
        active = self._active()
        still = [
            a
            for a in active
            if any(a.get("alertname") == e.alertname and matches(a, e.labels) for e in ours)
        ]
        if still or self.watcher is None:
            return still
        # Prometheus has let go; Alertmanager keeps an alert until it hears it resolved.
        held = [h for h in self.watcher.alerts() if time.time() - h.last_seen < 2]
        return [
            {"alertname": h.alertname, **h.labels}
            for h in held
            if any(h.alertname == e.alertname and matches(h.labels, e.labels) for e in ours)
        ]

    def finish(self, run_start: float, fault_start: float | None) -> AlertEvidence:
        """Stop watching, settle (after a completed method) and read every source."""
        evidence = AlertEvidence()
        if fault_start is not None:
            evidence.settled_after_s, evidence.unsettled = self.settle(fault_start)
        if self.watcher is not None:
            self.watcher.stop()
            evidence.held = self.watcher.alerts()
            evidence.alertmanager_polls = self.watcher.polls_ok
            if not self.watcher.polls_ok:
                evidence.errors["alertmanager"] = (self.watcher.errors or ["never polled"])[-1]
        else:
            evidence.errors["alertmanager"] = "the stack has no Alertmanager URL"
        # From a minute before the run: an alert active at its start is carried over.
        try:
            if not self.prometheus:
                raise MetricsError("the stack has no Prometheus URL")
            evidence.episodes = read_episodes(self.prometheus, run_start - 60, time.time())
        except MetricsError as exc:
            evidence.errors["prometheus"] = str(exc)
        try:
            if not self.sink:
                raise MetricsError("the stack has no alert sink URL")
            evidence.notifications = read_notifications(self.sink, run_start)
        except MetricsError as exc:
            evidence.errors["sink"] = str(exc)
        return evidence


def _expected_match(e: ExpectedAlert, labels: dict[str, str]) -> bool:
    return labels.get("alertname") == e.name and matches(labels, e.labels)
