"""The package as users install it: a wheel in a fresh virtualenv outside the checkout runs
``chaoslab list``, brings the native stack up and runs an experiment against it.

The fresh virtualenv sees the test environment's third-party packages through a path
entry (so nothing is downloaded), but not the checkout: ``chaos`` and ``agent`` come from
the wheel, and the rules, dashboards, runbooks and Locust scenarios from the data files
it installed under ``<venv>/share/hotel-chaos-lab``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.paths import CHECKOUT
from chaos.stack.config import Ports
from chaos.stack.processes import free_port

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{argv}: {done.returncode}\n{done.stdout[-2000:]}{done.stderr[-2000:]}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A virtualenv with the wheel installed, and the environment to run it in."""
    work = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHAOSLAB_", "PYTHON"))}
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(CHECKOUT),
            "--no-deps",
            "-q",
            "-w",
            str(work / "dist"),
        ],
        work,
        env,
        timeout=300,
    )
    wheel = next((work / "dist").glob("hotel_chaos_lab-*.whl"))
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], work, env)
    python = venv / "bin" / "python"
    site_dir = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], work, env
        ).strip()
    )
    # The test environment's packages, as a plain path: its .pth files (the checkout's
    # editable install among them) are not processed, so the checkout stays invisible.
    (site_dir / "test-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], work, env)
    ports = {f"CHAOSLAB_PORTS__{name.upper()}": str(free_port()) for name in Ports.model_fields}
    env = {**env, **ports, "CHAOSLAB_STATE_DIR": str(work / "state")}
    yield venv, env
    subprocess.run(
        [str(venv / "bin" / "chaoslab"), "down"],
        cwd=work,
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_the_wheel_brings_the_stack_up_and_runs_an_experiment(
    installed: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    venv, env = installed
    chaoslab = str(venv / "bin" / "chaoslab")
    where = run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import agent, chaos, chaos.paths as p; "
            "print(agent.__file__, chaos.__file__, p.asset('dashboards'))",
        ],
        tmp_path,
        env,
    )
    assert str(CHECKOUT) not in where, where  # nothing comes from the checkout
    assert where.split()[2].endswith("share/hotel-chaos-lab/dashboards")
    listed = run([chaoslab, "list"], tmp_path, env)
    assert "postgres-outage" in listed and len(listed.splitlines()) >= 13
    run([chaoslab, "up"], tmp_path, env)
    status = json.loads(run([chaoslab, "status", "--json"], tmp_path, env))
    assert all(status["healthy"].values()), status["healthy"]
    out = run(
        [chaoslab, "run", "redis-outage-short", "--out", str(tmp_path / "reports")], tmp_path, env
    )
    assert "redis-outage-short  PASSED" in out, out
    assert (tmp_path / "reports" / "experiments" / "redis-outage-short.html").is_file()
    run([chaoslab, "down"], tmp_path, env)
