"""Exact figures from Locust's JSON, agent metrics, load shapes and the runner's helpers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.load import shapes
from chaos.load.errors import LoadError
from chaos.load.results import figures, figures_by_name, percentile, read_entries
from chaos.load.runner import locust_command, read_samples, scenario_path, scenarios


def entry(
    name: str, times: dict[str, int], failures: int = 0, start: float = 100.0, end: float = 110.0
) -> dict[str, object]:
    n = sum(times.values())
    return {
        "name": name,
        "method": "POST",
        "num_requests": n,
        "num_failures": failures,
        "response_times": times,
        "total_response_time": sum(float(k) * v for k, v in times.items()),
        "max_response_time": max(float(k) for k in times),
        "start_time": start,
        "last_request_timestamp": end,
    }


def test_percentile_follows_locusts_rule() -> None:
    # Values from locust.stats.calculate_response_time_percentile on the same histogram
    # (not imported here: importing locust monkey-patches the test process).
    hist = {"10": 90, "100": 9, "1000": 1}
    assert percentile(hist, 0.50) == 10
    assert percentile(hist, 0.95) == 100
    assert percentile(hist, 0.99) == 1000
    assert percentile(hist, 1.0) == 1000
    assert percentile({}, 0.95) == 0


def test_aggregate_sums_every_entry_exactly(tmp_path: Path) -> None:
    entries = [entry("a", {"10": 50}, failures=1), entry("b", {"30": 50}, start=105, end=120)]
    (tmp_path / "run.json").write_text(json.dumps(entries))
    by_name = figures_by_name(read_entries(tmp_path / "run"))
    agg = by_name["Aggregated"]
    assert (agg.requests, agg.failures, agg.avg_ms, agg.max_ms) == (100, 1, 20.0, 30.0)
    assert agg.rps == pytest.approx(100 / 20)
    assert by_name["a"].requests == 50
    assert by_name["a"].error_ratio == pytest.approx(0.02)
    assert figures([]).requests == 0


def test_missing_or_malformed_results_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no Locust results"):
        read_entries(tmp_path / "none")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(LoadError, match="unreadable"):
        read_entries(tmp_path / "bad.json")


def test_shapes_hold_each_stage_then_end_and_scale_in_time() -> None:
    stages = shapes.step(start_users=5, increment=5, steps=4, step_s=30)
    assert [shapes.tick(stages, t) for t in (0, 29.9, 30, 119.9)] == [
        (5, 2),
        (5, 2),
        (10, 2),
        (20, 2),
    ]
    assert shapes.tick(stages, 120) is None
    assert shapes.tick(stages, 3.1, time_scale=0.1) == (10, 2)
    assert shapes.total_duration(shapes.spike(), 0.5) == 45
    assert shapes.spike()[1].spawn_rate == 30  # the burst arrives at once


def test_scenarios_are_the_locustfiles_but_not_their_helpers() -> None:
    names = scenarios()
    assert {"steady", "step", "spike", "soak", "scheduled_faults"} <= set(names)
    assert "guests" not in names
    assert "bench_users" not in names
    with pytest.raises(LoadError, match="no Locust scenario 'guests'"):
        scenario_path("guests")


def test_command_is_headless_with_every_report_and_whole_seconds(tmp_path: Path) -> None:
    cmd = locust_command(
        "steady",
        "http://h:1",
        users=3,
        spawn_rate=1.5,
        run_time_s=2.2,
        out_base=tmp_path / "s",
        user_classes=["ApiGuest"],
    )
    joined = " ".join(cmd)
    assert "--headless" in cmd
    assert cmd[-1] == "ApiGuest"
    assert f"--json-file {tmp_path / 's'}" in joined
    assert f"--html {tmp_path / 's'}.html" in joined
    assert "--run-time 3s" in joined
    assert "--spawn-rate 1.5" in joined


def test_samples_keep_every_channel_and_survive_a_cut_line(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"

    def row(t: float, channel: str, degraded: bool | None, label: str) -> dict[str, object]:
        return {"intended_at": t, "sent_at": t, "done_at": t + 0.1, "status": 200,
                "channel": channel, "message_id": f"m{t}", "guest_id": "g", "label": label,
                "degraded": degraded, "intent": label, "error": ""}  # fmt: skip

    rows = [row(2.0, "api", False, "greeting"), row(1.0, "api", True, "availability"),
            row(1.5, "whatsapp", None, "info")]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"intended_at": 3, "sta')
    samples = read_samples(path)
    assert [(s.intended_at, s.channel, s.degraded, s.message_id) for s in samples] == [
        (1.0, "api", True, "m1.0"),
        (1.5, "whatsapp", None, "m1.5"),
        (2.0, "api", False, "m2.0"),
    ]
    assert samples[0].latency_s == pytest.approx(0.1)
    assert read_samples(tmp_path / "missing.jsonl") == []
