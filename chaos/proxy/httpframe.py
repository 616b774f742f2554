"""HTTP/1.1 message framing for the HTTP toxics: where each message's head, body and end lie.

A ``Framer`` reads one direction of a connection (requests, or responses) in whatever
chunks TCP delivers and cuts it into pieces: ``Head``, ``Body``, ``End`` and
``Opaque``. It is byte-exact: the pieces carry every byte fed, unchanged and in order,
so a toxic that passes them on forwards exactly what it received. Bodies are framed as
RFC 9112 section 6 says: ``Transfer-Encoding: chunked`` (chunk sizes, extensions and
trailers), ``Content-Length``, no body (HEAD, 1xx, 204, 304), or until the server
closes. Whatever cannot be framed safely becomes ``Opaque`` for good and is never
looked at again: bytes that do not start like HTTP/1.x (Redis, PostgreSQL, TLS, the
HTTP/2 preface), a head over 64 KiB, an invalid length, and the tunnel after an
Upgrade or CONNECT.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_HEAD = 64 * 1024
MAX_LINE = 4096  # a chunk-size line
TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
REQUEST_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+) (\S+) HTTP/1\.[01]")
STATUS_LINE = re.compile(rb"HTTP/1\.([01]) ([0-9]{3})(?: .*)?")
HEADER_LINE = re.compile(rb"([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*")
HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class Head:
    """A request or response head: start line and header fields, and its raw bytes."""

    raw: bytes
    method: str  # the request's method; "" for a response
    status: int  # the response's status; 0 for a request
    version: str  # "1.0" or "1.1"
    headers: tuple[tuple[str, str], ...]  # lower-case names

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (values of repeated fields joined with ", ")."""
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    def tokens(self, name: str) -> list[str]:
        """The comma-separated tokens of header ``name``, lower-cased."""
        value = self.header(name) or ""
        return [t.strip().lower() for t in value.split(",") if t.strip()]

    @property
    def closes(self) -> bool:
        """True when the connection ends after this message (Connection: close, HTTP/1.0)."""
        tokens = self.tokens("connection")
        return "close" in tokens or (self.version == "1.0" and "keep-alive" not in tokens)


@dataclass(frozen=True)
class Body:
    """Bytes of a message body, chunk framing included."""

    raw: bytes


@dataclass(frozen=True)
class End:
    """The message whose head came last is complete (no bytes)."""


@dataclass(frozen=True)
class Opaque:
    """Bytes that are not framed: everything from here on passes through untouched."""

    raw: bytes


Piece = Head | Body | End | Opaque
END = End()


