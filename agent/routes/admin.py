"""``/admin``: operator endpoints behind a bearer token (``AGENT_ADMIN_TOKEN``).

The token check is a router dependency, so it runs before any parameter validation: a
caller without the token learns nothing about the parameters (401 before 422). With no
token configured the admin API is off (503), never open.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request

from agent.audit import AuditQuery, AuditUnavailable, InvalidAuditQuery
from agent.audit.query import DEFAULT_PAGE_SIZE, MAX_PAGE, MAX_PAGE_SIZE
from agent.errors import ClientError


def require_admin(request: Request, authorization: Annotated[str | None, Header()] = None) -> None:
    """Let the request through only with ``Authorization: Bearer <admin token>``."""
    expected = request.app.state.settings.admin_token.get_secret_value()
    if not expected:
        raise ClientError(503, "admin_disabled", "admin API disabled: set AGENT_ADMIN_TOKEN")
    scheme, _, presented = (authorization or "").partition(" ")
    # Digests first: compare_digest on equal-length values leaks nothing, not even length.
    ok = scheme.lower() == "bearer" and hmac.compare_digest(
        hashlib.sha256(presented.strip().encode()).digest(),
        hashlib.sha256(expected.encode()).digest(),
    )
    if not ok:
        raise ClientError(
            401,
            "unauthorized",
            "missing or invalid bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])


@router.get(
    "/audit-logs",
    responses={
        401: {"description": "missing or wrong token"},
        422: {"description": "bad parameter, with the reason"},
        503: {"description": "admin API disabled, or the audit database is down"},
    },
)
async def list_audit_logs(
    request: Request,
    guest_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        datetime | None, Query(description="ISO 8601, inclusive; UTC if no zone")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="ISO 8601, exclusive; UTC if no zone")
    ] = None,
    page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
) -> dict[str, Any]:
    """Audit events newest first, filtered, by page number or by keyset cursor."""
    try:
        q = AuditQuery(
            guest_id=guest_id,
            event_type=event_type,
            since=since,
            until=until,
            page=page,
            page_size=page_size,
            cursor=cursor,
        )
    except InvalidAuditQuery as exc:
        raise ClientError(
            422,
            "invalid_request",
            [{"loc": ["query", exc.field], "msg": exc.reason, "type": "value_error"}],
        ) from exc
    try:
        result = await request.app.state.audit.query(q)
    except AuditUnavailable as exc:
        raise ClientError(
            503,
            "audit_unavailable",
            "audit database unavailable, retry later",
            headers={"Retry-After": "5"},
        ) from exc
    page_dict: dict[str, Any] = result.to_dict()
    return page_dict
