"""A test of the verdicts: the whole catalogue with faults that are accepted but never
applied, on the proxy (chaos.nullproxy) and on the processes (its null services). A
verdict that holds without its fault is no evidence, so no run may pass; each must fail
or be inconclusive, because of an expectation that proves its fault.

An experiment with faults of both kinds must also fail with either kind alone applied:
each of its faults has an expectation of its own that the other cannot satisfy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import Experiment, catalogue
from chaos.faults import verify_clean
from chaos.journal import Journal
from chaos.nullproxy import NullFaultProxy
from chaos.processfaults import NullServices, is_process_fault
from chaos.stack import native
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture(scope="module")
def null_stack(stack: StackState) -> Iterator[tuple[StackState, NullFaultProxy]]:
    with NullFaultProxy(stack.url("proxy_api")) as null:
        yield dataclasses.replace(stack, urls={**stack.urls, "proxy_api": null.url}), null


def processes(stack: StackState) -> dict[str, int]:
    """The pid of every service now (a kill or a restart changes one)."""
    return dict(StackState.load(native.settings_of(stack).state_file).pids)


def kinds(exp: Experiment) -> set[str]:
    return {"process" if is_process_fault(s.fault) else "proxy" for s in exp.method}


def assert_not_passed(journal: Journal) -> None:
    assert journal.status in ("failed", "inconclusive"), journal.reason()
    # What made it not pass is an expectation that proves the fault bit.
    assert any(v.proves_fault and v.status != "passed" for v in journal.verdicts), [
        (v.expectation, v.status) for v in journal.verdicts
    ]


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_no_experiment_passes_when_its_faults_are_not_applied(
    null_stack: tuple[StackState, NullFaultProxy], stack: StackState, name: str
) -> None:
    state, null = null_stack
    asked = len(null.accepted)
    pids = processes(stack)
    journal = run_experiment(
        catalogue()[name], state, progress=lambda _: None, services=null.services
    )
    assert len(null.accepted) > asked, "the run never asked for its fault"
    assert_not_passed(journal)
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []  # the real proxy never saw a fault
    assert processes(stack) == pids  # nor did a process


MIXED = sorted(name for name, exp in catalogue().items() if kinds(exp) == {"proxy", "process"})


def test_some_experiments_mix_proxy_and_process_faults() -> None:
    assert "agent-crash-mid-fallback" in MIXED


@pytest.mark.parametrize("name", MIXED)
def test_a_mixed_experiment_needs_its_proxy_faults(
    null_stack: tuple[StackState, NullFaultProxy], stack: StackState, name: str
) -> None:
    """Process faults applied for real, proxy faults accepted and not applied."""
    state, null = null_stack
    asked = len(null.accepted)
    pids = processes(stack)
    journal = run_experiment(catalogue()[name], state, progress=lambda _: None)
    assert len(null.accepted) > asked  # its proxy faults went to the null proxy
    killed = {r.target for r in journal.faults if r.type in ("kill", "restart")}
    assert killed and all(processes(stack)[s] != pids[s] for s in killed), "no process fault acted"
    assert_not_passed(journal)


@pytest.mark.parametrize("name", MIXED)
def test_a_mixed_experiment_needs_its_process_faults(stack: StackState, name: str) -> None:
    """Proxy faults applied for real, process faults accepted and not applied."""
    pids = processes(stack)
    null = NullServices()
    journal = run_experiment(catalogue()[name], stack, progress=lambda _: None, services=null)
    assert null.accepted and processes(stack) == pids
    assert any(r.type == "down" and r.removed_ok for r in journal.faults)  # the proxy acted
    assert_not_passed(journal)
