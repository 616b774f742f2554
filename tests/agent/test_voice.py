"""The speech-to-text client alone, against scripted servers: outcomes, retries, the
deadline, the ``stt`` breaker and the metrics its listeners export."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import httpx
import pytest

from agent.metrics import AgentMetrics
from agent.settings import BreakerSettings, RetrySettings, STTSettings
from agent.voice import Transcriber, VoiceNotes

Handler = Callable[[httpx.Request], httpx.Response]
NOTE = b"OggS fake voice note"


def stt(
    handler: Handler, metrics: AgentMetrics, *, fail_max: int = 5, timeout_s: float = 2.0
) -> Transcriber:
    settings = STTSettings(
        url="http://stt.test",
        api_key="sk-lab",  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        timeout_s=timeout_s,
        retry=RetrySettings(retries=2, backoff_base_s=0),
        breaker=BreakerSettings(fail_max=fail_max, reset_timeout_s=60),
    )
    return Transcriber(settings, metrics, transport=httpx.MockTransport(handler))


def value(metrics: AgentMetrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


async def test_a_transcription_is_posted_as_openai_expects_and_counted() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"text": " what time is check in "})

    metrics = AgentMetrics()
    heard = await stt(handler, metrics).transcribe(NOTE, "audio/ogg; codecs=opus")
    assert (heard.text, heard.outcome) == ("what time is check in", "ok")
    [request] = seen
    body = request.read()
    assert request.url.path == "/v1/audio/transcriptions"
    assert request.headers["authorization"] == "Bearer sk-lab"
    assert b'filename="voice.ogg"' in body and NOTE in body and b"whisper-1" in body
    assert value(metrics, "stt_requests_total", outcome="ok") == 1
    assert value(metrics, "stt_latency_seconds_count", outcome="ok") == 1
    assert heard.audit() == {
        "outcome": "ok",
        "seconds": round(heard.seconds, 3),
        "transcription": "what time is check in",
    }


async def test_an_empty_transcription_is_its_own_outcome() -> None:
    metrics = AgentMetrics()
    heard = await stt(lambda _: httpx.Response(200, json={"text": ""}), metrics).transcribe(
        NOTE, "audio/ogg"
    )
    assert (heard.text, heard.outcome) == ("", "empty")
    assert "transcription" not in heard.audit()


async def test_5xx_and_429_are_retried_and_a_rejected_note_is_not() -> None:
    answers = iter(
        [httpx.Response(503), httpx.Response(429), httpx.Response(200, json={"text": "hi"})]
    )
    metrics = AgentMetrics()
    assert (await stt(lambda _: next(answers), metrics).transcribe(NOTE, "audio/ogg")).text == "hi"
    assert (
        value(metrics, "retry_attempts_total", operation="stt.transcribe", outcome="success") == 1
    )

    calls = 0

    def bad_audio(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(400, json={"error": {"message": "could not decode the audio"}})

    client = stt(bad_audio, metrics, fail_max=1)
    assert (await client.transcribe(NOTE, "audio/ogg")).outcome == "error"
    # One try, and the server is not blamed for a note it could not read.
    assert calls == 1 and client.breaker.current_state == "closed"


async def test_a_slow_server_times_out_once_without_retries() -> None:
    calls = 0

    async def slow(_: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        await asyncio.sleep(5)
        return httpx.Response(200, json={"text": "late"})

    metrics = AgentMetrics()
    client = Transcriber(
        STTSettings(url="http://stt.test", timeout_s=0.2),
        metrics,
        transport=httpx.MockTransport(slow),
    )
    heard = await client.transcribe(NOTE, "audio/ogg")
    assert heard.outcome == "timeout" and 0.2 <= heard.seconds < 1.0 and calls == 1
    assert value(metrics, "stt_requests_total", outcome="timeout") == 1


async def test_async_failures_open_the_stt_breaker_and_the_listeners_export_it() -> None:
    calls = 0

    def down(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("connection refused", request=request)

    metrics = AgentMetrics()
    client = stt(down, metrics, fail_max=3)
    first = await client.transcribe(NOTE, "audio/ogg")  # 3 attempts: the third trips it
    assert first.outcome == "error" and calls == 3
    assert client.breaker.current_state == "open"
    second = await client.transcribe(NOTE, "audio/ogg")
    assert second.outcome == "breaker_open" and calls == 3  # the server is left alone
    assert value(metrics, "circuit_breaker_state", breaker="stt") == 1
    assert (
        value(
            metrics,
            "circuit_breaker_transitions_total",
            breaker="stt",
            from_state="closed",
            to_state="open",
        )
        == 1
    )
    assert value(metrics, "stt_requests_total", outcome="breaker_open") == 1


class Graph:
    """Graph's media download, scripted."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error

    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]:
        if self.error is not None:
            raise self.error
        return NOTE, "audio/ogg"


@pytest.mark.parametrize(
    ("graph", "media_id", "outcome"),
    [
        (Graph(), "123", "ok"),
        (Graph(), None, "download_failed"),
        (Graph(ValueError("media over the limit")), "123", "download_failed"),
        (Graph(httpx.ConnectError("refused")), "123", "download_failed"),
    ],
)
async def test_a_voice_note_is_downloaded_then_transcribed(
    graph: Graph, media_id: str | None, outcome: str
) -> None:
    client = stt(lambda _: httpx.Response(200, json={"text": "hello"}), AgentMetrics())
    heard = await VoiceNotes(graph, client, 1024).hear(media_id)
    assert heard.outcome == outcome and bool(heard.text) == (outcome == "ok")


async def test_without_a_server_voice_notes_are_not_transcribed() -> None:
    assert (await VoiceNotes(Graph(), None, 1024).hear("123")).outcome == "disabled"
