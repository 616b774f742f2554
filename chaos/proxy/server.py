"""ProxyServer: the control API and every proxy in one event loop; ``main()`` runs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from chaos.proxy import behaviours
from chaos.proxy.api import API, VERSION, parse_populate
from chaos.proxy.config import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    Options,
    configure_logging,
    parse_args,
    read_config,
)
from chaos.proxy.exceptions import APIError
from chaos.proxy.httpserver import HTTPServer
from chaos.proxy.proxies import DEFAULT_DIAL_TIMEOUT, ProxyCollection

log = logging.getLogger("chaos.proxy")

READY_MESSAGE = "Starting Toxiproxy HTTP server"


class ProxyServer:
    """A Toxiproxy-compatible server; ``await start()`` binds, ``await stop()`` ends it."""

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        config: str = "",
        *,
        token: str | None = None,
        dial_timeout: float = DEFAULT_DIAL_TIMEOUT,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.config = config
        self.collection = ProxyCollection(dial_timeout=dial_timeout)
        self.api = API(self.collection, token=token)
        self._http = HTTPServer(self.api.handle)
        self.port: int | None = None

    @property
    def url(self) -> str:
        """Base URL of the control API (after start)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> int:
        """Create the ``-config`` proxies, then bind the API; returns the bound API port."""
        if self.config:
            await self.load_config(self.config)
        try:
            self.port = await self._http.start(self.host, self.requested_port)
        except OSError:
            self.collection.close()
            raise
        log.debug("API listening", extra={"host": self.host, "port": self.port})
        return self.port

    async def load_config(self, path: str) -> None:
        """Populate from a JSON file of proxies; failures are logged, not fatal (as in Go)."""
        try:
            specs = parse_populate(read_config(path))
            proxies = await self.collection.populate(specs)
        except (OSError, APIError) as exc:
            log.error(
                "Failed to populate proxies from file", extra={"config": path, "err": str(exc)}
            )
            return
        log.info("Populated proxies from file", extra={"config": path, "proxies": len(proxies)})

    async def stop(self) -> None:
        """Close the API and every proxy with its connections."""
        await self._http.stop()
        self.collection.close()


async def _serve(options: Options, ready: Callable[[ProxyServer], None]) -> int:
    server = ProxyServer(
        options.host,
        options.port,
        options.config,
        token=options.token,
        dial_timeout=options.dial_timeout,
    )
    try:
        await server.start()
    except OSError as exc:
        log.error("API server failed to listen", extra={"host": options.host, "err": str(exc)})
        return 1
    ready(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    log.info("Shutting down")
    await server.stop()
    return 0


def _run(coro: Coroutine[Any, Any, int], loop_kind: str) -> int:
    factory = None
    if loop_kind in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if loop_kind == "uvloop":
                raise
        else:
            factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(coro)


def _print_ready(server: ProxyServer) -> None:
    # Printed whatever LOG_LEVEL says: wrappers and tests read the bound port from it.
    line = {
        "level": "info",
        "message": READY_MESSAGE,
        "host": server.host,
        "port": server.port,
        "version": VERSION,
    }
    print(json.dumps(line), flush=True)


def main(argv: list[str] | None = None) -> int:
    """Run the server until SIGINT or SIGTERM; returns the process exit status."""
    options = parse_args(argv)
    if options.version:
        print(f"toxiproxy-server version {VERSION}")
        return 0
    if options.seed is not None:
        behaviours.rng.seed(options.seed)
    configure_logging()
    try:
        return _run(_serve(options, _print_ready), options.loop)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
