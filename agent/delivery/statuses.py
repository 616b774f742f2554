"""Delivery statuses Meta reports for the agent's own messages, stored per wamid.

Statuses may arrive out of order (``read`` before ``delivered``), so each is stored as
its own field with its timestamp and the current status is derived: ``failed`` if it
failed, else the furthest of sent < delivered < read.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from agent.metrics import AgentMetrics
from agent.whatsapp import STATUSES, StatusUpdate

PREFIX = "whatsapp:status:"
TTL_S = 7 * 86_400
RANK = {"sent": 1, "delivered": 2, "read": 3}


def status_key(wamid: str) -> str:
    return PREFIX + wamid


def current(fields: dict[str, str]) -> str | None:
    """The status a message is in, given every status reported for it."""
    if "failed" in fields:
        return "failed"
    seen = [s for s in RANK if s in fields]
    return max(seen, key=RANK.__getitem__) if seen else None


class StatusStore:
    """Records outbound messages and the statuses Meta reports for them."""

    def __init__(self, redis: aioredis.Redis, metrics: AgentMetrics) -> None:
        self._redis = redis
        self._metrics = metrics

    def outbound(self, wamid: str, to: str, message_id: str) -> tuple[str, bytes, None]:
        """A write (for a MULTI) recording which inbound message a wamid answered."""
        return (status_key(wamid) + ":reply", f"{to} {message_id}".encode(), None)

    async def record(self, updates: list[StatusUpdate]) -> None:
        """Store statuses (one round trip) and count them."""
        if not updates:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for u in updates:
                field = u.status if u.status in STATUSES else f"other:{u.status[:32]}"
                value = f"{u.timestamp or ''} {u.error_code or ''}".strip()
                pipe.hset(status_key(u.message_id), field, value or "-")
                pipe.expire(status_key(u.message_id), TTL_S)
            await pipe.execute()
        for u in updates:
            label = u.status if u.status in STATUSES else "other"
            self._metrics.whatsapp_statuses.labels(status=label).inc()

    async def get(self, wamid: str) -> dict[str, Any]:
        """Every status reported for ``wamid`` and the current one."""
        raw = await self._redis.hgetall(status_key(wamid))
        fields = {
            (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
            for k, v in raw.items()
        }
        return {"status": current(fields), "reported": fields}
