"""Liveness and readiness.

Readiness answers 200 with ``status: degraded`` when a dependency is down: the agent
still answers guests then, and taking every replica out of rotation because Redis
blipped would turn a partial outage into a total one.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

router = APIRouter(prefix="/health", tags=["health"])


@router.get("/live")
async def live() -> dict[str, Any]:
    return {"alive": True}


@router.get("/ready")
async def ready(request: Request) -> dict[str, Any]:
    """Check every dependency now and report each."""
    checks = await request.app.state.dependencies.check_all()
    return {
        "ready": True,
        "status": "ok" if all(checks.values()) else "degraded",
        "checks": {name: "up" if ok else "down" for name, ok in checks.items()},
    }
