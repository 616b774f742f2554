"""The promtool tests generated with the SLO rules (``chaos.dashboards.slo``).

For every SLO and tier: a burn just above the tier's factor, starting after a healthy
long window, fires within the long window (and not while only the short window agrees);
a burn just below never fires; once a burn stops, the short window resolves the alert.
For every SLO: a burn at exactly the budget's pace (1x) never pages.
"""

from __future__ import annotations

from typing import Any

from chaos.dashboards.slo import SLO, BurnRate, SLOFile, alert_rule, seconds

#: Guest requests per sample interval in the generated series (a round number, so that
#: every burn below is a whole count of bad requests).
REQUESTS = 10_000
INSTANCE = {"instance": "127.0.0.1:8080", "method": "POST", "endpoint": "/api/v1/messages"}
FAST_INTERVAL_S = 60  # samples and evaluations of the 1x-burn case


def duration(total_s: int) -> str:
    """Seconds as a Prometheus duration: ``3d1h30m``."""
    out, rest = "", total_s
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out or "0s"


def counter(parts: list[tuple[int, int]]) -> str:
    """promtool values of a counter from 0: ``(increment per sample, samples)`` in turn."""
    values, current = ["0"], 0
    for step, count in parts:
        if count <= 0:
            continue
        first = current + step
        values.append(f"{first}+{step}x{count - 1}" if count > 1 else str(first))
        current += step * count
    return " ".join(values)


def _labels(job: str, extra: dict[str, str]) -> str:
    pairs = {"job": job, **INSTANCE, **extra}
    return ", ".join(f'{k}="{v}"' for k, v in pairs.items())


def series(spec: SLOFile, slo: SLO, phases: list[tuple[float, int]]) -> list[dict[str, str]]:
    """Input series for ``phases`` of (bad share of requests, samples)."""
    bad = [(round(REQUESTS * share), n) for share, n in phases]
    good = [(REQUESTS - b, n) for b, n in bad]
    if slo.threshold_s is not None:
        name = "http_request_duration_seconds"
        bucket = _labels(spec.job, {"le": repr(slo.threshold_s)})
        return [
            {"series": f"{name}_count{{{_labels(spec.job, {})}}}",
             "values": counter([(REQUESTS, n) for _, n in phases])},
            {"series": f"{name}_bucket{{{bucket}}}", "values": counter(good)},
        ]  # fmt: skip
    return [
        {"series": f"http_requests_total{{{_labels(spec.job, {'status_code': '200'})}}}",
         "values": counter(good)},
        {"series": f"http_requests_total{{{_labels(spec.job, {'status_code': '500'})}}}",
         "values": counter(bad)},
    ]  # fmt: skip


def _check(spec: SLOFile, slo: SLO, tier: BurnRate, at_s: int, firing: bool) -> dict[str, Any]:
    expected: list[dict[str, Any]] = []
    if firing:
        rule = alert_rule(spec, slo, tier)
        expected = [
            {
                "exp_labels": {"job": spec.job, **rule["labels"]},
                "exp_annotations": rule["annotations"],
            }
        ]
    return {"eval_time": duration(at_s), "alertname": slo.alert(tier), "exp_alerts": expected}


def tier_cases(spec: SLOFile, slo: SLO, tier: BurnRate, interval_s: int) -> list[dict[str, Any]]:
    """Above the factor fires within the long window; below never; a stop resolves it."""
    long_s, short_s, for_s = seconds(tier.long), seconds(tier.short), seconds(tier.for_)
    per = interval_s
    history = long_s // per  # a healthy long window before the burn
    start = history * per
    above = min(1.0, 1.05 * tier.factor * slo.budget)
    below = 0.95 * tier.factor * slo.budget
    strong = min(1.0, 1.2 * tier.factor * slo.budget)
    burn_samples = (long_s + for_s) // per + 4
    # Burning from the start, both windows agree at once: it fires after ``for``.
    stop_samples = (for_s + short_s) // per + 2
    stop = stop_samples * per
    alert = slo.alert(tier)
    return [
        {
            "name": f"{alert}: a burn just above {tier.factor:g}x fires within {tier.long}",
            "interval": duration(per),
            "input_series": series(spec, slo, [(0.0, history), (above, burn_samples)]),
            "alert_rule_test": [
                _check(spec, slo, tier, start + short_s + for_s, firing=False),
                _check(spec, slo, tier, start + long_s + for_s + 2 * per, firing=True),
            ],
        },
        {
            "name": f"{alert}: a burn just below {tier.factor:g}x never fires",
            "interval": duration(per),
            # From the first sample on: both windows see the burn at once and all along.
            "input_series": series(spec, slo, [(below, burn_samples)]),
            "alert_rule_test": [
                _check(spec, slo, tier, for_s + 2 * per, firing=False),
                _check(spec, slo, tier, long_s + for_s + 2 * per, firing=False),
            ],
        },
        {
            "name": f"{alert}: the {tier.short} window resolves it once the burn stops",
            "interval": duration(per),
            "input_series": series(spec, slo, [(strong, stop_samples), (0.0, short_s // per + 3)]),
            "alert_rule_test": [
                _check(spec, slo, tier, stop, firing=True),
                _check(spec, slo, tier, stop + short_s + per, firing=False),
            ],
        },
    ]


def never_pages(spec: SLOFile, slo: SLO) -> dict[str, Any]:
    """A burn at exactly the budget's pace, over the longest page window and more."""
    pages = [t for t in spec.burn_rates if t.severity == "critical"]
    span = max(seconds(t.long) + seconds(t.for_) for t in pages) + 3600
    checks = [
        _check(spec, slo, tier, at, firing=False)
        for tier in pages
        for at in (seconds(tier.long) + seconds(tier.for_), span)
    ]
    return {
        "name": f"{slo.name}: a 1x burn never pages",
        "interval": duration(FAST_INTERVAL_S),
        "input_series": series(spec, slo, [(slo.budget, span // FAST_INTERVAL_S)]),
        "alert_rule_test": checks,
    }


def interval_s(tier: BurnRate) -> int:
    """Sample and evaluation interval for a tier's tests: coarse enough to stay fast."""
    long_s = seconds(tier.long)
    return 60 if long_s < 6 * 3600 else 300 if long_s < 86400 else 1800


def tests_for(spec: SLOFile, tier: BurnRate) -> dict[str, Any]:
    """One tier's cases for every SLO; the first tier's file also holds the 1x-burn cases."""
    per = interval_s(tier)
    tests = [case for slo in spec.slos for case in tier_cases(spec, slo, tier, per)]
    if tier == spec.burn_rates[0]:
        tests += [never_pages(spec, slo) for slo in spec.slos]
    return {
        # The SLO alerts read only the SLO records: the other rule files would only cost time.
        "rule_files": ["../rules/slo.yml"],
        # Alerts read the ratios recorded at earlier evaluations, so the interval must stay
        # within the 5-minute lookback.
        "evaluation_interval": duration(min(per, 300)),
        "tests": tests,
    }
