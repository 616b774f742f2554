"""The PMS simulator's FastAPI app: a QloApps-like REST API over the in-memory hotel.

Everything under ``/api/v1``, ``/_admin`` and ``GET /graph/_sent`` needs the
``X-API-Key`` header; ``/health`` and the Graph send endpoint (which checks its own
Bearer token) do not. The simulator injects no faults: the fault proxy does that.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from chaos.pms_simulator.catalog import CURRENCY
from chaos.pms_simulator.graph import Recorder, graph_router
from chaos.pms_simulator.hotel import Hotel, HotelError, nights_of
from chaos.pms_simulator.schemas import (
    AvailabilityOut,
    BookingIn,
    BookingOut,
    LateCheckoutOut,
    RoomTypesOut,
    booking_out,
    late_checkout_out,
    offer_out,
    room_type_out,
)

PROTECTED_PREFIXES = ("/api/", "/_admin/", "/graph/_sent", "/graph/_upload")
BookingId = Annotated[str, Path(min_length=1, max_length=32)]


class APIKeyMiddleware:
    """Answers 401 before any parsing when a protected path lacks the right X-API-Key."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self._key = api_key.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(PROTECTED_PREFIXES):
            supplied = dict(scope["headers"]).get(b"x-api-key", b"")
            if not hmac.compare_digest(supplied, self._key):
                response = JSONResponse(
                    {"detail": "missing or invalid X-API-Key header"}, status_code=401
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(
    api_key: str, today: date | None = None, *, whatsapp_token: str | None = None
) -> FastAPI:
    """Build a simulator; ``today`` pins the calendar (default: the real date, each call)."""
    if not api_key:
        raise ValueError("the PMS simulator needs a non-empty API key")
    today_fn: Callable[[], date] = (lambda: today) if today is not None else date.today
    hotel = Hotel(today_fn)
    recorder = Recorder()

    app = FastAPI(title="PMS simulator", version="1.0", docs_url=None, redoc_url=None)
    app.state.hotel = hotel
    app.state.recorder = recorder
    app.add_middleware(APIKeyMiddleware, api_key=api_key)
    app.include_router(graph_router(recorder, whatsapp_token))

    @app.exception_handler(HotelError)
    async def hotel_error(_request: Request, exc: HotelError) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, _exc: Exception) -> JSONResponse:
        # Never leak a traceback to the client; uvicorn still logs it.
        return JSONResponse({"detail": "internal error"}, status_code=500)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness and a little state, without authentication."""
        return {
            "status": "ok",
            "today": hotel.today().isoformat(),
            "rooms": sum(len(rt.rooms) for rt in hotel.room_types()),
            "bookings": hotel.booking_count(),
        }

    @app.get("/api/v1/room-types")
    async def room_types() -> RoomTypesOut:
        """Every room type with names, capacity, amenities and base rate."""
        return RoomTypesOut(room_types=[room_type_out(rt) for rt in hotel.room_types()])

    @app.get("/api/v1/availability")
    async def availability(
        check_in: date,
        check_out: date,
        guests: Annotated[int, Query(ge=1, le=10)],
        room_type: Annotated[str | None, Query(pattern=r"^[a-z0-9_-]{1,32}$")] = None,
    ) -> AvailabilityOut:
        """Free rooms and prices per room type that holds ``guests``."""
        offers = hotel.availability(check_in, check_out, guests, room_type)
        return AvailabilityOut(
            check_in=check_in,
            check_out=check_out,
            nights=len(nights_of(check_in, check_out)),
            guests=guests,
            currency=CURRENCY,
            offers=[offer_out(o) for o in offers],
        )

    @app.post("/api/v1/bookings", status_code=201)
    async def create_booking(
        body: BookingIn,
        response: Response,
        idempotency_key: Annotated[
            str | None, Header(alias="Idempotency-Key", min_length=1, max_length=128)
        ] = None,
    ) -> BookingOut:
        """Book a room; a repeated Idempotency-Key returns the first booking again."""
        booking, replayed = hotel.book(
            room_type=body.room_type,
            check_in=body.check_in,
            check_out=body.check_out,
            guests=body.guests,
            guest_name=body.guest_name,
            guest_id=body.guest_id,
            idempotency_key=idempotency_key,
        )
        if replayed:
            response.headers["Idempotent-Replayed"] = "true"
        return booking_out(booking)

    @app.get("/api/v1/bookings/{booking_id}")
    async def get_booking(booking_id: BookingId) -> BookingOut:
        """One booking, or 404."""
        return booking_out(hotel.booking(booking_id))

    @app.get("/api/v1/bookings/{booking_id}/late-checkout")
    async def late_checkout_quote(booking_id: BookingId) -> LateCheckoutOut:
        """Whether checkout can move to 14:00, and the fee (50 % of the last night)."""
        return late_checkout_out(hotel.late_checkout_quote(booking_id))

    @app.post("/api/v1/bookings/{booking_id}/late-checkout")
    async def confirm_late_checkout(booking_id: BookingId) -> LateCheckoutOut:
        """Confirm the late checkout (idempotent); 409 if the room has an arrival that day."""
        return late_checkout_out(hotel.confirm_late_checkout(booking_id))

    @app.post("/_admin/reset")
    async def reset() -> dict[str, int]:
        """Forget every booking and recorded WhatsApp message (for tests)."""
        return {"bookings_cleared": hotel.reset(), "messages_cleared": recorder.clear()}

    return app
