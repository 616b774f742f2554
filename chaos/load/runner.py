"""Run a Locust scenario as a subprocess: to completion (``run_locust``) or in the background
(``LocustLoad``, an experiment's guest traffic like ``chaos.traffic.OpenLoad``).

Locust never runs inside the caller's process (it monkey-patches everything with gevent).
Results come from the files it writes: ``<base>.json`` (exact totals), ``<base>_*.csv``,
``<base>.html``, ``<base>_thresholds.json``, ``<base>_faults.json`` when the scenario
injected faults, and one JSON line per guest message in ``<base>_samples.jsonl``.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from chaos.load import results
from chaos.load.errors import LoadError
from chaos.load.thresholds import Figures
from chaos.paths import asset
from chaos.traffic import Sample

SAMPLES_ENV = "CHAOSLAB_SAMPLES_FILE"


def loadtests() -> Path:
    """The folder of Locust scenarios (the checkout's, or the installed copy)."""
    return asset("loadtests")


# Modules in loadtests/ that hold users for other files rather than a scenario.
NOT_SCENARIOS = frozenset({"guests", "bench_users"})


def scenarios() -> list[str]:
    """Names of the scenarios in ``loadtests/``."""
    return sorted(
        p.stem
        for p in loadtests().glob("*.py")
        if p.stem not in NOT_SCENARIOS and not p.stem.startswith("_")
    )


def scenario_path(scenario: str) -> Path:
    """The locustfile of ``scenario`` (a name from ``scenarios()`` or a path to a .py file)."""
    as_path = Path(scenario)
    if as_path.suffix == ".py" and as_path.is_file():
        return as_path.resolve()
    candidate = loadtests() / f"{scenario}.py"
    if scenario in NOT_SCENARIOS or not candidate.is_file():
        raise LoadError(f"no Locust scenario {scenario!r}; known: {', '.join(scenarios())}")
    return candidate


def locust_command(
    scenario: str,
    host: str,
    *,
    users: int,
    spawn_rate: float,
    run_time_s: float | None,
    out_base: Path,
    user_classes: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> list[str]:
    """The headless Locust command line for one run."""
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(scenario_path(scenario)),
        "--headless",
        "--host",
        host,
        "--users",
        str(users),
        "--spawn-rate",
        f"{spawn_rate:g}",
        "--csv",
        str(out_base),
        "--json-file",
        str(out_base),
        "--html",
        f"{out_base}.html",
        "--only-summary",
        "--stop-timeout",
        "3",
    ]
    if run_time_s is not None:
        cmd += ["--run-time", f"{max(1, math.ceil(run_time_s))}s"]
    return [*cmd, *extra_args, *user_classes]


@dataclass
class LocustRun:
    """A finished Locust process and the files it wrote."""

    returncode: int
    output: str
    out_base: Path

    def entries(self) -> list[dict[str, Any]]:
        return results.read_entries(self.out_base)

    def figures(self) -> dict[str, Figures]:
        """Per request name, plus ``Aggregated``."""
        return results.figures_by_name(self.entries())

    def _optional_json(self, suffix: str) -> Any:
        path = Path(f"{self.out_base}{suffix}")
        return json.loads(path.read_text()) if path.is_file() else None

    def thresholds(self) -> dict[str, Any] | None:
        return self._optional_json("_thresholds.json")

    def faults(self) -> dict[str, Any] | None:
        return self._optional_json("_faults.json")


def _environment(samples: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if samples is not None:
        env[SAMPLES_ENV] = str(samples)
    else:
        env.pop(SAMPLES_ENV, None)
    return env


def run_locust(
    scenario: str,
    host: str,
    *,
    users: int = 5,
    spawn_rate: float = 5,
    run_time_s: float | None,
    out_base: Path,
    user_classes: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    timeout_s: float = 600.0,
) -> LocustRun:
    """Run a scenario headless and return its results.

    With ``run_time_s`` this process keeps the time: it starts Locust, waits until its
    hooks are loaded, sleeps ``run_time_s`` and stops it with SIGINT. Locust's own
    ``--run-time`` is scheduled on gevent's cached loop clock, which start-up work makes
    stale, so a short run would end early. Without ``run_time_s`` the scenario's load
    shape decides, and this waits up to ``timeout_s`` for Locust to exit.
    """
    load = LocustLoad(
        host,
        scenario,
        users=users,
        spawn_rate=spawn_rate,
        run_time_s=None,
        out_dir=out_base.parent,
        name=out_base.name,
        user_classes=tuple(user_classes),
        extra_args=tuple(extra_args),
    )
    load.start()
    try:
        if run_time_s is not None:
            time.sleep(run_time_s)
        else:
            load.wait(timeout_s)
    finally:
        load.stop()
    return load.result()


def read_samples(path: Path) -> list[Sample]:
    """Every guest message of a samples file (every channel), in send order."""
    out = []
    with contextlib.suppress(FileNotFoundError), path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                out.append(Sample.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut short by a killed process
    out.sort(key=lambda s: s.intended_at)
    return out


@dataclass
class LocustLoad:
    """A Locust scenario as an experiment's guest traffic (the runner's ``Traffic``).

    ``stop()`` returns every guest message of every channel (API and WhatsApp) as the
    same ``Sample`` type the open-model driver produces, message ids included, so the
    experiment reconciles them with the audit log.
    """

    agent_url: str
    scenario: str
    users: int = 5
    spawn_rate: float = 5
    run_time_s: float | None = None
    out_dir: Path | None = None
    guest_prefix: str = "locust"
    extra_args: tuple[str, ...] = ("--think-time", "0.5,2")
    name: str | None = None  # file name of the outputs; default: the scenario's
    user_classes: tuple[str, ...] = ()
    ready_timeout_s: float = 30.0
    stop_timeout_s: float = 20.0
    samples: list[Sample] = field(default_factory=list)
    returncode: int | None = None
    _proc: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def out_base(self) -> Path:
        if self.out_dir is None:
            self.out_dir = Path(tempfile.mkdtemp(prefix="chaoslab-locust-"))
        return self.out_dir / (self.name or Path(self.scenario).stem)

    @property
    def samples_file(self) -> Path:
        return Path(f"{self.out_base}_samples.jsonl")

    @property
    def log_file(self) -> Path:
        return Path(f"{self.out_base}.log")

    def result(self) -> LocustRun:
        """The files of the run (after ``stop()``)."""
        output = self.log_file.read_text(errors="replace") if self.log_file.is_file() else ""
        return LocustRun(
            self.returncode if self.returncode is not None else -1, output, self.out_base
        )

    def start(self) -> LocustLoad:
        """Start Locust and return once its users are about to run (its hooks are loaded)."""
        base = self.out_base
        base.parent.mkdir(parents=True, exist_ok=True)
        self.samples_file.unlink(missing_ok=True)
        cmd = locust_command(
            self.scenario,
            self.agent_url,
            users=self.users,
            spawn_rate=self.spawn_rate,
            run_time_s=self.run_time_s,
            out_base=base,
            user_classes=self.user_classes,
            extra_args=["--guest-prefix", self.guest_prefix, *self.extra_args],
        )
        self._log = self.log_file.open("wb")
        # A session of its own: a Ctrl-C in the terminal reaches the caller, which then
        # stops Locust through stop(), once.
        self._proc = subprocess.Popen(
            cmd,
            cwd=loadtests().parent,
            env=_environment(self.samples_file),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self._kill)
        deadline = time.monotonic() + self.ready_timeout_s
        while not self.samples_file.exists():
            if self._proc.poll() is not None:
                self._close_log()
                raise LoadError(
                    f"Locust exited with {self._proc.returncode} before starting: "
                    f"{self.log_file.read_text(errors='replace')[-800:]}"
                )
            if time.monotonic() > deadline:
                self._kill()
                raise LoadError(f"Locust did not start within {self.ready_timeout_s:.0f} s")
            time.sleep(0.05)
        return self

    def wait(self, timeout_s: float) -> int:
        """Wait for Locust to end on its own (a load shape or ``run_time_s``)."""
        if self._proc is None:
            raise LoadError("Locust was not started")
        try:
            return self._proc.wait(timeout_s)
        except subprocess.TimeoutExpired as exc:
            raise LoadError(f"Locust did not finish within {timeout_s:.0f} s") from exc

    def stop(self) -> list[Sample]:
        """Stop Locust gracefully (SIGINT: its quit hooks run, reports are written)."""
        proc = self._proc
        if proc is not None:
            for sig, wait_s in ((signal.SIGINT, self.stop_timeout_s), (signal.SIGTERM, 10.0)):
                if proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(wait_s)
            self._kill()
            self.returncode = proc.returncode
            atexit.unregister(self._kill)
        self._close_log()
        self.samples = read_samples(self.samples_file)
        return self.samples

    def live_samples(self) -> list[Sample]:
        """The guest messages Locust has recorded so far."""
        return read_samples(self.samples_file)

    def waiting(self) -> list[float]:
        """Locust's users wait for each answer before the next message: none is queued."""
        return []

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(10)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> LocustLoad:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
