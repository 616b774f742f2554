"""The simulator's REST API over ASGI: auth, catalogue, availability, bookings, late checkout."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chaos.pms_simulator import create_app

API_KEY = "sim-test-key"

PROTECTED = [
    ("GET", "/api/v1/room-types"),
    ("GET", "/api/v1/availability?check_in=2026-03-06&check_out=2026-03-08&guests=2"),
    ("POST", "/api/v1/bookings"),
    ("GET", "/api/v1/bookings/BK-000001"),
    ("GET", "/api/v1/bookings/BK-000001/late-checkout"),
    ("POST", "/api/v1/bookings/BK-000001/late-checkout"),
    ("POST", "/_admin/reset"),
    ("GET", "/graph/_sent"),
    ("POST", "/graph/_upload"),
]


async def offers_by_type(
    client: httpx.AsyncClient, check_in: str, check_out: str, guests: int = 2
) -> dict[str, dict[str, Any]]:
    r = await client.get(
        "/api/v1/availability",
        params={"check_in": check_in, "check_out": check_out, "guests": guests},
    )
    assert r.status_code == 200, r.text
    return {o["room_type"]: o for o in r.json()["offers"]}


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("key", [None, "wrong-key"])
async def test_protected_endpoints_answer_401_without_the_right_key(
    app: FastAPI, method: str, path: str, key: str | None
) -> None:
    headers = {"X-API-Key": key} if key is not None else {}
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test", headers=headers
    ) as c:
        r = await c.request(method, path, json={})
    assert r.status_code == 401
    assert r.json() == {"detail": "missing or invalid X-API-Key header"}


async def test_health_needs_no_key_and_reports_the_hotel(app: FastAPI, today: date) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sim.test"
    ) as c:
        r = await c.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "today": today.isoformat(), "rooms": 30, "bookings": 0}


def test_create_app_refuses_an_empty_key() -> None:
    with pytest.raises(ValueError, match="API key"):
        create_app("")


async def test_room_types_have_bilingual_names_capacity_amenities_and_30_rooms(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/api/v1/room-types")
    assert r.status_code == 200
    types = r.json()["room_types"]
    assert [t["slug"] for t in types] == ["standard", "superior", "deluxe", "suite"]
    assert sum(t["rooms"] for t in types) == 30
    assert [t["capacity"] for t in types] == [2, 3, 3, 4]
    assert [t["base_rate"] for t in types] == sorted(t["base_rate"] for t in types)
    for t in types:
        assert t["name"]["es"]
        assert t["name"]["en"]
        assert t["currency"] == "ARS"
        assert {"wifi", "air_conditioning"} <= {a["code"] for a in t["amenities"]}
        assert all(a["es"] and a["en"] for a in t["amenities"])
    assert types[0]["name"] == {"es": "Habitación Estándar", "en": "Standard Room"}


async def test_availability_lists_free_rooms_nightly_rates_and_total(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get(
        "/api/v1/availability",
        params={"check_in": "2026-03-05", "check_out": "2026-03-08", "guests": 2},
    )
    assert r.status_code == 200
    body = r.json()
    assert (body["nights"], body["guests"], body["currency"]) == (3, 2, "ARS")
    offers = {o["room_type"]: o for o in body["offers"]}
    assert {k: o["available"] for k, o in offers.items()} == {
        "standard": 12,
        "superior": 8,
        "deluxe": 6,
        "suite": 4,
    }
    standard = offers["standard"]
    # Thursday at the base rate, then Friday and Saturday at +15 %.
    assert [(n["date"], n["rate"]) for n in standard["nightly_rates"]] == [
        ("2026-03-05", 90_000),
        ("2026-03-06", 103_500),
        ("2026-03-07", 103_500),
    ]
    assert [n["weekend"] for n in standard["nightly_rates"]] == [False, True, True]
    assert standard["total"] == 297_000
    for o in offers.values():
        assert o["total"] == sum(n["rate"] for n in o["nightly_rates"])


async def test_availability_offers_only_room_types_that_hold_the_party(
    client: httpx.AsyncClient,
) -> None:
    assert set(await offers_by_type(client, "2026-03-06", "2026-03-07", guests=3)) == {
        "superior",
        "deluxe",
        "suite",
    }
    assert set(await offers_by_type(client, "2026-03-06", "2026-03-07", guests=4)) == {"suite"}
    assert await offers_by_type(client, "2026-03-06", "2026-03-07", guests=5) == {}


async def test_availability_filters_by_room_type_and_404s_an_unknown_one(
    client: httpx.AsyncClient,
) -> None:
    params: dict[str, Any] = {"check_in": "2026-03-06", "check_out": "2026-03-07", "guests": 2}
    r = await client.get("/api/v1/availability", params={**params, "room_type": "deluxe"})
    assert [o["room_type"] for o in r.json()["offers"]] == ["deluxe"]
    r = await client.get("/api/v1/availability", params={**params, "room_type": "penthouse"})
    assert r.status_code == 404
    assert "penthouse" in r.json()["detail"]


@pytest.mark.parametrize(
    ("check_in", "check_out", "reason"),
    [
        ("2026-03-08", "2026-03-08", "after check_in"),
        ("2026-03-08", "2026-03-06", "after check_in"),
        ("2026-03-06", "2026-04-06", "at most 30 nights"),
        ("2026-03-01", "2026-03-03", "in the past"),
        ("2027-03-01", "2027-03-03", "beyond the calendar"),
    ],
)
async def test_bad_stays_are_422_with_a_reason(
    client: httpx.AsyncClient, stay: dict[str, Any], check_in: str, check_out: str, reason: str
) -> None:
    r = await client.get(
        "/api/v1/availability", params={"check_in": check_in, "check_out": check_out, "guests": 2}
    )
    assert r.status_code == 422
    assert reason in r.json()["detail"]
    r = await client.post(
        "/api/v1/bookings", json={**stay, "check_in": check_in, "check_out": check_out}
    )
    assert r.status_code == 422
    assert reason in r.json()["detail"]


async def test_a_thirty_night_stay_on_the_last_calendar_day_is_accepted(
    client: httpx.AsyncClient, today: date
) -> None:
    last = today + timedelta(days=365)
    start = last - timedelta(days=30)
    r = await client.get(
        "/api/v1/availability",
        params={"check_in": start.isoformat(), "check_out": last.isoformat(), "guests": 1},
    )
    assert r.status_code == 200
    assert r.json()["nights"] == 30


@pytest.mark.parametrize(
    "change",
    [
        {"check_in": "06/03/2026"},
        {"guests": 0},
        {"guests": "two"},
        {"guest_name": "   "},
        {"room_type": "Suite Deluxe!"},
        {"unexpected": True},
    ],
)
async def test_malformed_booking_bodies_are_422_without_side_effects(
    client: httpx.AsyncClient, stay: dict[str, Any], change: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/bookings", json={**stay, **change})
    assert r.status_code == 422
    assert isinstance(r.json()["detail"], list)
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["suite"]["available"] == 4


async def test_availability_query_errors_are_422(client: httpx.AsyncClient) -> None:
    cases: list[dict[str, Any]] = [
        {"check_in": "2026-03-06", "check_out": "2026-03-08"},
        {"check_in": "2026-03-06", "check_out": "2026-03-08", "guests": 0},
        {"check_in": "tomorrow", "check_out": "2026-03-08", "guests": 2},
    ]
    for params in cases:
        r = await client.get("/api/v1/availability", params=params)
        assert r.status_code == 422, params


async def test_too_many_guests_for_the_room_type_is_422(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/bookings", json={**stay, "room_type": "standard", "guests": 3})
    assert r.status_code == 422
    assert "at most 2 guests" in r.json()["detail"]


async def test_unknown_room_type_booking_is_404(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/bookings", json={**stay, "room_type": "penthouse"})
    assert r.status_code == 404


async def test_a_booking_is_created_and_reduces_overlapping_availability_only(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    r = await client.post("/api/v1/bookings", json=stay)
    assert r.status_code == 201
    booking = r.json()
    assert booking["id"] == "BK-000001"
    assert booking["status"] == "confirmed"
    assert booking["room_number"] == 401
    assert booking["nights"] == 2
    assert booking["total"] == 2 * 287_500
    assert booking["checkout_time"] == "12:00"
    assert booking["late_checkout"] is False

    # Overlapping ranges lose one suite; the stay that starts on the check-out day does not.
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["suite"]["available"] == 3
    assert (await offers_by_type(client, "2026-03-07", "2026-03-10"))["suite"]["available"] == 3
    assert (await offers_by_type(client, "2026-03-08", "2026-03-10"))["suite"]["available"] == 4
    assert (await offers_by_type(client, "2026-03-04", "2026-03-06"))["suite"]["available"] == 4
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["deluxe"]["available"] == 6

    r = await client.get("/api/v1/bookings/BK-000001")
    assert r.status_code == 200
    assert r.json() == booking
    second = await client.post("/api/v1/bookings", json=stay)
    assert second.json()["id"] == "BK-000002"
    assert second.json()["room_number"] == 402


async def test_booking_when_full_is_409(client: httpx.AsyncClient, stay: dict[str, Any]) -> None:
    for _ in range(4):
        assert (await client.post("/api/v1/bookings", json=stay)).status_code == 201
    r = await client.post("/api/v1/bookings", json=stay)
    assert r.status_code == 409
    assert "no suite room is free" in r.json()["detail"]
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["suite"]["available"] == 0
    # A partly overlapping stay is refused too, an adjacent one is not.
    later = {**stay, "check_in": "2026-03-07", "check_out": "2026-03-09"}
    assert (await client.post("/api/v1/bookings", json=later)).status_code == 409
    adjacent = {**stay, "check_in": "2026-03-08", "check_out": "2026-03-09"}
    assert (await client.post("/api/v1/bookings", json=adjacent)).status_code == 201


async def test_concurrent_bookings_never_oversell(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    results = await asyncio.gather(*(client.post("/api/v1/bookings", json=stay) for _ in range(10)))
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 4 + [409] * 6
    rooms = {r.json()["room_number"] for r in results if r.status_code == 201}
    assert rooms == {401, 402, 403, 404}


async def test_unknown_booking_is_404(client: httpx.AsyncClient) -> None:
    for path in (
        "/api/v1/bookings/BK-999999",
        "/api/v1/bookings/BK-999999/late-checkout",
    ):
        r = await client.get(path)
        assert r.status_code == 404
        assert "BK-999999" in r.json()["detail"]
    r = await client.post("/api/v1/bookings/BK-999999/late-checkout")
    assert r.status_code == 404


async def test_idempotency_key_replays_the_first_booking(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = await client.post("/api/v1/bookings", json=stay, headers=headers)
    again = await client.post("/api/v1/bookings", json=stay, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["suite"]["available"] == 3
    other = await client.post("/api/v1/bookings", json={**stay, "guests": 3}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]


async def test_late_checkout_costs_half_the_last_night_and_confirms_idempotently(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    # Thursday (base rate) then Friday (weekend rate): the fee follows the last night.
    booking = (
        await client.post("/api/v1/bookings", json={**stay, "check_in": "2026-03-05"})
    ).json()
    quote = (await client.get(f"/api/v1/bookings/{booking['id']}/late-checkout")).json()
    assert quote == {
        "booking_id": booking["id"],
        "available": True,
        "confirmed": False,
        "reason": None,
        "standard_checkout": "12:00",
        "late_checkout_time": "14:00",
        "nightly_rate": 287_500,
        "fee": 143_750,
        "currency": "ARS",
    }
    first = await client.post(f"/api/v1/bookings/{booking['id']}/late-checkout")
    second = await client.post(f"/api/v1/bookings/{booking['id']}/late-checkout")
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == {**quote, "confirmed": True}
    updated = (await client.get(f"/api/v1/bookings/{booking['id']}")).json()
    assert (updated["late_checkout"], updated["checkout_time"]) == (True, "14:00")


async def test_late_checkout_is_refused_when_the_room_has_an_arrival_that_day(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    first = (await client.post("/api/v1/bookings", json=stay)).json()
    following = {**stay, "check_in": "2026-03-08", "check_out": "2026-03-10"}
    arriving = (await client.post("/api/v1/bookings", json=following)).json()
    assert arriving["room_number"] == first["room_number"]
    quote = (await client.get(f"/api/v1/bookings/{first['id']}/late-checkout")).json()
    assert quote["available"] is False
    assert "arrival on 2026-03-08" in quote["reason"]
    r = await client.post(f"/api/v1/bookings/{first['id']}/late-checkout")
    assert r.status_code == 409
    assert "arrival" in r.json()["detail"]
    # The arriving guest's own room is free on their check-out day.
    quote = (await client.get(f"/api/v1/bookings/{arriving['id']}/late-checkout")).json()
    assert quote["available"] is True


async def test_new_arrivals_avoid_a_room_with_a_confirmed_late_checkout(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    first = (await client.post("/api/v1/bookings", json=stay)).json()
    assert (await client.post(f"/api/v1/bookings/{first['id']}/late-checkout")).status_code == 200
    following = {**stay, "check_in": "2026-03-08", "check_out": "2026-03-10"}
    arriving = (await client.post("/api/v1/bookings", json=following)).json()
    assert arriving["room_number"] != first["room_number"]
    assert (await client.get(f"/api/v1/bookings/{first['id']}/late-checkout")).json()[
        "confirmed"
    ] is True


async def test_admin_reset_forgets_bookings_and_restarts_ids(
    client: httpx.AsyncClient, stay: dict[str, Any]
) -> None:
    await client.post("/api/v1/bookings", json=stay)
    await client.post("/api/v1/bookings", json=stay)
    r = await client.post("/_admin/reset")
    assert r.status_code == 200
    assert r.json() == {"bookings_cleared": 2, "messages_cleared": 0}
    assert (await client.get("/api/v1/bookings/BK-000001")).status_code == 404
    assert (await offers_by_type(client, "2026-03-06", "2026-03-08"))["suite"]["available"] == 4
    assert (await client.post("/api/v1/bookings", json=stay)).json()["id"] == "BK-000001"


async def test_two_instances_quote_identical_prices_for_a_whole_year(today: date) -> None:
    async def year_of_offers(app: FastAPI) -> list[Any]:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://sim.test",
            headers={"X-API-Key": "k"},
        ) as c:
            pages = []
            for month in range(12):
                start = today + timedelta(days=30 * month)
                r = await c.get(
                    "/api/v1/availability",
                    params={
                        "check_in": start.isoformat(),
                        "check_out": (start + timedelta(days=30)).isoformat(),
                        "guests": 1,
                    },
                )
                assert r.status_code == 200
                pages.append(r.json()["offers"])
            return pages

    first = await year_of_offers(create_app("k", today=today))
    second = await year_of_offers(create_app("k", today=today))
    assert first == second
    rates = {n["rate"] for page in first for o in page for n in o["nightly_rates"]}
    # Seasons and weekends really vary the price over the year.
    assert len(rates) > 12
