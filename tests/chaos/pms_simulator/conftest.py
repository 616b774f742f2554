"""Fixtures for the PMS simulator: an app pinned to a known Monday, and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from chaos.pms_simulator import create_app

TODAY = date(2026, 3, 2)  # a Monday in regular season
API_KEY = "sim-test-key"


@pytest.fixture
def today() -> date:
    return TODAY


@pytest.fixture
def app() -> FastAPI:
    return create_app(API_KEY, today=TODAY)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client that sends the right X-API-Key."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://sim.test",
        headers={"X-API-Key": API_KEY},
    ) as c:
        yield c


@pytest.fixture
def stay() -> dict[str, Any]:
    """A valid two-night booking request starting on Friday."""
    return {
        "room_type": "suite",
        "check_in": "2026-03-06",
        "check_out": "2026-03-08",
        "guests": 2,
        "guest_name": "Ana Pérez",
        "guest_id": "5491155550000",
    }
