"""Fixtures for the observability tests: exporters, Prometheus and Alertmanager, all real.

Servers run on free loopback ports as child processes and stop when their fixture ends.
The exporters watch the session's redis_server and postgres_server (tests/conftest.py).
The agent itself comes from the ``live_agent_url`` fixture (tests/conftest.py): an agent
already running against real Redis, PostgreSQL and PMS, with guest traffic sent. A
missing binary fails the test with the command that installs it, never a silent skip.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import yaml

from chaos.dashboards.alert_sink import AlertSink
from chaos.dashboards.assets import alertmanager_config, write_prometheus_config
from chaos.dashboards.render import PrometheusClient
from chaos.stack import processes

HTTP_TIMEOUT = httpx.Timeout(2.0)


def http_ok(url: str) -> bool:
    """True when ``url`` answers 200."""
    try:
        return httpx.get(url, timeout=HTTP_TIMEOUT).status_code == 200
    except httpx.HTTPError:
        return False


# The Debian package that ships each binary the tests run.
PACKAGES = {"promtool": "prometheus", "amtool": "prometheus-alertmanager"}


def require(binary: str) -> str:
    """Path of a system binary the tests need; a missing one fails with what to install."""
    path = shutil.which(binary)
    if path is None:
        package = PACKAGES.get(binary, binary)
        pytest.fail(
            f"{binary} is not installed: run `make system-deps` (or apt-get install {package})",
            pytrace=False,
        )
    return path


@dataclass
class Exporters:
    redis: str  # host:port of prometheus-redis-exporter
    postgres: str  # host:port of prometheus-postgres-exporter


@pytest.fixture(scope="session")
def exporters(redis_server: Any, postgres_server: Any) -> Iterator[Exporters]:
    """redis_exporter and postgres_exporter watching the session's real servers."""
    redis_bin = require("prometheus-redis-exporter")
    pg_bin = require("prometheus-postgres-exporter")
    base = Path(tempfile.mkdtemp(prefix="hcl-exporters-"))
    redis_port, pg_port = processes.free_port(), processes.free_port()
    redis_exp = processes.ManagedProcess(
        name="redis_exporter",
        argv=[
            redis_bin,
            f"--redis.addr=redis://{redis_server.host}:{redis_server.port}",
            f"--web.listen-address=127.0.0.1:{redis_port}",
        ],
        log_path=base / "redis_exporter.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{redis_port}/metrics"),
    )
    pg_exp = processes.ManagedProcess(
        name="postgres_exporter",
        argv=[pg_bin, f"--web.listen-address=127.0.0.1:{pg_port}"],
        env={"DATA_SOURCE_NAME": postgres_server.dsn() + "?sslmode=disable"},
        log_path=base / "postgres_exporter.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{pg_port}/metrics"),
    )
    redis_exp.start()
    try:
        pg_exp.start()
        try:
            yield Exporters(f"127.0.0.1:{redis_port}", f"127.0.0.1:{pg_port}")
        finally:
            pg_exp.stop()
    finally:
        redis_exp.stop()
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class LivePrometheus:
    url: str
    client: PrometheusClient
    jobs: tuple[str, ...]

    def wait_for_scrapes(self, count: int = 3, timeout: float = 30.0) -> None:
        """Block until every target has been scraped ``count`` times."""
        deadline = time.monotonic() + timeout
        query = "min(count_over_time(up[5m]))"
        while time.monotonic() < deadline:
            result = self.client.query(query)
            jobs = {r["metric"]["job"] for r in self.client.query("up == 1")}
            if result and float(result[0]["value"][1]) >= count and jobs >= set(self.jobs):
                return
            time.sleep(0.5)
        raise AssertionError(f"targets {self.jobs} not all scraped {count} times in {timeout} s")

    def without_data(self, exprs: Mapping[str, str], timeout: float = 20.0) -> list[str]:
        """Names of the instant queries still empty after ``timeout`` s.

        Each query is retried until it returns series: rules over recorded series and
        rates need a few evaluation rounds after the first scrapes.
        """
        pending = dict(exprs)
        deadline = time.monotonic() + timeout
        while pending:
            pending = {k: e for k, e in pending.items() if not self.client.query(e)}
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1.0)
        return [f"{name}: {expr}" for name, expr in pending.items()]


