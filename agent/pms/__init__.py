"""The PMS adapter: an HTTP client with retries, a breaker and a Redis cache."""

from __future__ import annotations

from agent.pms.client import PMSClient
from agent.pms.models import Booking, LateCheckoutQuote, Localized, Lookup, RoomOffer, RoomType

__all__ = [
    "Booking",
    "LateCheckoutQuote",
    "Localized",
    "Lookup",
    "PMSClient",
    "RoomOffer",
    "RoomType",
]
