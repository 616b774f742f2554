"""AlertService: cooldown per key, retries off the reply path, and a real Alertmanager."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from agent.alerts import AlertService, guest_alert_key
from agent.audit import AuditLog, new_event
from agent.metrics import AgentMetrics
from agent.resilience import guarded, make_breaker
from agent.resilience.listeners import OnOpen
from agent.settings import (
    AlertSettings,
    AuditSettings,
    BreakerSettings,
    DatabaseSettings,
    RetrySettings,
)
from chaos.stack.processes import ManagedProcess, free_port


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A fake Alertmanager: answers with the queued statuses, then 200; keeps the bodies."""

    def __init__(self, *statuses: int | Exception) -> None:
        self.script = list(statuses)
        self.bodies: list[list[dict]] = []
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        self.bodies.append(json.loads(request.content))
        step = self.script.pop(0) if self.script else 200
        if isinstance(step, Exception):
            raise step
        return httpx.Response(step, json={})


class Harness:
    def __init__(
        self, recorder: Recorder, url: str = "http://am.test:9093", **settings: object
    ) -> None:
        self.metrics = AgentMetrics()
        self.clock = Clock()
        self.sleeps: list[float] = []
        self.recorder = recorder

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.alerts = AlertService(
            AlertSettings(alertmanager_url=url, retry=RetrySettings(retries=3), **settings),
            self.metrics,
            transport=httpx.MockTransport(recorder),
            clock=self.clock,
            sleep=sleep,
        )

    def count(self, outcome: str) -> float:
        return (
            self.metrics.registry.get_sample_value("alerts_sent_total", {"outcome": outcome}) or 0.0
        )


async def test_cooldown_is_per_key_and_expires() -> None:
    h = Harness(Recorder())
    a, b = guest_alert_key("escalation", "+5491100000001"), guest_alert_key("escalation", "x")
    assert h.alerts.fire(a, alertname="GuestEscalation", severity="critical", summary="s")
    assert not h.alerts.fire(a, alertname="GuestEscalation", severity="critical", summary="s")
    assert h.alerts.fire(b, alertname="GuestEscalation", severity="critical", summary="s")
    h.clock.now += 1799.0
    assert not h.alerts.fire(a, alertname="GuestEscalation", severity="critical", summary="s")
    h.clock.now += 1.0
    assert h.alerts.fire(a, alertname="GuestEscalation", severity="critical", summary="s")
    await h.alerts.drain()
    assert (h.count("sent"), h.count("suppressed"), h.count("failed")) == (3, 2, 0)
    assert h.recorder.paths == ["/api/v2/alerts"] * 3
    await h.alerts.aclose()


async def test_fire_does_not_wait_for_the_send() -> None:
    h = Harness(Recorder(503, 503))
    assert h.alerts.fire("k", alertname="X", severity="warning", summary="s")
    assert h.alerts.in_flight == 1  # scheduled, not sent yet
    assert h.recorder.bodies == []
    await h.alerts.drain()
    assert h.alerts.in_flight == 0
    assert h.sleeps == [1.0, 2.0]  # back-off in the background task
    assert h.count("sent") == 1
    assert (
        h.metrics.registry.get_sample_value(
            "retry_attempts_total", {"operation": "alerts.send", "outcome": "failure"}
        )
        == 1
    )
    assert (
        h.metrics.registry.get_sample_value(
            "retry_attempts_total", {"operation": "alerts.send", "outcome": "success"}
        )
        == 1
    )
    await h.alerts.aclose()


async def test_rejected_alert_is_not_retried_and_releases_the_cooldown() -> None:
    h = Harness(Recorder(400))
    assert h.alerts.fire("k", alertname="X", severity="warning", summary="s")
    await h.alerts.drain()
    assert h.sleeps == []
    assert (h.count("sent"), h.count("failed")) == (0, 1)
    assert h.alerts.fire("k", alertname="X", severity="warning", summary="s")
    await h.alerts.drain()
    assert h.count("sent") == 1
    await h.alerts.aclose()


async def test_unreachable_alertmanager_fails_after_three_retries() -> None:
    down = httpx.ConnectError("connection refused")
    h = Harness(Recorder(down, down, down, down))
    assert h.alerts.fire("k", alertname="X", severity="warning", summary="s")
    await h.alerts.drain()
    assert h.sleeps == [1.0, 2.0, 4.0]
    assert len(h.recorder.bodies) == 4
    assert (h.count("sent"), h.count("failed"), h.count("suppressed")) == (0, 1, 0)
    await h.alerts.aclose()


async def test_escalation_payload_carries_no_guest_id() -> None:
    h = Harness(Recorder())
    guest = "+5491155550123"
    assert h.alerts.escalation(guest, reason="urgent_after_hours", summary="Guest needs staff")
    await h.alerts.drain()
    (alert,) = h.recorder.bodies[0]
    assert alert["labels"]["alertname"] == "GuestEscalation"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["reason"] == "urgent_after_hours"
    assert alert["annotations"]["summary"] == "Guest needs staff"
    assert guest not in json.dumps(h.recorder.bodies)
    assert "5491155550123" not in json.dumps(h.recorder.bodies)
    await h.alerts.aclose()


@pytest.mark.parametrize("label", ["guest_id", "session_id", "phone", "bad-name", "alert_key"])
async def test_identifying_or_invalid_labels_are_refused(label: str) -> None:
    h = Harness(Recorder())
    with pytest.raises(ValueError, match="not allowed"):
        h.alerts.fire("k", alertname="X", severity="warning", summary="s", labels={label: "v"})
    await h.alerts.aclose()


