"""Errors of the audit package (a shallow branch under ``agent.exceptions``)."""

from __future__ import annotations

from agent.exceptions import AgentError, AuditUnavailable

__all__ = [
    "AuditError",
    "AuditUnavailable",
    "FallbackLocked",
    "InvalidAuditEvent",
    "InvalidAuditQuery",
]


class AuditError(AgentError):
    """Base class for audit errors that are not a dependency failure."""


class FallbackLocked(AuditError):
    """Another process already owns the fallback file."""


class InvalidAuditEvent(AuditError, ValueError):
    """An audit event or a fallback line that cannot be stored as it is."""


class InvalidAuditQuery(AuditError, ValueError):
    """An audit-log query with a bad parameter; ``field`` names it."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
