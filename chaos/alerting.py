"""The one reader of alerts: Prometheus ``ALERTS``, the Alertmanager API and the webhook sink.

Each source answers a different question, and an experiment needs all three:

- Prometheus says *when* a rule alert went pending and fired. ``ALERTS_FOR_STATE`` holds
  each active alert's ``activeAt`` at every evaluation, so its samples split into
  episodes exactly, and the first ``ALERTS{alertstate="firing"}`` sample of an episode is
  when it fired (to within one evaluation interval).
- Alertmanager says *where* it routed an alert (``receivers``) and whether an inhibition
  or a silence held it back. Its API only shows the present, so ``AlertmanagerWatcher``
  polls it about once a second for the whole run.
- The sink says what was *delivered*: each webhook notification with its receiver.

A source that cannot be read is recorded as an error, never as "no alerts".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import httpx

from chaos.exceptions import MetricsError

Labels = dict[str, str]
_HIDDEN = ("alertname", "alertstate", "__name__")


def _labels(raw: Mapping[str, str]) -> Labels:
    return {k: str(v) for k, v in raw.items() if k not in _HIDDEN}


def iso_to_epoch(text: str) -> float:
    """An RFC 3339 time as Alertmanager and Prometheus write it, in unix seconds."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def matches(labels: Mapping[str, str], wanted: Mapping[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in wanted.items())


@dataclass(frozen=True)
class Episode:
    """One time a rule alert was active: pending from ``active_at``, firing from ``fired_at``."""

    alertname: str
    labels: Labels
    active_at: float
    last_seen: float
    fired_at: float | None = None

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")


@dataclass
class HeldAlert:
    """An alert as Alertmanager held it over the run (merged from every poll)."""

    alertname: str
    labels: Labels
    fingerprint: str
    starts_at: float
    receivers: list[str]
    first_seen: float
    last_seen: float
    inhibited_by: list[str] = field(default_factory=list)  # names of the inhibiting alerts
    silenced: bool = False


@dataclass(frozen=True)
class Notification:
    """One alert inside one webhook notification the sink received."""

    received_at: float
    receiver: str
    status: str  # firing or resolved
    alertname: str
    labels: Labels
    starts_at: float


def _get(client: httpx.Client, url: str, params: Mapping[str, str] | None = None) -> Any:
    try:
        response = client.get(url, params=params)
        response.raise_for_status()
        return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise MetricsError(f"GET {url} failed: {type(exc).__name__}: {exc}") from exc


def _range_samples(
    client: httpx.Client, prometheus_url: str, selector: str, start: float, end: float
) -> list[dict[str, Any]]:
    """Raw samples of ``selector`` in [start, end] (a range-vector instant query)."""
    window = max(1, int(end - start) + 1)
    body = _get(
        client,
        f"{prometheus_url.rstrip('/')}/api/v1/query",
        {"query": f"{selector}[{window}s]", "time": f"{end:.3f}"},
    )
    if body.get("status") != "success":
        raise MetricsError(f"Prometheus query {selector} failed: {body.get('error')}")
    return list(body["data"]["result"])


def read_episodes(
    prometheus_url: str, start: float, end: float, *, client: httpx.Client | None = None
) -> list[Episode]:
    """Every rule alert active at some point in [start, end], one entry per episode."""
    own = client or httpx.Client(timeout=10.0)
    try:
        states = _range_samples(own, prometheus_url, "ALERTS_FOR_STATE", start, end)
        firing = _range_samples(own, prometheus_url, 'ALERTS{alertstate="firing"}', start, end)
    finally:
        if client is None:
            own.close()
    fired: dict[tuple[str, str], list[float]] = {}
    for series in firing:
        key = _key(series["metric"])
        fired.setdefault(key, []).extend(float(t) for t, _ in series["values"])
    episodes = []
    for series in states:
        key = _key(series["metric"])
        by_start: dict[float, list[float]] = {}
        for t, value in series["values"]:
            by_start.setdefault(float(value), []).append(float(t))
        for value, seen in sorted(by_start.items()):
            first, last = min(seen), max(seen)
            # The value is activeAt in whole seconds; the first sample of the episode is the
            # evaluation that made it active, to the millisecond (unless it began before
            # the window read, where the value is all there is).
            active_at = first if first - value <= 1.0 else value
            firing_times = [t for t in fired.get(key, []) if active_at <= t <= last]
            episodes.append(
                Episode(
                    alertname=str(series["metric"].get("alertname", "")),
                    labels=_labels(series["metric"]),
                    active_at=active_at,
                    last_seen=last,
                    fired_at=min(firing_times) if firing_times else None,
                )
            )
    return sorted(episodes, key=lambda e: e.active_at)


