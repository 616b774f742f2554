"""Proxies (a listener plus its live connections and toxics) and the collection of them.

Lifecycle follows Toxiproxy: enabling binds the stored listen address and stores the
bound one (so a ``:0`` port is kept across disable/enable and reset); disabling or
deleting closes the listener and every live connection; toxics act on live connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from chaos.proxy import addresses, httptoxics  # noqa: F401 (it registers the HTTP runners)
from chaos.proxy.exceptions import Conflict, ListenError, NotFound
from chaos.proxy.links import ClientSide, Connection
from chaos.proxy.metrics import Cell, ProxyMetrics
from chaos.proxy.toxics import Toxic

log = logging.getLogger("chaos.proxy")

DEFAULT_DIAL_TIMEOUT = 10.0


@dataclass
class ProxySpec:
    """The user-settable fields of a proxy, as decoded from the API."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


class Proxy:
    """One named proxy: listener, upstream address, toxics and live connections."""

    def __init__(
        self,
        spec: ProxySpec,
        metrics: ProxyMetrics,
        dial_timeout: float = DEFAULT_DIAL_TIMEOUT,
    ) -> None:
        self.name = spec.name
        self.listen = spec.listen
        self.upstream = spec.upstream
        self.enabled = False
        self.metrics = metrics
        self.dial_timeout = dial_timeout
        self.toxics: list[Toxic] = []
        self.connections: set[Connection] = set()
        # The run that disabled the proxy (header X-Chaoslab-Run), while it is disabled.
        self.disabled_by_run = ""
        self._server: asyncio.AbstractServer | None = None
        self._conn_cells: tuple[Cell, Cell] | None = None

    # -- JSON ---------------------------------------------------------------------------
    def ordered_toxics(self) -> list[Toxic]:
        """Upstream toxics first, then downstream ones, each in insertion order."""
        return [t for t in self.toxics if t.direction == "upstream"] + [
            t for t in self.toxics if t.direction == "downstream"
        ]

    def to_json(self) -> dict[str, Any]:
        """The proxy-with-toxics object, Go field order, including Go's ``"Logger":{}``."""
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "Logger": {},
            "toxics": [t.to_json() for t in self.ordered_toxics()],
        }

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Bind the listen address and accept clients; ListenError (500) when it fails."""
        if self.enabled:
            return
        address = await addresses.resolve(self.listen)
        sock, listen = addresses.bind(address)
        loop = asyncio.get_running_loop()
        try:
            self._server = await loop.create_server(lambda: ClientSide(self), sock=sock)
        except OSError as exc:
            sock.close()
            raise ListenError(f"listen tcp {listen}: {exc}") from None
        self.listen = listen
        self.enabled = True
        self.disabled_by_run = ""
        self._conn_cells = None
        log.info(
            "Started proxy",
            extra={"proxy": self.name, "listen": self.listen, "upstream": self.upstream},
        )

    def stop(self) -> None:
        """Close the listener and every live connection (clients see EOF)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for conn in list(self.connections):
            conn.kill()
        self.connections.clear()
        if self.enabled:
            log.info(
                "Terminated proxy",
                extra={"proxy": self.name, "listen": self.listen, "upstream": self.upstream},
            )
        self.enabled = False

    # -- connections (called by the data plane) --------------------------------------------
    def register(self, conn: Connection) -> bool:
        """Track a new client connection; False when the proxy is no longer enabled."""
        if not self.enabled:
            return False
        self.connections.add(conn)
        accepted, active = self.connection_cells()
        accepted.value += 1
        active.value += 1
        return True

    def unregister(self, conn: Connection) -> None:
        """Forget a closed connection."""
        if conn in self.connections:
            self.connections.discard(conn)
            self.connection_cells()[1].value -= 1

    def connection_cells(self) -> tuple[Cell, Cell]:
        """Connection counters for the current listen address."""
        if self._conn_cells is None:
            self._conn_cells = self.metrics.connection_cells(self.listen, self.name, self.upstream)
        return self._conn_cells

    def link_cells(self, direction: str) -> tuple[Cell, Cell]:
        """Byte counters of one direction for the current listen address."""
        return self.metrics.link_cells(direction, self.listen, self.name, self.upstream)

    # -- toxics -----------------------------------------------------------------------------
    def find_toxic(self, name: str) -> Toxic:
        """The toxic called ``name``, or NotFound."""
        for toxic in self.toxics:
            if toxic.name == name:
                return toxic
        raise NotFound("toxic not found")

    def add_toxic(self, toxic: Toxic) -> None:
        """Add a toxic and start it on every live connection."""
        self.toxics.append(toxic)
        for conn in list(self.connections):
            link = conn.links.get(toxic.direction)
            if link is not None:
                link.add_toxic(toxic)

    def update_toxic(self, toxic: Toxic, attributes: dict[str, int], toxicity: float) -> None:
        """Change a toxic in place and restart it on every live connection."""
        toxic.attributes = attributes
        toxic.toxicity = toxicity
        for conn in list(self.connections):
            link = conn.links.get(toxic.direction)
            runner = link.find(toxic.name) if link is not None else None
            if runner is not None:
                runner.restart()

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic from the proxy and from every live connection."""
        toxic = self.find_toxic(name)
        self.toxics.remove(toxic)
        for conn in list(self.connections):
            link = conn.links.get(toxic.direction)
            if link is not None:
                link.remove_toxic(name)

    def remove_all_toxics(self) -> None:
        """Remove every toxic (``/reset``)."""
        for toxic in list(self.toxics):
            self.remove_toxic(toxic.name)


class ProxyCollection:
    """Every proxy by name, with the create/update/populate/reset rules of Toxiproxy."""

    def __init__(
        self, metrics: ProxyMetrics | None = None, dial_timeout: float = DEFAULT_DIAL_TIMEOUT
    ) -> None:
        self.metrics = metrics or ProxyMetrics()
        self.dial_timeout = dial_timeout
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        """The proxy called ``name``, or NotFound."""
        proxy = self.proxies.get(name)
        if proxy is None:
            raise NotFound("proxy not found")
        return proxy

    async def add(self, spec: ProxySpec) -> Proxy:
        """Create a proxy (started if enabled); it is not kept when binding fails."""
        if spec.name in self.proxies:
            raise Conflict("proxy already exists")
        proxy = Proxy(spec, self.metrics, self.dial_timeout)
        if spec.enabled:
            await proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    async def update(self, proxy: Proxy, listen: str, upstream: str, enabled: bool) -> None:
        """Apply an update: restart on a changed address, then enable or disable."""
        if await self._differs(proxy, listen, upstream):
            proxy.stop()
            proxy.listen = listen
            proxy.upstream = upstream
        if enabled and not proxy.enabled:
            await proxy.start()
        elif not enabled and proxy.enabled:
            proxy.stop()

    async def _differs(self, proxy: Proxy, listen: str, upstream: str) -> bool:
        if upstream != proxy.upstream:
            return True
        new = await addresses.resolve(listen)
        if new.port == 0:
            return True  # a random port is always a new address
        if listen == proxy.listen:
            return False
        try:
            current = await addresses.resolve(proxy.listen)
        except ListenError:
            return True
        return new != current

    def remove(self, name: str) -> None:
        """Stop and delete a proxy."""
        self.get(name).stop()
        del self.proxies[name]

    async def populate(self, specs: Sequence[ProxySpec]) -> list[Proxy]:
        """Create or replace proxies in order; keep those whose address is unchanged.

        Not atomic (as in Toxiproxy): on a failure, ListenError carries the proxies done so far.
        """
        done: list[Proxy] = []
        for spec in specs:
            existing = self.proxies.get(spec.name)
            try:
                if existing is not None:
                    if not await self._differs(existing, spec.listen, spec.upstream):
                        done.append(existing)
                        continue
                    self.remove(spec.name)
                done.append(await self.add(spec))
            except ListenError as exc:
                exc.extra = {"proxies": [p.to_json() for p in done]}
                raise
        return done

    async def reset(self) -> None:
        """Re-enable every disabled proxy and remove every toxic; connections stay open."""
        for name in sorted(self.proxies):
            proxy = self.proxies[name]
            await proxy.start()
            proxy.remove_all_toxics()

    def close(self) -> None:
        """Stop every proxy (server shutdown)."""
        for proxy in self.proxies.values():
            with contextlib.suppress(Exception):
                proxy.stop()
