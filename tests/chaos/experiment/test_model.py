"""ensure_* validation: precise errors for bad experiment files, before anything is injected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chaos.exceptions import ExperimentError
from chaos.experiment.model import catalogue, ensure_experiment, load_experiment

VALID: dict[str, Any] = {
    "name": "x-test",
    "title": "A title",
    "purpose": "Shows something.",
    "steady_state": [{"name": "live", "type": "http", "path": "/health/live"}],
    "method": [
        {
            "fault": {"proxy": "redis", "type": "latency", "attributes": {"latency": 100}},
            "start_s": 0,
            "duration_s": 2,
        }
    ],
    "expectations": [{"no_5xx": {}}],
}


def mutate(path: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(VALID)
    target: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is KeyError:
        del target[last]
    elif last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return doc


def test_a_valid_document_builds() -> None:
    exp = ensure_experiment(VALID, proxies={"redis"})
    assert exp.method[0].fault.describe() == "redis latency(latency=100) downstream"
    assert exp.load is not None and exp.method_s == 2


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("name", "Bad Name", "name: must be lowercase"),
        ("purpose", KeyError, "purpose: is required"),
        ("method.0.fault.type", "explode", "method[0].fault.type: must be one of"),
        (
            "method.0.fault.attributes",
            {"latency": -5},
            "method[0].fault.attributes.latency: must be a non-negative integer",
        ),
        (
            "method.0.fault.attributes",
            {"latency": 1.5},
            "method[0].fault.attributes.latency: must be a non-negative integer",
        ),
        (
            "method.0.fault.attributes",
            {"rate": 1},
            "method[0].fault.attributes.rate: not an attribute of latency",
        ),
        ("method.0.fault.proxy", "kafka", "method[0].fault.proxy: no proxy named 'kafka'"),
        (
            "method.0.fault.stream",
            "sideways",
            "method[0].fault.stream: must be upstream or downstream",
        ),
        ("method.0.fault.toxicity", 1.5, "method[0].fault.toxicity: must be between 0 and 1"),
        ("method.0.duration_s", 0, "method[0].duration_s: must be a number >= 0.1"),
        ("method", [], "method: needs at least one fault"),
        ("expectations", [], "a verifier must be able to fail"),
        (
            "expectations.0",
            {"no_5xx": {}, "p95_latency": {}},
            "expectations[0]: must have exactly one kind",
        ),
        ("expectations.0", {"fast_enough": {}}, "unknown expectation 'fast_enough'"),
        (
            "expectations.0",
            {"breaker_transitions": {"breaker": "kafka"}},
            "breaker: must be pms, audit or nlp",
        ),
        (
            "expectations.0",
            {
                "breaker_transitions": {
                    "breaker": "pms",
                    "sequence": [{"from": "closed", "to": "open", "within_s": 5}],
                }
            },
            "sequence[0].after: within_s needs after",
        ),
        (
            "expectations.0",
            {"p95_latency": {"phase": "someday", "max_s": 1}},
            "phase: must be one of",
        ),
        ("steady_state.0.type", "ping", "steady_state[0].type: must be one of"),
        ("steady_state.0.path", "health", "steady_state[0].path: must be an agent path"),
        ("surprise", 1, "unknown field(s) surprise"),
    ],
)
def test_bad_documents_name_the_offending_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ExperimentError) as info:
        ensure_experiment(mutate(path, value), proxies={"redis", "postgres", "pms"})
    assert message in str(info.value)


def test_files_report_yaml_errors_with_their_name(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    with pytest.raises(ExperimentError, match=r"broken\.yaml: not valid YAML"):
        load_experiment(broken)
    with pytest.raises(ExperimentError, match="cannot read"):
        load_experiment(tmp_path / "missing.yaml")


def test_the_catalogue_covers_the_brief() -> None:
    names = set(catalogue())
    assert {
        "redis-latency",
        "redis-outage-short",
        "redis-outage-long",
        "postgres-latency",
        "postgres-outage",
        "pms-latency",
        "pms-outage-stale-cache",
        "flapping-postgres",
        "partial-toxicity",
        "reset-peer",
        "bandwidth-squeeze",
        "slow-close",
        "combined-outage",
    } <= names
    for exp in catalogue().values():
        assert exp.purpose and exp.expectations
        assert any(e.kind == "no_5xx" for e in exp.expectations), exp.name
