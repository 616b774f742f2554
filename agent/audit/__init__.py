"""Durable audit log: PostgreSQL ``audit_logs``, a fallback file, and a replayer."""

from agent.audit.errors import (
    AuditError,
    AuditUnavailable,
    FallbackLocked,
    InvalidAuditEvent,
    InvalidAuditQuery,
)
from agent.audit.events import AuditEvent, new_event
from agent.audit.log import AuditLog
from agent.audit.query import AuditPage, AuditQuery

__all__ = [
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditPage",
    "AuditQuery",
    "AuditUnavailable",
    "FallbackLocked",
    "InvalidAuditEvent",
    "InvalidAuditQuery",
    "new_event",
]
