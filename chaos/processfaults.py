"""Process faults for experiments: kill, pause or restart a service of the stack.

A process fault has three moments, each verified and recorded by ``FaultScheduler``:

- the fault, at its step's start: ``kill`` (SIGKILL, every process of the service
  gone), ``pause`` (SIGSTOP, every process stopped: connections are accepted, nothing
  answers) or ``restart`` (a graceful stop, the service gone);
- the recovery: ``kill`` and ``restart`` start the service again and wait until it is
  ready, ``pause`` resumes it and waits until it answers. It comes ``restart_after_ms``
  (``resume_after_ms`` for pause) after the fault, or at the step's end when the
  attribute is absent; ``restart`` defaults to 0 (a restart, not an outage);
- the step's end, and any rollback (an aborted run, Ctrl-C): the service is brought
  back if it is not yet, then read back (running, not paused, answering).

The same faults run through one of three ``Services`` back-ends: the native stack's
processes (``chaos.stack.control``, signals on whole process trees), docker compose
(``docker compose kill/pause/unpause/stop/up --wait``, or only the command lines in a
dry run), and a null back-end that accepts every fault and applies none (a test of
the verdicts, like ``chaos.nullproxy``).
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import psycopg

from chaos.exceptions import ChaosError

if TYPE_CHECKING:
    from chaos.faults import Fault
    from chaos.stack.state import StackState

#: Process fault types and the attribute that times their recovery.
PROCESS_FAULTS = {
    "kill": "restart_after_ms",
    "pause": "resume_after_ms",
    "restart": "restart_after_ms",
}
#: The services an experiment may kill, pause or restart.
PROCESS_SERVICES = ("agent", "redis", "postgres", "pms")
# What each fault does at its start, and what brings the service back.
_ACTIONS = {
    "kill": ("kill", "ensure_running"),
    "pause": ("pause", "resume"),
    "restart": ("stop", "ensure_running"),
}


def is_process_fault(fault: Fault) -> bool:
    return bool(fault.service) and fault.type in PROCESS_FAULTS


def recovery_delay_s(fault: Fault) -> float | None:
    """Seconds from the fault to its recovery; None: at the step's end."""
    value = fault.attributes.get(PROCESS_FAULTS[fault.type])
    if value is None:
        return 0.0 if fault.type == "restart" else None
    return value / 1000


class Services(Protocol):
    """Acts on the stack's services; each call verifies its effect or raises ChaosError."""

    def act(self, action: str, service: str) -> str: ...

    def check(self, service: str) -> str: ...

    def disconnect_postgres(self, dsn: str) -> int: ...

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        """How a watchdog brings ``service`` back should the runner die (``chaos.lease``)."""
        ...


def disconnect_postgres(dsn: str) -> int:
    """Terminate the agent's PostgreSQL sessions, as a failover or a restart would.

    The server closes the connections; what the agent sees of it depends on the path
    (a proxy holding the close, say). Returns how many sessions were terminated.
    """
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name LIKE 'hotel-agent%%' AND pid <> pg_backend_pid()"
            ).fetchall()
    except psycopg.Error as exc:
        raise ChaosError(str(exc).splitlines()[0]) from exc
    return len(rows)


class NativeServices:
    """The native stack's processes, found through its state file."""

    # chaos.stack is imported when a process is acted on: Locust workers import this
    # module (through chaos.scheduler) and never do.

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file

    @classmethod
    def of(cls, state: StackState) -> NativeServices:
        """The processes of ``state``; refused for a stack that recorded none (compose)."""
        from chaos.stack.native import settings_of

        if not state.pids:
            raise ChaosError(
                "this stack recorded no processes (docker compose?): "
                "run process faults with --compose"
            )
        return cls(settings_of(state).state_file)

    def act(self, action: str, service: str) -> str:
        from chaos.stack import control, native
        from chaos.stack.state import StackState

        outcome = getattr(control, action)(service, self.state_file)
        if action == "resume" and not native.answers_within(
            StackState.load(self.state_file), service
        ):
            raise ChaosError(f"{service} resumed but does not answer")
        return f"{service} {outcome.action} in {outcome.seconds:.2f} s"

    def check(self, service: str) -> str:
        from chaos.stack import native
        from chaos.stack.state import StackState

        condition = native.service_state(StackState.load(self.state_file), service)
        return "" if condition == "up" else f"{service} is {condition}"

    def disconnect_postgres(self, dsn: str) -> int:
        return disconnect_postgres(dsn)

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        return {"service": service, "state_file": str(self.state_file)}


Runner = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, check=False)


