"""A small HTTP/1.1 server on asyncio streams, enough for the Toxiproxy control API.

Keep-alive, ``Content-Length`` and chunked request bodies, ``Expect: 100-continue``,
read/idle/write timeouts like the Go server (15 s, 60 s, 30 s). A request that cannot be
parsed gets a plain ``400 Bad Request`` and the connection is closed; a handler that
raises gets a JSON 500, and the server keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import unquote

log = logging.getLogger("chaos.proxy")

READ_TIMEOUT = 15.0
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 30.0
MAX_HEADER_BYTES = 1 << 20
MAX_BODY_BYTES = 16 << 20

REASONS = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class HTTPError(Exception):
    """A request that cannot be read; answered with ``status`` and the connection closed."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status


@dataclass
class Request:
    """A parsed request; ``path`` is percent-decoded, ``headers`` keys are lower case."""

    method: str
    target: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Response:
    """A response; Content-Length and Date are added when it is sent."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)


Handler = Callable[[Request], Awaitable[Response]]


class HTTPServer:
    """Serve ``handler`` over HTTP/1.1 on asyncio streams."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._connections: set[asyncio.Task[None]] = set()

    async def start(self, host: str, port: int) -> int:
        """Listen on ``host:port`` and return the bound port."""
        self._server = await asyncio.start_server(
            self._serve, host, port, limit=MAX_HEADER_BYTES, reuse_address=True
        )
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        """Stop listening and close open API connections."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.wait(self._connections, timeout=2.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while True:
                try:
                    request = await self._read_request(reader, writer)
                except HTTPError as exc:
                    body = f"{exc.status} {REASONS.get(exc.status, '')}".encode()
                    await self._send(
                        writer, "GET", Response(exc.status, body, _plain()), keep_alive=False
                    )
                    return
                if request is None:
                    return
                keep_alive = _keep_alive(request)
                try:
                    response = await self.handler(request)
                except Exception:
                    log.exception("API handler failed", extra={"path": request.path})
                    response = Response(
                        500,
                        b'{"error":"internal server error","status":500}\n',
                        [("Content-Type", "application/json")],
                    )
                await self._send(writer, request.method, response, keep_alive)
                if not keep_alive:
                    return
        except (ConnectionError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)

    async def _read_request(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request | None:
        try:
            line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
        except (ValueError, asyncio.LimitOverrunError):
            raise HTTPError(431, "request line too long") from None
        except TimeoutError:
            return None
        if not line:
            return None
        try:
            return await asyncio.wait_for(self._read_rest(line, reader, writer), READ_TIMEOUT)
        except (ValueError, asyncio.LimitOverrunError):
            raise HTTPError(431, "header too long") from None

    async def _read_rest(
        self, line: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> Request:
        parts = line.decode("latin-1").strip().split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha():
            raise HTTPError(400, "malformed request line")
        method, target, version = parts
        headers: dict[str, str] = {}
        total = len(line)
        while True:
            raw = await reader.readline()
            total += len(raw)
            if total > MAX_HEADER_BYTES:
                raise HTTPError(431, "headers too large")
            if not raw:
                raise asyncio.IncompleteReadError(b"", None)
            text = raw.decode("latin-1").rstrip("\r\n")
            if not text:
                break
            name, sep, value = text.partition(":")
            if not sep or not name or name != name.strip():
                raise HTTPError(400, "malformed header")
            key = name.lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        if headers.get("expect", "").lower() == "100-continue":
            writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await _read_body(reader, headers)
        path = unquote(target.split("?", 1)[0], errors="replace")
        return Request(method, target, path, version, headers, body)

    async def _send(
        self, writer: asyncio.StreamWriter, method: str, response: Response, keep_alive: bool
    ) -> None:
        status = response.status
        lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
        lines += [f"{name}: {value}" for name, value in response.headers]
        lines.append(f"Date: {formatdate(usegmt=True)}")
        if status != 204 and status >= 200:
            lines.append(f"Content-Length: {len(response.body)}")
        if not keep_alive:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        body = response.body if method != "HEAD" and status != 204 else b""
        writer.write(head + body)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        chunks: list[bytes] = []
        size_total = 0
        while True:
            size_line = (await reader.readline()).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise HTTPError(400, "bad chunk size") from None
            if size == 0:
                while (await reader.readline()).strip():
                    pass  # trailers
                return b"".join(chunks)
            size_total += size
            if size_total > MAX_BODY_BYTES:
                raise HTTPError(413, "body too large")
            chunks.append(await reader.readexactly(size))
            await reader.readline()
    length_text = headers.get("content-length")
    if length_text is None:
        return b""
    if not length_text.isdigit():
        raise HTTPError(400, "bad content length")
    length = int(length_text)
    if length > MAX_BODY_BYTES:
        raise HTTPError(413, "body too large")
    return await reader.readexactly(length)


def _keep_alive(request: Request) -> bool:
    connection = request.headers.get("connection", "").lower()
    if request.version == "HTTP/1.0":
        return "keep-alive" in connection
    return "close" not in connection


def _plain() -> list[tuple[str, str]]:
    return [("Content-Type", "text/plain; charset=utf-8")]
