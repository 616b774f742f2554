"""The lab's speech-to-text server over TCP: real transcriptions of synthesised voice
notes (OGG/Opus), OpenAI's API shape and errors. Prints word accuracy and latency."""

from __future__ import annotations

import re
import time
from statistics import mean

import httpx
import pytest

from chaos.stack.state import StackState
from chaos.stt.server import CORPUS
from chaos.stt.voices import silence, speak

pytestmark = pytest.mark.integration

# Sentences in the language model's corpus, and sentences it has never seen (new word
# orders and phrasings of known words); the test checks which is which.
IN_CORPUS = (
    ("what time is check in", "en-us"),
    ("I would like to book a room for two nights", "en-us"),
    ("is breakfast included", "en-us+f3"),
    ("do you have parking", "en-us+f3"),
    ("can I get a late checkout", "en-us"),
    ("I want to cancel my booking", "en-us+m3"),
)
NEW = (
    ("do you have a double room for tonight", "en-us"),
    ("we would like a late checkout please", "en-us+f3"),
    ("is there a gym at the hotel", "en-us"),
    ("how much is the suite for two nights", "en-us+m3"),
    ("can we book a room for three people", "en-us+f3"),
    ("what time is breakfast at the hotel", "en-us+m3"),
)


def words(text: str) -> list[str]:
    return re.sub(r"[^a-z' ]", " ", text.lower()).split()


def word_accuracy(said: str, heard: str) -> float:
    """1 - word error rate (Levenshtein over words), floored at 0."""
    a, b = words(said), words(heard)
    row = list(range(len(b) + 1))
    for i, wa in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, wb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (wa != wb))
    return max(0.0, 1 - row[-1] / max(1, len(a)))


def transcribe(client: httpx.Client, audio: bytes, **form: str) -> httpx.Response:
    return client.post(
        "/v1/audio/transcriptions",
        files={"file": ("voice.ogg", audio, "audio/ogg")},
        data={"model": "whisper-1", **form},
    )


def corpus() -> set[str]:
    return {" ".join(words(line)) for line in CORPUS.read_text().splitlines()}


def test_synthesised_voice_notes_are_really_transcribed(stack: StackState) -> None:
    known = corpus()
    assert all(" ".join(words(t)) in known for t, _ in IN_CORPUS)
    assert not any(" ".join(words(t)) in known for t, _ in NEW)
    scores: dict[str, list[float]] = {"in the corpus": [], "new": []}
    latencies = []
    with httpx.Client(base_url=stack.url("stt"), timeout=60) as client:
        for group, phrases in (("in the corpus", IN_CORPUS), ("new", NEW)):
            for text, voice in phrases:
                audio = speak(text, voice)
                began = time.perf_counter()
                r = transcribe(client, audio)
                latencies.append(time.perf_counter() - began)
                assert r.status_code == 200, r.text
                heard = r.json()["text"]
                scores[group].append(word_accuracy(text, heard))
                print(f"\n  {text!r} ({voice}) -> {heard!r}")
    ordered = sorted(latencies)
    p50 = ordered[len(ordered) // 2]
    print(
        f"\nstt: word accuracy {mean(scores['in the corpus']):.0%} on "
        f"{len(IN_CORPUS)} corpus sentences, {mean(scores['new']):.0%} on {len(NEW)} new "
        f"ones; latency per voice note p50 {p50 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"
    )
    assert mean(scores["in the corpus"]) >= 0.9
    assert mean(scores["new"]) >= 0.6


def test_silence_gives_an_empty_transcription(stack: StackState) -> None:
    with httpx.Client(base_url=stack.url("stt"), timeout=60) as client:
        r = transcribe(client, silence())
    assert r.status_code == 200 and r.json()["text"] == ""


def test_formats_and_errors_follow_the_openai_api(stack: StackState) -> None:
    audio = speak("hello")
    with httpx.Client(base_url=stack.url("stt"), timeout=60) as client:
        text = transcribe(client, audio, response_format="text")
        assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
        verbose = transcribe(client, audio, response_format="verbose_json").json()
        assert verbose["duration"] > 0 and verbose["task"] == "transcribe"
        for response, status in (
            (transcribe(client, b"not audio at all"), 400),
            (transcribe(client, audio, language="es"), 400),
            (transcribe(client, audio, response_format="srt"), 400),
            (client.post("/v1/audio/transcriptions", files={"model": (None, "x")}), 400),
            (client.post("/v1/audio/transcriptions", json={"file": "x"}), 415),
        ):
            assert response.status_code == status, response.text
            error = response.json()["error"]
            assert error["message"] and error["type"] == "invalid_request_error"
        assert client.get("/v1/models").json()["data"][0]["id"]