def _key(metric: Mapping[str, str]) -> tuple[str, str]:
    labels = _labels(metric)
    return str(metric.get("alertname", "")), ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


def active_alerts(prometheus_url: str, *, client: httpx.Client | None = None) -> list[Labels]:
    """The rule alerts pending or firing right now (their labels, alertname included)."""
    own = client or httpx.Client(timeout=5.0)
    try:
        body = _get(own, f"{prometheus_url.rstrip('/')}/api/v1/alerts")
    finally:
        if client is None:
            own.close()
    return [dict(a["labels"]) for a in body["data"]["alerts"]]


def read_notifications(sink_url: str, since: float) -> list[Notification]:
    """Every alert of every notification the sink received at or after ``since``."""
    with httpx.Client(timeout=10.0) as client:
        received = _get(client, f"{sink_url.rstrip('/')}/alerts")
    found = []
    for note in received:
        if float(note.get("received_at", 0)) < since:
            continue
        for alert in note.get("alerts", []):
            found.append(
                Notification(
                    received_at=float(note["received_at"]),
                    receiver=str(note.get("receiver", "")),
                    status=str(alert.get("status", "")),
                    alertname=str(alert.get("labels", {}).get("alertname", "")),
                    labels=_labels(alert.get("labels", {})),
                    starts_at=iso_to_epoch(str(alert.get("startsAt"))),
                )
            )
    return found


class AlertmanagerWatcher:
    """Polls ``GET /api/v2/alerts`` in a thread; ``held`` merges what each poll showed."""

    def __init__(self, alertmanager_url: str, interval_s: float = 1.0) -> None:
        self.url = f"{alertmanager_url.rstrip('/')}/api/v2/alerts"
        self.interval_s = interval_s
        self.held: dict[tuple[str, float], HeldAlert] = {}
        self.polls_ok = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def poll(self, client: httpx.Client) -> None:
        at = time.time()
        try:
            alerts = _get(client, self.url)
        except MetricsError as exc:
            self.errors.append(str(exc))
            return
        names = {a["fingerprint"]: a["labels"].get("alertname", "") for a in alerts}
        with self._lock:
            self.polls_ok += 1
            for alert in alerts:
                status = alert.get("status", {})
                starts = iso_to_epoch(alert["startsAt"])
                # One entry per episode: the same alert firing again has a new startsAt.
                held = self.held.setdefault(
                    (alert["fingerprint"], starts),
                    HeldAlert(
                        alertname=str(alert["labels"].get("alertname", "")),
                        labels=_labels(alert["labels"]),
                        fingerprint=alert["fingerprint"],
                        starts_at=starts,
                        receivers=[r["name"] for r in alert.get("receivers", [])],
                        first_seen=at,
                        last_seen=at,
                    ),
                )
                held.last_seen = at
                inhibitors = {names.get(f, f) for f in status.get("inhibitedBy") or []}
                held.inhibited_by = sorted(set(held.inhibited_by) | inhibitors)
                held.silenced = held.silenced or bool(status.get("silencedBy"))

    def alerts(self) -> list[HeldAlert]:
        """Every alert episode seen, in the order they were first seen."""
        with self._lock:
            return sorted(self.held.values(), key=lambda h: h.first_seen)

    def _run(self) -> None:
        with httpx.Client(timeout=2.0) as client:
            while not self._stop.is_set():
                self.poll(client)
                self._stop.wait(self.interval_s)
            self.poll(client)

    def start(self) -> AlertmanagerWatcher:
        self._thread = threading.Thread(target=self._run, name="alertmanager-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)


@dataclass
class AlertEvidence:
    """What the three sources showed over a run; ``errors`` names each one that failed."""

    episodes: list[Episode] = field(default_factory=list)
    held: list[HeldAlert] = field(default_factory=list)
    notifications: list[Notification] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    alertmanager_polls: int = 0
    settled_after_s: float | None = None
    unsettled: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "episodes": [asdict(e) for e in self.episodes],
            "held": [asdict(h) for h in self.held],
            "notifications": [asdict(n) for n in self.notifications],
            "errors": dict(self.errors),
            "alertmanager_polls": self.alertmanager_polls,
            "settled_after_s": self.settled_after_s,
            "unsettled": list(self.unsettled),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertEvidence:
        return cls(
            episodes=[Episode(**e) for e in data.get("episodes", [])],
            held=[HeldAlert(**h) for h in data.get("held", [])],
            notifications=[Notification(**n) for n in data.get("notifications", [])],
            errors=dict(data.get("errors", {})),
            alertmanager_polls=int(data.get("alertmanager_polls", 0)),
            settled_after_s=data.get("settled_after_s"),
            unsettled=list(data.get("unsettled", [])),
        )
