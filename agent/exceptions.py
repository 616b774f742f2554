"""Exceptions raised by the agent's adapters. One shallow tree."""

from __future__ import annotations


class AgentError(Exception):
    """Base class for the agent's own errors."""


class DependencyError(AgentError):
    """A dependency (PMS, Redis, PostgreSQL, Alertmanager) failed or is unavailable."""


class PMSError(DependencyError):
    """The PMS call failed."""


class PMSUnavailable(PMSError):
    """The PMS is unreachable, timed out, answered 5xx, or its breaker is open."""


class PMSRejected(PMSError):
    """The PMS answered 4xx: the request is wrong, retrying will not help."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(f"PMS rejected the request ({status_code}): {detail}")
        self.status_code = status_code
        self.detail = detail


class PMSNotFound(PMSRejected):
    """The PMS has no such booking or room type."""


class SessionStoreUnavailable(DependencyError):
    """Redis could not load or save a session after the retries."""


class AuditUnavailable(DependencyError):
    """PostgreSQL could not take an audit event."""
