"""Process faults through the one scheduler, with back-ends that record (no stack here):
the fault, its recovery on time, the end, and the rollback on any exit."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from chaos.exceptions import ChaosError
from chaos.experiment.dryrun import dry_run
from chaos.experiment.model import catalogue, ensure_experiment
from chaos.faults import Fault, FaultWindow, inject
from chaos.processfaults import ComposeServices, NullServices, ProcessFault
from chaos.scheduler import FaultScheduler
from chaos.stack.state import StackState
from chaos.toxiproxy import Proxy


class Recorder:
    """A Services back-end that records each action at the scheduler's current time."""

    def __init__(self, now: list[float], fail: set[str] | None = None) -> None:
        self.now = now
        self.fail = fail or set()
        self.calls: list[tuple[float, str, str]] = []
        self.down: set[str] = set()

    def act(self, action: str, service: str) -> str:
        self.calls.append((self.now[0], action, service))
        if action in self.fail:
            raise ChaosError(f"{service} {action} failed")
        if action in ("kill", "pause", "stop"):
            self.down.add(service)
        else:
            self.down.discard(service)
        return f"{service} {action}"

    def check(self, service: str) -> str:
        return f"{service} is down" if service in self.down else ""

    def disconnect_postgres(self, dsn: str) -> int:
        self.calls.append((self.now[0], "disconnect", "postgres"))
        return 1

    def lease_entry(self, service: str) -> dict[str, Any] | None:
        return {"service": service, "recorded": True}


class NoProxy:
    def proxy(self, name: str) -> Proxy:
        return Proxy(name, "", "", True)


def schedule(windows: list[FaultWindow], services: Recorder, now: list[float]) -> FaultScheduler:
    return FaultScheduler(
        NoProxy(),  # type: ignore[arg-type]
        windows,
        clock=lambda: now[0],
        stack=StackState(urls={"postgres": "postgresql://x"}),
        services=services,
    )


def advance(scheduler: FaultScheduler, now: list[float], until: float) -> None:
    while (due := scheduler.next_due()) is not None and due <= until:
        now[0] = due
        scheduler.tick(due)


def kill(service: str = "agent", **attrs: int) -> Fault:
    return Fault("", "kill", dict(attrs), service=service)


def test_kill_restarts_after_its_delay_and_is_checked_at_the_end() -> None:
    now = [0.0]
    services = Recorder(now)
    scheduler = schedule([FaultWindow(5, 11, kill(restart_after_ms=2000))], services, now)
    advance(scheduler, now, 100)
    assert services.calls == [
        (5, "kill", "agent"),
        (7, "ensure_running", "agent"),  # the recovery, 2 s after the kill
        (11, "ensure_running", "agent"),  # the end makes sure it runs
    ]
    record = scheduler.records[0]
    assert (record.started_at, record.recovery_requested_at, record.recovered_at) == (5, 7, 7)
    assert record.ended_at == 11 and record.removed_ok
    assert "agent runs and answers" in record.removal_detail


@pytest.mark.parametrize(
    ("fault", "calls"),
    [
        # Without a delay a kill and a pause last the whole step.
        (kill(), [(0, "kill"), (4, "ensure_running")]),
        (Fault("", "pause", service="pms"), [(0, "pause"), (4, "resume"), (4, "ensure_running")]),
        # A restart starts again at once unless told to stay down.
        (
            Fault("", "restart", service="redis"),
            [(0, "stop"), (0, "ensure_running"), (4, "ensure_running")],
        ),
        (
            Fault("", "restart", {"restart_after_ms": 1000}, service="redis"),
            [(0, "stop"), (1, "ensure_running"), (4, "ensure_running")],
        ),
    ],
)
def test_each_process_fault_and_its_recovery(fault: Fault, calls: list[tuple[float, str]]) -> None:
    now = [0.0]
    services = Recorder(now)
    scheduler = schedule([FaultWindow(0, 4, fault)], services, now)
    advance(scheduler, now, 100)
    assert [(t, action) for t, action, _ in services.calls] == calls
    assert scheduler.records[0].removed_ok


def test_restore_mid_fault_brings_the_service_back() -> None:
    now = [0.0]
    services = Recorder(now)
    scheduler = schedule([FaultWindow(1, 30, kill("postgres"))], services, now)
    advance(scheduler, now, 2)
    assert services.down == {"postgres"}
    now[0] = 2.5  # Ctrl-C, an abort or an error in the run
    scheduler.restore()
    assert services.calls[-1] == (2.5, "ensure_running", "postgres")
    assert services.down == set() and scheduler.finished
    assert scheduler.records[0].removed_ok


