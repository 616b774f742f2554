"""Thresholds: declaration, overrides, verdicts and their messages (chaos/load/thresholds.py)."""

from __future__ import annotations

import pytest

from chaos.load.errors import ThresholdError
from chaos.load.thresholds import (
    AGGREGATED,
    Figures,
    evaluate,
    parse_override,
    parse_thresholds,
)


def fig(
    requests: int = 100, failures: int = 0, p95: float = 120, p99: float = 300, rps: float = 10.0
) -> Figures:
    return Figures(
        requests=requests,
        failures=failures,
        p50_ms=40,
        p95_ms=p95,
        p99_ms=p99,
        avg_ms=50,
        max_ms=900,
        rps=rps,
    )


def test_breached_p95_names_value_limit_and_target() -> None:
    verdicts = evaluate(parse_thresholds({"p95_ms": 800}), {AGGREGATED: fig(p95=1234)}, None)
    assert [v.passed for v in verdicts] == [False]
    assert verdicts[0].message() == "threshold failed: p95 1234 ms > 800 ms (Aggregated)"


def test_every_kind_of_threshold_passes_and_fails_on_the_right_side() -> None:
    spec = {
        "p95_ms": 200,
        "p99_ms": 300,
        "error_ratio": 0.01,
        "min_rps": 5,
        "min_requests": 100,
        "min_cache_hit_ratio": 0.5,
    }
    ok = evaluate(parse_thresholds(spec), {AGGREGATED: fig()}, 0.5)
    assert all(v.passed for v in ok), [v.message() for v in ok if not v.passed]
    bad = evaluate(
        parse_thresholds(spec),
        {AGGREGATED: fig(requests=99, failures=2, p95=201, p99=301, rps=4.9)},
        0.49,
    )
    assert not any(v.passed for v in bad)
    assert "PMS cache hit ratio 0.490 < 0.500 (agent /metrics)" in bad[-1].message()
    assert "error ratio 0.0202 > 0.0100" in bad[2].message()
    assert "throughput 4.90 req/s < 5.00 req/s" in bad[3].message()


def test_scoped_threshold_judges_only_its_request_name() -> None:
    name = "POST /api/v1/messages [booking:confirm]"
    verdicts = evaluate(
        parse_thresholds({f"p95_ms{{{name}}}": 500, "p95_ms": 500}),
        {AGGREGATED: fig(p95=100), name: fig(p95=900)},
        None,
    )
    assert [(v.threshold.target, v.passed) for v in verdicts] == [(name, False), (AGGREGATED, True)]


def test_unmeasured_figures_fail_rather_than_pass() -> None:
    verdicts = evaluate(
        parse_thresholds({"p95_ms": 800, "min_rps": 1, "min_cache_hit_ratio": 0.1}), {}, None
    )
    assert not any(v.passed for v in verdicts)
    assert "not measured" in verdicts[0].message()


def test_override_merges_and_accepts_scoped_keys_with_commas_outside_braces() -> None:
    assert parse_override("p95_ms=1, error_ratio=0.05") == {"p95_ms": 1.0, "error_ratio": 0.05}
    assert parse_override("p99_ms{GET /a, b}=3") == {"p99_ms{GET /a, b}": 3.0}
    assert parse_override("") == {}


@pytest.mark.parametrize("text", ["p95=800", "p95_ms", "p95_ms=fast", "min_cache_hit_ratio{x}=1"])
def test_bad_overrides_are_rejected_with_the_offending_part(text: str) -> None:
    with pytest.raises(ThresholdError, match=r"p95|min_cache"):
        parse_override(text)


def test_declarations_reject_non_numbers() -> None:
    with pytest.raises(ThresholdError, match="needs a number"):
        parse_thresholds({"p95_ms": True})
