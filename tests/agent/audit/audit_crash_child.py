"""An agent-like child process for the SIGKILL crash tests (run as a script, never imported).

    python audit_crash_child.py write FALLBACK DSN    record events until killed
    python audit_crash_child.py replay FALLBACK DSN   drain FALLBACK into DSN until killed

In ``write`` mode several tasks record events concurrently (so group commits are in
flight when the kill lands) and print ``A <id>`` before ``record()`` and ``K <id>`` once
it has returned, that is, once the event is durable.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

from agent.audit import AuditLog, new_event
from agent.logging import configure_logging
from agent.metrics import AgentMetrics
from agent.settings import AuditSettings, BreakerSettings, DatabaseSettings, RetrySettings

WRITERS = 8


def out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def writer(audit: AuditLog, n: int) -> None:
    rng = random.Random(n)
    i = 0
    while True:
        # Payloads of up to ~24 KB make a grouped write span several pages, so a kill can
        # land in the middle of one and leave a torn last line.
        event = new_event(
            "message",
            f"guest-{n}",
            channel="api",
            intent="greeting",
            payload={"writer": n, "i": i, "pad": "x" * rng.randint(0, 3000)},
        )
        out(f"A {event.event_id}")
        await audit.record(event)
        out(f"K {event.event_id}")
        i += 1


async def main(mode: str, fallback: str, dsn: str) -> None:
    configure_logging("WARNING")  # logs go to stderr; stdout carries the protocol
    settings = AuditSettings(
        fallback_path=Path(fallback),
        breaker=BreakerSettings(fail_max=1, reset_timeout_s=0.2),
        retry=RetrySettings(retries=3, backoff_base_s=0.01),
        write_budget_s=0.2,
        replay_interval_s=0.05 if mode == "replay" else 3600,
        replay_batch=10,
    )
    database = DatabaseSettings(dsn=dsn, connect_timeout_s=1.0)
    audit = AuditLog(settings, database, AgentMetrics())
    await audit.start()
    out("READY")
    if mode == "write":
        await asyncio.gather(*(writer(audit, n) for n in range(WRITERS)))
    else:
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
