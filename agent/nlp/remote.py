"""Where the agent gets its analysis: the NLU service over HTTP, or the rules in-process.

``RemoteNLU`` calls the service (``POST /model/parse``) with a timeout under the ``nlp``
breaker; when the service is slow, down, answers an error or an answer without the
Rasa shape, or the breaker is open, the in-process rules answer instead and the reply
is marked degraded (``nlu_fallbacks_total{reason}``). ``LocalNLU`` is the rules alone.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import httpx
import pybreaker
import structlog

from agent.dependencies import HTTPService
from agent.metrics import AgentMetrics
from agent.nlp.engine import analyze
from agent.nlp.models import Analysis
from agent.nlp.rasa import NLUShapeError, from_rasa
from agent.resilience import BreakerOpen, guarded, make_breaker
from agent.settings import NLPSettings

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Understood:
    analysis: Analysis
    degraded: bool = False


class LocalNLU:
    """The rules, in this process."""

    async def analyze(self, text: str, *, today: date, language: str | None) -> Understood:
        return Understood(analyze(text, today=today, language=language))

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


class RemoteNLU(HTTPService):
    """The NLU service, with the rules in-process as its fallback."""

    def __init__(
        self,
        settings: NLPSettings,
        metrics: AgentMetrics,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(settings.url, settings.timeout_s, transport)
        self._metrics = metrics
        self.breaker: pybreaker.CircuitBreaker = make_breaker("nlp", settings.breaker, metrics)

    async def _parse(self, text: str, today: date, language: str | None) -> Analysis:
        body = {"text": text, "language": language, "reference_date": today.isoformat()}
        response = await self._client.post("/model/parse", json=body)
        response.raise_for_status()
        return from_rasa(response.json(), text, language or "es")

    async def analyze(self, text: str, *, today: date, language: str | None) -> Understood:
        started = time.perf_counter()
        try:
            analysis = await guarded(self.breaker, self._parse, text, today, language)
        except BreakerOpen:
            return self._fallback("breaker_open", text, today, language, started)
        except httpx.TimeoutException:
            return self._fallback("timeout", text, today, language, started)
        except (httpx.HTTPError, NLUShapeError, ValueError) as exc:
            log.warning("nlu_failed", error=type(exc).__name__)
            return self._fallback("error", text, today, language, started)
        self._observe("ok", started)
        return Understood(analysis)

    def _observe(self, outcome: str, started: float) -> None:
        self._metrics.nlu_requests.labels(outcome=outcome).inc()
        self._metrics.nlu_latency.labels(outcome=outcome).observe(time.perf_counter() - started)

    def _fallback(
        self, reason: str, text: str, today: date, language: str | None, started: float
    ) -> Understood:
        self._observe(reason, started)
        self._metrics.nlu_fallbacks.labels(reason=reason).inc()
        return Understood(analyze(text, today=today, language=language), degraded=True)


def nlu_for(settings: NLPSettings, metrics: AgentMetrics) -> LocalNLU | RemoteNLU:
    """The service when ``settings.url`` names one, else the rules in-process."""
    return RemoteNLU(settings, metrics) if settings.url else LocalNLU()
