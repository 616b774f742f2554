"""The ``audit_logs`` table and its indexes, declared as data.

Each index names the query it serves, so tooling (a later ``chaoslab inspect db``) and
the EXPLAIN tests can check that every query shape is covered. The admin listing is
ordered newest first by ``(occurred_at, event_id)``; btree indexes are scanned backward
for that, so they are declared ascending.
"""

from __future__ import annotations

from dataclasses import dataclass

TABLE = "audit_logs"

# The advisory-lock key serialises concurrent schema creation (two agents starting at
# once would otherwise race on CREATE TABLE IF NOT EXISTS and one would fail).
SCHEMA_LOCK_KEY = 0x4155444954  # "AUDIT"

CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    event_id     text        PRIMARY KEY,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now(),
    recorded_via text        NOT NULL DEFAULT 'direct' CHECK (recorded_via IN ('direct', 'replay')),
    event_type   text        NOT NULL,
    guest_id     text        NOT NULL,
    session_id   text,
    channel      text        NOT NULL,
    intent       text,
    payload      jsonb       NOT NULL DEFAULT '{{}}'::jsonb
)
"""


@dataclass(frozen=True)
class IndexSpec:
    """One index: its name, its columns, and the query shape it serves."""

    name: str
    columns: tuple[str, ...]
    serves: str

    @property
    def ddl(self) -> str:
        return f"CREATE INDEX IF NOT EXISTS {self.name} ON {TABLE} ({', '.join(self.columns)})"


# The primary key on event_id serves idempotent inserts (ON CONFLICT (event_id)).
INDEXES: tuple[IndexSpec, ...] = (
    IndexSpec(
        "audit_logs_occurred_idx",
        ("occurred_at", "event_id"),
        "list newest first, time range (since/until), keyset cursor, total without filters",
    ),
    IndexSpec(
        "audit_logs_guest_occurred_idx",
        ("guest_id", "occurred_at", "event_id"),
        "one guest's events newest first (optionally with event type and time range)",
    ),
    IndexSpec(
        "audit_logs_type_occurred_idx",
        ("event_type", "occurred_at", "event_id"),
        "one event type newest first (optionally with a time range)",
    ),
)


def ddl_statements() -> tuple[str, ...]:
    """Every statement that creates the schema, idempotent, in order."""
    return (CREATE_TABLE.strip(), *(index.ddl for index in INDEXES))
