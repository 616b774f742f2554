"""Where the inspect commands read from: URLs, and bounded connections to each source.

URLs come from explicit flags first, then from the stack state file (``chaoslab up``
writes it; ``$CHAOSLAB_STATE_FILE`` points at another one, such as
``docker/stack.docker.json`` inside the compose network). PostgreSQL passwords are never
taken on the command line: libpq reads ``PGPASSWORD`` or ``~/.pgpass``. Every connection
has a connect timeout and every statement a statement timeout.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from chaos.exceptions import MetricsError, StackError
from chaos.inspect.errors import InspectError
from chaos.metrics import Scrape, scrape

APPLICATION_NAME = "chaoslab-inspect"


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe to print and to put in JSON)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))


@dataclass(frozen=True)
class Targets:
    """The URLs one command reads; ``None`` for a source it does not need."""

    agent: str | None = None
    redis: str | None = None
    postgres: str | None = None

    def redacted(self) -> dict[str, str]:
        return {k: redact(v) for k, v in vars(self).items() if v}


def resolve_targets(
    need: Iterable[str],
    *,
    agent: str | None = None,
    redis_url: str | None = None,
    postgres: str | None = None,
) -> Targets:
    """Fill every needed URL not given explicitly from the stack state file."""
    given = {"agent": agent, "redis": redis_url, "postgres": postgres}
    needed = list(need)
    missing = [name for name in needed if not given[name]]
    if missing:
        from chaos.stack.state import discover

        try:
            urls = discover().urls
        except StackError as exc:
            flags = ", ".join(f"--{name}-url" for name in missing)
            raise InspectError(f"{exc}; or pass {flags}") from exc
        for name in missing:
            if name not in urls:
                raise InspectError(f"the stack state has no {name!r} URL; pass --{name}-url")
            given[name] = urls[name]
    return Targets(**{name: given[name] for name in needed})


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def pg_connect(
    dsn: str,
    *,
    timeout_s: float,
    statement_timeout_ms: int,
    read_only: bool = True,
) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection, read-only unless asked, every statement time-bounded."""
    options = f"-c statement_timeout={statement_timeout_ms} -c lock_timeout={statement_timeout_ms}"
    if read_only:
        # EXPLAIN ANALYZE executes the query: read-only makes certain it can change nothing.
        options += " -c default_transaction_read_only=on"
    try:
        return psycopg.connect(
            dsn,
            autocommit=True,
            connect_timeout=max(1, math.ceil(timeout_s)),
            options=options,
            application_name=APPLICATION_NAME,
        )
    except psycopg.Error as exc:
        raise InspectError(f"cannot reach PostgreSQL at {redact(dsn)}: {_first_line(exc)}") from exc


def redis_connect(url: str, *, timeout_s: float) -> redis.Redis:
    """A Redis client that has answered PING, with socket and connect timeouts."""
    client = redis.Redis.from_url(
        url,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        client_name=APPLICATION_NAME,
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        raise InspectError(f"cannot reach Redis at {redact(url)}: {_first_line(exc)}") from exc
    return client


def scrape_agent(url: str, *, timeout_s: float) -> Scrape:
    """The agent's ``/metrics``, parsed; ``InspectError`` when it does not answer."""
    try:
        return scrape(url, timeout_s=timeout_s)
    except MetricsError as exc:
        raise InspectError(f"agent metrics at {redact(url)}: {_first_line(exc)}") from exc
