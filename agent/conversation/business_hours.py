"""Business hours in the hotel's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from agent.settings import HotelSettings


def is_business_hours(now: datetime, hotel: HotelSettings) -> bool:
    """True when ``now`` (any aware datetime) falls inside the hotel's opening hours."""
    local = now.astimezone(ZoneInfo(hotel.timezone))
    return hotel.business_open_hour <= local.hour < hotel.business_close_hour
