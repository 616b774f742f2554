"""What every inspect command returns: checks against thresholds, figures, recommendations.

One ``Report`` renders three ways: a human table, JSON (``--json``) and the Prometheus text
exposition format (``--prometheus``, e.g. for node_exporter's textfile collector).

Check statuses, mildest first: ``ok``; ``info`` (worth knowing, never gated); ``skipped``
(too little data to judge, e.g. a table below the row floor); ``warning`` and ``critical``
(a threshold crossed); ``unknown`` (a data source did not answer). The command fails
(exit 1) on ``warning``, ``critical`` or ``unknown``; with ``--fail-on critical`` only on
the last two.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

Status = Literal["ok", "info", "skipped", "warning", "critical", "unknown"]
FailOn = Literal["warning", "critical"]
STATUSES: tuple[Status, ...] = ("ok", "info", "skipped", "warning", "critical", "unknown")
# Severity as exported to Prometheus: 0 nothing to act on, 1 warning, 2 critical, 3 unknown.
SEVERITY: dict[str, int] = {
    "ok": 0,
    "info": 0,
    "skipped": 0,
    "warning": 1,
    "critical": 2,
    "unknown": 3,
}
FAILING: dict[str, frozenset[str]] = {
    "warning": frozenset({"warning", "critical", "unknown"}),
    "critical": frozenset({"critical", "unknown"}),
}
PROM_PREFIX = "chaoslab_inspect_"


@dataclass(frozen=True)
class Check:
    """One verdict: a measured value against its threshold."""

    name: str
    status: Status
    detail: str
    value: float | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class Sample:
    """One Prometheus gauge sample (name without the ``chaoslab_inspect_`` prefix)."""

    name: str
    help: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass
class Report:
    """The result of one inspect command."""

    command: str
    targets: dict[str, str]
    checks: list[Check] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    generated_at: float = field(default_factory=time.time)

    @property
    def status(self) -> Status:
        """The most severe status among the checks (``ok`` when there are none)."""
        worst: Status = "ok"
        for check in self.checks:
            if STATUSES.index(check.status) > STATUSES.index(worst):
                worst = check.status
        return worst

    def failed(self, fail_on: FailOn = "warning") -> bool:
        return any(c.status in FAILING[fail_on] for c in self.checks)

    def exit_code(self, fail_on: FailOn = "warning") -> int:
        return 1 if self.failed(fail_on) else 0

    def failing(self, fail_on: FailOn = "warning") -> list[Check]:
        return [c for c in self.checks if c.status in FAILING[fail_on]]

    def to_dict(self, fail_on: FailOn = "warning") -> dict[str, Any]:
        """The JSON document: common fields first, then the command's own sections."""
        return {
            "command": self.command,
            "generated_at": round(self.generated_at, 3),
            "status": self.status,
            "failed": self.failed(fail_on),
            "exit_code": self.exit_code(fail_on),
            "targets": self.targets,
            "checks": [asdict(c) for c in self.checks],
            "recommendations": self.recommendations,
            **self.data,
        }


def to_json(report: Report, fail_on: FailOn = "warning") -> str:
    return json.dumps(report.to_dict(fail_on), indent=2, sort_keys=False, default=str)


class _Families(Collector):
    """Serves a fixed list of gauge families to ``generate_latest``."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self._families = families

    def collect(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families)


def to_prometheus(report: Report, fail_on: FailOn = "warning") -> str:
    """The report's figures in the text exposition format, with its verdicts as gauges."""
    samples = [
        *report.samples,
        *(
            Sample(
                "check_severity",
                "Inspect verdict per check: 0 ok/info/skipped, 1 warning, 2 critical, 3 unknown.",
                SEVERITY[c.status],
                {"check": c.name},
            )
            for c in report.checks
        ),
        Sample(
            "failed",
            "1 when the inspect command failed its thresholds.",
            float(report.failed(fail_on)),
        ),
        Sample("generated_timestamp_seconds", "When the inspection ran.", report.generated_at),
    ]
    families: dict[str, tuple[GaugeMetricFamily, list[str]]] = {}
    for s in samples:
        if math.isnan(s.value):
            continue
        labels = {"command": report.command, **s.labels}
        if s.name not in families:
            names = list(labels)
            families[s.name] = (
                GaugeMetricFamily(PROM_PREFIX + s.name, s.help, labels=names),
                names,
            )
        family, names = families[s.name]
        family.add_metric([labels[k] for k in names], float(s.value))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families([family for family, _ in families.values()]))
    return generate_latest(registry).decode()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() or abs(value) >= 1e4 else f"{value:.4g}"
    return str(value)


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    """A plain left-aligned text table."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
    lines = ["  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)


def render_checks(report: Report, fail_on: FailOn = "warning") -> str:
    """The verdict block every human rendering starts with."""
    verdict = "FAILED" if report.failed(fail_on) else "PASSED"
    head = f"chaoslab inspect {report.command}: {verdict} (worst status: {report.status})"
    rows = [(c.name, c.status.upper(), c.value, c.threshold, c.detail) for c in report.checks]
    return head + "\n\n" + table(["check", "status", "value", "threshold", "detail"], rows)


def render_recommendations(report: Report) -> str:
    if not report.recommendations:
        return "Recommendations: none."
    return "Recommendations:\n" + "\n".join(f"  - {r}" for r in report.recommendations)
