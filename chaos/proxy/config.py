"""Command-line flags (Go style), the ``-config`` proxies file, and JSON logging."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8474

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "panic": logging.CRITICAL,
}
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


@dataclass(frozen=True)
class Options:
    """Parsed command-line options."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    config: str = ""
    seed: int | None = None
    token: str | None = None
    dial_timeout: float = 10.0
    loop: str = "auto"
    version: bool = False


def _go_bool(text: str) -> bool:
    value = text.lower()
    if value in ("1", "t", "true"):
        return True
    if value in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}")
    return int(text)


def _flag(parser: argparse.ArgumentParser, name: str, **kwargs: Any) -> None:
    """Accept ``-name``, ``--name``, ``-name=value`` and ``--name=value`` like Go's flag package."""
    parser.add_argument(f"-{name}", f"--{name}", dest=name.replace("-", "_"), **kwargs)


def parse_args(argv: list[str] | None) -> Options:
    """Parse the Toxiproxy server flags plus this server's extensions."""
    parser = argparse.ArgumentParser(
        prog="chaoslab proxy",
        description="Toxiproxy-compatible fault proxy (HTTP API of Toxiproxy 2.12).",
        allow_abbrev=False,
    )
    _flag(parser, "host", default=DEFAULT_HOST, help="API host to listen on (default 127.0.0.1)")
    _flag(parser, "port", type=_port, default=DEFAULT_PORT, help="API port (0 picks a free one)")
    _flag(parser, "config", default="", help="JSON file with an array of proxies to create")
    _flag(parser, "seed", type=int, default=None, help="seed for toxicity rolls and jitter")
    for name in ("proxy-metrics", "runtime-metrics", "version"):
        _flag(parser, name, type=_go_bool, nargs="?", const=True, default=False)
    _flag(
        parser,
        "token",
        default=os.environ.get("CHAOS_PROXY_TOKEN") or None,
        help="require 'Authorization: Bearer TOKEN' on the API (env CHAOS_PROXY_TOKEN)",
    )
    _flag(parser, "dial-timeout", type=float, default=10.0, help="upstream connect timeout, s")
    _flag(
        parser,
        "loop",
        choices=("auto", "asyncio", "uvloop"),
        default="auto",
        help="event loop: uvloop when installed (auto), or the asyncio default",
    )
    ns = parser.parse_args(argv)
    return Options(
        host=ns.host,
        port=ns.port,
        config=ns.config,
        seed=ns.seed,
        token=ns.token,
        dial_timeout=ns.dial_timeout,
        loop=ns.loop,
        version=ns.version,
    )


def read_config(path: str) -> bytes:
    """The raw bytes of a ``-config`` file (errors are the caller's to log)."""
    return Path(path).read_bytes()


class JSONFormatter(logging.Formatter):
    """One JSON object per line: level, time, message and any ``extra`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "level": record.levelname.lower().replace("warning", "warn"),
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(record.created)),
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS:
                entry[key] = value
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging() -> None:
    """JSON logs on stdout at ``LOG_LEVEL`` (trace..panic, default info), like Toxiproxy."""
    logger = logging.getLogger("chaos.proxy")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JSONFormatter())
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(_LEVELS.get(os.environ.get("LOG_LEVEL", "info").lower(), logging.INFO))
