"""Steady-state probes: is the system as the hypothesis says, right now?"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from chaos.exceptions import MetricsError
from chaos.experiment.model import Probe
from chaos.journal import ProbeResult
from chaos.metrics import scrape


def _http(agent_url: str, spec: dict[str, Any]) -> tuple[bool, str]:
    expected = int(spec.get("status", 200))
    try:
        r = httpx.get(f"{agent_url}{spec['path']}", timeout=float(spec.get("timeout_s", 2.0)))
    except httpx.HTTPError as exc:
        return False, f"GET {spec['path']} failed: {type(exc).__name__}"
    if r.status_code != expected:
        return False, f"GET {spec['path']} -> {r.status_code}, expected {expected}"
    contains = spec.get("contains")
    if contains and contains not in r.text:
        return False, f"GET {spec['path']} body lacks {contains!r}"
    return True, f"GET {spec['path']} -> {r.status_code}"


def _message(agent_url: str, spec: dict[str, Any]) -> tuple[bool, str]:
    body = {"guest_id": f"probe-{uuid.uuid4().hex[:8]}", "text": spec.get("text", "Hola")}
    started = time.monotonic()
    try:
        r = httpx.post(
            f"{agent_url}/api/v1/messages", json=body, timeout=float(spec.get("timeout_s", 10.0))
        )
    except httpx.HTTPError as exc:
        return False, f"message failed: {type(exc).__name__}"
    elapsed = time.monotonic() - started
    if r.status_code >= 500:
        return False, f"message -> {r.status_code}"
    max_s = spec.get("max_latency_s")
    if max_s is not None and elapsed > float(max_s):
        return False, f"message took {elapsed:.2f} s > {max_s} s"
    degraded = r.json().get("degraded")
    if spec.get("not_degraded") and degraded:
        return False, "reply marked degraded"
    return True, f"message -> {r.status_code} in {elapsed:.2f} s (degraded={degraded})"


def _say(agent_url: str, guest: str, text: str, spec: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{agent_url}/api/v1/messages",
        json={"guest_id": guest, "text": text},
        timeout=float(spec.get("timeout_s", 10.0)),
    )


def _conversation(
    agent_url: str, spec: dict[str, Any], phase: str, memory: dict[str, Any]
) -> tuple[bool, str]:
    """Before: a new guest sends ``start``. After: the same guest sends ``resume``, which
    must be answered from the same session (and with ``intent``): the context survived."""
    if phase == "before":
        guest = f"probe-{uuid.uuid4().hex[:8]}"
        try:
            r = _say(agent_url, guest, spec["start"], spec)
        except httpx.HTTPError as exc:
            return False, f"conversation start failed: {type(exc).__name__}"
        if r.status_code != 200:
            return False, f"conversation start -> {r.status_code}"
        memory.update(guest=guest, session_id=r.json().get("session_id"))
        return True, f"{guest} started a conversation (intent {r.json().get('intent')})"
    if "guest" not in memory:
        return False, "the conversation was not started before the method"
    try:
        r = _say(agent_url, memory["guest"], spec["resume"], spec)
    except httpx.HTTPError as exc:
        return False, f"conversation resume failed: {type(exc).__name__}"
    if r.status_code != 200:
        return False, f"conversation resume -> {r.status_code}"
    reply = r.json()
    if reply.get("session_id") != memory["session_id"]:
        return False, "the guest was answered from a new session: the context was lost"
    if spec.get("intent") and reply.get("intent") != spec["intent"]:
        return False, f"resumed with intent {reply.get('intent')}, expected {spec['intent']}"
    if reply.get("degraded"):
        return False, "the resumed conversation was answered degraded"
    return True, f"{memory['guest']} resumed in the same session (intent {reply.get('intent')})"


def _metric(agent_url: str, spec: dict[str, Any]) -> tuple[bool, str]:
    wanted = {str(k): str(v) for k, v in (spec.get("labels") or {}).items()}
    try:
        page = scrape(agent_url)
    except MetricsError as exc:
        return False, f"metrics unreadable: {exc}"
    value = page.total(spec["metric"], **wanted)
    if value is None or (wanted and not page.samples.get(spec["metric"])):
        return False, f"{spec['metric']}{wanted or ''} not exported"
    label = f"{spec['metric']}{wanted or ''} = {value:g}"
    if "equals" in spec and value != float(spec["equals"]):
        return False, f"{label}, expected {spec['equals']}"
    if "min" in spec and value < float(spec["min"]):
        return False, f"{label} < {spec['min']}"
    if "max" in spec and value > float(spec["max"]):
        return False, f"{label} > {spec['max']}"
    return True, label


_STATES = {0.0: "closed", 1.0: "open", 2.0: "half-open"}


def breakers_closed(agent_url: str, phase: str = "before") -> ProbeResult:
    """Every agent breaker closed? A breaker a previous run left open is not steady state."""
    try:
        page = scrape(agent_url.rstrip("/"))
    except MetricsError as exc:
        return ProbeResult(
            "breakers-closed", phase, False, f"metrics unreadable: {exc}", time.time()
        )
    states = page.by_label("circuit_breaker_state", "breaker")
    audit = page.total("audit_circuit_breaker_state")
    if audit is not None:
        states["audit"] = audit
    if not states:
        return ProbeResult(
            "breakers-closed", phase, False, "no breaker state exported", time.time()
        )
    moved = {k: _STATES.get(v, f"{v:g}") for k, v in sorted(states.items()) if v != 0}
    if moved:
        detail = ", ".join(f"{k} {v}" for k, v in moved.items())
        return ProbeResult(
            "breakers-closed", phase, False, f"breakers not closed: {detail}", time.time()
        )
    return ProbeResult(
        "breakers-closed", phase, True, f"{len(states)} breakers closed", time.time()
    )


def run_probe(
    probe: Probe, phase: str, agent_url: str, memory: dict[str, Any] | None = None
) -> ProbeResult:
    """Run one probe now; ``memory`` carries a conversation from before to after the method."""
    url = agent_url.rstrip("/")
    if probe.type == "conversation":
        mine = (memory if memory is not None else {}).setdefault(probe.name, {})
        ok, detail = _conversation(url, probe.spec, phase, mine)
    else:
        fn = {"http": _http, "message": _message, "metric": _metric}[probe.type]
        ok, detail = fn(url, probe.spec)
    return ProbeResult(probe.name, phase, ok, detail, time.time())
