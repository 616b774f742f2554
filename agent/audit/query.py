"""Audit-log queries: filters, page/page_size pagination and a keyset cursor.

Rows are listed newest first by ``(occurred_at, event_id)``, a total order. The cursor is
the position of the last row of a page, so the next page starts strictly after it:
events that arrive later are newer and sort before the cursor, so they never shift the
pages that follow. Events replayed late from the fallback file keep their original
``occurred_at`` and may appear behind a cursor already passed; that is the price of
recording when an event happened rather than when it was stored.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agent.audit.errors import InvalidAuditQuery
from agent.audit.events import EVENT_TYPE_RE, MAX_ID_LEN, AuditEvent
from agent.audit.schema import TABLE

MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 1_000_000

COLUMNS = (
    "event_id",
    "occurred_at",
    "event_type",
    "guest_id",
    "session_id",
    "channel",
    "intent",
    "payload",
)


def encode_cursor(occurred_at: datetime, event_id: str) -> str:
    """An opaque cursor for the position just after the row ``(occurred_at, event_id)``."""
    raw = json.dumps([occurred_at.astimezone(UTC).isoformat(), event_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position inside ``cursor``, or ``InvalidAuditQuery``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred, event_id = json.loads(raw)
        when = datetime.fromisoformat(occurred)
        if when.tzinfo is None or not isinstance(event_id, str) or not event_id:
            raise ValueError("bad cursor fields")
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError) as exc:
        raise InvalidAuditQuery("cursor", "not a cursor returned by this API") from exc
    return when, event_id


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # A time without a zone is read as UTC, the zone every stored event uses.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class AuditQuery:
    """Filters and one page of the audit log; validated on construction."""

    guest_id: str | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    cursor: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.page <= MAX_PAGE:
            raise InvalidAuditQuery("page", f"must be between 1 and {MAX_PAGE}")
        if not 1 <= self.page_size <= MAX_PAGE_SIZE:
            raise InvalidAuditQuery("page_size", f"must be between 1 and {MAX_PAGE_SIZE}")
        if self.guest_id is not None and not 1 <= len(self.guest_id) <= MAX_ID_LEN:
            raise InvalidAuditQuery("guest_id", f"must have 1-{MAX_ID_LEN} characters")
        if self.event_type is not None and not EVENT_TYPE_RE.match(self.event_type):
            raise InvalidAuditQuery("event_type", "must be a lowercase name like 'escalation'")
        object.__setattr__(self, "since", _utc(self.since))
        object.__setattr__(self, "until", _utc(self.until))
        if self.since and self.until and self.since >= self.until:
            raise InvalidAuditQuery("until", "must be later than since")
        if self.cursor is not None:
            if self.page != 1:
                raise InvalidAuditQuery("cursor", "use either page or cursor, not both")
            decode_cursor(self.cursor)

    def filters(self) -> tuple[list[str], list[Any]]:
        """SQL conditions (ANDed) and their parameters for the filters, cursor excluded."""
        where: list[str] = []
        params: list[Any] = []
        if self.guest_id is not None:
            where.append("guest_id = %s")
            params.append(self.guest_id)
        if self.event_type is not None:
            where.append("event_type = %s")
            params.append(self.event_type)
        if self.since is not None:
            where.append("occurred_at >= %s")
            params.append(self.since)
        if self.until is not None:
            where.append("occurred_at < %s")
            params.append(self.until)
        return where, params

    def count_sql(self) -> tuple[str, list[Any]]:
        """``SELECT count(*)`` of every row matching the filters."""
        where, params = self.filters()
        return f"SELECT count(*) FROM {TABLE}{_where(where)}", params

    def page_sql(self) -> tuple[str, list[Any]]:
        """The page's rows, plus one more to know whether another page follows."""
        where, params = self.filters()
        offset = 0
        if self.cursor is not None:
            when, event_id = decode_cursor(self.cursor)
            where.append("(occurred_at, event_id) < (%s, %s)")
            params += [when, event_id]
        else:
            offset = (self.page - 1) * self.page_size
        sql = (
            f"SELECT {', '.join(COLUMNS)} FROM {TABLE}{_where(where)}"
            f" ORDER BY occurred_at DESC, event_id DESC LIMIT %s OFFSET %s"
        )
        return sql, [*params, self.page_size + 1, offset]


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


@dataclass(frozen=True)
class AuditPage:
    """One page of events, the total matching the filters, and the cursor to go on."""

    items: tuple[AuditEvent, ...]
    total: int
    page: int
    page_size: int
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": [item.to_dict() for item in self.items],
            "total": self.total,
            "page": self.page,
            "page_size": self.page_size,
            "next_cursor": self.next_cursor,
        }
