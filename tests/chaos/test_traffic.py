"""The open-model traffic driver: requests on a fixed schedule whatever the agent does,
latency from the intended send time, every sample with its message id and channel."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import Any

import httpx
import pytest

from agent.whatsapp import signature_valid
from chaos.traffic import GuestMix, OpenLoad, Sample

SECRET = "test-secret"


def agent(stall_until: float = 0.0, stall_s: float = 0.0) -> httpx.MockTransport:
    """An agent that answers at once, except while stalled (until ``stall_until``)."""

    async def handle(request: httpx.Request) -> httpx.Response:
        if time.monotonic() < stall_until:
            await asyncio.sleep(stall_until - time.monotonic())
        if request.url.path == "/webhooks/whatsapp":
            ok = signature_valid(SECRET, request.content, request.headers["x-hub-signature-256"])
            return httpx.Response(200 if ok else 401, json={"processed": 1})
        body = json.loads(request.content)
        return httpx.Response(
            200, json={"reply": "ok", "intent": "faq", "degraded": body["guest_id"].endswith("-3")}
        )

    return httpx.MockTransport(handle)


def run(load: OpenLoad, seconds: float) -> list[Sample]:
    load.start()
    time.sleep(seconds)
    return load.stop()


def test_requests_go_out_on_schedule_and_carry_their_identity() -> None:
    load = OpenLoad("http://agent", rate_per_s=40, guests=5, whatsapp_share=0.3,
                    whatsapp_secret=SECRET, transport=agent())  # fmt: skip
    samples = run(load, 1.0)
    assert 35 <= len(samples) <= 45
    gaps = [b.intended_at - a.intended_at for a, b in itertools.pairwise(samples)]
    assert all(g == pytest.approx(0.025, abs=1e-6) for g in gaps)
    assert {s.channel for s in samples} == {"api", "whatsapp"}
    assert all(s.status == 200 for s in samples)  # every webhook's signature verified
    assert len({s.message_id for s in samples}) == len(samples)
    whatsapp = [s for s in samples if s.channel == "whatsapp"]
    assert all(s.message_id.startswith("wamid.") and s.degraded is None for s in whatsapp)
    api = [s for s in samples if s.channel == "api"]
    assert {s.degraded for s in api if s.guest_id.endswith("-3")} == {True}
    assert all(s.label for s in samples)


def test_a_stall_shows_in_full_and_does_not_bend_the_schedule() -> None:
    stall_until = time.monotonic() + 0.6
    load = OpenLoad("http://agent", rate_per_s=20, transport=agent(stall_until))
    samples = run(load, 1.2)
    first = samples[0].intended_at
    # Requests meant for the stall went out on time and waited it out...
    stalled = [s for s in samples if s.intended_at - first < 0.5]
    assert all(s.sent_at - s.intended_at < 0.1 for s in stalled)
    assert stalled[0].latency_s == pytest.approx(0.6, abs=0.1)
    # ...and the schedule kept its rate through the stall: no catching up afterwards.
    assert 20 <= len(samples) <= 26
    assert max(s.latency_s for s in samples if s.intended_at - first > 0.7) < 0.1


def test_transport_errors_are_samples_with_a_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    samples = run(
        OpenLoad("http://agent", rate_per_s=20, transport=httpx.MockTransport(refuse)), 0.3
    )
    assert samples and all(s.status == 0 and s.error == "ConnectError" for s in samples)
    assert all(s.failed and not s.acknowledged and s.degraded is None for s in samples)


def test_the_guest_mix_asks_questions_and_can_be_narrowed() -> None:
    mix = GuestMix(seed=1, kinds=("availability",), stays=200, skew=0)
    turns = [mix.turn() for _ in range(50)]
    assert {t.label for t in turns} == {"availability"}  # greetings skipped
    assert len({t.text for t in turns}) > 40  # many distinct stays: cache misses
    whatsapp = GuestMix(seed=1).turn(whatsapp=True)
    assert whatsapp.label != "greeting"
    with pytest.raises(ValueError, match="unknown conversation kind"):
        GuestMix(kinds=("karaoke",))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="rate_per_s > 0"):
        OpenLoad("http://agent", rate_per_s=0)
    with pytest.raises(ValueError, match="app secret"):
        OpenLoad("http://agent", whatsapp_share=0.5)


def test_voice_notes_are_audio_webhooks_with_one_of_the_uploaded_notes() -> None:
    bodies: list[dict[str, Any]] = []

    async def handle(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(200, json={"processed": 1})

    load = OpenLoad("http://agent", rate_per_s=40, whatsapp_share=1.0, whatsapp_secret=SECRET,
                    voice_share=0.5, voice_notes=("901", "902"),
                    transport=httpx.MockTransport(handle))  # fmt: skip
    samples = run(load, 1.0)
    messages = [b["entry"][0]["changes"][0]["value"]["messages"][0] for b in bodies]
    audio = [m for m in messages if m["type"] == "audio"]
    assert 5 <= len(audio) <= len(messages) - 5  # about half
    assert {m["audio"]["id"] for m in audio} <= {"901", "902"}
    assert all(m["audio"]["voice"] is True for m in audio)
    assert all("text" in m for m in messages if m["type"] == "text")
    assert sum(s.label == "voice" for s in samples) == len(audio)


def test_duplicates_repeat_a_message_id_at_once_or_a_second_later() -> None:
    load = OpenLoad("http://agent", rate_per_s=40, whatsapp_share=1.0, whatsapp_secret=SECRET,
                    duplicate_share=0.5, concurrent_share=0.5, transport=agent())  # fmt: skip
    samples = run(load, 1.5)
    copies: dict[str, list[Sample]] = {}
    for s in samples:
        copies.setdefault(s.message_id, []).append(s)
    twice = [c for c in copies.values() if len(c) == 2]
    assert all(len(c) <= 2 for c in copies.values())
    assert len(twice) >= 10
    gaps = sorted(round(b.intended_at - a.intended_at, 3) for a, b in twice)
    assert set(gaps) == {0.0, 1.0}  # concurrent pairs, and copies Meta sends again later
    assert all(a.guest_id == b.guest_id for a, b in twice)


def test_voice_notes_need_their_audio() -> None:
    with pytest.raises(ValueError, match="voice notes need uploaded audio"):
        OpenLoad("http://agent", whatsapp_share=1.0, whatsapp_secret=SECRET, voice_share=0.5)
