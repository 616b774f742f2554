"""Answers to WhatsApp messages that are not text: images, locations, reactions, voice
notes and anything else, in the guest's language when the session knows it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from agent.conversation.flows import Turn
from agent.conversation.templates import render
from agent.sessions import Session
from agent.settings import HotelSettings

EARTH_RADIUS_KM = 6371.0


@dataclass(frozen=True)
class Media:
    """A non-text message: ``kind`` as WhatsApp names it, and what the agent keeps of it."""

    kind: str
    details: dict[str, Any] = field(default_factory=dict)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def awaiting_payment(session: Session) -> dict[str, Any] | None:
    """The guest's latest booking still waiting for a payment receipt, if any."""
    bookings = session.context.get("bookings") or []
    return next((b for b in reversed(bookings) if b.get("payment") == "pending"), None)


def media_turn(session: Session, media: Media, hotel: HotelSettings) -> Turn:
    """The reply to a non-text message and the audit events it causes."""
    lang = session.language or "es"
    d = media.details
    if media.kind == "image":
        booking = awaiting_payment(session)
        if booking is not None:
            booking["payment"] = "proof_received"
            return Turn(
                render("payment_proof_received", lang, booking_id=booking["id"]),
                intent="payment_proof",
                escalated=True,
                alert="payment_proof",
                booking_id=booking["id"],
                events=[
                    (
                        "payment_proof",
                        {"booking_id": booking["id"], "media_id": d.get("media_id")},
                    )
                ],
            )
        return Turn(render("image_received", lang), intent="image")
    if media.kind == "location":
        lat, lon = d.get("latitude"), d.get("longitude")
        if isinstance(lat, float) and isinstance(lon, float) and abs(lat) <= 90 and abs(lon) <= 180:
            km = distance_km(lat, lon, hotel.latitude, hotel.longitude)
            values = {"address": hotel.address, "lat": hotel.latitude, "lon": hotel.longitude}
            text = render("location_received", lang, km=f"{km:,.1f}", **values)
            return Turn(text, intent="shared_location", events=[("location", {"km": round(km, 1)})])
        return Turn(render("unsupported_type", lang), intent="shared_location")
    if media.kind == "reaction":
        return Turn(render("reaction_received", lang), intent="reaction")
    if media.kind == "audio":
        return Turn(render("voice_please_type", lang), intent="voice_note")
    return Turn(render("unsupported_type", lang), intent="unsupported_type")
