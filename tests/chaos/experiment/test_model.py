"""ensure_* validation: precise errors for bad experiment files, before anything is injected."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from chaos.exceptions import ExperimentError
from chaos.experiment.expectations import ensure_expectation
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
    "expectations": [{"no_5xx": {}}, {"latency_shift": {"min": 0.05}}],
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
    # Defaults are written into the spec, so the journal says what was judged.
    assert exp.expectations[1].spec == {"quantile": 0.5, "min_samples": 10, "min": 0.05}


def test_an_experiment_without_an_expectation_that_proves_its_fault_is_refused() -> None:
    doc = mutate("expectations", [{"no_5xx": {}}, {"fallback_drained": {"within_s": 5}}])
    with pytest.raises(ExperimentError, match="none of them can show that the fault had an effect"):
        ensure_experiment(doc)
    # A counter with only an upper bound cannot show a fault acted either.
    with pytest.raises(ExperimentError, match="had an effect"):
        ensure_experiment(mutate("expectations", [{"session_save_retries": {"max": 0}}]))


@pytest.mark.parametrize(
    ("expectation", "proves"),
    [
        (
            {
                "breaker_transitions": {
                    "breaker": "pms",
                    "sequence": [{"from": "closed", "to": "open"}],
                }
            },
            True,
        ),
        ({"breaker_quiet": {"breaker": "pms"}}, False),
        ({"retries": {"operation": "session.save", "min": 1}}, True),
        ({"retries": {"operation": "session.save", "max": 3}}, False),
        ({"fallback_writes": {"min": 1}}, True),
        ({"stale_served": {"min": 2}}, True),
        ({"degraded_replies": {"min": 1}}, True),
        ({"pms_calls": {"outcome": "timeout", "min": 1}}, True),
        ({"pms_calls": {"outcome": "success", "min": 1}}, False),
        ({"latency_shift": {"min": 0.1}}, True),
        ({"pms_latency_shift": {"min": 0.1}}, True),
        ({"audit_write_failures": {"reason": "timeout", "min": 1}}, True),
        ({"latency_shift": {"max": 0.1}}, False),
        ({"no_lost_audit_events": {}}, False),
        ({"p95_latency": {"max_s": 1}}, False),
    ],
)
def test_which_expectations_prove_their_fault(expectation: dict[str, Any], proves: bool) -> None:
    assert ensure_expectation(expectation, "e").proves_fault is proves


def test_service_faults_name_their_service() -> None:
    doc = mutate("method.0.fault", {"service": "postgres", "type": "disconnect"})
    assert ensure_experiment(doc).method[0].fault.describe() == "postgres disconnect"
    with pytest.raises(ExperimentError, match=r"method\[0\]\.fault\.service: disconnect applies"):
        ensure_experiment(mutate("method.0.fault", {"service": "redis", "type": "disconnect"}))
    with pytest.raises(ExperimentError, match="service faults are disconnect"):
        ensure_experiment(mutate("method.0.fault", {"service": "postgres", "type": "melt"}))


def test_process_faults_build_with_their_recovery() -> None:
    kill = {"service": "agent", "type": "kill", "attributes": {"restart_after_ms": 2000}}
    step = ensure_experiment(mutate("method.0.fault", kill)).method[0]
    assert step.fault.describe() == "agent kill restart_after_ms=2000"
    assert step.fault.service == "agent" and step.fault.target == "agent"
    for service in ("agent", "redis", "postgres", "pms"):
        for ftype in ("kill", "pause", "restart"):
            fault = {"service": service, "type": ftype}
            assert ensure_experiment(mutate("method.0.fault", fault)).method[0].fault.type == ftype


def test_http_faults_build() -> None:
    status = {
        "proxy": "pms",
        "type": "http_status",
        "attributes": {"status": 429, "retry_after": 2},
        "stream": "upstream",
        "toxicity": 0.5,
    }
    fault = ensure_experiment(mutate("method.0.fault", status)).method[0].fault
    assert fault.describe() == "pms http_status(status=429, retry_after=2) upstream toxicity=0.5"
    delay = {"proxy": "pms", "type": "http_delay", "attributes": {"delay": 800}}
    assert ensure_experiment(mutate("method.0.fault", delay)).method[0].fault.attributes == {
        "delay": 800
    }


def test_a_conversation_probe_spans_the_method() -> None:
    probe = {"name": "keeps", "type": "conversation", "start": "Hola", "resume": "Chau"}
    built = ensure_experiment(mutate("steady_state.0", probe)).steady_state[0]
    assert built.when == ("before", "after")
    assert built.spec == {"start": "Hola", "resume": "Chau"}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            "method.0.fault",
            {"service": "proxy", "type": "kill"},
            "method[0].fault.service: kill applies to agent, redis, postgres, pms, got 'proxy'",
        ),
        (
            "method.0.fault",
            {"service": "agent", "type": "kill", "attributes": {"resume_after_ms": 5}},
            "method[0].fault.attributes.resume_after_ms: not an attribute of kill; "
            "allowed: restart_after_ms",
        ),
        (
            "method.0.fault",
            {"service": "pms", "type": "pause", "attributes": {"resume_after_ms": -1}},
            "method[0].fault.attributes.resume_after_ms: must be a non-negative integer",
        ),
        (
            "method.0.fault",
            {"service": "postgres", "type": "disconnect", "attributes": {"restart_after_ms": 1}},
            "method[0].fault.attributes.restart_after_ms: not an attribute of disconnect; "
            "allowed: none",
        ),
        (
            "method.0.fault",
            {"service": "agent", "type": "kill", "attributes": {"restart_after_ms": 2500}},
            "method[0].fault.attributes.restart_after_ms: 2500 ms is after the step ends (2 s)",
        ),
        (
            "method.0.fault",
            {"service": "agent", "type": "kill", "stream": "upstream"},
            "method[0].fault: unknown field(s) stream",
        ),
        (
            "method.0.fault",
            {"proxy": "pms", "type": "http_status", "attributes": {"retry_after": 1}},
            "method[0].fault.attributes.status: is required for http_status",
        ),
        (
            "method.0.fault",
            {"proxy": "pms", "type": "http_status", "attributes": {"status": 99}},
            "method[0].fault.attributes.status: must be between 200 and 599, got 99",
        ),
        (
            "method.0.fault",
            {"proxy": "pms", "type": "http_status", "attributes": {"status": 600}},
            "method[0].fault.attributes.status: must be between 200 and 599, got 600",
        ),
        (
            "method.0.fault",
            {"proxy": "pms", "type": "http_status", "attributes": {"status": 503, "retry": 1}},
            "method[0].fault.attributes.retry: not an attribute of http_status; "
            "allowed: status, retry_after",
        ),
        (
            "method.0.fault",
            {"proxy": "pms", "type": "http_delay", "attributes": {"delay": "1s"}},
            "method[0].fault.attributes.delay: must be a non-negative integer",
        ),
        (
            "steady_state.0",
            {"name": "c", "type": "conversation", "start": "Hola"},
            "steady_state[0].resume: is required",
        ),
        (
            "steady_state.0",
            {"name": "c", "type": "conversation", "start": "a", "resume": "b", "when": ["after"]},
            "steady_state[0].when: a conversation starts before the method, resumes after",
        ),
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
        # Every kind refuses missing bounds and unknown keys instead of passing on nothing.
        ("expectations.0", {"session_save_retries": {}}, "needs a bound: min or max"),
        ("expectations.0", {"session_save_retries": {"mn": 3}}, "unknown field(s) mn"),
        ("expectations.0", {"degraded_replies": {"phase": "during"}}, "needs a bound"),
        ("expectations.0", {"fallback_drained": {"within": 5}}, "unknown field(s) within"),
        ("expectations.0", {"fallback_drained": {}}, "fallback_drained.within_s: is required"),
        ("expectations.0", {"p95_latency": {"phase": "during"}}, "p95_latency.max_s: is required"),
        ("expectations.0", {"fallback_writes": {"min": 3, "max": 1}}, "min is above max"),
        ("expectations.0", {"cache_hit_rate": {"min": "high"}}, "must be a number"),
        ("expectations.0", {"latency_shift": {"quantile": 0.3, "min": 1}}, "between 0.5 and 0.99"),
        ("expectations.0", {"retries": {"min": 1}}, "retries.operation: is required"),
        (
            "expectations.0",
            {"breaker_transitions": {"breaker": "pms", "sequence": []}},
            "sequence: must be a non-empty list",
        ),
        (
            "expectations.0",
            {
                "breaker_transitions": {
                    "breaker": "pms",
                    "sequence": [
                        {
                            "from": "closed",
                            "to": "open",
                            "after": "fault_start",
                            "min_s": 5,
                            "within_s": 2,
                        }
                    ],
                }
            },
            "min_s is above within_s",
        ),
        ("load", {"rate_per_s": 2, "mix": ["karaoke"]}, "load.mix: unknown conversation kind"),
        ("load", {"whatsapp_share": 2}, "load.whatsapp_share: must be between 0 and 1"),
        ("load", {"voice_share": 1.5}, "load.voice_share: must be between 0 and 1"),
        ("load", {"duplicates": {"share": 0.5, "twice": 1}}, "load.duplicates: unknown field"),
        (
            "load",
            {"whatsapp_share": 0, "duplicates": {"share": 0.5}},
            "load: voice notes and duplicates are WhatsApp messages",
        ),
        ("load", False, "load: is off, but latency_shift, no_5xx judge guest traffic"),
        ("steady_state.0.timeout", 3, "unknown field(s) timeout"),
        (
            "expectations.0",
            {"no_5xx": {}, "p95_latency": {}},
            "expectations[0]: must be a mapping with exactly one kind",
        ),
        ("expectations.0", {"fast_enough": {}}, "unknown expectation 'fast_enough'"),
        (
            "expectations.0",
            {"breaker_transitions": {"breaker": "kafka", "sequence": []}},
            "breaker: must be one of pms, audit",
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
        "agent-crash-mid-fallback",
        "postgres-restart",
        "redis-restart",
        "pms-hang",
        "pms-5xx-burst",
        "pms-429",
        "nlu-outage",
        "stt-outage",
        "stt-latency",
        "graph-send-failures",
        "whatsapp-duplicate-storm",
    } <= names
    for exp in catalogue().values():
        assert exp.purpose and exp.expectations
        assert any(e.kind == "no_5xx" for e in exp.expectations), exp.name
        assert any(e.proves_fault for e in (*exp.expectations, *exp.comparisons)), exp.name


def test_the_load_reads_voice_notes_and_duplicate_deliveries() -> None:
    storm = catalogue()["whatsapp-duplicate-storm"].load
    assert storm is not None
    assert (storm.duplicate_share, storm.concurrent_share) == (0.5, 0.5)
    voice = catalogue()["stt-outage"].load
    assert voice is not None and voice.voice_share == 0.5 and voice.whatsapp_share == 1.0
