"""HTTP toxics, an extension: ``http_status`` and ``http_delay`` for HTTP/1.x upstreams.

Toxiproxy's toxics act on one direction of a TCP connection, and ``toxicity`` is rolled
once per connection and direction (``ToxicStub.Run``). HTTP faults need more:

- Per request. Pooled keep-alive clients send all their requests over one or two
  connections, so a per-connection roll would fault all of a client's requests or
  none. Here ``toxicity`` is the probability that each request is affected, rolled
  when its head has arrived (with the proxy's ``-seed``).
- Both directions. Answering a request without the server, or delaying a response,
  means seeing requests on the upstream link and responses on the downstream one. Each
  HTTP toxic therefore runs as a pair on every connection (a request side and a
  response side sharing one queue of requests awaiting their response), cut into
  messages by ``httpframe`` (Content-Length and chunked bodies, keep-alive and
  pipelining). Answers are sent in request order, after the responses owed before them.

Types (integer attributes, as every Toxiproxy toxic; ``stream`` says where it acts):

- ``http_status``: ``status`` (200-599, required), ``retry_after`` (seconds; 0 sends no
  ``Retry-After``). Upstream: the chosen requests never reach the server; the proxy
  answers them with ``status`` and a small JSON body. Downstream: the server handles
  the request, and its response is replaced by that answer (a lost reply after a side
  effect).
- ``http_delay``: ``delay`` (milliseconds). Downstream: the response head of the chosen
  requests is held for ``delay`` after it arrives (a slow server; the body follows it).
  Upstream: the chosen requests are held before they reach the server.

HTTP toxics sit next to the server: TCP toxics on the same proxy act between them and
the client, and several HTTP toxics nest (the last added is nearest the server). The
upstream is still dialled for every connection, as for any proxy. Bytes that are not
HTTP/1.x pass through untouched, as does everything after an Upgrade or CONNECT.
Removing an HTTP toxic in the middle of a message it swallows or rewrites closes that
connection, as removing a ``timeout`` does.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import TYPE_CHECKING, Protocol, cast

from chaos.proxy.behaviours import EOF, RUNNERS, Chunk, ConnectionControl, Emit, Runner, rng
from chaos.proxy.httpframe import Body, End, Framer, Head, Opaque, Piece
from chaos.proxy.toxics import Toxic

if TYPE_CHECKING:
    from chaos.proxy.links import Link


class _WithLinks(Protocol):
    links: dict[str, Link]

    def close(self) -> None: ...


@dataclass
class Entry:
    """A request awaiting its response, in the order requests arrived."""

    method: str
    closes: bool  # the connection ends after this exchange
    hit: bool  # the toxicity roll chose this request
    answer: bytes | None = None  # sent instead of a response (http_status upstream)


def answer(toxic: Toxic, method: str, closes: bool) -> bytes:
    """The response ``http_status`` sends: status line, Retry-After, a small JSON body."""
    status = toxic.attr("status")
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Injected"
    body = json.dumps({"error": reason, "toxic": toxic.name}).encode()
    lines = [f"HTTP/1.1 {status} {reason}"]
    if status not in (204, 304):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    if toxic.attr("retry_after") > 0:
        lines.append(f"Retry-After: {toxic.attr('retry_after')}")
    if closes:
        lines.append("Connection: close")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if method == "HEAD" or status in (204, 304) else head + body


class _Side(Runner):
    """One half of an HTTP toxic on one link; always active (the roll is per request)."""

    def __init__(self, toxic: Toxic, control: ConnectionControl, pair: Pair) -> None:
        # An unnamed shadow, so Link.find() by name reaches the pair's anchor, not a side.
        super().__init__(replace(toxic, name=""), control)
        self.config = toxic
        self.pair = pair
        self.framer: Framer
        self.out: list[bytes] = []

    def start(self) -> None:
        self.active = True

    async def _flush_out(self, emit: Emit, ts: float) -> None:
        if self.out:
            data, self.out = b"".join(self.out), []
            await emit(Chunk(data, ts))

    async def _hold(self, ts: float, emit: Emit) -> None:
        """Send what is ready, then wait until ``delay`` ms after ``ts``."""
        await self._flush_out(emit, ts)
        loop = asyncio.get_running_loop()
        await self.sleep(ts + self.config.attr("delay") / 1000.0 - loop.time())


class RequestSide(_Side):
    """Frames requests on the upstream link: rolls, swallows, holds them."""

    def __init__(self, toxic: Toxic, control: ConnectionControl, pair: Pair) -> None:
        super().__init__(toxic, control, pair)
        self.framer = Framer("request")
        self.swallowing = False  # inside a request the proxy answers itself
        self.draining = False  # answered a request mid Expect: 100-continue: drop the rest

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        # Once responses cannot be framed, requests are not chosen either: an answer
        # could not be put in its turn.
        if (self.framer.opaque or self.pair.response.framer.opaque) and not self.draining:
            await emit(chunk)
            return
        await self._pieces(self.framer.feed(chunk.data), chunk.ts, emit)

    async def on_eof(self, emit: Emit) -> None:
        await self._pieces(self.framer.feed_eof(), asyncio.get_running_loop().time(), emit)
        await emit(EOF)

    async def _pieces(self, pieces: list[Piece], ts: float, emit: Emit) -> None:
        toxic = self.config
        for piece in pieces:
            if self.draining:
                continue
            if isinstance(piece, Head):
                tunnel = piece.method == "CONNECT" or piece.header("upgrade") is not None
                hit = not tunnel and rng.random() < toxic.toxicity
                expects = "100-continue" in piece.tokens("expect")
                entry = Entry(piece.method, piece.closes or expects, hit)
                if hit and toxic.type == "http_status" and toxic.direction == "upstream":
                    entry.answer = answer(toxic, piece.method, entry.closes)
                    self.pair.queue(entry)
                    self.swallowing = True
                    # The client may or may not send the body it announced: nothing
                    # after this request can be framed, so the connection ends here.
                    self.draining = expects
                    continue
                self.pair.entries.append(entry)
                if hit and toxic.type == "http_delay" and toxic.direction == "upstream":
                    await self._hold(ts, emit)
                self.out.append(piece.raw)
            elif isinstance(piece, End):
                self.swallowing = False
            elif isinstance(piece, Body | Opaque) and not self.swallowing:
                self.out.append(piece.raw)
        await self._flush_out(emit, ts)

    @property
    def dirty(self) -> bool:
        return self.framer.holding or self.swallowing or self.draining


class ResponseSide(_Side):
    """Frames responses on the downstream link: sends answers in turn, replaces, holds."""

    def __init__(self, toxic: Toxic, control: ConnectionControl, pair: Pair) -> None:
        super().__init__(toxic, control, pair)
        self.framer = Framer("response", self._method)
        self.replacing = False  # inside an upstream response replaced by an answer
        self.interim = False  # the current response is a 1xx: the request still waits

    def _method(self) -> str | None:
        entries = self.pair.entries
        return entries[0].method if entries else None

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        self._due()
        if not chunk.data:
            # A wake-up from the request side; other HTTP toxics nearer the client need it.
            await self._flush_out(emit, chunk.ts)
            await emit(chunk)
            return
        if self.framer.opaque:
            await self._flush_out(emit, chunk.ts)
            await emit(chunk)
            return
        await self._pieces(self.framer.feed(chunk.data), chunk.ts, emit)

    async def on_eof(self, emit: Emit) -> None:
        self._due()
        await self._pieces(self.framer.feed_eof(), asyncio.get_running_loop().time(), emit)
        await emit(EOF)

    def _due(self) -> None:
        """Queue the answers whose turn has come (no response is owed before them)."""
        entries = self.pair.entries
        while entries and entries[0].answer is not None:
            self.out.append(entries.popleft().answer or b"")

    async def _pieces(self, pieces: list[Piece], ts: float, emit: Emit) -> None:
        toxic, entries = self.config, self.pair.entries
        for piece in pieces:
            if isinstance(piece, Head):
                self.interim = piece.status < 200 and piece.status != 101
                entry = entries[0] if entries and not self.interim else None
                if entry is not None and entry.hit and toxic.direction == "downstream":
                    if toxic.type == "http_status":
                        closes = entry.closes or piece.closes
                        self.out.append(answer(toxic, entry.method, closes))
                        self.replacing = True
                        continue
                    await self._hold(ts, emit)
                self.out.append(piece.raw)
            elif isinstance(piece, End):
                self.replacing = False
                if not self.interim and entries and entries[0].answer is None:
                    entries.popleft()
                self._due()
            elif not self.replacing:
                self.out.append(piece.raw)
            elif isinstance(piece, Opaque):
                self.control.close()  # the rest of a replaced response cannot be found
                return
        await self._flush_out(emit, ts)
        if self.framer.opaque and self.dirty:
            self.control.close()  # answers are owed that can no longer be put in turn

    @property
    def dirty(self) -> bool:
        owed = any(e.answer is not None for e in self.pair.entries)
        return self.framer.holding or self.replacing or owed


class Pair:
    """One HTTP toxic on one connection: both sides and the requests awaiting a response."""

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        self.connection = cast(_WithLinks, control)
        self.entries: deque[Entry] = deque()
        self.request = RequestSide(toxic, control, self)
        self.response = ResponseSide(toxic, control, self)

    def queue(self, entry: Entry) -> None:
        """Queue an answer; wake the response side if no response is owed before it."""
        self.entries.append(entry)
        if all(e.answer is not None for e in self.entries):
            self.connection.links["downstream"].feed(b"")


class Anchor(Runner):
    """Where the link keeps an HTTP toxic: inactive itself, it updates and removes the pair.

    The request side goes last on the upstream link and the response side first on the
    downstream one, so HTTP toxics sit next to the server, the latest added innermost,
    and each sees the responses to exactly the requests it saw.
    """

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        super().__init__(toxic, control)
        self.pair = Pair(toxic, control)
        links = self.pair.connection.links
        links["upstream"].runners.append(self.pair.request)
        links["downstream"].runners.insert(0, self.pair.response)
        self.pair.request.start()
        self.pair.response.start()

    def start(self) -> None:
        self.active = False  # the link skips it; the sides do the work

    def interrupt(self) -> None:
        self.pair.request.interrupt()
        self.pair.response.interrupt()

    def remove(self) -> None:
        super().remove()
        pair = self.pair
        dirty = pair.request.dirty or pair.response.dirty
        for direction, side in (("upstream", pair.request), ("downstream", pair.response)):
            runners = pair.connection.links[direction].runners
            if side in runners:
                runners.remove(side)
            side.remove()
        if dirty:
            pair.connection.close()  # bytes were swallowed or are still owed

    def stop(self) -> None:
        super().stop()
        self.pair.request.stop()
        self.pair.response.stop()


RUNNERS.update({"http_status": Anchor, "http_delay": Anchor})
