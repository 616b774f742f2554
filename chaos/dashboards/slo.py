"""SLOs as code: one file generates the burn-rate rules and their promtool tests.

``dashboards/slos.yml`` holds the objectives of the guest reply path. From it come
``prometheus/rules/slo.yml`` (an error ratio per window, recorded, and one alert per SLO
and burn-rate tier) and the promtool tests in ``prometheus/tests/slo*.yml``
(``chaos.dashboards.slo_tests``). The generated files are checked in so that Prometheus,
promtool and reviewers read plain files; ``python -m chaos.dashboards.slo --check`` fails
when they drift from the SLO file.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chaos.dashboards import DashboardError
from chaos.dashboards.assets import ASSETS_DIR, PROMTOOL_TESTS_DIR, RULES_DIR, RUNBOOK_BASE_URL

SLO_FILE = ASSETS_DIR / "slos.yml"
SLO_RULES = RULES_DIR / "slo.yml"
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_UNIT_WORD = {"s": "second", "m": "minute", "h": "hour", "d": "day"}


def seconds(duration: str) -> int:
    """A one-unit Prometheus duration (``5m``, ``3d``) in seconds."""
    match = _DURATION.match(duration)
    if match is None:
        raise DashboardError(f"{SLO_FILE.name}: {duration!r} is not a duration like 5m or 3d")
    return int(match.group(1)) * _UNIT_S[match.group(2)]


def spoken(duration: str) -> str:
    """``1h`` as "1 hour", ``30m`` as "30 minutes"."""
    match = _DURATION.match(duration)
    assert match is not None
    count, word = int(match.group(1)), _UNIT_WORD[match.group(2)]
    return f"{count} {word}{'' if count == 1 else 's'}"


def per_cent(share: float) -> str:
    """0.144 as "14.4 %"."""
    return f"{round(share * 100, 3):g} %"


def period_name(duration: str) -> str:
    """``30d`` as "30-day"."""
    match = _DURATION.match(duration)
    assert match is not None
    return f"{match.group(1)}-{_UNIT_WORD[match.group(2)]}"


@dataclass(frozen=True)
class BurnRate:
    """One alerting tier: burn ``factor`` times too fast over ``long`` and ``short``."""

    tier: str
    factor: float
    long: str
    short: str
    for_: str
    severity: str
    action: str


@dataclass(frozen=True)
class SLO:
    """One objective: the share of guest requests that must be good over the period."""

    name: str
    objective: float
    alert_prefix: str
    title: str
    bad_requests: str
    record: str
    bad: str = ""  # a label filter on http_requests_total (availability)
    threshold_s: float | None = None  # slower than this is bad (latency)

    @property
    def budget(self) -> float:
        return round(1 - self.objective, 12)

    def alert(self, tier: BurnRate) -> str:
        return f"{self.alert_prefix}{tier.tier}"

    def ratio(self, window: str) -> str:
        return f"job:{self.record}:ratio_rate{window}"


@dataclass(frozen=True)
class SLOFile:
    job: str
    period: str
    selector: str
    burn_rates: tuple[BurnRate, ...]
    slos: tuple[SLO, ...]

    @property
    def windows(self) -> list[str]:
        """Every window an alert reads, shortest first."""
        found = {w for t in self.burn_rates for w in (t.long, t.short)}
        return sorted(found, key=seconds)


def _required(data: dict[str, Any], key: str, where: str) -> Any:
    if key not in data:
        raise DashboardError(f"{SLO_FILE.name}: {where}.{key} is required")
    return data[key]


def load(path: Path = SLO_FILE) -> SLOFile:
    """Read and check the SLO file."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DashboardError(f"cannot read {path}: {exc}") from exc
    tiers = tuple(
        BurnRate(
            tier=str(_required(t, "tier", f"burn_rates[{i}]")),
            factor=float(_required(t, "factor", f"burn_rates[{i}]")),
            long=str(_required(t, "long", f"burn_rates[{i}]")),
            short=str(_required(t, "short", f"burn_rates[{i}]")),
            for_=str(_required(t, "for", f"burn_rates[{i}]")),
            severity=str(_required(t, "severity", f"burn_rates[{i}]")),
            action=str(_required(t, "action", f"burn_rates[{i}]")),
        )
        for i, t in enumerate(doc["burn_rates"])
    )
    for tier in tiers:
        if seconds(tier.short) >= seconds(tier.long):
            raise DashboardError(f"{SLO_FILE.name}: tier {tier.tier}: short must be below long")
        seconds(tier.for_)
    slos = []
    for i, s in enumerate(doc["slos"]):
        where = f"slos[{i}]"
        slo = SLO(
            name=str(_required(s, "name", where)),
            objective=float(_required(s, "objective", where)),
            alert_prefix=str(_required(s, "alert_prefix", where)),
            title=str(_required(s, "title", where)),
            bad_requests=str(_required(s, "bad_requests", where)),
            record=str(_required(s, "record", where)),
            bad=str(s.get("bad", "")),
            threshold_s=float(s["threshold_s"]) if "threshold_s" in s else None,
        )
        if not 0 < slo.objective < 1:
            raise DashboardError(f"{SLO_FILE.name}: {where}.objective must be between 0 and 1")
        if bool(slo.bad) == (slo.threshold_s is not None):
            raise DashboardError(f"{SLO_FILE.name}: {where} needs exactly one of bad, threshold_s")
        slos.append(slo)
    return SLOFile(str(doc["job"]), str(doc["period"]), str(doc["selector"]), tiers, tuple(slos))