def test_a_failed_fault_still_brings_the_service_back_and_is_recorded() -> None:
    now = [0.0]
    services = Recorder(now, fail={"kill"})
    scheduler = schedule([FaultWindow(0, 5, kill())], services, now)
    advance(scheduler, now, 100)
    assert [action for _, action, _ in services.calls] == ["kill", "ensure_running"]
    record = scheduler.records[0]
    assert record.started_at is None and "agent kill failed" in record.error


def test_a_failed_recovery_is_an_error_and_the_end_tries_again() -> None:
    now = [0.0]
    services = Recorder(now, fail={"resume"})
    scheduler = schedule(
        [FaultWindow(0, 5, Fault("", "pause", {"resume_after_ms": 1000}, service="pms"))],
        services,
        now,
    )
    advance(scheduler, now, 100)
    actions = [(t, action) for t, action, _ in services.calls]
    assert actions == [(0, "pause"), (1, "resume"), (5, "resume"), (5, "ensure_running")]
    record = scheduler.records[0]
    assert "recovery failed: pms resume failed" in record.error
    assert record.removed_ok is False  # the run reports it, though the service is back


def test_process_faults_hold_the_schedule_of_the_others() -> None:
    now = [0.0]
    services = Recorder(now)
    windows = [
        FaultWindow(0, 14, Fault("postgres", "down")),
        FaultWindow(5, 11, kill(restart_after_ms=2000)),
    ]
    proxy = Recording(now)
    scheduler = FaultScheduler(
        proxy,  # type: ignore[arg-type]
        windows,
        clock=lambda: now[0],
        services=services,
    )
    advance(scheduler, now, 100)
    assert proxy.calls == [(0, False), (14, True)]
    assert [(t, a) for t, a, _ in services.calls] == [
        (5, "kill"),
        (7, "ensure_running"),
        (11, "ensure_running"),
    ]
    assert [r.removed_ok for r in scheduler.records] == [True, True]


class Recording(NoProxy):
    """Records when a proxy was disabled and enabled again."""

    def __init__(self, now: list[float]) -> None:
        self.calls: list[tuple[float, bool]] = []
        self.now = now

    def set_enabled(self, proxy: str, enabled: bool, ttl_ms: int = 0) -> None:
        self.calls.append((self.now[0], enabled))


def test_inject_holds_a_process_fault_for_its_block() -> None:
    now = [0.0]
    services = Recorder(now)
    state = StackState(urls={})
    with inject(NoProxy(), kill(), state, services=services):  # type: ignore[arg-type]
        assert services.down == {"agent"}
    assert services.down == set()
    with (
        pytest.raises(RuntimeError),
        inject(NoProxy(), kill("pms"), state, services=services),  # type: ignore[arg-type]
    ):
        raise RuntimeError("the block failed")
    assert services.down == set()


def test_null_services_accept_everything_and_touch_nothing() -> None:
    accepted: list[str] = []
    null = NullServices(accepted)
    process = ProcessFault(kill(), null)
    with process.held():
        pass
    assert accepted == ["agent kill", "agent ensure_running"]
    assert null.check("agent") == ""


def test_compose_back_end_runs_each_command_and_names_a_failure() -> None:
    ran: list[list[str]] = []

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        ran.append(argv)
        failed = argv[-2] == "unpause"
        return subprocess.CompletedProcess(
            argv, 1 if failed else 0, "", "no such container\n" if failed else ""
        )

    compose = ComposeServices(Path("/lab/docker-compose.yml"), run=run)
    compose.act("kill", "agent")
    compose.act("ensure_running", "agent")
    base = ["docker", "compose", "-f", "/lab/docker-compose.yml"]
    assert ran == [
        [*base, "kill", "--signal", "SIGKILL", "agent"],
        [*base, "up", "--detach", "--no-deps", "--wait", "agent"],
    ]
    with pytest.raises(ChaosError) as info:
        compose.act("resume", "pms")
    assert str(info.value) == (
        "-f /lab/docker-compose.yml unpause pms-simulator failed: no such container"
    )


def test_the_dry_run_is_the_schedule_a_run_would_follow() -> None:
    plan = dry_run(catalogue()["agent-crash-mid-fallback"])
    offsets = [float(line.split(" s  ")[0].lstrip("+ ")) for line in plan.lines]
    assert offsets == [0, 5, 10, 13, 14]  # kill at 5, restart 5 s later, recovered by 13
    assert "control.kill('agent')" in plan.lines[1]
    compose = dry_run(catalogue()["pms-hang"], compose=True)
    assert [c[-2:] for c in compose.commands] == [
        ["pause", "pms-simulator"],
        ["unpause", "pms-simulator"],
        ["--wait", "pms-simulator"],
    ]
    warned = dry_run(catalogue()["pms-429"], compose=True)
    assert any(
        "the real Toxiproxy of docker-compose has no http_status" in w for w in warned.warnings
    )


