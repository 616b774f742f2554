"""Availability per night, composed into any stay without asking the PMS.

The warmer (``PMSClient.refresh_ahead``) keeps one entry per night, the PMS's answer for
the one-night stay ``[night, night + 1)`` for one guest (every room type), fresh in Redis.
A stay's offers are then composed from its nights: rates are the nightly rates, the free
count of a room type is the number of its rooms free on every night.

That count is exact only when it can be proved from per-night counts: when a night has
none free (the answer is 0), or when at most one night of the stay has any room of the
type taken (then the taken rooms are those of that night). Otherwise a room taken on one
night and another taken on the next cannot be told from one room taken on both, so the
composition refuses and the lookup falls back to the stay's own entry (or the PMS).
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from agent.pms.models import RoomOffer, RoomType

_NIGHT_PREFIX = "pms:night:"
_STALE_NIGHT_PREFIX = "pms:stale:night:"


class NightEntry(BaseModel):
    """One night's offers and when they were fetched (epoch seconds), for refresh-ahead."""

    model_config = ConfigDict(frozen=True)

    at: float
    offers: tuple[RoomOffer, ...]


NIGHT_ENTRY = TypeAdapter(NightEntry)
ROOM_TYPES = TypeAdapter(tuple[RoomType, ...])

# Cache values read in the request's first Redis round trip, by key (None = absent).
PREFETCHED: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "pms_prefetched", default=None
)


def night_key(night: date) -> str:
    return _NIGHT_PREFIX + night.isoformat()


def stale_night_key(night: date) -> str:
    return _STALE_NIGHT_PREFIX + night.isoformat()


def stay_nights(check_in: date, check_out: date) -> list[date]:
    return [check_in + timedelta(days=i) for i in range((check_out - check_in).days)]


class _Decoded:
    """Decoded values by their exact bytes: an entry is read on every message but changes
    only when refreshed, so validating it again would redo the same work. Values are
    immutable models; the map is bounded."""

    def __init__(self, limit: int = 1024) -> None:
        self._limit = limit
        self._values: dict[bytes | str, Any] = {}

    def get(self, raw: bytes | str, adapter: TypeAdapter[Any]) -> Any:
        value = self._values.get(raw)
        if value is None:
            try:
                value = adapter.validate_json(raw)
            except ValidationError:
                return None
            if len(self._values) >= self._limit:
                self._values.clear()
            self._values[raw] = value
        return value


_DECODED = _Decoded()


def decode_night(raw: bytes | str | None) -> NightEntry | None:
    return None if raw is None else _DECODED.get(raw, NIGHT_ENTRY)


def decode_room_types(raw: bytes | str | None) -> tuple[RoomType, ...] | None:
    return None if raw is None else _DECODED.get(raw, ROOM_TYPES)


def compose(
    nights: Sequence[Sequence[RoomOffer]], rooms: Mapping[str, int | None]
) -> list[RoomOffer] | None:
    """The stay's offers for one guest, or None when the nights cannot prove them."""
    if not nights:
        return None
    by_type = [{o.room_type: o for o in night} for night in nights]
    composed = []
    for offer in nights[0]:
        per_night = [night.get(offer.room_type) for night in by_type]
        if any(o is None for o in per_night):
            return None
        offers = [o for o in per_night if o is not None]
        free = [o.available for o in offers]
        available = min(free)
        if len(offers) > 1 and available > 0:
            total = rooms.get(offer.room_type)
            if total is None:
                return None
            taken = [total - f for f in free]
            if sum(taken) - max(taken) != 0:
                return None
        rates = tuple(rate for o in offers for rate in o.nightly_rates)
        composed.append(
            offer.model_copy(
                update={
                    "available": available,
                    "nights": len(offers),
                    "nightly_rates": rates,
                    "total": sum((r.rate for r in rates), Decimal(0)),
                }
            )
        )
    return composed


def for_party(offers: Sequence[RoomOffer], guests: int, room_type: str | None) -> list[RoomOffer]:
    """What the PMS answers for ``guests`` (and one room type): types that hold them."""
    return [
        o
        for o in offers
        if o.capacity >= guests and (room_type is None or o.room_type == room_type)
    ]
