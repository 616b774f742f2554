"""Running the simulator: ``python -m chaos.pms_simulator`` and the background server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date

import httpx
import pytest

from chaos.pms_simulator import BackgroundServer, create_app
from chaos.pms_simulator.server import build_parser
from chaos.stack.processes import free_port


def test_cli_defaults_bind_loopback_with_the_agents_development_key() -> None:
    args = build_parser().parse_args([])
    assert args.host == "127.0.0.1"
    assert args.port == 8081
    assert args.api_key == os.environ.get("PMS_SIM_API_KEY", "pms-dev-key")
    assert args.today is None
    assert build_parser().parse_args(["--today", "2026-03-02"]).today == date(2026, 3, 2)


@pytest.mark.integration
def test_module_entry_point_serves_the_api_until_terminated() -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "PMS_SIM_API_KEY"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaos.pms_simulator",
            "--port",
            str(port),
            "--api-key",
            "cli-key",
            "--today",
            "2026-03-02",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/health", timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health is not None, "simulator did not answer /health"
        assert health.json()["today"] == "2026-03-02"
        assert httpx.get(f"{base}/api/v1/room-types", timeout=2.0).status_code == 401
        r = httpx.get(f"{base}/api/v1/room-types", headers={"X-API-Key": "cli-key"}, timeout=2.0)
        assert r.status_code == 200
        assert len(r.json()["room_types"]) == 4
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode is not None


@pytest.mark.integration
def test_background_server_serves_on_a_free_loopback_port_and_stops() -> None:
    with BackgroundServer(create_app("k", today=date(2026, 3, 2))) as server:
        assert server.host == "127.0.0.1"
        r = httpx.get(f"{server.url}/health", timeout=2.0)
        assert r.json()["rooms"] == 30
        url = server.url
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/health", timeout=1.0)
