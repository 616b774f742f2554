"""Alerts to humans through the Alertmanager API v2, off the reply path.

``fire`` never blocks: it applies the cooldown for its key and schedules the POST in a
background task with the retry policy. The cooldown is per key, so one guest's
escalation never silences another's (the original keyed it by alert type and level).
Alert labels never carry guest ids: keys may contain them, and a key reaches
Alertmanager only as a salted digest (label ``alert_key``), which keeps two guests'
alerts apart without revealing who they are. Use ``guest_alert_key`` to build keys.

A send that still fails after its retries releases the key's cooldown, so the next
occurrence tries again instead of being suppressed for a failure nobody saw.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog

from agent.metrics import AgentMetrics
from agent.resilience import RetryPolicy
from agent.resilience.retry import Sleep
from agent.settings import AlertSettings

log = structlog.get_logger(__name__)

ALERTS_PATH = "/api/v2/alerts"
SERVICE_LABEL = "hotel-agent"
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# Label names that would carry a person's raw identity into Alertmanager (and its
# receivers); ``alert_key`` is ours. A hashed reference under another name (the
# orchestrator's ``guest``) is allowed.
FORBIDDEN_LABELS = frozenset(
    {
        "guest_id",
        "session_id",
        "phone",
        "email",
        "user_id",
        "reservation_id",
        "booking_id",
        "alert_key",
    }
)
MAX_IN_FLIGHT = 256
SHUTDOWN_GRACE_S = 5.0
# One salt per process: digests are stable for a run (cooldown keys live in memory only)
# and cannot be reversed by hashing a list of phone numbers.
_SALT = os.urandom(16)


BREAKER_DEPENDENCY = {"audit": "postgres", "pms": "pms"}


def digest(value: str) -> str:
    """A short salted digest of ``value`` (stable within this process)."""
    return hashlib.blake2b(value.encode(), key=_SALT, digest_size=8).hexdigest()


def guest_alert_key(kind: str, guest_id: str) -> str:
    """A cooldown key for one guest's alert of ``kind``, with the guest id hashed."""
    return f"{kind}:{digest(guest_id)}"


class AlertRejected(Exception):
    """Alertmanager refused the alert (4xx): retrying will not help."""


