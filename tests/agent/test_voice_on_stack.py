"""Voice notes end to end on the live stack: downloaded through the Graph media API,
transcribed by the lab's speech-to-text server behind proxy:stt, answered as text; a
"please type" reply in the guest's language when transcription fails, never a 5xx."""

from __future__ import annotations

import time
from typing import Any

import httpx
import psycopg
import pytest

from chaos.faults import Fault, inject
from chaos.metrics import scrape
from chaos.stack.state import StackState
from chaos.stt.voices import silence, speak
from chaos.toxiproxy import ToxiproxyClient
from tests.agent.whatsapp_helpers import PMS_KEY, message, post, reply_texts, sender, text, wamid

pytestmark = pytest.mark.integration


def upload(stack: StackState, audio: bytes) -> str:
    r = httpx.post(
        f"{stack.url('pms')}/graph/_upload",
        content=audio,
        headers={**PMS_KEY, "content-type": "audio/ogg; codecs=opus"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"])


def voice_note(stack: StackState, frm: str, media_id: str) -> dict[str, Any]:
    return message(
        frm, wamid(), "audio", id=media_id, mime_type="audio/ogg; codecs=opus", voice=True
    )


def voice_events(stack: StackState, guest: str) -> list[dict[str, Any]]:
    with psycopg.connect(stack.url("postgres")) as conn:
        rows = conn.execute(
            "SELECT payload FROM audit_logs WHERE guest_id = %s AND event_type = 'message' "
            "ORDER BY occurred_at",
            (guest,),
        ).fetchall()
    return [p["voice"] for (p,) in rows if "voice" in p]


@pytest.fixture(scope="module")
def agent(stack: StackState) -> Any:
    with httpx.Client(base_url=stack.url("agent"), timeout=60) as client:
        yield client


# A question spoken by espeak-ng, and a part of the answer only that question gets.
QUESTIONS = (
    ("what time is check in", "Check-in is from 15:00"),
    ("can I get a late checkout", "I need your booking number"),
    ("what time is checkout", "Check-out is until"),
)


def test_a_voice_note_is_transcribed_and_answered_as_text(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    latencies = []
    for question, answer in QUESTIONS:
        media = upload(stack, speak(question))
        began = time.perf_counter()
        r = post(agent, stack, voice_note(stack, frm, media))
        latencies.append(time.perf_counter() - began)
        assert r.status_code == 200 and r.json()["processed"] == 1
        assert answer in reply_texts(stack, frm)[-1]
    voices = voice_events(stack, frm)
    assert [v["transcription"] for v in voices] == [q.lower() for q, _ in QUESTIONS]
    assert all(v["outcome"] == "ok" for v in voices)
    stt = sorted(v["seconds"] for v in voices)
    print(
        f"\nvoice notes: webhook to reply {min(latencies) * 1000:.0f}-"
        f"{max(latencies) * 1000:.0f} ms, of which transcription {stt[0] * 1000:.0f}-"
        f"{stt[-1] * 1000:.0f} ms (through the proxy)"
    )


def test_silence_and_a_missing_file_get_a_please_type_reply_in_the_guests_language(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    post(agent, stack, text(frm, "Hola, buenas tardes"))
    post(agent, stack, voice_note(stack, frm, upload(stack, silence())))
    post(agent, stack, voice_note(stack, frm, "9999999"))
    replies = reply_texts(stack, frm)
    assert replies[1] == replies[2] and "escribir" in replies[1]
    assert [v["outcome"] for v in voice_events(stack, frm)] == ["empty", "download_failed"]


def metric(stack: StackState, name: str, **labels: str) -> float:
    return scrape(stack.url("agent")).total(name, **labels) or 0.0


def breaker_alert(stack: StackState) -> dict[str, Any]:
    """The agent's AgentBreakerOpened alert for stt, once Alertmanager has it."""
    deadline = time.monotonic() + 15
    while True:
        found = httpx.get(
            f"{stack.url('alertmanager')}/api/v2/alerts",
            params=[("filter", 'alertname="AgentBreakerOpened"'), ("filter", 'breaker="stt"')],
            timeout=5,
        ).json()
        if found or time.monotonic() > deadline:
            assert found, "no AgentBreakerOpened alert for the stt breaker"
            return dict(found[0])
        time.sleep(0.5)


@pytest.mark.chaos
def test_a_slow_or_absent_stt_gets_please_type_replies_and_its_breaker_opens_and_closes(
    stack: StackState, agent: httpx.Client
) -> None:
    frm = sender()
    post(agent, stack, text(frm, "Hello there"))
    media = upload(stack, speak("is breakfast included"))
    opened = metric(stack, "circuit_breaker_transitions_total", breaker="stt", to_state="open")
    with ToxiproxyClient(stack.url("proxy_api")) as proxy:
        with inject(proxy, Fault("stt", "latency", {"latency": 5000})):  # the timeout is 3 s
            slow = post(agent, stack, voice_note(stack, frm, media))
        with inject(proxy, Fault("stt", "down")):
            down = [post(agent, stack, voice_note(stack, frm, media)) for _ in range(6)]
    assert slow.status_code == 200 and all(r.status_code == 200 for r in down)
    replies = reply_texts(stack, frm)[1:]
    assert len(replies) == 7 and all("Could you please type it" in t for t in replies), replies
    outcomes = [v["outcome"] for v in voice_events(stack, frm)]
    assert outcomes[0] == "timeout" and "error" in outcomes and outcomes[-1] == "breaker_open"
    assert (
        metric(stack, "circuit_breaker_transitions_total", breaker="stt", to_state="open") > opened
    )
    assert breaker_alert(stack)["labels"]["dependency"] == "stt"  # staff hear of it
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        post(agent, stack, voice_note(stack, frm, media))
        if voice_events(stack, frm)[-1]["outcome"] == "ok":
            break
        time.sleep(1)
    last = voice_events(stack, frm)[-1]
    assert last["outcome"] == "ok" and "breakfast" in last["transcription"]  # closed again
    assert "room service" in reply_texts(stack, frm)[-1]