# -- rules ---------------------------------------------------------------------------------


def ratio_expr(spec: SLOFile, slo: SLO, window: str) -> str:
    """The share of bad guest requests over ``window``, per job (0 while none is bad)."""
    total = f"sum by (job) (rate(http_requests_total{{{spec.selector}}}[{window}]))"
    if slo.threshold_s is not None:
        buckets = "http_request_duration_seconds"
        count = f"sum by (job) (rate({buckets}_count{{{spec.selector}}}[{window}]))"
        good = (
            f'sum by (job) (rate({buckets}_bucket{{{spec.selector}, le="{slo.threshold_s!r}"}}'
            f"[{window}]))"
        )
        return f"(\n  {count}\n  - {good}\n)\n/ {count}\n"
    bad = f"sum by (job) (rate(http_requests_total{{{spec.selector}, {slo.bad}}}[{window}]))"
    return f"(\n  {bad}\n  or 0 * {total}\n)\n/ {total}\n"


def threshold(slo: SLO, tier: BurnRate) -> float:
    """The error ratio at which ``tier`` burns the budget: factor x budget."""
    return round(tier.factor * slo.budget, 12)


def alert_rule(spec: SLOFile, slo: SLO, tier: BurnRate) -> dict[str, Any]:
    limit = f"{threshold(slo, tier)!r}"
    selector = f'{{job="{spec.job}"}}'
    expr = (
        f"{slo.ratio(tier.long)}{selector} > {limit}\n"
        f"and {slo.ratio(tier.short)}{selector} > {limit}\n"
    )
    used = tier.factor * seconds(tier.long) / seconds(spec.period)
    lasts = seconds(spec.period) / tier.factor / 86400
    name = slo.alert(tier)
    return {
        "alert": name,
        "expr": expr,
        "for": tier.for_,
        "labels": {"severity": tier.severity, "component": "agent", "slo": slo.name},
        "annotations": {
            "summary": (
                f"{slo.title} burning {tier.factor:g}x too fast ({per_cent(used)} of the "
                f"{period_name(spec.period)} budget in {spoken(tier.long)}): {tier.action}."
            ),
            "description": (
                f"More than {per_cent(threshold(slo, tier))} of guest requests "
                f"{slo.bad_requests} over both the last {spoken(tier.long)} and the last "
                f"{spoken(tier.short)} (SLO {per_cent(slo.objective)}). At this rate the "
                f"{period_name(spec.period)} budget lasts {round(lasts, 1):g} days."
            ),
            "runbook_url": f"{RUNBOOK_BASE_URL}{name}.md",
        },
    }


def rules(spec: SLOFile) -> dict[str, Any]:
    """The generated rule file: ratio records per SLO and window, then the alerts."""
    records = [
        {"record": slo.ratio(window), "expr": ratio_expr(spec, slo, window)}
        for slo in spec.slos
        for window in spec.windows
    ]
    alerts = [alert_rule(spec, slo, tier) for slo in spec.slos for tier in spec.burn_rates]
    return {
        "groups": [
            {"name": "hotel-agent-slo-records", "rules": records},
            {"name": "hotel-agent-slo-alerts", "rules": alerts},
        ]
    }


# -- YAML ----------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings, so generated PromQL reads like hand-written."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)

HEADER = (
    "# GENERATED by `python -m chaos.dashboards.slo` from dashboards/slos.yml: do not edit.\n"
    "# Change the SLO file and run the generator; tests/dashboards/test_dashboards_slo.py\n"
    "# fails when this file and the SLO file disagree.\n"
)


def dump(doc: dict[str, Any], comment: str = "") -> str:
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)
    return HEADER + comment + body


def outputs(spec: SLOFile | None = None) -> dict[Path, str]:
    """Every generated file and its text."""
    from chaos.dashboards import slo_tests

    spec = spec or load()
    files = {SLO_RULES: dump(rules(spec))}
    for tier in spec.burn_rates:
        every = slo_tests.duration(slo_tests.interval_s(tier))
        comment = f"# promtool tests of the {tier.tier} tier, on samples every {every}.\n"
        path = PROMTOOL_TESTS_DIR / f"slo-{tier.tier.lower()}.yml"
        files[path] = dump(slo_tests.tests_for(spec, tier), comment)
    return files


def drift(spec: SLOFile | None = None) -> list[Path]:
    """The generated files whose checked-in text differs from what the SLO file gives."""
    return [
        path
        for path, text in outputs(spec).items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.dashboards.slo",
        description="Generate the SLO rules and their promtool tests from dashboards/slos.yml.",
    )
    parser.add_argument("--check", action="store_true", help="fail when a file would change")
    args = parser.parse_args(argv)
    try:
        generated = outputs()
    except DashboardError as exc:
        print(f"error: {exc}")
        return 2
    stale = drift()
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run python -m chaos.dashboards.slo)")
        return 1 if stale else 0
    for path, text in generated.items():
        path.write_text(text, encoding="utf-8")
        print(f"{'wrote' if path in stale else 'unchanged'} {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
