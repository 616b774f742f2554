"""The agent's PMS adapter: HTTP with timeouts, retries and the "pms" breaker, plus cache.

Each HTTP attempt runs under the breaker and is observed in ``pms_api_latency_seconds``.
Transient failures (connect errors, timeouts, 5xx) are retried with back-off; a 4xx is
raised at once as PMSRejected/PMSNotFound and does not count against the breaker (the
PMS answered). A 429 is the exception: the PMS asks this client to wait, so the call
fails as PMSUnavailable (a stale copy or a degraded reply, never "those dates are not
sold"), is not retried, and no call goes out until its Retry-After has passed. Every
other failure, including an open breaker, surfaces as PMSUnavailable. Room types and
availability are cached in Redis with a stale copy that is served while the PMS is
unavailable; bookings and late checkout are never cached.
"""

from __future__ import annotations

import asyncio
import email.utils
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any, NoReturn, TypeVar

import httpx
import pybreaker
import structlog
from pydantic import BaseModel, TypeAdapter, ValidationError
from redis.asyncio import Redis

from agent.exceptions import PMSNotFound, PMSRejected, PMSUnavailable
from agent.metrics import AgentMetrics
from agent.pms.cache import (
    ROOM_TYPES_KEY,
    PMSCache,
    SingleFlight,
    availability_key,
    nights_between,
    stale_key,
)
from agent.pms.models import Booking, LateCheckoutQuote, Lookup, RoomOffer, RoomType
from agent.resilience import BreakerOpen, RetryPolicy, guarded, make_breaker
from agent.settings import PMSSettings

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
Sleep = Callable[[float], Awaitable[None]]

log = structlog.get_logger("agent.pms")

_BOOKING_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROOM_TYPES = TypeAdapter(list[RoomType])
_OFFERS = TypeAdapter(list[RoomOffer])


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


def retry_after_s(value: str | None, default: float) -> float:
    """Seconds a Retry-After header asks for (delta-seconds or an HTTP date), else ``default``."""
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        return response.text[:200]
    if isinstance(detail, list):  # FastAPI validation errors
        return "; ".join(str(item.get("msg", item)) for item in detail[:3] if item is not None)
    return str(detail)[:200]


