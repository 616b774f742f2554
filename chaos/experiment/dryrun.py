"""``chaoslab run --dry-run``: what an experiment's method would do, without a stack.

The experiment's own ``FaultScheduler`` runs on a simulated clock against a proxy API
that only records its calls and process-fault back-ends that only record their actions
(the native stack's control calls, or the ``docker compose`` command lines), so the
plan printed is the one a run would carry out, step by step, rollbacks included.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from chaos.experiment.model import Experiment
from chaos.faults import HTTP_TOXICS, FaultWindow
from chaos.processfaults import ComposeServices, is_process_fault
from chaos.scheduler import FaultScheduler
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient


class _RecordingProxy(ToxiproxyClient):
    """Answers like Toxiproxy (every proxy enabled and clean on read-back); records calls."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__("http://dry-run.invalid")
        self.calls = calls

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        name = path.split("/")[2] if path.startswith("/proxies/") else ""
        if method != "GET":
            self.calls.append(f"{method} {path}" + (f" {json.dumps(body)}" if body else ""))
        if path.endswith("/toxics") and method == "POST":
            return body
        if method == "GET" or (method == "POST" and path.count("/") == 2):
            return {"name": name, "listen": "", "upstream": "", "enabled": True, "toxics": []}
        return None


class _NativePlan:
    """Records the native stack's process actions instead of taking them."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def act(self, action: str, service: str) -> str:
        self.calls.append(f"chaos.stack.control.{action}({service!r})")
        return ""

    def check(self, service: str) -> str:
        return ""

    def disconnect_postgres(self, dsn: str) -> int:
        self.calls.append("pg_terminate_backend() on the agent's PostgreSQL sessions")
        return 0

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        return None


class _ComposePlan(ComposeServices):
    """docker compose command lines, recorded in order instead of run."""

    def __init__(self, calls: list[str]) -> None:
        super().__init__(dry_run=True)
        self.calls = calls

    def act(self, action: str, service: str) -> str:
        seen = len(self.commands)
        detail = super().act(action, service)
        self.calls.extend(" ".join(argv) for argv in self.commands[seen:])
        return detail

    def disconnect_postgres(self, dsn: str) -> int:
        self.calls.append("pg_terminate_backend() on the agent's PostgreSQL sessions")
        return 0


@dataclass
class Plan:
    """The calls an experiment's method makes, at their planned offsets."""

    lines: list[str] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)  # docker compose argv
    warnings: list[str] = field(default_factory=list)


def dry_run(exp: Experiment, compose: bool = False) -> Plan:
    """The plan of ``exp``'s method; with ``compose``, process faults as docker compose."""
    plan = Plan()
    calls: list[str] = []
    proxy = _RecordingProxy(calls)
    services = _ComposePlan(calls) if compose else _NativePlan(calls)
    now = [0.0]
    windows = [FaultWindow(s.start_s, s.end_s, s.fault) for s in exp.method]
    scheduler = FaultScheduler(
        proxy,
        windows,
        clock=lambda: now[0],
        stack=StackState(urls={"postgres": "postgresql://dry-run"}),
        services=services,
    )
    for step in exp.method:
        if compose and step.fault.type in HTTP_TOXICS:
            plan.warnings.append(
                f"{step.fault.describe()}: the real Toxiproxy of docker-compose has no "
                f"{step.fault.type} (a chaoslab proxy extension); this step needs `chaoslab proxy`"
            )
    while (due := scheduler.next_due()) is not None:
        now[0] = due
        scheduler.tick(due)
        for call in calls:
            plan.lines.append(f"+{due:6.1f} s  {call}")
        calls.clear()
    if isinstance(services, _ComposePlan):
        plan.commands = list(services.commands)
    if not any(is_process_fault(s.fault) for s in exp.method) and compose:
        plan.lines.append("(no process fault: nothing goes through docker compose)")
    return plan
