"""From what a guest calls a room ("doble", "twin", "con vista") to the PMS room type that
fits the party: each wish lists the types that match it, cheapest first, and the first
whose capacity holds the party wins."""

from __future__ import annotations

from collections.abc import Sequence

from agent.pms.models import RoomType

# Types matching each wish, in the order offered (the simulator's catalogue: standard has
# a double bed or two singles, superior a queen bed and a city view, deluxe a king bed
# and a balcony, the suite a separate living room).
WISHES: dict[str, tuple[str, ...]] = {
    "double": ("standard", "superior", "deluxe", "suite"),
    "twin": ("standard", "superior"),
    "single": ("standard",),
    "triple": ("superior", "deluxe", "suite"),
    "family": ("suite",),
    "view": ("superior", "deluxe", "suite"),
    "balcony": ("deluxe", "suite"),
    "king": ("deluxe", "suite"),
    "suite": ("suite",),
    "cheapest": ("standard", "superior", "deluxe", "suite"),
}
# The party a wish implies when the guest did not say how many they are.
WISH_PARTY = {"single": 1, "triple": 3, "family": 4}
# Capacities when the PMS cannot be asked (the simulator's catalogue).
DEFAULT_CAPACITY = {"standard": 2, "superior": 3, "deluxe": 3, "suite": 4}


def party_size(guests: int | None, wish: str | None, default: int = 2) -> int:
    """How many guests a request is for: as said, else as the wish implies."""
    if guests:
        return guests
    return WISH_PARTY.get(wish or "", default)


def capacities(types: Sequence[RoomType] | None) -> dict[str, int]:
    return {rt.slug: rt.capacity for rt in types} if types else dict(DEFAULT_CAPACITY)


def resolve(wish: str | None, guests: int, caps: dict[str, int]) -> str | None:
    """The room type for ``wish`` (or a type's own name) that holds ``guests``; the
    largest match when none does."""
    if wish in caps and wish not in WISHES:
        return wish
    if not wish or wish not in WISHES:
        return None
    matching = [t for t in WISHES[wish] if t in caps]
    fitting = [t for t in matching if caps[t] >= guests]
    if fitting:
        return fitting[0]
    return max(matching, key=lambda t: caps[t], default=None)


def fitting(guests: int, caps: dict[str, int]) -> list[str]:
    """Room types that hold ``guests``, cheapest first (the catalogue's order)."""
    return [t for t in DEFAULT_CAPACITY if caps.get(t, 0) >= guests] or list(caps)