def start_prometheus(base: Path, targets: Mapping[str, str]) -> Iterator[LivePrometheus]:
    """A real Prometheus scraping ``targets`` every second with the shipped rules loaded."""
    binary = require("prometheus")
    port = processes.free_port()
    self_address = f"127.0.0.1:{port}"
    config = write_prometheus_config(
        base,
        {**targets, "prometheus": self_address},
        alertmanager=None,
        scrape_interval="1s",
        evaluation_interval="1s",
    )
    proc = processes.ManagedProcess(
        name="prometheus",
        argv=[
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={base / 'data'}",
            f"--web.listen-address={self_address}",
        ],
        log_path=base / "prometheus.log",
        ready=lambda: http_ok(f"http://{self_address}/-/ready"),
    )
    proc.start()
    client = PrometheusClient(f"http://{self_address}")
    try:
        yield LivePrometheus(f"http://{self_address}", client, (*targets, "prometheus"))
    finally:
        client.close()
        proc.stop()


@pytest.fixture(scope="module")
def stack_prometheus(exporters: Exporters) -> Iterator[LivePrometheus]:
    """Prometheus scraping the exporters and itself (no agent), scrapes done."""
    base = Path(tempfile.mkdtemp(prefix="hcl-prom-stack-"))
    try:
        for prom in start_prometheus(
            base, {"redis": exporters.redis, "postgres": exporters.postgres}
        ):
            prom.wait_for_scrapes()
            yield prom
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def agent_prometheus(
    request: pytest.FixtureRequest, exporters: Exporters
) -> Iterator[LivePrometheus]:
    """Prometheus scraping the live agent (from ``live_agent_url``), the exporters and itself."""
    parts = urlsplit(str(request.getfixturevalue("live_agent_url")))
    base = Path(tempfile.mkdtemp(prefix="hcl-prom-agent-"))
    targets = {"agent": parts.netloc, "redis": exporters.redis, "postgres": exporters.postgres}
    try:
        for prom in start_prometheus(base, targets):
            prom.wait_for_scrapes()
            yield prom
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class LiveAlertmanager:
    url: str
    sink: AlertSink

    def post(self, alerts: list[dict[str, Any]]) -> None:
        """Send alerts the way Prometheus does (API v2)."""
        response = httpx.post(f"{self.url}/api/v2/alerts", json=alerts, timeout=HTTP_TIMEOUT)
        response.raise_for_status()

    def alerts(self) -> list[dict[str, Any]]:
        """Every alert Alertmanager holds, inhibited and silenced ones included."""
        response = httpx.get(f"{self.url}/api/v2/alerts", timeout=HTTP_TIMEOUT)
        response.raise_for_status()
        return list(response.json())


@pytest.fixture
def alertmanager() -> Iterator[LiveAlertmanager]:
    """The shipped Alertmanager config, delivering to an in-process AlertSink."""
    binary = require("prometheus-alertmanager")
    base = Path(tempfile.mkdtemp(prefix="hcl-am-"))
    sink = AlertSink("127.0.0.1", 0).start()
    port = processes.free_port()
    config = base / "alertmanager.yml"
    # Shorter grouping delays than the shipped ones: the routing under test is unchanged.
    doc = alertmanager_config(sink.url, group_wait="1s", group_interval="1s")
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = processes.ManagedProcess(
        name="alertmanager",
        argv=[
            binary,
            f"--config.file={config}",
            f"--storage.path={base / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        log_path=base / "alertmanager.log",
        ready=lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"),
    )
    proc.start()
    try:
        yield LiveAlertmanager(f"http://127.0.0.1:{port}", sink)
    finally:
        proc.stop()
        sink.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def run_tool() -> Callable[..., Any]:
    """Run a command line tool with a timeout, returning the CompletedProcess."""
    import subprocess

    def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        require(argv[0])
        return subprocess.run(
            list(argv), capture_output=True, text=True, cwd=cwd, timeout=120, check=False
        )

    return run
