"""The data plane: one proxied TCP connection, its two sockets and its two links.

Sockets are asyncio Protocols (callbacks, no per-chunk task switch), so a link with no
toxics forwards each read straight to the other socket. A link with toxics queues its
chunks (at most 32 KiB each) for a processor task that runs the chain in order; when the
last toxic goes and the queue is drained it falls back to the direct path. Ordering is
kept across both paths because the direct path is only taken when nothing is queued.

Half-close is propagated: EOF from one side becomes ``write_eof`` on the other after it
has passed the link's toxics, and the connection closes once both directions have ended
(Toxiproxy closes both sockets on the first EOF, which loses replies to half-closed
requests). Backpressure: a source stops reading while its destination's write buffer is
full, or while its link has 1024 chunks queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from chaos.proxy.addresses import split_upstream
from chaos.proxy.behaviours import EOF, Chunk, EndOfStream, Item, Runner, make_runner
from chaos.proxy.metrics import Cell
from chaos.proxy.toxics import Toxic

if TYPE_CHECKING:
    from chaos.proxy.proxies import Proxy

log = logging.getLogger("chaos.proxy")

CHUNK_SIZE = 32 * 1024
MAX_QUEUED = 1024
RESUME_QUEUED = 256
WRITE_HIGH_WATER = 512 * 1024


class Side(asyncio.Protocol):
    """One socket of a proxied connection: the accepted client or the dialled upstream."""

    def __init__(self, conn: Connection, name: str) -> None:
        self.conn = conn
        self.name = name
        self.transport: asyncio.Transport | None = None
        self.out_link: Link | None = None  # reads from this socket
        self.in_link: Link | None = None  # writes to this socket
        self.write_paused = False
        self.lost = False
        self._writable: asyncio.Future[None] | None = None
        # Data or EOF that arrives before the links exist (uvloop may start reading
        # even when pause_reading() was called in connection_made).
        self.early: list[bytes] = []
        self.early_eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.transport.set_write_buffer_limits(high=WRITE_HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        link = self.out_link
        if link is not None:
            link.feed(data)
            return
        self.early.append(data)
        if self.transport is not None:
            self.transport.pause_reading()

    def eof_received(self) -> bool:
        if self.out_link is not None:
            self.out_link.feed_eof()
        else:
            self.early_eof = True
        return True  # keep our write side open: half-close

    def attach(self, out_link: Link, in_link: Link) -> None:
        """Connect this socket to its links and hand over anything read before."""
        self.out_link, self.in_link = out_link, in_link
        early, self.early = self.early, []
        for data in early:
            out_link.feed(data)
        if self.early_eof:
            out_link.feed_eof()
        elif self.transport is not None and not self.lost:
            self.transport.resume_reading()

    def pause_writing(self) -> None:
        self.write_paused = True
        if self.in_link is not None:
            self.in_link.update_source_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self.in_link is not None:
            self.in_link.update_source_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self.conn.side_lost(self, exc)

    async def writable(self) -> None:
        """Wait until the write buffer drains below its low-water mark."""
        if self.write_paused and not self.lost:
            self._writable = asyncio.get_running_loop().create_future()
            await self._writable


class ClientSide(Side):
    """The accepted client socket; creating one starts a Connection."""

    def __init__(self, proxy: Proxy) -> None:
        super().__init__(Connection(proxy), "client")
        self.conn.client = self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.pause_reading()  # until the upstream is connected
        self.conn.accepted()


class Link:
    """One direction of a connection with its chain of toxic runners."""

    def __init__(
        self, conn: Connection, direction: str, source: Side, dest: Side, cells: tuple[Cell, Cell]
    ) -> None:
        self.conn = conn
        self.direction = direction
        self.source = source
        self.dest = dest
        self.received, self.sent = cells
        self.runners: list[Runner] = []
        self.queue: deque[Item] = deque()
        self.busy = False
        self.dead = False  # destination gone: drop everything
        self.eof_sent = False
        self.eof_seen = False
        self.queue_full = False
        self.source_paused = False
        self.task: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        assert dest.transport is not None
        self._write = dest.transport.write

    # -- input from the source socket -------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Data read from the source: forward directly, or queue it for the toxics."""
        size = len(data)
        self.received.value += size
        if not self.runners and not self.queue and not self.busy and not self.dead:
            self._write(data)
            self.sent.value += size
            return
        if self.dead:
            return
        now = asyncio.get_running_loop().time()
        if size <= CHUNK_SIZE:
            self.queue.append(Chunk(data, now))
        else:
            for start in range(0, size, CHUNK_SIZE):
                self.queue.append(Chunk(data[start : start + CHUNK_SIZE], now))
        if len(self.queue) >= MAX_QUEUED and not self.queue_full:
            self.queue_full = True
            self.update_source_reading()
        self._kick()

    def feed_eof(self) -> None:
        """The source half-closed (or is gone)."""
        if self.eof_seen:
            return
        self.eof_seen = True
        if not self.runners and not self.queue and not self.busy:
            self._send_eof()
        elif not self.dead:
            self.queue.append(EOF)
            self._kick()

    def update_source_reading(self) -> None:
        """Pause or resume reading the source to match the destination and the queue."""
        transport = self.source.transport
        if transport is None or self.source.lost or transport.is_closing():
            return
        want_pause = self.dest.write_paused or self.queue_full
        if want_pause and not self.source_paused:
            self.source_paused = True
            transport.pause_reading()
        elif not want_pause and self.source_paused:
            self.source_paused = False
            transport.resume_reading()

    # -- toxics -------------------------------------------------------------------------
    def add_toxic(self, toxic: Toxic) -> None:
        """Start a runner for a newly added toxic; it applies from the next chunk on."""
        self.runners.append(make_runner(toxic, self.conn))
        self._kick()

    def find(self, name: str) -> Runner | None:
        """The runner of the toxic called ``name`` on this link."""
        for runner in self.runners:
            if runner.toxic.name == name:
                return runner
        return None

    def remove_toxic(self, name: str) -> None:
        """Remove a toxic; a chunk it was holding goes on at once."""
        runner = self.find(name)
        if runner is not None:
            self.runners.remove(runner)
            runner.remove()
            self._kick()

    def stop(self) -> None:
        """The connection is closing: stop runners and the processor, drop the queue."""
        self.dead = True
        self.queue.clear()
        for runner in self.runners:
            runner.stop()
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        task = self.task
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    # -- processor ------------------------------------------------------------------------
    def _kick(self) -> None:
        if self.dead:
            return
        if self.task is None:
            if self.runners or self.queue:
                self.task = asyncio.get_running_loop().create_task(self._process())
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _process(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while not self.dead:
                if not self.queue:
                    if not self.runners:
                        return  # back to the direct path
                    self._waiter = loop.create_future()
                    await self._waiter
                    self._waiter = None
                    continue
                item = self.queue.popleft()
                self.busy = True
                if self.queue_full and len(self.queue) <= RESUME_QUEUED:
                    self.queue_full = False
                    self.update_source_reading()
                await self._forward(tuple(self.runners), 0, item)
                self.busy = False
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception("toxic chain failed", extra={"proxy": self.conn.proxy.name})
            self.conn.close()
        finally:
            self.busy = False
            self.task = None

    async def _forward(self, chain: tuple[Runner, ...], index: int, item: Item) -> None:
        while index < len(chain):
            runner = chain[index]
            index += 1
            if runner.removed or not runner.active:
                continue  # pass-through: the toxicity roll said no, or it was removed

            async def emit(out: Item, _next: int = index) -> None:
                await self._forward(chain, _next, out)

            if isinstance(item, EndOfStream):
                await runner.on_eof(emit)
            else:
                await runner.on_chunk(item, emit)
            return
        await self._deliver(item)

    async def _deliver(self, item: Item) -> None:
        if self.dead or self.eof_sent:
            return
        if isinstance(item, EndOfStream):
            self._send_eof()
            return
        if self.dest.write_paused:
            await self.dest.writable()
            if self.dead or self.eof_sent:
                return
        self._write(item.data)
        self.sent.value += len(item.data)

    def _send_eof(self) -> None:
        if self.eof_sent:
            return
        self.eof_sent = True
        transport = self.dest.transport
        if not self.dead and transport is not None and not transport.is_closing():
            with contextlib.suppress(OSError, RuntimeError):
                if transport.can_write_eof():
                    transport.write_eof()
        self.conn.link_ended()


class Connection:
    """A client connection and its upstream, with the links between them."""

    def __init__(self, proxy: Proxy) -> None:
        self.proxy = proxy
        self.client: ClientSide
        self.upstream: Side | None = None
        self.links: dict[str, Link] = {}
        self.closed = False
        self._dial: asyncio.Task[None] | None = None
        self._registered = False

    def accepted(self) -> None:
        """The client socket is open: register and dial the upstream in the background."""
        self._registered = self.proxy.register(self)
        if not self._registered:
            self.kill()
            return
        self._dial = asyncio.get_running_loop().create_task(self._connect_upstream())

    async def _connect_upstream(self) -> None:
        loop = asyncio.get_running_loop()
        upstream = self.proxy.upstream
        side = Side(self, "upstream")
        try:
            host, port = split_upstream(upstream)
            await asyncio.wait_for(
                loop.create_connection(lambda: side, host, port),
                timeout=self.proxy.dial_timeout,
            )
        except (OSError, ValueError, TimeoutError) as exc:
            log.warning(
                "Unable to open connection to upstream",
                extra={
                    "proxy": self.proxy.name,
                    "upstream": upstream,
                    "err": str(exc) or repr(exc),
                },
            )
            self.close()
            return
        finally:
            self._dial = None
        if self.closed:
            if side.transport is not None:
                side.transport.abort()
            return
        self.upstream = side
        self._start_links()

    def _start_links(self) -> None:
        assert self.upstream is not None
        client, upstream, proxy = self.client, self.upstream, self.proxy
        up = Link(self, "upstream", client, upstream, proxy.link_cells("upstream"))
        down = Link(self, "downstream", upstream, client, proxy.link_cells("downstream"))
        self.links = {"upstream": up, "downstream": down}
        for toxic in proxy.toxics:
            self.links[toxic.direction].add_toxic(toxic)
        client.attach(up, down)
        upstream.attach(down, up)

    # -- ConnectionControl (used by toxics) -----------------------------------------------
    def close(self) -> None:
        """Close both sockets after flushing what was already written to them."""
        self._teardown(lambda t: t.close())

    def reset(self) -> None:
        """Close both sockets with RST (SO_LINGER 0), as reset_peer does."""

        def rst(transport: asyncio.Transport) -> None:
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            transport.abort()

        self._teardown(rst)

    def kill(self) -> None:
        """Drop the connection now, discarding unsent data (proxy disabled or deleted)."""
        self._teardown(lambda t: t.abort())

    def _teardown(self, how: Callable[[asyncio.Transport], None]) -> None:
        if self.closed:
            return
        self.closed = True
        for link in self.links.values():
            link.stop()
        if self._dial is not None:
            self._dial.cancel()
        for side in (self.client, self.upstream):
            if side is not None and side.transport is not None and not side.lost:
                with contextlib.suppress(OSError, RuntimeError):
                    how(side.transport)
        self._unregister()

    def _unregister(self) -> None:
        if self._registered:
            self._registered = False
            self.proxy.unregister(self)

    # -- events from the sockets -------------------------------------------------------
    def side_lost(self, side: Side, exc: Exception | None) -> None:
        """A socket closed: nothing more can be written to it or read from it."""
        if self.closed:
            return
        if not self.links:
            self.close()  # still dialling, or the dial failed
            return
        if side.in_link is not None:
            side.in_link.stop()
        if side.out_link is not None:
            side.out_link.feed_eof()
        self.link_ended()

    def link_ended(self) -> None:
        """A direction has ended; when both have, close the connection."""
        if self.closed or not self.links:
            return
        if all(link.eof_sent or link.dead for link in self.links.values()):
            self.close()