class PMSClient:
    """Async adapter for the hotel's PMS (the simulator's QloApps-like REST API)."""

    def __init__(
        self,
        settings: PMSSettings,
        metrics: AgentMetrics,
        redis: Redis | None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        cache_timeout_s: float = 0.25,
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
        self._cache = PMSCache(redis, timeout_s=cache_timeout_s)
        self._flights = SingleFlight()
        self._policies: dict[str, RetryPolicy] = {}
        # Bumped by every booking; a lookup that started before one does not cache as fresh.
        self._epoch = 0
        # No call goes out before this (clock time), after a 429's Retry-After.
        self._throttled_until = float("-inf")

    async def __aenter__(self) -> PMSClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP connection pool (the Redis client belongs to the caller)."""
        await self._http.aclose()

    # Lookups (cached)

    async def room_types(self) -> Lookup[list[RoomType]]:
        """Every room type, from Redis when fresh, else the PMS, else the stale copy."""

        async def fetch() -> list[RoomType]:
            data = await self._get_json("room_types", "/api/v1/room-types")
            return self._parse(_ROOM_TYPES, data.get("room_types"), "room_types")

        return await self._lookup(
            "room_types",
            ROOM_TYPES_KEY,
            _ROOM_TYPES,
            fetch,
            ttl_s=self._settings.cache_room_types_ttl_s,
            nights=[],
        )

    async def availability(
        self, check_in: date, check_out: date, guests: int, room_type: str | None = None
    ) -> Lookup[list[RoomOffer]]:
        """Offers per room type for a stay, cached for a few minutes."""
        params: dict[str, str | int] = {
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
        }
        if room_type:
            params["room_type"] = room_type

        async def fetch() -> list[RoomOffer]:
            data = await self._get_json("availability", "/api/v1/availability", params=params)
            return self._parse(_OFFERS, data.get("offers"), "availability")

        return await self._lookup(
            "availability",
            availability_key(check_in, check_out, guests, room_type),
            _OFFERS,
            fetch,
            ttl_s=self._settings.cache_availability_ttl_s,
            nights=nights_between(check_in, check_out),
        )

    # Bookings and late checkout (never cached)

    async def create_booking(
        self,
        *,
        room_type: str,
        check_in: date,
        check_out: date,
        guests: int,
        guest_name: str,
        guest_id: str,
    ) -> Booking:
        """Book a room; raises PMSRejected with status 409 when none is free."""
        body = {
            "room_type": room_type,
            "check_in": check_in.isoformat(),
            "check_out": check_out.isoformat(),
            "guests": guests,
            "guest_name": guest_name,
            "guest_id": guest_id,
        }
        # One key for every retry of this booking, so the PMS books it at most once.
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        try:
            response = await self._send(
                "create_booking", "POST", "/api/v1/bookings", json=body, headers=headers
            )
        except PMSUnavailable:
            # The PMS may have booked before the answer was lost.
            await self._invalidate_availability(check_in, check_out)
            raise
        booking = self._parse_model(Booking, response, "create_booking")
        await self._invalidate_availability(booking.check_in, booking.check_out)
        return booking

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

    # Internals

    async def _lookup(
        self,
        kind: str,
        key: str,
        adapter: TypeAdapter[list[T]],
        fetch: Callable[[], Awaitable[list[T]]],
        *,
        ttl_s: int,
        nights: list[date],
    ) -> Lookup[list[T]]:
        cached = self._decode(adapter, await self._cache.get(key))
        if cached is not None:
            self._metrics.pms_cache_hits.labels(kind=kind).inc()
            return Lookup(cached, "cache")
        self._metrics.pms_cache_misses.labels(kind=kind).inc()

        async def fetch_and_store() -> list[T]:
            epoch = self._epoch
            value = await fetch()
            await self._cache.store(
                key,
                adapter.dump_json(value),
                ttl_s=ttl_s,
                stale_ttl_s=self._settings.cache_stale_ttl_s,
                nights=nights,
                fresh=epoch == self._epoch,
            )
            return value

        try:
            value = await self._flights.do(key, fetch_and_store)
        except PMSUnavailable:
            stale = self._decode(adapter, await self._cache.get(stale_key(key)))
            if stale is None:
                raise
            self._metrics.pms_cache_stale_served.inc()
            log.info("pms.stale_served", kind=kind)
            return Lookup(stale, "stale")
        # Each caller gets its own list; the single-flight result is shared.
        return Lookup(list(value), "pms")

    def _decode(self, adapter: TypeAdapter[list[T]], raw: bytes | str | None) -> list[T] | None:
        if raw is None:
            return None
        try:
            return adapter.validate_json(raw)
        except ValidationError:
            log.warning("pms.cache_entry_invalid")
            return None

    async def _invalidate_availability(self, check_in: date, check_out: date) -> None:
        self._epoch += 1
        await self._cache.invalidate_nights(nights_between(check_in, check_out))

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

    async def _send(self, operation: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One logical call: retried attempts under the breaker; 2xx or an exception."""
        if self._clock() < self._throttled_until:
            raise PMSUnavailable(f"PMS {operation}: waiting out a 429's Retry-After")
        try:
            response = await self._policy(operation).call(
                guarded, self.breaker, self._attempt, operation, method, path, kwargs
            )
        except BreakerOpen as exc:
            raise PMSUnavailable(f"PMS {operation}: circuit breaker open") from exc
        except (httpx.HTTPError, TimeoutError, _ServerError) as exc:
            log.warning("pms.unavailable", operation=operation, error=type(exc).__name__)
            raise PMSUnavailable(f"PMS {operation} failed: {type(exc).__name__}") from exc
        if response.status_code == 429:
            self._throttle(operation, response)
        if response.status_code == 404:
            raise PMSNotFound(404, _detail(response))
        if response.status_code >= 400:
            raise PMSRejected(response.status_code, _detail(response))
        return response

    def _throttle(self, operation: str, response: httpx.Response) -> NoReturn:
        """Hold every call for the 429's Retry-After, then fail this one as unavailable.

        Without the header the wait is the first retry back-off; it is capped at the
        breaker's reset timeout, so a bogus header cannot cut the PMS off for long.
        """
        wait = retry_after_s(
            response.headers.get("Retry-After"), self._settings.retry.backoff_base_s
        )
        wait = min(wait, self._settings.breaker.reset_timeout_s)
        self._throttled_until = max(self._throttled_until, self._clock() + wait)
        log.warning("pms.throttled", operation=operation, retry_after_s=wait)
        raise PMSUnavailable(f"PMS {operation}: throttled (429) for {wait:g} s")

    async def _get_json(
        self, operation: str, path: str, params: dict[str, str | int] | None = None
    ) -> dict[str, Any]:
        response = await self._send(operation, "GET", path, params=params)
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
