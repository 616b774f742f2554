"""`chaoslab up / status / down` as a user runs them: real processes, real readiness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from chaos.stack.config import Ports
from chaos.stack.processes import free_port
from chaos.stack.state import pid_alive

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def chaoslab(
    *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def stack_env() -> dict[str, str]:
    env = {**os.environ, "CHAOSLAB_STATE_DIR": tempfile.mkdtemp(prefix="hcl-cli-")}
    for name in Ports.model_fields:
        env[f"CHAOSLAB_PORTS__{name.upper()}"] = str(free_port())
    return env


def test_up_status_down_round_trip(stack_env: dict[str, str]) -> None:
    up = chaoslab("up", env=stack_env)
    assert up.returncode == 0, up.stderr
    try:
        assert "stack up in" in up.stdout
        again = chaoslab("up", env=stack_env)
        assert again.returncode == 0 and "already running" in again.stdout

        status = chaoslab("status", "--json", env=stack_env)
        assert status.returncode == 0, status.stdout + status.stderr
        doc = json.loads(status.stdout)
        assert all(doc["healthy"].values()), doc["healthy"]
        # The recorded fallback path is the one the agent really owns (it holds its lock).
        assert Path(doc["fallback_path"] + ".lock").exists()
        urls, pids = doc["urls"], doc["pids"]
        assert set(pids) == {
            "redis",
            "postgres",
            "pms",
            "nlu",
            "stt",
            "proxy",
            "alert_sink",
            "alertmanager",
            "agent",
            "redis_exporter",
            "postgres_exporter",
            "prometheus",
        }

        reply = httpx.post(
            f"{urls['agent']}/api/v1/messages",
            json={"guest_id": "stack-check", "text": "¿Dónde están ubicados?"},
            timeout=10,
        )
        assert reply.status_code == 200 and reply.json()["intent"] == "location"
        assert reply.json()["degraded"] is False

        assert httpx.get(f"{urls['alertmanager']}/api/v2/status", timeout=5).json()["cluster"]
        assert "redis_up 1" in httpx.get(f"{urls['redis_exporter']}/metrics", timeout=5).text
        assert "pg_up 1" in httpx.get(f"{urls['postgres_exporter']}/metrics", timeout=5).text
        proxies = httpx.get(f"{urls['proxy_api']}/proxies", timeout=5).json()
        assert set(proxies) == {"redis", "postgres", "pms", "graph", "nlu", "stt"}

        deadline = time.monotonic() + 30
        agent_up = False
        while time.monotonic() < deadline and not agent_up:
            targets = httpx.get(f"{urls['prometheus']}/api/v1/targets", timeout=5).json()
            agent_up = any(
                t["labels"]["job"] == "agent" and t["health"] == "up"
                for t in targets["data"]["activeTargets"]
            )
            time.sleep(0.5)
        assert agent_up, "Prometheus never scraped the agent successfully"
    finally:
        down = chaoslab("down", env=stack_env)
    assert down.returncode == 0, down.stderr
    assert not any(pid_alive(pid) for pid in pids.values()), "a started process survived down"
    assert not (Path(stack_env["CHAOSLAB_STATE_DIR"]) / "stack.json").exists()


def test_status_without_a_stack_is_one_line_and_nonzero(stack_env: dict[str, str]) -> None:
    result = chaoslab("status", env=stack_env)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "chaoslab up" in result.stderr


def test_up_refuses_ports_in_use(stack_env: dict[str, str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", int(stack_env["CHAOSLAB_PORTS__AGENT"])))
        busy.listen()
        result = chaoslab("up", env=stack_env)
    assert result.returncode == 2
    assert "ports already in use: agent" in result.stderr
