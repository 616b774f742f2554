"""Chaos windows on the live stack: the dashboards' regions match the journal's fault times.

Three short runs one right after the other (a toxic, a proxy down, then the same toxic on
the same proxy again) through the experiment runner. The ``Chaos windows`` annotation
of the dashboards, evaluated against the stack's Prometheus the way Grafana does, must
give one region per fault, labelled with its run, starting and ending within 2 s (one
scrape and one step) of the moments the journal says the proxy confirmed the fault and
its removal; consecutive runs must not merge.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from chaos.dashboards.promql import load_dashboards
from chaos.dashboards.render import PrometheusClient
from chaos.dashboards.windows import chaos_regions
from chaos.experiment import run_experiment
from chaos.experiment.model import ensure_experiment
from chaos.journal import Journal
from chaos.metrics import wait_scraped
from chaos.stack.state import StackState

pytestmark = [pytest.mark.integration, pytest.mark.chaos, pytest.mark.slow]

TOLERANCE_S = 2.0
BY_UID = {d["uid"]: d for d in load_dashboards()}


def short_run(name: str, fault: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "title": name,
        "purpose": "a short fault to check the chaos windows",
        "load": False,
        "baseline_s": 0.5,
        "settle_s": 0.5,
        "method": [{"fault": fault, "start_s": 0, "duration_s": 3}],
        # Judged but irrelevant here: the windows are what this test reads.
        "expectations": [{"fallback_writes": {"min": 1}}],
    }


@pytest.fixture(scope="module")
def back_to_back(stack: StackState) -> list[Journal]:
    # A freshly started Prometheus takes a few seconds to apply its targets.
    assert wait_scraped(stack.url("prometheus"), ("agent", "proxy"), timeout_s=30)
    slow = {"proxy": "postgres", "type": "latency", "attributes": {"latency": 5}}
    runs = [
        ("windows-latency-a", slow),
        ("windows-down", {"proxy": "pms", "type": "down"}),
        ("windows-latency-b", slow),
    ]
    journals = [
        run_experiment(ensure_experiment(short_run(name, fault)), stack, progress=lambda _: None)
        for name, fault in runs
    ]
    time.sleep(2.5)  # two more proxy scrapes, so the last removal is in Prometheus
    return journals


@pytest.mark.parametrize("uid", ["hcl-agent-overview", "hcl-resilience"])
def test_each_fault_is_one_region_within_two_seconds_of_the_journal(
    stack: StackState, back_to_back: list[Journal], uid: str
) -> None:
    start = back_to_back[0].started_at - 5
    with PrometheusClient(stack.url("prometheus")) as client:
        found = chaos_regions(client, BY_UID[uid], start, time.time(), "1s")
    by_run = {j.run_id: j for j in back_to_back}
    ours = [r for r in found if r.tags and r.tags[-1] in by_run]
    assert len(ours) == 3, found  # one per run: consecutive runs never merge
    for region in ours:
        journal = by_run[region.tags[-1]]
        (fault,) = journal.faults
        assert fault.started_at is not None and fault.ended_at is not None
        assert abs(region.start - fault.started_at) <= TOLERANCE_S, (region, fault)
        assert abs(region.end - fault.ended_at) <= TOLERANCE_S, (region, fault)
    titles = [r.title for r in sorted(ours, key=lambda r: r.start)]
    assert titles == ["chaos: postgres latency", "chaos: pms down", "chaos: postgres latency"]


def test_a_dashboard_scoped_to_other_proxies_shows_none_of_the_pms_windows(
    stack: StackState, back_to_back: list[Journal]
) -> None:
    start = back_to_back[0].started_at - 5
    with PrometheusClient(stack.url("prometheus")) as client:
        found = chaos_regions(client, BY_UID["hcl-datastores"], start, time.time(), "1s")
    runs = {j.run_id for j in back_to_back}
    shown = sorted(r.title for r in found if r.tags and r.tags[-1] in runs)
    assert shown == ["chaos: postgres latency", "chaos: postgres latency"]


def test_wait_scraped_knows_the_stack_jobs_from_a_job_it_lacks(stack: StackState) -> None:
    assert wait_scraped(stack.url("prometheus"), ("agent", "proxy", "redis"), timeout_s=30)
    assert not wait_scraped(stack.url("prometheus"), ("agent", "no-such-job"), timeout_s=1)