async def test_disabled_service_counts_nothing() -> None:
    h = Harness(Recorder(), url="")
    assert not h.alerts.fire("k", alertname="X", severity="warning", summary="s")
    assert not h.alerts.escalation("g", reason="r", summary="s")
    await h.alerts.drain()
    assert (h.count("sent"), h.count("suppressed"), h.count("failed")) == (0, 0, 0)
    assert h.recorder.bodies == []
    await h.alerts.aclose()


# -- a real Alertmanager --------------------------------------------------------------

AM_CONFIG = """\
route:
  receiver: "null"
  group_by: ["alertname"]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: "null"
"""


def http_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real prometheus-alertmanager on a free loopback port, gossip off."""
    binary = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"
    assert Path(binary).exists(), "install it with: apt-get install prometheus-alertmanager"
    base = tmp_path_factory.mktemp("alertmanager")
    (base / "alertmanager.yml").write_text(AM_CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = ManagedProcess(
        name="alertmanager",
        argv=[
            binary,
            f"--config.file={base / 'alertmanager.yml'}",
            f"--storage.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        log_path=base / "alertmanager.log",
        ready=lambda: http_ok(f"{url}/-/ready"),
    )
    proc.start(timeout=30)
    try:
        yield url
    finally:
        proc.stop()


def active_alerts(url: str, **matchers: str) -> list[dict]:
    params = [("filter", f'{k}="{v}"') for k, v in matchers.items()]
    response = httpx.get(f"{url}/api/v2/alerts", params=params, timeout=5)
    response.raise_for_status()
    return response.json()


def real_service(url: str, metrics: AgentMetrics, **settings: object) -> AlertService:
    return AlertService(AlertSettings(alertmanager_url=url, **settings), metrics)


def count(metrics: AgentMetrics, outcome: str) -> float:
    return metrics.registry.get_sample_value("alerts_sent_total", {"outcome": outcome}) or 0.0


@pytest.mark.integration
async def test_escalations_reach_alertmanager_with_cooldown_per_guest(alertmanager: str) -> None:
    metrics = AgentMetrics()
    alerts = real_service(alertmanager, metrics)
    reason = f"urgent_{uuid.uuid4().hex[:8]}"
    try:
        assert alerts.escalation("+5491100000001", reason=reason, summary="Guest 1 needs staff")
        await alerts.drain()
        (first,) = active_alerts(alertmanager, reason=reason)
        assert first["labels"]["alertname"] == "GuestEscalation"
        assert first["labels"]["service"] == "hotel-agent"
        assert first["annotations"]["summary"] == "Guest 1 needs staff"
        assert "5491100000001" not in json.dumps(first)

        # The same guest again inside the cooldown: suppressed and counted, nothing sent.
        assert not alerts.escalation("+5491100000001", reason=reason, summary="again")
        await alerts.drain()
        assert count(metrics, "suppressed") == 1
        assert len(active_alerts(alertmanager, reason=reason)) == 1

        # Another guest is not silenced by the first one's cooldown.
        assert alerts.escalation("+5491100000002", reason=reason, summary="Guest 2 needs staff")
        await alerts.drain()
        both = active_alerts(alertmanager, reason=reason)
        assert len(both) == 2
        assert len({a["labels"]["alert_key"] for a in both}) == 2
        assert (count(metrics, "sent"), count(metrics, "failed")) == (2, 0)
    finally:
        await alerts.aclose()


@pytest.mark.integration
async def test_breaker_opening_raises_an_alert(alertmanager: str) -> None:
    metrics = AgentMetrics()
    alerts = real_service(alertmanager, metrics)
    breaker = make_breaker(
        "pms",
        BreakerSettings(fail_max=2, reset_timeout_s=30),
        metrics,
        listeners=[OnOpen(alerts.breaker_opened)],
    )

    async def failing() -> None:
        raise ConnectionError("PMS down")

    try:
        for _ in range(2):
            with pytest.raises(ConnectionError):
                await guarded(breaker, failing)
        await alerts.drain()
        (alert,) = active_alerts(alertmanager, alertname="AgentBreakerOpened")
        assert alert["labels"]["breaker"] == "pms"
        assert alert["labels"]["severity"] == "warning"
        assert count(metrics, "sent") == 1
    finally:
        await alerts.aclose()


@pytest.mark.integration
async def test_audit_fallback_raises_an_alert(alertmanager: str, tmp_path: Path) -> None:
    metrics = AgentMetrics()
    alerts = real_service(alertmanager, metrics)
    dead_db = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    audit = AuditLog(
        AuditSettings(fallback_path=tmp_path / "fb.jsonl", write_budget_s=0.1),
        DatabaseSettings(dsn=SecretStr(dead_db), connect_timeout_s=0.5),
        metrics,
        on_fallback=alerts.audit_fallback_active,
    )
    await audit.start()
    try:
        for _ in range(3):
            assert await audit.record(new_event("message", "g", channel="api")) == "fallback"
        await alerts.drain()
        (alert,) = active_alerts(alertmanager, alertname="AgentAuditFallback")
        assert alert["labels"]["severity"] == "warning"
        assert count(metrics, "sent") == 1  # raised once when the fallback became active
    finally:
        await audit.stop()
        await alerts.aclose()


@pytest.mark.integration
async def test_silent_alertmanager_times_out_instead_of_hanging() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    metrics = AgentMetrics()
    alerts = real_service(
        f"http://127.0.0.1:{port}",
        metrics,
        timeout_s=0.2,
        retry=RetrySettings(retries=1, backoff_base_s=0.01),
    )
    try:
        assert alerts.fire("k", alertname="X", severity="warning", summary="s")
        async with asyncio.timeout(10):  # liveness guard: the 0.2 s timeout must end it
            await alerts.drain()
        assert count(metrics, "failed") == 1
    finally:
        await alerts.aclose()
        server.close()
