"""Fault schedules: parsing, applying on time, and restoring always (chaos/load/schedule.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chaos.exceptions import ToxiproxyError
from chaos.faults import FaultScheduler
from chaos.load.errors import ScheduleError
from chaos.load.schedule import DEFAULT_SCHEDULE, parse_schedule, scaled
from chaos.toxiproxy import Proxy, Toxic


class FakeProxy:
    """Records what the scheduler does to the proxies; can be told to fail."""

    def __init__(self) -> None:
        self.toxics: dict[str, list[str]] = {}
        self.disabled: set[str] = set()
        self.fail_enable = False
        self.fail_add = False

    def add_toxic(self, proxy: str, type: str, *, name: str, **_: Any) -> None:
        if self.fail_add:
            raise ToxiproxyError(404, f"proxy {proxy} not found")
        self.toxics.setdefault(proxy, []).append(name)

    def remove_toxic(self, proxy: str, name: str) -> None:
        self.toxics[proxy].remove(name)

    def set_enabled(self, proxy: str, enabled: bool, **_: Any) -> None:
        if enabled and self.fail_enable:
            raise ToxiproxyError(0, "unreachable")
        (self.disabled.discard if enabled else self.disabled.add)(proxy)

    def dirty(self) -> bool:
        return bool(self.disabled) or any(self.toxics.values())

    def proxy(self, name: str) -> Proxy:
        toxics = tuple(Toxic(t, "latency", "downstream", 1.0) for t in self.toxics.get(name, []))
        return Proxy(name, "", "", name not in self.disabled, toxics)


def scheduler(proxy: FakeProxy, spec: str = DEFAULT_SCHEDULE, **kw: Any) -> FaultScheduler:
    clock = iter(float(i) for i in range(1000))
    return FaultScheduler(proxy, parse_schedule(spec), clock=lambda: next(clock), **kw)  # type: ignore[arg-type]


def test_default_schedule_is_redis_latency_then_postgres_down_then_all_restored() -> None:
    windows = parse_schedule(DEFAULT_SCHEDULE)
    assert [(w.fault.proxy, w.fault.type, w.start_s, w.end_s) for w in windows] == [
        ("redis", "latency", 60.0, 180.0),
        ("postgres", "down", 120.0, 180.0),
    ]
    assert windows[0].fault.attributes == {"latency": 150, "jitter": 20}
    assert [w.start_s for w in scaled(windows, 0.05)] == [3.0, 6.0]


def test_optional_stream_and_toxicity() -> None:
    (w,) = parse_schedule("pms:timeout(timeout=500)/upstream~0.5@1-2")
    assert (w.fault.stream, w.fault.toxicity, w.fault.attributes) == (
        "upstream",
        0.5,
        {"timeout": 500},
    )


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("redis latency@1-2", "cannot read"),
        ("redis:melt@1-2", "unknown fault type"),
        ("redis:latency(rate=5)@1-2", "no attribute 'rate'"),
        ("redis:latency(latency=fast)@1-2", "NAME=INTEGER"),
        ("redis:down@5-2", "ends before it starts"),
        ("redis:latency~2@1-2", "toxicity"),
    ],
)
def test_bad_schedules_say_what_is_wrong(spec: str, why: str) -> None:
    with pytest.raises(ScheduleError, match=why):
        parse_schedule(spec)


def test_windows_start_and_end_on_time_and_are_recorded() -> None:
    proxy = FakeProxy()
    s = scheduler(proxy)
    s.tick(59.9)
    assert not proxy.dirty()
    s.tick(60.0)
    assert len(proxy.toxics["redis"]) == 1
    assert not proxy.disabled
    s.tick(120.0)
    assert proxy.disabled == {"postgres"}
    s.tick(180.0)
    assert not proxy.dirty()
    assert s.finished
    doc = json.loads(json.dumps(s.document()))
    assert [w["fault"] for w in doc["windows"]] == [
        "redis latency(latency=150, jitter=20) downstream",
        "postgres down",
    ]
    assert all(w["ended_at"] >= w["started_at"] and not w["error"] for w in doc["windows"])
    assert all(w["removed_ok"] and w["removal_detail"] == "gone from the proxy"
               for w in doc["windows"])  # fmt: skip
    assert doc["windows"][0]["toxics"][0].startswith("chaoslab_latency_")


def test_restore_ends_active_windows_once_and_stops_scheduling() -> None:
    proxy = FakeProxy()
    s = scheduler(proxy)
    s.tick(130)
    assert proxy.dirty()
    s.restore()
    s.restore()
    s.tick(140)
    assert not proxy.dirty()
    assert len(s.records) == 2
    assert all(r.ended_at is not None for r in s.records)


def test_a_window_the_run_skipped_past_is_never_applied() -> None:
    proxy = FakeProxy()
    s = scheduler(proxy, "redis:down@1-2")
    s.tick(5)
    assert not proxy.dirty()
    assert s.records == []
    assert s.finished


def test_a_failed_injection_is_recorded_and_the_run_goes_on() -> None:
    proxy = FakeProxy()
    proxy.fail_add = True
    s = scheduler(proxy, "nope:latency(latency=10)@0-5; redis:down@0-5")
    s.tick(0)
    assert "not found" in s.records[0].error and s.records[0].started_at is None
    assert proxy.disabled == {"redis"}
    s.restore()
    assert not proxy.dirty()


def test_restore_continues_past_a_failing_window_and_a_broken_log() -> None:
    proxy = FakeProxy()

    def broken_log(_: str) -> None:
        raise BrokenPipeError("stdout went away")

    s = scheduler(proxy, "postgres:down@0-9; redis:latency(latency=5)@0-9", log=broken_log)
    s.tick(0)
    proxy.fail_enable = True
    s.restore()
    assert proxy.toxics["redis"] == []  # the other window was still restored
    assert "restore failed" in s.records[0].error
    assert s.records[0].removed_ok is False  # read back: postgres is still disabled
    assert proxy.disabled == {"postgres"}  # really not restored, and the record says so
