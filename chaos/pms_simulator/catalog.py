"""The simulated hotel's fixed catalogue and its deterministic nightly rates.

Rates depend only on the date and the room type: base rate x season x weekend, in
whole pesos rounded to the nearest 100. Integer arithmetic keeps every instance, on
every machine, quoting exactly the same price.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

CURRENCY = "ARS"
STANDARD_CHECKOUT = "12:00"
LATE_CHECKOUT = "14:00"
# The late-checkout fee as a percentage of the last night's rate.
LATE_CHECKOUT_FEE_PCT = 50
WEEKEND_PCT = 115  # Friday and Saturday nights

AMENITIES: dict[str, tuple[str, str]] = {
    "wifi": ("Wi-Fi", "Wi-Fi"),
    "air_conditioning": ("Aire acondicionado", "Air conditioning"),
    "tv": ("Smart TV", "Smart TV"),
    "safe": ("Caja fuerte", "In-room safe"),
    "minibar": ("Minibar", "Minibar"),
    "desk": ("Escritorio", "Work desk"),
    "coffee_machine": ("Cafetera", "Coffee machine"),
    "city_view": ("Vista a la ciudad", "City view"),
    "bathtub": ("Bañera", "Bathtub"),
    "balcony": ("Balcón", "Balcony"),
    "living_room": ("Living separado", "Separate living room"),
    "jacuzzi": ("Hidromasaje", "Jacuzzi"),
}


@dataclass(frozen=True)
class RoomType:
    """One sellable room class and the rooms that belong to it."""

    slug: str
    name_es: str
    name_en: str
    description_es: str
    description_en: str
    capacity: int
    size_m2: int
    base_rate: int
    amenities: tuple[str, ...]
    rooms: tuple[int, ...]


_BASIC = ("wifi", "air_conditioning", "tv", "safe")

ROOM_TYPES: tuple[RoomType, ...] = (
    RoomType(
        slug="standard",
        name_es="Habitación Estándar",
        name_en="Standard Room",
        description_es="Cama doble o dos individuales, baño privado con ducha.",
        description_en="Double bed or two singles, private bathroom with shower.",
        capacity=2,
        size_m2=22,
        base_rate=90_000,
        amenities=_BASIC,
        rooms=tuple(range(101, 113)),
    ),
    RoomType(
        slug="superior",
        name_es="Habitación Superior",
        name_en="Superior Room",
        description_es="Cama queen y sofá cama, escritorio y vista a la ciudad.",
        description_en="Queen bed and sofa bed, work desk and city view.",
        capacity=3,
        size_m2=28,
        base_rate=120_000,
        amenities=(*_BASIC, "minibar", "desk", "city_view"),
        rooms=tuple(range(201, 209)),
    ),
    RoomType(
        slug="deluxe",
        name_es="Habitación Deluxe",
        name_en="Deluxe Room",
        description_es="Cama king, bañera y balcón en piso alto.",
        description_en="King bed, bathtub and balcony on a high floor.",
        capacity=3,
        size_m2=36,
        base_rate=160_000,
        amenities=(*_BASIC, "minibar", "coffee_machine", "city_view", "bathtub", "balcony"),
        rooms=tuple(range(301, 307)),
    ),
    RoomType(
        slug="suite",
        name_es="Suite",
        name_en="Suite",
        description_es="Dormitorio con cama king y living separado con sofá cama.",
        description_en="King bedroom and a separate living room with sofa bed.",
        capacity=4,
        size_m2=55,
        base_rate=250_000,
        amenities=(
            *_BASIC,
            "minibar",
            "coffee_machine",
            "city_view",
            "bathtub",
            "balcony",
            "living_room",
            "jacuzzi",
        ),
        rooms=tuple(range(401, 405)),
    ),
)

ROOM_TYPES_BY_SLUG: dict[str, RoomType] = {rt.slug: rt for rt in ROOM_TYPES}


def season_of(night: date) -> tuple[str, int]:
    """The season a night falls in and its rate percentage (southern hemisphere)."""
    md = (night.month, night.day)
    if md >= (12, 20) or md <= (1, 6):
        return "holidays", 140
    if md <= (2, 29):
        return "summer", 120
    if (7, 10) <= md <= (7, 31):
        return "winter_holidays", 125
    if night.month in (5, 6, 8):
        return "low", 85
    return "regular", 100


def is_weekend_night(night: date) -> bool:
    """Friday and Saturday nights are sold at the weekend rate."""
    return night.weekday() in (4, 5)


def nightly_rate(room_type: RoomType, night: date) -> int:
    """The price of ``room_type`` for the night starting on ``night``."""
    _, season_pct = season_of(night)
    weekend_pct = WEEKEND_PCT if is_weekend_night(night) else 100
    scaled = room_type.base_rate * season_pct * weekend_pct  # in 1/10000 of a peso
    # Round half up to the nearest 100 pesos.
    return (scaled + 500_000) // 1_000_000 * 100


def late_checkout_fee(rate: int) -> int:
    """The late-checkout fee for a stay whose last night costs ``rate``."""
    return rate * LATE_CHECKOUT_FEE_PCT // 100
