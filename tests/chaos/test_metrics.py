"""The one metrics reader: exposition text, counters over time, gauges, breaker transitions,
and the sampler that reads a real ``/metrics`` endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chaos.exceptions import MetricsError
from chaos.metrics import (
    MetricsSampler,
    Scrape,
    Timeline,
    cache_hit_ratio,
    parse,
    scrape,
    wait_scraped,
)

EXPOSITION = """\
# HELP retry_attempts_total Retry attempts.
# TYPE retry_attempts_total counter
# HELP pms_cache_hits_total Hits.
# TYPE pms_cache_hits_total counter
pms_cache_hits_total{kind="availability"} 30.0
pms_cache_hits_total{kind="room_types"} 10.0
pms_cache_hits_created{kind="availability"} 1.7e9
# TYPE pms_cache_misses_total counter
pms_cache_misses_total{kind="availability"} 20.0
pms_cache_misses_total{kind="room_types"} 0.0
# TYPE pms_api_latency_seconds histogram
pms_api_latency_seconds_bucket{le="+Inf",operation="ping",outcome="success"} 3.0
pms_api_latency_seconds_count{operation="ping",outcome="success"} 3.0
pms_api_latency_seconds_sum{operation="ping",outcome="success"} 0.01
# TYPE audit_circuit_breaker_state gauge
audit_circuit_breaker_state 1.0
"""


def test_a_page_declares_families_without_children() -> None:
    page = parse(EXPOSITION)
    assert page.total("pms_cache_hits_total") == 40.0
    assert page.total("pms_cache_hits_total", kind="room_types") == 10.0
    # Declared, no child yet: zero, not missing.
    assert page.total("retry_attempts_total", operation="session.save") == 0.0
    assert page.total("pms_api_latency_seconds_count", outcome="success") == 3.0
    assert page.total("session_save_retries_total") is None  # never declared
    # When the agent created a child: inspections read restarts from it.
    assert page.total("pms_cache_hits_created", kind="availability") == 1.7e9


def test_text_that_is_not_exposition_is_an_error() -> None:
    with pytest.raises(MetricsError, match="not Prometheus exposition text"):
        parse("<html>502 Bad Gateway</html>\n{")


def timeline(points: list[tuple[float, dict[str, float]]], declared: set[str]) -> Timeline:
    pages = []
    for t, values in points:
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for key, v in values.items():
            name, _, label = key.partition("|")
            labels = dict([label.split("=")]) if label else {}
            samples.setdefault(name, []).append((labels, v))
        pages.append((t, Scrape(samples, frozenset(declared))))
    return Timeline.of(pages)


def test_increase_handles_resets_late_children_and_windows() -> None:
    tl = timeline(
        [
            (0.0, {"c|op=a": 5.0}),
            (1.0, {"c|op=a": 7.0}),
            (2.0, {"c|op=a": 1.0, "c|op=b": 2.0}),  # a restart; b appears with 2
            (3.0, {"c|op=a": 4.0, "c|op=b": 2.0}),
        ],
        {"c"},
    )
    assert tl.increase("c") == 2 + 1 + 2 + 3  # a: +2, reset to 1, +3; b: +2 from nothing
    assert tl.increase("c", None, None, op="b") == 2.0
    assert tl.increase("c", 2.0, 3.0, op="a") == 3.0
    assert tl.increases("c", by="op") == {
        "a": [(0.0, 0.0), (1.0, 2.0), (2.0, 3.0), (3.0, 6.0)],
        "b": [(0.0, 0.0), (1.0, 0.0), (2.0, 2.0), (3.0, 2.0)],
    }


def test_missing_data_is_none_never_zero() -> None:
    tl = timeline([(0.0, {}), (1.0, {})], {"c"})
    assert tl.increase("c") == 0.0  # declared, never incremented: a real zero
    assert tl.increase("d") is None  # never declared
    assert Timeline().increase("c") is None  # no reading at all
    one = timeline([(0.0, {"c": 1.0})], {"c"})
    assert one.increase("c") is None  # one reading cannot show growth
    gap = timeline([(0.0, {"c": 1.0}), (1.0, {"c": 2.0})], {"c"})
    assert gap.increase("c", 0.0, 10.0) is None  # the readings stop 9 s before the end


def test_failed_readings_are_kept_with_their_reason() -> None:
    tl = Timeline()
    tl.fail(5.0, "agent", "ReadTimeout")
    back = Timeline.from_dict(tl.to_dict())
    assert [(e.t, e.source, e.message) for e in back.errors] == [(5.0, "agent", "ReadTimeout")]


def test_transitions_are_ordered_by_walking_the_state_machine() -> None:
    tl = Timeline()
    # Three transitions between two readings: the gauge says it was closed before.
    for t, state, counts in (
        (0.0, 0.0, {}),
        (1.0, 0.0, {("half-open", "closed"): 1, ("closed", "open"): 1, ("open", "half-open"): 1}),
    ):
        samples: dict[str, list[tuple[dict[str, str], float]]] = {
            "circuit_breaker_state": [({"breaker": "audit"}, state)],
            "circuit_breaker_transitions_total": [
                ({"breaker": "audit", "from_state": a, "to_state": b}, n)
                for (a, b), n in counts.items()
            ],
        }
        tl.add(t, Scrape(samples, frozenset(samples)))
    seen = tl.transitions("audit")
    assert [tr.pair for tr in seen] == ["closed>open", "open>half-open", "half-open>closed"]
    assert {(tr.earliest, tr.latest) for tr in seen} == {(0.0, 1.0)}


def test_cache_hit_ratio_between_two_readings() -> None:
    before = parse(EXPOSITION)
    after = parse(EXPOSITION.replace("30.0", "45.0").replace("20.0", "25.0"))
    assert cache_hit_ratio(before, after) == pytest.approx(15 / 20)
    assert cache_hit_ratio(before, before) is None  # no lookup: no figure


class _Agent(BaseHTTPRequestHandler):
    body = EXPOSITION

    def do_GET(self) -> None:
        data = type(self).body.encode()
        self.send_response(200 if self.path == "/metrics" else 404)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def agent_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Agent)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_scrape_reads_a_real_endpoint_and_names_it_when_it_fails(agent_url: str) -> None:
    assert scrape(agent_url).total("audit_circuit_breaker_state") == 1.0
    with pytest.raises(MetricsError, match=r"127\.0\.0\.1:1/metrics: ConnectError"):
        scrape("http://127.0.0.1:1", timeout_s=0.5)


def test_the_sampler_records_readings_and_every_failure(agent_url: str) -> None:
    sampler = MetricsSampler(agent_url, interval_s=0.02, prometheus_url="http://127.0.0.1:1")
    sampler.start()
    try:
        while len(sampler.timeline.times()) < 3:
            threading.Event().wait(0.01)
    finally:
        tl = sampler.stop()
    assert tl.increase("pms_cache_hits_total") == 0.0
    assert tl.gauge("audit_circuit_breaker_state")[0][1] == 1.0
    # Prometheus did not answer: its readings are errors, and it has no successful reading.
    assert tl.errors and all(e.source == "prometheus" for e in tl.errors)
    assert tl.times("prometheus") == []


class _Prometheus(BaseHTTPRequestHandler):
    """Answers the scrape-count query: the agent is scraped, the proxy only once asked twice."""

    asked = 0

    def do_GET(self) -> None:
        type(self).asked += 1
        jobs = ["agent"] + (["proxy"] if type(self).asked > 2 else [])
        result = [{"metric": {"job": j}, "value": [0, "5"]} for j in jobs]
        data = json.dumps({"status": "success", "data": {"result": result}}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


def test_wait_scraped_waits_for_every_job_and_gives_up_without_them() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Prometheus)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        assert wait_scraped(url, ("agent", "proxy"), timeout_s=10)
        assert _Prometheus.asked == 3
        assert not wait_scraped(url, ("agent", "redis"), timeout_s=0.6)
    finally:
        server.shutdown()
        server.server_close()
    assert not wait_scraped("http://127.0.0.1:1", ("agent",), timeout_s=0.1)