class AlertRetryable(Exception):
    """Alertmanager answered 429 or 5xx."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | AlertRetryable)


class AlertService:
    """Posts alerts to Alertmanager with a per-key cooldown and background retries."""

    def __init__(
        self,
        settings: AlertSettings,
        metrics: AgentMetrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.settings = settings
        self._metrics = metrics
        self._clock = clock
        self.enabled = bool(settings.alertmanager_url.strip())
        self._client: httpx.AsyncClient | None = None
        if self.enabled:
            self._client = httpx.AsyncClient(
                base_url=settings.alertmanager_url.rstrip("/"),
                timeout=settings.timeout_s,
                transport=transport,
            )
        self._retry = RetryPolicy(
            "alerts.send", settings.retry, metrics, retry_on=_retryable, sleep=sleep
        )
        self._last_fired: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._warned_disabled = False

    def fire(
        self,
        key: str,
        *,
        alertname: str,
        severity: str,
        summary: str,
        labels: dict[str, str] | None = None,
    ) -> bool:
        """Schedule an alert unless ``key`` fired within the cooldown; True if scheduled.

        Must be called from the event loop. Raises ``ValueError`` for label names that
        are invalid or could identify a person.
        """
        extra = dict(labels or {})
        for name in extra:
            if not LABEL_NAME_RE.match(name) or name.lower() in FORBIDDEN_LABELS:
                raise ValueError(f"label {name!r} is not allowed on alerts")
        if not self.enabled:
            if not self._warned_disabled:
                log.info("alerts_disabled", reason="AGENT_ALERTS__ALERTMANAGER_URL is empty")
                self._warned_disabled = True
            return False
        now = self._clock()
        last = self._last_fired.get(key)
        if last is not None and now - last < self.settings.cooldown_s:
            self._metrics.alerts_sent.labels(outcome="suppressed").inc()
            return False
        if len(self._tasks) >= MAX_IN_FLIGHT:
            log.error("alert_dropped", alertname=alertname, reason="too many alerts in flight")
            self._metrics.alerts_sent.labels(outcome="failed").inc()
            return False
        self._last_fired[key] = now
        self._prune(now)
        alert = {
            "labels": {
                **extra,
                "alertname": alertname,
                "severity": severity,
                "service": SERVICE_LABEL,
                "alert_key": digest(key),
            },
            "annotations": {"summary": summary},
            "startsAt": datetime.now(UTC).isoformat(),
        }
        task = asyncio.get_running_loop().create_task(self._send(key, now, alert))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def escalation(self, guest_id: str, *, reason: str, summary: str) -> bool:
        """Tell staff a guest needs a human (cooldown per guest and reason)."""
        return self.fire(
            guest_alert_key(f"escalation:{reason}", guest_id),
            alertname="GuestEscalation",
            severity="critical",
            summary=summary,
            labels={"reason": reason},
        )

    def breaker_opened(self, breaker: str) -> None:
        """Listener callback (``OnOpen``): a circuit breaker opened.

        Named apart from the Prometheus rule ``CircuitBreakerOpen`` (which fires a minute
        later from metrics) and labelled with its dependency, so Alertmanager's
        "dependency down" inhibition mutes it too.
        """
        self.fire(
            f"breaker:{breaker}",
            alertname="AgentBreakerOpened",
            severity="warning",
            summary=f"The {breaker} circuit breaker opened",
            labels={
                "breaker": breaker,
                "source": "agent",
                "dependency": BREAKER_DEPENDENCY.get(breaker, breaker),
            },
        )

    def audit_fallback_active(self) -> None:
        """``AuditLog(on_fallback=...)`` callback: audit events are going to the file."""
        self.fire(
            "audit:fallback",
            alertname="AgentAuditFallback",
            severity="warning",
            summary="Audit events are being written to the fallback file",
            labels={"source": "agent", "dependency": "postgres"},
        )

    async def _send(self, key: str, fired_at: float, alert: dict[str, Any]) -> None:
        try:
            await self._retry.call(self._post, alert)
        except Exception as exc:
            log.error(
                "alert_failed",
                alertname=alert["labels"]["alertname"],
                error=type(exc).__name__,
                detail=str(exc)[:200],
            )
            self._metrics.alerts_sent.labels(outcome="failed").inc()
            # Let the next occurrence try again, unless a newer one already fired.
            if self._last_fired.get(key) == fired_at:
                del self._last_fired[key]
        else:
            self._metrics.alerts_sent.labels(outcome="sent").inc()
            log.info("alert_sent", alertname=alert["labels"]["alertname"])

    async def _post(self, alert: dict[str, Any]) -> None:
        assert self._client is not None
        response = await self._client.post(ALERTS_PATH, json=[alert])
        if response.status_code == 429 or response.status_code >= 500:
            raise AlertRetryable(f"Alertmanager answered {response.status_code}")
        if response.status_code >= 400:
            raise AlertRejected(
                f"Alertmanager answered {response.status_code}: {response.text[:200]}"
            )

    def _prune(self, now: float) -> None:
        if len(self._last_fired) > 1024:
            cutoff = now - self.settings.cooldown_s
            self._last_fired = {k: t for k, t in self._last_fired.items() if t >= cutoff}

    @property
    def in_flight(self) -> int:
        """Alerts scheduled and not yet sent or given up."""
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait until every scheduled alert is sent or given up."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Give pending alerts a short grace, cancel the rest (counted failed), close."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(SHUTDOWN_GRACE_S):
                    await self.drain()
        for task in list(self._tasks):
            task.cancel()
            self._metrics.alerts_sent.labels(outcome="failed").inc()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