class ComposeServices:
    """docker-compose.yml's containers, through ``docker compose``.

    ``dry_run`` only records the command lines (``commands``), for ``chaoslab run
    --dry-run --compose`` and for checking them against the compose file without an
    engine. ``up --wait`` returns once the container's healthcheck passes, so a
    recovery that returns is a service that answers.
    """

    def __init__(
        self, compose_file: Path | None = None, dry_run: bool = False, run: Runner = _run
    ) -> None:
        from chaos.stack.control import COMPOSE_FILE

        self.compose_file = compose_file or COMPOSE_FILE
        self.dry_run = dry_run
        self._run = run
        self.commands: list[list[str]] = []

    def act(self, action: str, service: str) -> str:
        from chaos.stack.control import compose_commands

        for argv in compose_commands(action, service, self.compose_file):
            self.commands.append(argv)
            if self.dry_run:
                continue
            done = self._run(argv)
            if done.returncode != 0:
                why = (done.stderr or done.stdout).strip().splitlines()
                raise ChaosError(f"{' '.join(argv[2:])} failed: {why[-1] if why else done}")
        return f"{service}: {action} through docker compose"

    def check(self, service: str) -> str:
        # The recovery ended with ``up --wait`` (or ``unpause``), which returned 0 only
        # for a running, healthy container; there is nothing more to read back.
        return ""

    def disconnect_postgres(self, dsn: str) -> int:
        if self.dry_run:
            return 0
        return disconnect_postgres(dsn)

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        from chaos.stack.control import compose_commands

        if self.dry_run:
            return None
        commands = [
            *compose_commands("resume", service, self.compose_file),
            *compose_commands("ensure_running", service, self.compose_file),
        ]
        return {"service": service, "commands": commands}


class NullServices:
    """Accepts every process fault and applies none; ``accepted`` lists them."""

    def __init__(self, accepted: list[str] | None = None) -> None:
        self.accepted = accepted if accepted is not None else []

    def act(self, action: str, service: str) -> str:
        self.accepted.append(f"{service} {action}")
        return f"{service} {action}: accepted, not applied"

    def check(self, service: str) -> str:
        return ""

    def disconnect_postgres(self, dsn: str) -> int:
        self.accepted.append("postgres disconnect")
        return 0

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        return None


class ProcessFault:
    """One process fault in a scheduler's window: its fault, its recovery, its end."""

    def __init__(
        self, fault: Fault, services: Services, clock: Callable[[], float] = time.time
    ) -> None:
        self.fault = fault
        self.services = services
        self.clock = clock
        self.recover_after_s = recovery_delay_s(fault)
        self.started_at: float | None = None
        self.recovery_requested_at: float | None = None
        self.recovered_at: float | None = None
        self.details: list[str] = []

    @property
    def service(self) -> str:
        return self.fault.service

    @contextlib.contextmanager
    def held(self) -> Iterator[ProcessFault]:
        """The fault for the block; the service is brought back when it ends, however.

        A start that fails may have half happened (a kill whose check failed), so the
        service is brought back then too before the error goes on.
        """
        try:
            self.start()
        except ChaosError:
            with contextlib.suppress(ChaosError):
                self.finish()
            raise
        try:
            yield self
        finally:
            self.finish()

    def start(self) -> None:
        """The fault itself; a recovery due at once follows it."""
        self.details.append(self.services.act(_ACTIONS[self.fault.type][0], self.service))
        self.started_at = self.clock()
        if self.recover_after_s == 0:
            self.recover()

    def recovery_due(self, since_start_s: float) -> bool:
        """Whether the planned recovery is due (a failed one waits for the step's end)."""
        return (
            self.recovery_requested_at is None
            and self.recover_after_s is not None
            and since_start_s >= self.recover_after_s - 1e-9  # due exactly, give or take a float
        )

    def recover(self) -> None:
        """Bring the service back (restart or resume) and wait until it answers."""
        if self.recovered_at is None:
            self.recovery_requested_at = self.clock()
            self.details.append(self.services.act(_ACTIONS[self.fault.type][1], self.service))
            self.recovered_at = self.clock()

    def finish(self) -> None:
        """At the step's end or on rollback: recover if not yet, then make sure it runs."""
        late = self.recovered_at is None
        try:
            self.recover()
        finally:
            # Unless the recovery just did it, and also when it failed halfway (a resume
            # that did not answer): ensure_running restarts what is dead or mute and
            # resumes what is paused.
            redundant = late and _ACTIONS[self.fault.type][1] == "ensure_running"
            if not (redundant and self.recovered_at is not None):
                self.services.act("ensure_running", self.service)

    def problem(self) -> str:
        """Why the service is not back to normal ("" when it runs and answers)."""
        return self.services.check(self.service)

    def describe_recovery(self) -> str:
        if self.recovery_requested_at is None or self.recovered_at is None:
            return f"{self.service} runs and answers"
        took = self.recovered_at - self.recovery_requested_at
        return f"{self.service} runs and answers (back {took:.2f} s after its recovery began)"
