"""Audit events and their one-line JSON form (the fallback file's line format).

Text is cleaned when an event is made (NUL removed, lone surrogates replaced), because
PostgreSQL refuses both in ``text`` and ``jsonb``; an event that PostgreSQL would refuse
could never leave the fallback file.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agent.audit.errors import InvalidAuditEvent

LINE_VERSION = 1
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}$")
MAX_ID_LEN = 256


def clean_text(value: str) -> str:
    """``value`` without NUL characters and with lone surrogates replaced by '?'."""
    return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")


def clean_json(value: Any) -> Any:
    """A JSON-safe copy of ``value``: text cleaned, unknown objects turned into strings."""
    if isinstance(value, str):
        return clean_text(value)
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        # NaN and infinities are not JSON; PostgreSQL's jsonb refuses them.
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {clean_text(str(k)): clean_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [clean_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return clean_text(str(value))


@dataclass(frozen=True)
class AuditEvent:
    """One audited fact: a processed message, an escalation, a booking, a decision."""

    event_id: str
    occurred_at: datetime
    event_type: str
    guest_id: str
    session_id: str | None
    channel: str
    intent: str | None
    payload: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.event_id or len(self.event_id) > MAX_ID_LEN:
            raise InvalidAuditEvent(f"event_id must have 1-{MAX_ID_LEN} characters")
        if self.occurred_at.tzinfo is None:
            raise InvalidAuditEvent("occurred_at must be timezone-aware")
        if not EVENT_TYPE_RE.match(self.event_type):
            raise InvalidAuditEvent(f"event_type {self.event_type!r} is not a lowercase name")
        if not isinstance(self.payload, dict):
            raise InvalidAuditEvent("payload must be a JSON object")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready values (timestamps as ISO 8601 strings)."""
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "event_type": self.event_type,
            "guest_id": self.guest_id,
            "session_id": self.session_id,
            "channel": self.channel,
            "intent": self.intent,
            "payload": self.payload,
        }

    def to_line(self) -> bytes:
        """One fallback-file line: compact ASCII JSON, no newline inside, none at the end."""
        return json.dumps(
            {"v": LINE_VERSION, **self.to_dict()}, ensure_ascii=True, separators=(",", ":")
        ).encode("ascii")


def _opt(value: Any) -> str | None:
    return None if value is None else clean_text(str(value))[:MAX_ID_LEN]


def new_event(
    event_type: str,
    guest_id: str,
    *,
    channel: str,
    intent: str | None = None,
    session_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """A fresh event with a random id, stamped now (UTC), its text made storable."""
    return AuditEvent(
        event_id=uuid.uuid4().hex,
        occurred_at=datetime.now(UTC),
        event_type=event_type,
        guest_id=clean_text(guest_id)[:MAX_ID_LEN],
        session_id=_opt(session_id),
        channel=clean_text(channel)[:64],
        intent=_opt(intent),
        payload=clean_json(payload or {}),
    )


def event_from_dict(data: dict[str, Any]) -> AuditEvent:
    """Rebuild an event from ``to_dict()`` output; ``InvalidAuditEvent`` if it is not one."""
    try:
        occurred = datetime.fromisoformat(data["occurred_at"])
        return AuditEvent(
            event_id=clean_text(str(data["event_id"])),
            occurred_at=occurred,
            event_type=str(data["event_type"]),
            guest_id=clean_text(str(data["guest_id"])),
            session_id=_opt(data.get("session_id")),
            channel=clean_text(str(data["channel"])),
            intent=_opt(data.get("intent")),
            payload=clean_json(data.get("payload") or {}),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidAuditEvent(f"not an audit event: {exc}") from exc


def event_from_line(line: bytes) -> AuditEvent:
    """Parse one fallback line (without its newline)."""
    try:
        data = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidAuditEvent(f"not JSON: {exc.__class__.__name__}") from exc
    if not isinstance(data, dict):
        raise InvalidAuditEvent("not a JSON object")
    if data.get("v") != LINE_VERSION:
        raise InvalidAuditEvent(f"unknown line version {data.get('v')!r}")
    return event_from_dict(data)
