"""Running the simulator: the command line, and a background-thread server for tests."""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from datetime import date
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from chaos.pms_simulator.app import create_app

DEFAULT_API_KEY = "pms-dev-key"  # matches the agent's PMSSettings default


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m chaos.pms_simulator`` command line."""
    p = argparse.ArgumentParser(
        prog="python -m chaos.pms_simulator",
        description="A deterministic QloApps-like hotel PMS plus a WhatsApp Graph API recorder.",
    )
    p.add_argument("--host", default="127.0.0.1", help="bind address (default: loopback)")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument(
        "--api-key",
        default=os.environ.get("PMS_SIM_API_KEY", DEFAULT_API_KEY),
        help="required X-API-Key (default: $PMS_SIM_API_KEY or the development key)",
    )
    p.add_argument(
        "--whatsapp-token",
        default=os.environ.get("PMS_SIM_WHATSAPP_TOKEN", ""),
        help="Bearer token the Graph recorder requires (default: $PMS_SIM_WHATSAPP_TOKEN; "
        "empty accepts any)",
    )
    p.add_argument(
        "--today",
        type=date.fromisoformat,
        default=None,
        help="pin the calendar to this date (YYYY-MM-DD); default: the real date",
    )
    p.add_argument(
        "--keep-alive-s",
        type=float,
        default=5.0,
        help="close a keep-alive connection idle this long (uvicorn's default: 5 s)",
    )
    p.add_argument("--log-level", default="warning")
    p.add_argument("--access-log", action="store_true", help="log every request")
    return p


def main(argv: list[str] | None = None) -> int:
    """Serve the simulator with uvicorn until interrupted."""
    args = build_parser().parse_args(argv)
    app = create_app(args.api_key, args.today, whatsapp_token=args.whatsapp_token or None)
    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        access_log=args.access_log,
        timeout_keep_alive=args.keep_alive_s,
        timeout_graceful_shutdown=5,
    )
    return 0


class BackgroundServer:
    """Serves an ASGI app with uvicorn in a daemon thread on a free loopback port."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, 0))
        self.host, self.port = self._sock.getsockname()[:2]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        """Start serving and wait until uvicorn accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the PMS simulator did not start")
            time.sleep(0.01)

    def stop(self, timeout: float = 10.0) -> None:
        """Ask uvicorn to exit and wait for the thread."""
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
