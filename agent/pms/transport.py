"""The PMS over HTTP: timeouts, retries and the "pms" breaker; the uncached calls.

Each HTTP attempt runs under the breaker and is observed in ``pms_api_latency_seconds``.
Transient failures (connect errors, timeouts, 5xx) are retried with back-off; a 4xx is
raised at once as PMSRejected/PMSNotFound and does not count against the breaker (the
PMS answered). Every other failure, including an open breaker, surfaces as
PMSUnavailable. ``PMSClient`` (agent/pms/client.py) adds the cache on top.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import pybreaker
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError

from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.metrics import AgentMetrics
from agent.pms.models import Booking, LateCheckoutQuote
from agent.resilience import BreakerOpen, RetryPolicy, guarded, make_breaker
from agent.settings import PMSSettings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]

log = structlog.get_logger("agent.pms")

_BOOKING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class _ServerError(Exception):
    """A 5xx answer: the PMS is in trouble, so the attempt failed."""

    def __init__(self, status_code: int) -> None:
        super().__init__(f"PMS answered {status_code}")
        self.status_code = status_code


def is_transient(exc: BaseException) -> bool:
    """Whether a failed attempt is worth retrying: connect errors, timeouts and 5xx."""
    return isinstance(exc, httpx.TransportError | TimeoutError | _ServerError)


def _outcome_of(exc: BaseException) -> str:
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect_error"
    return "transport_error"


def _status_outcome(status_code: int) -> str:
    if status_code >= 500:
        return "server_error"
    if status_code >= 400:
        return "rejected"
    return "success"


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(str(item.get("msg", item)) for item in detail[:3] if item is not None)
    return str(detail)[:200]


class PMSTransport:
    """HTTP to the PMS with the breaker and retry policies; no cache."""

    def __init__(
        self,
        settings: PMSSettings,
        metrics: AgentMetrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._metrics = metrics
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.AsyncClient(
            base_url=settings.base_url.rstrip("/"),
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s),
            headers={
                "X-API-Key": settings.api_key.get_secret_value(),
                "Accept": "application/json",
            },
            transport=transport,
            # Proxy variables in the environment must not reroute PMS traffic.
            trust_env=False,
        )
        # httpx times each phase separately; this bounds one whole attempt, so a
        # trickling response cannot hold a caller for longer than the settings say.
        self._attempt_budget_s = settings.timeout_s + settings.connect_timeout_s
        self.breaker: pybreaker.CircuitBreaker = make_breaker(
            "pms", settings.breaker, metrics, clock=clock
        )
        self._policies: dict[str, RetryPolicy] = {}

    async def aclose(self) -> None:
        """Close the HTTP connection pool."""
        await self._http.aclose()

    async def get_booking(self, booking_id: str) -> Booking:
        """One booking; PMSNotFound if the PMS has none with that id."""
        response = await self._send("get_booking", "GET", self._booking_path(booking_id))
        return self._parse_model(Booking, response, "get_booking")

    async def late_checkout_quote(self, booking_id: str) -> LateCheckoutQuote:
        """Whether checkout can move to the late time, and the fee."""
        path = self._booking_path(booking_id) + "/late-checkout"
        response = await self._send("late_checkout_quote", "GET", path)
        return self._parse_model(LateCheckoutQuote, response, "late_checkout_quote")

    async def confirm_late_checkout(self, booking_id: str) -> LateCheckoutQuote:
        """Confirm the late checkout (idempotent); PMSRejected 409 if no longer possible."""
        path = self._booking_path(booking_id) + "/late-checkout"
        response = await self._send("confirm_late_checkout", "POST", path)
        return self._parse_model(LateCheckoutQuote, response, "confirm_late_checkout")

    async def ping(self) -> bool:
        """One health request, bypassing breaker and retries; True when the PMS answers 200."""
        start = self._clock()
        outcome = "success"
        try:
            async with asyncio.timeout(self._attempt_budget_s):
                response = await self._http.get("/health")
            outcome = _status_outcome(response.status_code)
            return response.status_code == 200
        except (httpx.HTTPError, TimeoutError) as exc:
            outcome = _outcome_of(exc)
            return False
        finally:
            self._observe("ping", outcome, start)

    def _booking_path(self, booking_id: str) -> str:
        if not _BOOKING_ID.match(booking_id):
            # Such an id cannot exist; refusing it here also keeps it out of the URL path.
            raise PMSNotFound(404, "malformed booking id")
        return f"/api/v1/bookings/{booking_id}"

    def _policy(self, operation: str) -> RetryPolicy:
        policy = self._policies.get(operation)
        if policy is None:
            policy = RetryPolicy(
                f"pms.{operation}",
                self._settings.retry,
                self._metrics,
                retry_on=is_transient,
                sleep=self._sleep,
            )
            self._policies[operation] = policy
        return policy

    def _observe(self, operation: str, outcome: str, start: float) -> None:
        elapsed = max(0.0, self._clock() - start)
        self._metrics.pms_latency.labels(operation=operation, outcome=outcome).observe(elapsed)

    async def _attempt(
        self, operation: str, method: str, path: str, kwargs: dict[str, Any]
    ) -> httpx.Response:
        start = self._clock()
        outcome = "error"
        try:
            async with asyncio.timeout(self._attempt_budget_s):
                response = await self._http.request(method, path, **kwargs)
            outcome = _status_outcome(response.status_code)
        except (httpx.HTTPError, TimeoutError) as exc:
            outcome = _outcome_of(exc)
            raise
        finally:
            self._observe(operation, outcome, start)
        if response.status_code >= 500:
            raise _ServerError(response.status_code)
        return response

    async def _send(
        self, operation: str, method: str, path: str, *, retry: bool = True, **kwargs: Any
    ) -> httpx.Response:
        """One logical call: retried attempts under the breaker; 2xx or an exception."""
        try:
            if retry:
                response = await self._policy(operation).call(
                    guarded, self.breaker, self._attempt, operation, method, path, kwargs
                )
            else:
                response = await guarded(
                    self.breaker, self._attempt, operation, method, path, kwargs
                )
        except BreakerOpen as exc:
            raise PMSUnavailable(f"PMS {operation}: circuit breaker open") from exc
        except (httpx.HTTPError, TimeoutError, _ServerError) as exc:
            log.warning("pms.unavailable", operation=operation, error=type(exc).__name__)
            raise PMSUnavailable(f"PMS {operation} failed: {type(exc).__name__}") from exc
        if response.status_code == 404:
            raise PMSNotFound(404, _detail(response))
        if response.status_code >= 400:
            raise PMSRejected(response.status_code, _detail(response))
        return response

    async def _get_json(
        self,
        operation: str,
        path: str,
        params: dict[str, str | int] | None = None,
        *,
        retry: bool = True,
    ) -> dict[str, Any]:
        response = await self._send(operation, "GET", path, retry=retry, params=params)
        try:
            data = response.json()
        except ValueError as exc:
            raise PMSUnavailable(f"PMS {operation}: response is not JSON") from exc
        if not isinstance(data, dict):
            raise PMSUnavailable(f"PMS {operation}: unexpected response shape")
        return data

    def _parse(self, adapter: TypeAdapter[T], data: Any, operation: str) -> T:
        try:
            return adapter.validate_python(data)
        except ValidationError as exc:
            raise PMSUnavailable(f"PMS {operation}: malformed response") from exc

    def _parse_model(self, model: type[M], response: httpx.Response, operation: str) -> M:
        try:
            return model.model_validate_json(response.content)
        except ValidationError as exc:
            raise PMSUnavailable(f"PMS {operation}: malformed response") from exc
