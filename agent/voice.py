"""Voice notes: downloaded through the Graph media API and transcribed by an
OpenAI-compatible ``POST /v1/audio/transcriptions`` server.

Each attempt runs under the ``stt`` breaker with a deadline for the whole request (httpx's
timeout bounds each read, not the total); connection errors, 429 and 5xx are retried with
back-off, a timeout is not. Another 4xx is that note's fault (audio the server cannot
read), so it does not count against the breaker. Whatever fails (download, timeout,
outage, an open breaker, an empty transcription) yields no text and the reason, so the
guest is asked to type instead; it never raises.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Protocol

import httpx
import pybreaker
import structlog

from agent.dependencies import HTTPService
from agent.metrics import AgentMetrics
from agent.resilience import BreakerOpen, RetryPolicy, guarded, make_breaker
from agent.settings import STTSettings

log = structlog.get_logger(__name__)
EXTENSIONS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/mp4": "m4a", "audio/amr": "amr"}


class MediaSource(Protocol):
    async def download_media(self, media_id: str, max_bytes: int) -> tuple[bytes, str]: ...


@dataclass(frozen=True)
class Transcription:
    """The text heard (empty when none), how it ended, and how long it took."""

    text: str
    outcome: str  # ok, empty, timeout, error, breaker_open, download_failed, disabled
    seconds: float = 0.0

    def audit(self) -> dict[str, object]:
        """What the audit event keeps of it."""
        kept: dict[str, object] = {"outcome": self.outcome, "seconds": round(self.seconds, 3)}
        if self.text:
            kept["transcription"] = self.text[:1000]
        return kept


class ServerError(Exception):
    """The server answered 429 or 5xx."""


def transient(exc: BaseException) -> bool:
    """Worth another attempt: the server was unreachable or said it is overloaded."""
    return isinstance(exc, ServerError | httpx.TransportError) and not isinstance(
        exc, httpx.TimeoutException
    )


def rejected_note(exc: BaseException) -> bool:
    """A 4xx other than 429: the server works, this note's audio or form did not."""
    return isinstance(exc, httpx.HTTPStatusError) and exc.response.status_code < 500


class Transcriber(HTTPService):
    """Speech to text with a timeout, retries, a breaker and metrics."""

    def __init__(
        self,
        settings: STTSettings,
        metrics: AgentMetrics,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        headers = {}
        if settings.api_key.get_secret_value():
            headers["Authorization"] = f"Bearer {settings.api_key.get_secret_value()}"
        super().__init__(settings.url, settings.timeout_s, transport, headers)
        self._settings = settings
        self._metrics = metrics
        self.breaker: pybreaker.CircuitBreaker = make_breaker(
            "stt", settings.breaker, metrics, exclude=[rejected_note]
        )
        self._policy = RetryPolicy("stt.transcribe", settings.retry, metrics, retry_on=transient)

    async def _post(self, audio: bytes, mime: str) -> str:
        name = f"voice.{EXTENSIONS.get(mime.split(';')[0].strip(), 'ogg')}"
        data = {"model": self._settings.model, "response_format": "json"}
        if self._settings.language:
            data["language"] = self._settings.language
        async with asyncio.timeout(self._settings.timeout_s):
            response = await self._client.post(
                "/v1/audio/transcriptions", files={"file": (name, audio, mime)}, data=data
            )
        if response.status_code == 429 or response.status_code >= 500:
            raise ServerError(f"HTTP {response.status_code}")
        response.raise_for_status()
        return str(response.json().get("text") or "").strip()

    async def transcribe(self, audio: bytes, mime: str) -> Transcription:
        """The text heard in ``audio``; never raises for a server failure."""
        started = time.perf_counter()
        try:
            text = await self._policy.call(guarded, self.breaker, self._post, audio, mime)
        except BreakerOpen:
            return self._done("breaker_open", "", started)
        except (httpx.TimeoutException, TimeoutError):
            return self._done("timeout", "", started)
        except (httpx.HTTPError, ServerError, ValueError) as exc:
            log.warning("stt_failed", error=type(exc).__name__)
            return self._done("error", "", started)
        return self._done("ok" if text else "empty", text, started)

    def _done(self, outcome: str, text: str, started: float) -> Transcription:
        seconds = time.perf_counter() - started
        self._metrics.stt_requests.labels(outcome=outcome).inc()
        self._metrics.stt_latency.labels(outcome=outcome).observe(seconds)
        return Transcription(text, outcome, seconds)


class VoiceNotes:
    """A voice note's text: downloaded from Graph, then transcribed."""

    def __init__(self, media: MediaSource, transcriber: Transcriber | None, max_bytes: int):
        self._media = media
        self._transcriber = transcriber
        self._max_bytes = max_bytes

    async def hear(self, media_id: str | None) -> Transcription:
        """The voice note's text, or why there is none."""
        if self._transcriber is None:
            return Transcription("", "disabled")
        if not media_id:
            return Transcription("", "download_failed")
        started = time.perf_counter()
        try:
            audio, mime = await self._media.download_media(media_id, self._max_bytes)
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
            log.warning("voice_download_failed", error=type(exc).__name__)
            return Transcription("", "download_failed", time.perf_counter() - started)
        return await self._transcriber.transcribe(audio, mime)
