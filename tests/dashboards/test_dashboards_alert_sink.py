"""The Alertmanager webhook sink, over real loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from chaos.dashboards.alert_sink import MAX_BODY, AlertSink

TIMEOUT = httpx.Timeout(5.0)
NOTIFICATION = {
    "version": "4",
    "receiver": "pager",
    "status": "firing",
    "groupLabels": {"alertname": "RedisDown"},
    "alerts": [{"status": "firing", "labels": {"alertname": "RedisDown", "severity": "critical"}}],
}


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[AlertSink]:
    running = AlertSink("127.0.0.1", 0, tmp_path / "alerts.jsonl").start()
    yield running
    running.stop()


def test_notification_is_kept_listed_and_written_as_a_json_line(
    sink: AlertSink, tmp_path: Path
) -> None:
    response = httpx.post(sink.url, json=NOTIFICATION, timeout=TIMEOUT)
    assert response.status_code == 200
    (kept,) = sink.received()
    assert kept["receiver"] == "pager"
    assert kept["alerts"] == NOTIFICATION["alerts"]
    listed = httpx.get(sink.url, timeout=TIMEOUT).json()
    assert [n["receiver"] for n in listed] == ["pager"]
    (line,) = (tmp_path / "alerts.jsonl").read_text().splitlines()
    assert json.loads(line)["groupLabels"] == {"alertname": "RedisDown"}


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "malformed_json"),
        (b"[1, 2]", "invalid_payload"),
        (json.dumps({"receiver": "pager", "alerts": "x"}).encode(), "invalid_payload"),
        (json.dumps({"alerts": []}).encode(), "invalid_payload"),
    ],
)
def test_bad_bodies_get_400_with_a_reason_and_are_not_kept(
    sink: AlertSink, body: bytes, reason: str
) -> None:
    response = httpx.post(
        sink.url, content=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT
    )
    assert response.status_code == 400
    assert response.json()["error"] == reason
    assert sink.received() == []


def test_an_oversized_body_gets_413(sink: AlertSink) -> None:
    response = httpx.post(sink.url, content=b"x" * (MAX_BODY + 1), timeout=TIMEOUT)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert sink.received() == []


def test_unknown_paths_get_404(sink: AlertSink) -> None:
    base = sink.url.removesuffix("/alerts")
    assert httpx.post(f"{base}/other", json=NOTIFICATION, timeout=TIMEOUT).status_code == 404
    assert httpx.get(f"{base}/other", timeout=TIMEOUT).json()["error"] == "not_found"
    assert httpx.get(f"{base}/health", timeout=TIMEOUT).json() == {"status": "ok"}


def test_wait_for_times_out_without_a_match(sink: AlertSink) -> None:
    httpx.post(sink.url, json=NOTIFICATION, timeout=TIMEOUT)
    assert sink.wait_for(lambda n: n["receiver"] == "pager", timeout=2)["status"] == "firing"
    with pytest.raises(TimeoutError):
        sink.wait_for(lambda n: n["receiver"] == "tickets", timeout=0.3)
