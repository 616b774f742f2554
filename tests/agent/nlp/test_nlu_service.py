"""The NLU service: the Rasa /model/parse shape, accuracy on the held-out set in-process
and over HTTP, and the agent falling back to its rules when the service is slow or down."""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Any

import httpx
import pytest

from agent.metrics import AgentMetrics
from agent.nlp import analyze
from agent.nlp.rasa import NLUShapeError, from_rasa, to_rasa
from agent.nlp.remote import RemoteNLU
from agent.settings import BreakerSettings, NLPSettings
from chaos.faults import Fault, inject
from chaos.metrics import scrape
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient
from tests.agent.nlp.heldout import HELD_OUT

TODAY = date(2026, 3, 2)


def test_the_rasa_shape_carries_the_whole_analysis_both_ways() -> None:
    a = analyze("quiero reservar una doble del 12 al 14 de marzo para 2, urgente", today=TODAY)
    shaped = to_rasa(a)
    assert shaped["intent"] == {"name": "reservation", "confidence": a.confidence}
    assert shaped["intent_ranking"][0] == {"name": "reservation", "confidence": a.confidence}
    assert {"entity": "check_in", "value": "2026-03-12"}.items() <= shaped["entities"][0].items()
    assert from_rasa(shaped, a.text, "es") == a


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"intent": {"name": "dance", "confidence": 0.9}},
        {"intent": {"name": "greeting", "confidence": 1.5}},
        {"intent": {"name": "greeting", "confidence": 0.9}, "entities": [{"entity": "guests"}]},
        {"intent": {"name": "greeting", "confidence": "x"}},
        [],
    ],
)
def test_an_answer_without_the_rasa_shape_is_refused(bad: Any) -> None:
    with pytest.raises(NLUShapeError):
        from_rasa(bad, "hola", "es")


def accuracy(predict: Any) -> tuple[float, list[str]]:
    wrong = []
    for text, intent in HELD_OUT:
        got = predict(text)
        if got != intent:
            wrong.append(f"{text!r}: {got} (expected {intent})")
    return 1 - len(wrong) / len(HELD_OUT), wrong


@pytest.mark.integration
def test_intent_accuracy_on_the_held_out_set_is_the_same_over_http(stack: StackState) -> None:
    local, local_wrong = accuracy(lambda t: analyze(t, today=TODAY).intent)
    with httpx.Client(base_url=stack.url("nlu"), timeout=10) as client:

        def remote(text: str) -> str:
            r = client.post(
                "/model/parse", json={"text": text, "reference_date": TODAY.isoformat()}
            )
            assert r.status_code == 200, r.text
            return str(r.json()["intent"]["name"])

        served, served_wrong = accuracy(remote)
    print(
        f"\nheld-out intent accuracy ({len(HELD_OUT)} messages): in-process {local:.1%}, "
        f"NLU service {served:.1%}; missed: {'; '.join(local_wrong)}"
    )
    assert served == local and served_wrong == local_wrong
    assert local >= 0.9


@pytest.mark.integration
def test_the_service_refuses_bad_input_with_a_reason(stack: StackState) -> None:
    with httpx.Client(base_url=stack.url("nlu"), timeout=10) as client:
        for body in ({}, {"text": ""}, {"text": "hola", "language": "pt"}, {"text": 3}):
            r = client.post("/model/parse", json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        r = client.post("/model/parse", content=b"{", headers={"content-type": "application/json"})
        assert 400 <= r.status_code < 500


@pytest.mark.integration
async def test_the_client_falls_back_when_the_service_is_down_and_opens_its_breaker() -> None:
    metrics = AgentMetrics()
    settings = NLPSettings(
        url="http://127.0.0.1:9", timeout_s=0.5, breaker=BreakerSettings(fail_max=2)
    )
    nlu = RemoteNLU(settings, metrics)
    try:
        results = [
            await nlu.analyze("¿a qué hora es el check-in?", today=TODAY, language="es")
            for _ in range(4)
        ]
    finally:
        await nlu.aclose()
    assert all(r.degraded and r.analysis.intent == "checkin_info" for r in results)
    assert nlu.breaker.current_state == "open"
    value = metrics.registry.get_sample_value
    assert value("nlu_fallbacks_total", {"reason": "error"}) == 2
    assert value("nlu_fallbacks_total", {"reason": "breaker_open"}) == 2
    assert value("circuit_breaker_state", {"breaker": "nlp"}) == 1


def say(stack: StackState, guest: str, text: str) -> dict[str, Any]:
    r = httpx.post(
        f"{stack.url('agent')}/api/v1/messages",
        json={"guest_id": guest, "text": text},
        timeout=20,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def total(stack: StackState, name: str, **labels: str) -> float:
    return scrape(stack.url("agent")).total(name, **labels) or 0.0


@pytest.mark.integration
@pytest.mark.chaos
def test_the_agent_answers_from_its_rules_when_the_nlu_is_slow_or_down(stack: StackState) -> None:
    guest = f"nlu-{uuid.uuid4().hex[:8]}"
    assert not say(stack, guest, "hola")["degraded"]
    before = {r: total(stack, "nlu_fallbacks_total", reason=r) for r in ("timeout", "error")}
    with ToxiproxyClient(stack.url("proxy_api")) as proxy:
        with inject(proxy, Fault("nlu", "latency", {"latency": 1500})):
            slow = say(stack, guest, "Where is the hotel?")
        with inject(proxy, Fault("nlu", "down")):
            down = [say(stack, guest, "¿Tienen pileta?") for _ in range(6)]
    assert slow["degraded"] and slow["intent"] == "location"
    assert all(r["degraded"] and r["intent"] == "amenities" for r in down)
    assert total(stack, "nlu_fallbacks_total", reason="timeout") > before["timeout"]
    assert total(stack, "nlu_fallbacks_total", reason="error") > before["error"]
    assert total(stack, "circuit_breaker_transitions_total", breaker="nlp", to_state="open") >= 1
    deadline = time.monotonic() + 20
    while say(stack, guest, "gracias")["degraded"] and time.monotonic() < deadline:
        time.sleep(1)  # the breaker lets a call through after its reset time
    assert not say(stack, guest, "gracias")["degraded"]
