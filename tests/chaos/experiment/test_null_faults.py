"""A test of the verdicts: the whole catalogue against a proxy API that accepts every fault
and applies none. A verdict that holds without its fault is no evidence, so no run may
pass; each must fail or be inconclusive, because of an expectation that proves its fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from chaos.experiment import run_experiment
from chaos.experiment.model import catalogue
from chaos.faults import verify_clean
from chaos.nullproxy import NullFaultProxy
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]


@pytest.fixture(scope="module")
def null_stack(stack: StackState) -> Iterator[tuple[StackState, NullFaultProxy]]:
    with NullFaultProxy(stack.url("proxy_api")) as null:
        yield dataclasses.replace(stack, urls={**stack.urls, "proxy_api": null.url}), null


@pytest.mark.parametrize("name", sorted(catalogue()))
def test_no_experiment_passes_when_its_faults_are_not_applied(
    null_stack: tuple[StackState, NullFaultProxy], stack: StackState, name: str
) -> None:
    state, null = null_stack
    asked = len(null.accepted)
    journal = run_experiment(catalogue()[name], state, progress=lambda _: None)
    assert len(null.accepted) > asked, "the run never asked for its fault"
    assert journal.status in ("failed", "inconclusive"), journal.reason()
    # What made it not pass is an expectation that proves the fault bit.
    assert any(v.proves_fault and v.status != "passed" for v in journal.verdicts), [
        (v.expectation, v.status) for v in journal.verdicts
    ]
    with ToxiproxyClient(stack.url("proxy_api")) as client:
        assert verify_clean(client) == []  # the real proxy never saw a fault
