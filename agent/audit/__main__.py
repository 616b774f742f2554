"""``python -m agent.audit migrate | indexes``: create the audit schema, or list its indexes.

``migrate`` reads the DSN from ``AGENT_DATABASE__DSN`` (never from the command line,
where other users could read it in the process list).
"""

from __future__ import annotations

import argparse
import json
import math
import sys

import psycopg

from agent.audit.schema import INDEXES, SCHEMA_LOCK_KEY, TABLE, ddl_statements
from agent.settings import AgentSettings


def migrate() -> int:
    """Create the table and indexes if missing (idempotent)."""
    db = AgentSettings().database
    try:
        with (
            psycopg.connect(
                db.dsn.get_secret_value(), connect_timeout=max(1, math.ceil(db.connect_timeout_s))
            ) as conn,
            conn.transaction(),
        ):
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK_KEY,))
            for statement in ddl_statements():
                conn.execute(statement)
    except psycopg.Error as exc:
        print(f"migration failed: {exc.__class__.__name__}: {exc}".strip(), file=sys.stderr)
        return 1
    print(f"{TABLE}: table and {len(INDEXES)} indexes present")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m agent.audit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("migrate", help="create the audit_logs table and its indexes")
    sub.add_parser("indexes", help="print the declared indexes and what they serve, as JSON")
    args = parser.parse_args(argv)
    if args.command == "indexes":
        print(
            json.dumps(
                [
                    {"name": i.name, "table": TABLE, "columns": list(i.columns), "serves": i.serves}
                    for i in INDEXES
                ],
                indent=2,
            )
        )
        return 0
    return migrate()


if __name__ == "__main__":
    sys.exit(main())