class Framer:
    """Cuts one direction of an HTTP/1.1 connection into heads, bodies and ends.

    ``kind`` is ``"request"`` or ``"response"``; a response framer asks
    ``request_method()`` for the method of the request each response answers (a
    response to HEAD has no body, a 2xx to CONNECT opens a tunnel).
    """

    def __init__(self, kind: str, request_method: Callable[[], str | None] = lambda: None):
        self.kind = kind
        self.request_method = request_method
        self.opaque = False
        self._buf = bytearray()
        self._state = "head"
        self._remaining = 0
        self._after_end = "head"  # "opaque" after an Upgrade or a tunnel

    @property
    def holding(self) -> bool:
        """True while bytes of an incomplete head are held back (not yet in a piece)."""
        return bool(self._buf)

    def feed(self, data: bytes) -> list[Piece]:
        """The pieces of ``data`` (bytes that end mid-head are kept for the next call)."""
        if self.opaque:
            return [Opaque(data)] if data else []
        self._buf += data
        pieces: list[Piece] = []
        pos = 0
        buf = self._buf
        while pos < len(buf) and not self.opaque:
            state = self._state
            if state == "head":
                taken = self._head(pos, pieces)
                if taken == 0:
                    break
                pos += taken
            elif state in ("length", "chunk_data"):
                size = min(self._remaining, len(buf) - pos)
                pieces.append(Body(bytes(buf[pos : pos + size])))
                pos += size
                self._remaining -= size
                if self._remaining == 0:
                    if state == "length":
                        self._end(pieces)
                    else:
                        self._state = "chunk_crlf"
            elif state == "until_close":
                pieces.append(Body(bytes(buf[pos:])))
                pos = len(buf)
            else:  # a line: chunk size, CRLF after chunk data, or a trailer line
                taken = self._line(pos, pieces)
                if taken == 0:
                    break
                pos += taken
        if self.opaque:
            if pos < len(buf):
                pieces.append(Opaque(bytes(buf[pos:])))
            buf.clear()
        else:
            del buf[:pos]
        return pieces

    def feed_eof(self) -> list[Piece]:
        """The pieces left when the stream ends: a partial head, or a body cut by the close."""
        pieces: list[Piece] = []
        if self._buf:
            pieces.append(Opaque(bytes(self._buf)))
            self._buf.clear()
        elif self._state == "until_close":
            pieces.append(END)
        self.opaque = True
        return pieces

    # -- internals ----------------------------------------------------------------------
    def _give_up(self) -> None:
        self.opaque = True

    def _plausible(self, start: int) -> bool:
        """Whether the bytes from ``start`` can still become a start line."""
        buf = self._buf
        if self.kind == "response":
            prefix = bytes(buf[start : start + 5])
            return b"HTTP/".startswith(prefix)
        for index in range(start, min(len(buf), start + 33)):
            byte = buf[index]
            if byte == 0x20:
                return index > start
            if byte not in TCHAR:
                return False
        return len(buf) - start < 33

    def _head(self, pos: int, pieces: list[Piece]) -> int:
        buf = self._buf
        start = pos
        while start < len(buf) and buf[start] in (0x0D, 0x0A) and self.kind == "request":
            start += 1  # empty lines before a request line are allowed (RFC 9112 2.2)
        if start < len(buf) and not self._plausible(start):
            self._give_up()
            return 0
        found = HEAD_END.search(buf, start)
        if found is None:
            if len(buf) - pos > MAX_HEAD:
                self._give_up()
            return 0
        head = self._parse(bytes(buf[pos : found.end()]), bytes(buf[start : found.start()]))
        if head is None:
            self._give_up()
            return 0
        pieces.append(head)
        self._frame_body(head, pieces)
        return found.end() - pos

    def _parse(self, raw: bytes, text: bytes) -> Head | None:
        lines = [line.rstrip(b"\r") for line in text.split(b"\n")]
        headers = []
        for line in lines[1:]:
            match = HEADER_LINE.fullmatch(line)
            if match is None:
                return None  # obsolete line folding or garbage: do not guess
            headers.append((match[1].decode().lower(), match[2].decode("latin-1")))
        if self.kind == "request":
            request = REQUEST_LINE.fullmatch(lines[0])
            if request is None:
                return None
            version = lines[0][-3:].decode()
            return Head(raw, request[1].decode(), 0, version, tuple(headers))
        status = STATUS_LINE.fullmatch(lines[0])
        if status is None:
            return None
        return Head(raw, "", int(status[2]), f"1.{status[1].decode()}", tuple(headers))

    def _frame_body(self, head: Head, pieces: list[Piece]) -> None:
        self._after_end = "head"
        if self.kind == "request":
            if head.method == "CONNECT" or head.header("upgrade") is not None:
                self._after_end = "opaque"
        else:
            method = self.request_method() or ""
            if head.status == 101 or (method == "CONNECT" and 200 <= head.status < 300):
                self._after_end = "opaque"
                self._end(pieces)
                return
            if head.status < 200 or head.status in (204, 304) or method == "HEAD":
                self._end(pieces)
                return
        codings = head.tokens("transfer-encoding")
        if codings:
            if codings[-1] == "chunked":
                self._state = "chunk_size"
            elif self.kind == "response":
                self._state = "until_close"
            else:
                self._give_up()  # a request body without a length cannot be framed
            return
        length = head.header("content-length")
        if length is not None:
            values = {v.strip() for v in length.split(",")}
            value = values.pop() if len(values) == 1 else ""
            if not value.isdigit():
                self._give_up()
                return
            self._remaining = int(value)
            if self._remaining == 0:
                self._end(pieces)
            else:
                self._state = "length"
            return
        if self.kind == "response":
            self._state = "until_close"
        else:
            self._end(pieces)

    def _line(self, pos: int, pieces: list[Piece]) -> int:
        buf = self._buf
        newline = buf.find(b"\n", pos, pos + MAX_LINE)
        if newline < 0:
            if len(buf) - pos >= MAX_LINE:
                self._give_up()
            return 0
        line = bytes(buf[pos : newline + 1])
        pieces.append(Body(line))
        text = line.rstrip(b"\r\n")
        if self._state == "chunk_size":
            size = text.split(b";", 1)[0].strip()
            try:
                self._remaining = int(size, 16)
            except ValueError:
                self._give_up()
                return len(line)
            self._state = "chunk_data" if self._remaining else "trailers"
        elif self._state == "chunk_crlf":
            if text:
                self._give_up()
            else:
                self._state = "chunk_size"
        elif not text:  # the empty line after the trailers ends the message
            self._end(pieces)
        return len(line)

    def _end(self, pieces: list[Piece]) -> None:
        pieces.append(END)
        self._state = "head"
        if self._after_end == "opaque":
            self.opaque = True
