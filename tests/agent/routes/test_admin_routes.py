"""GET /admin/audit-logs: bearer token, parameter validation, pagination over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from agent.audit import AuditEvent, AuditLog, AuditPage, AuditQuery, AuditUnavailable
from agent.audit.query import encode_cursor
from agent.errors import install_error_handlers
from agent.metrics import AgentMetrics
from agent.routes import admin
from agent.settings import AgentSettings, AuditSettings, DatabaseSettings

TOKEN = "correct-horse-battery-staple"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(i: int, guest: str = "guest-1", kind: str = "message") -> AuditEvent:
    return AuditEvent(
        event_id=uuid.uuid4().hex,
        occurred_at=T0 + timedelta(seconds=i),
        event_type=kind,
        guest_id=guest,
        session_id=None,
        channel="whatsapp",
        intent="greeting",
        payload={"i": i},
    )


class FakeAudit:
    """Answers queries with one canned event and records what it was asked."""

    def __init__(self, fail: bool = False) -> None:
        self.queries: list[AuditQuery] = []
        self.fail = fail

    async def query(self, q: AuditQuery) -> AuditPage:
        self.queries.append(q)
        if self.fail:
            raise AuditUnavailable("audit database unavailable")
        return AuditPage(
            items=(event(1),), total=1, page=q.page, page_size=q.page_size, next_cursor=None
        )


def make_app(audit: object, token: str = TOKEN) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(admin.router)
    app.state.audit = audit
    app.state.settings = AgentSettings(admin_token=SecretStr(token))
    return app


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ],
)
async def test_missing_or_wrong_token_is_401(headers: dict[str, str]) -> None:
    fake = FakeAudit()
    async with client(make_app(fake)) as c:
        r = await c.get("/admin/audit-logs", headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert r.json()["error"] == "unauthorized"
    assert fake.queries == []


async def test_token_check_comes_before_parameter_validation() -> None:
    async with client(make_app(FakeAudit())) as c:
        r = await c.get("/admin/audit-logs", params={"page": 0, "page_size": 1000})
    assert r.status_code == 401


async def test_admin_api_is_off_without_a_configured_token() -> None:
    async with client(make_app(FakeAudit(), token="")) as c:
        r = await c.get("/admin/audit-logs", headers={"Authorization": "Bearer "})
    assert r.status_code == 503
    assert "AGENT_ADMIN_TOKEN" in r.json()["detail"]


async def test_valid_request_passes_parsed_filters() -> None:
    fake = FakeAudit()
    async with client(make_app(fake)) as c:
        r = await c.get(
            "/admin/audit-logs",
            headers=AUTH,
            params={
                "guest_id": "guest-1",
                "event_type": "escalation",
                "since": "2026-03-01T09:00:00-03:00",
                "until": "2026-03-02T00:00:00",
                "page": 2,
                "page_size": 50,
            },
        )
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"items", "total", "page", "page_size", "next_cursor"}
    assert (body["total"], body["page"], body["page_size"]) == (1, 2, 50)
    assert body["items"][0]["occurred_at"] == "2026-03-01T12:00:01+00:00"
    assert body["items"][0]["payload"] == {"i": 1}
    (q,) = fake.queries
    assert (q.guest_id, q.event_type, q.page, q.page_size) == ("guest-1", "escalation", 2, 50)
    assert q.since == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert q.until == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"page": 0}, "page"),
        ({"page": "two"}, "page"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 101}, "page_size"),
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"since": "2026-03-02T00:00:00Z", "until": "2026-03-01T00:00:00Z"}, "until"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"cursor": encode_cursor(T0, "abc"), "page": 2}, "cursor"),
        ({"event_type": "Not A Type"}, "event_type"),
        ({"guest_id": ""}, "guest_id"),
    ],
)
async def test_bad_parameters_are_422_with_the_reason(params: dict, field: str) -> None:
    fake = FakeAudit()
    async with client(make_app(fake)) as c:
        r = await c.get("/admin/audit-logs", headers=AUTH, params=params)
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert any(d["loc"][-1] == field and d["msg"] for d in body["detail"])
    assert fake.queries == []


async def test_database_down_is_503_not_500() -> None:
    async with client(make_app(FakeAudit(fail=True))) as c:
        r = await c.get("/admin/audit-logs", headers=AUTH)
    assert r.status_code == 503
    assert r.json()["error"] == "audit_unavailable"
    assert r.headers["retry-after"] == "5"


@pytest.mark.integration
async def test_paging_over_http_against_postgres(tmp_path, postgres_server) -> None:
    dsn = postgres_server.create_database("admin_routes")
    audit = AuditLog(
        AuditSettings(fallback_path=tmp_path / "fb.jsonl"),
        DatabaseSettings(dsn=SecretStr(dsn)),
        AgentMetrics(),
    )
    await audit.start()
    try:
        stored = [event(i, guest=f"guest-{i % 3}") for i in range(25)]
        for e in stored:
            assert await audit.record(e) == "written"
        async with client(make_app(audit)) as c:
            seen: list[str] = []
            params: dict[str, str | int] = {"page_size": 10}
            while True:
                r = await c.get("/admin/audit-logs", headers=AUTH, params=params)
                assert r.status_code == 200
                body = r.json()
                assert body["total"] == 25
                seen += [item["event_id"] for item in body["items"]]
                if body["next_cursor"] is None:
                    break
                params = {"page_size": 10, "cursor": body["next_cursor"]}
            r = await c.get(
                "/admin/audit-logs", headers=AUTH, params={"guest_id": "guest-0", "page_size": 100}
            )
        expected = [e.event_id for e in sorted(stored, key=lambda e: e.occurred_at, reverse=True)]
        assert seen == expected
        assert {item["guest_id"] for item in r.json()["items"]} == {"guest-0"}
        assert r.json()["total"] == 9
    finally:
        await audit.stop()
        with psycopg.connect(dsn) as conn:
            conn.execute("DROP TABLE audit_logs")