def test_a_dry_run_of_restart_and_disconnect() -> None:
    doc: dict[str, Any] = {
        "name": "x-dry",
        "title": "t",
        "purpose": "p",
        "method": [
            {"fault": {"service": "postgres", "type": "restart"}, "start_s": 0, "duration_s": 3},
            {"fault": {"service": "postgres", "type": "disconnect"}, "start_s": 4, "duration_s": 1},
        ],
        "expectations": [{"fallback_writes": {"min": 1}}],
    }
    plan = dry_run(ensure_experiment(doc), compose=True)
    assert [c[4:] for c in plan.commands] == [
        ["stop", "--timeout", "10", "postgres"],
        ["up", "--detach", "--no-deps", "--wait", "postgres"],
        ["up", "--detach", "--no-deps", "--wait", "postgres"],
    ]
    assert any("pg_terminate_backend" in line and "+   4.0 s" in line for line in plan.lines)


def test_the_compose_stack_refuses_native_process_faults_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """On docker compose's state (no pids), a run without --compose must not signal
    whatever native processes this machine runs: it stops before anything happens."""
    from chaos.cli import main
    from chaos.paths import CHECKOUT as REPO_ROOT

    host_state = REPO_ROOT / "docker" / "stack.host.json"
    monkeypatch.setenv("CHAOSLAB_STATE_FILE", str(host_state))
    assert main(["run", "pms-hang", "--out", "/nonexistent"]) == 2
    err = capsys.readouterr().err
    assert err == (
        "chaoslab: this stack recorded no processes (docker compose?): "
        "run process faults with --compose\n"
    )


class FakeLease:
    """Records what the scheduler asks the lease to hold for a dying runner."""

    def __init__(self) -> None:
        self.services: list[dict[str, Any]] = []
        self.log: list[str] = []

    def hold_service(self, entry: dict[str, Any]) -> None:
        self.services.append(entry)
        self.log.append(f"hold {entry['service']}")

    def release_service(self, service: str) -> None:
        self.services = [e for e in self.services if e["service"] != service]
        self.log.append(f"release {service}")


def test_the_lease_holds_a_service_for_as_long_as_its_fault() -> None:
    now = [0.0]
    services = Recorder(now)
    lease = FakeLease()
    scheduler = FaultScheduler(
        NoProxy(),  # type: ignore[arg-type]
        [FaultWindow(1, 4, Fault("", "pause", service="pms"))],
        clock=lambda: now[0],
        services=services,
        lease=lease,  # type: ignore[arg-type]
    )
    advance(scheduler, now, 2)
    assert lease.services == [{"service": "pms", "recorded": True}]
    advance(scheduler, now, 100)
    assert lease.log == ["hold pms", "release pms"] and lease.services == []
    # Released only once the service is back.
    assert services.calls[-1] == (4, "ensure_running", "pms")


def test_a_failed_fault_leaves_nothing_in_the_lease() -> None:
    now = [0.0]
    lease = FakeLease()
    scheduler = FaultScheduler(
        NoProxy(),  # type: ignore[arg-type]
        [FaultWindow(0, 4, kill())],
        clock=lambda: now[0],
        services=Recorder(now, fail={"kill"}),
        lease=lease,  # type: ignore[arg-type]
    )
    advance(scheduler, now, 100)
    assert lease.log == ["hold agent", "release agent"]


def test_the_watchdog_brings_services_back(monkeypatch: pytest.MonkeyPatch) -> None:
    from chaos import lease
    from chaos.stack import control

    ensured: list[tuple[str, Path]] = []
    monkeypatch.setattr(control, "ensure_running", lambda s, f: ensured.append((s, f)))
    assert lease.bring_back({"service": "redis", "state_file": "/lab/stack.json"}) == ""
    assert ensured == [("redis", Path("/lab/stack.json"))]
    # docker compose: every command runs (an unpause fails on a running container);
    # the last one, up --wait, decides.
    ok = {"service": "pms", "commands": [["false"], ["true"]]}
    assert lease.bring_back(ok) == ""
    failed = lease.bring_back({"service": "pms", "commands": [["true"], ["sh", "-c", "false"]]})
    assert failed.startswith("pms: ") and "failed" in failed
