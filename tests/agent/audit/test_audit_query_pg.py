"""Audit-log pagination against a real PostgreSQL: pages, cursor, filters."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

import psycopg
import pytest

from agent.audit import AuditEvent, AuditLog, AuditQuery
from agent.audit.schema import TABLE
from agent.metrics import AgentMetrics

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(
    i: int, *, guest: str = "guest-1", kind: str = "message", at: datetime | None = None
) -> AuditEvent:
    return AuditEvent(
        event_id=uuid.uuid4().hex,
        occurred_at=at or T0 + timedelta(seconds=i),
        event_type=kind,
        guest_id=guest,
        session_id="s-1",
        channel="api",
        intent="greeting",
        payload={"i": i},
    )


@pytest.fixture
async def audit(tmp_path, audit_db, make_audit_settings, make_db_settings):
    log = AuditLog(
        make_audit_settings(tmp_path / "fb.jsonl"), make_db_settings(audit_db), AgentMetrics()
    )
    await log.start()
    with psycopg.connect(audit_db) as conn:
        conn.execute(f"TRUNCATE {TABLE}")
    yield log
    await log.stop()


async def store(audit: AuditLog, events: list[AuditEvent]) -> list[AuditEvent]:
    for e in events:
        assert await audit.record(e) == "written"
    return events


def newest_first(events: list[AuditEvent]) -> list[str]:
    return [
        e.event_id for e in sorted(events, key=lambda e: (e.occurred_at, e.event_id), reverse=True)
    ]


async def test_empty_log(audit: AuditLog) -> None:
    page = await audit.query(AuditQuery())
    assert (page.items, page.total, page.next_cursor) == ((), 0, None)


async def test_fewer_rows_than_a_page(audit: AuditLog) -> None:
    events = await store(audit, [event(i) for i in range(5)])
    page = await audit.query(AuditQuery(page_size=20))
    assert [e.event_id for e in page.items] == newest_first(events)
    assert page.total == 5
    assert page.next_cursor is None
    assert page.items[0].payload == {"i": 4}
    assert page.items[0].occurred_at == T0 + timedelta(seconds=4)


async def test_many_pages_by_number(audit: AuditLog) -> None:
    events = await store(audit, [event(i) for i in range(45)])
    pages = [await audit.query(AuditQuery(page=n, page_size=20)) for n in (1, 2, 3, 4)]
    assert [len(p.items) for p in pages] == [20, 20, 5, 0]
    assert {p.total for p in pages} == {45}
    walked = [e.event_id for p in pages for e in p.items]
    assert walked == newest_first(events)
    assert pages[0].next_cursor is not None
    assert pages[2].next_cursor is None


async def test_cursor_walk_is_stable_while_new_events_arrive(audit: AuditLog) -> None:
    events = await store(audit, [event(i) for i in range(45)])
    walked: list[str] = []
    cursor = None
    arrivals = 0
    while True:
        page = await audit.query(AuditQuery(page_size=10, cursor=cursor))
        walked += [e.event_id for e in page.items]
        # New events arrive between page requests; they are newer than the cursor.
        await store(audit, [event(1000 + arrivals + k) for k in range(3)])
        arrivals += 3
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert walked == newest_first(events)
    assert arrivals == 15


async def test_cursor_breaks_timestamp_ties_by_event_id(audit: AuditLog) -> None:
    same = T0 + timedelta(hours=1)
    events = await store(audit, [event(i, at=same) for i in range(7)])
    walked: list[str] = []
    cursor = None
    while True:
        page = await audit.query(AuditQuery(page_size=2, cursor=cursor))
        walked += [e.event_id for e in page.items]
        if not (cursor := page.next_cursor):
            break
    assert walked == newest_first(events)


async def test_combined_filters(audit: AuditLog) -> None:
    wanted = await store(
        audit, [event(i, guest="guest-x", kind="escalation") for i in range(10, 20)]
    )
    await store(audit, [event(i, guest="guest-x", kind="message") for i in range(10, 20)])
    await store(audit, [event(i, guest="guest-y", kind="escalation") for i in range(10, 20)])
    await store(audit, [event(i, guest="guest-x", kind="escalation") for i in (0, 30)])
    q = AuditQuery(
        guest_id="guest-x",
        event_type="escalation",
        since=T0 + timedelta(seconds=10),
        until=T0 + timedelta(seconds=20),
        page_size=4,
    )
    first = await audit.query(q)
    assert first.total == 10
    rest = await audit.query(
        AuditQuery(
            guest_id="guest-x",
            event_type="escalation",
            since=q.since,
            until=q.until,
            page_size=100,
            cursor=first.next_cursor,
        )
    )
    assert rest.total == 10  # the total ignores the cursor
    walked = [e.event_id for e in (*first.items, *rest.items)]
    assert walked == newest_first(wanted)
    only_type = await audit.query(AuditQuery(event_type="escalation"))
    assert only_type.total == 22
    only_guest = await audit.query(AuditQuery(guest_id="guest-y"))
    assert only_guest.total == 10


async def test_time_without_zone_is_utc(audit: AuditLog) -> None:
    await store(audit, [event(i) for i in range(10)])
    naive = await audit.query(AuditQuery(since=datetime(2026, 3, 1, 12, 0, 5)))
    assert naive.total == 5
    offset = await audit.query(
        AuditQuery(since=datetime(2026, 3, 1, 9, 0, 5, tzinfo=timezone(timedelta(hours=-3))))
    )
    assert offset.total == 5
