"""Fixtures for the fault-proxy tests: the server as a real subprocess, clients, helpers.

The server runs as ``python -m chaos.proxy -port 0`` once per session (``chaos.proxy.process``
reads the bound API port from its ready line). Every test leaves it empty. Socket and
assertion helpers come through the ``wire`` fixture, because the suite runs in pytest's
importlib mode, where test modules cannot import each other.
"""

from __future__ import annotations

import json
import socket
import socketserver
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from chaos.proxy.process import SpawnedProxy, spawn
from chaos.stack.processes import free_port


@dataclass(frozen=True)
class ProxyHandle:
    """A proxy created for one test."""

    name: str
    host: str
    port: int
    listen: str


class Wire:
    """Socket and HTTP assertion helpers."""

    @staticmethod
    def free_port() -> int:
        """A port nobody listens on right now (outside the ephemeral range)."""
        return free_port()

    @staticmethod
    def connect(port: int, timeout: float = 3.0) -> socket.socket:
        """A TCP_NODELAY client socket to ``127.0.0.1:port``."""
        sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @staticmethod
    def recv_until_eof(sock: socket.socket) -> bytes:
        """Everything the peer sends until it closes."""
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
        return b"".join(chunks)

    @staticmethod
    def recv_exactly(sock: socket.socket, size: int) -> bytes:
        """Exactly ``size`` bytes (raises EOFError if the peer closes first)."""
        chunks, got = [], 0
        while got < size:
            data = sock.recv(min(65536, size - got))
            if not data:
                raise EOFError(f"closed after {got} of {size} bytes")
            chunks.append(data)
            got += len(data)
        return b"".join(chunks)

    @staticmethod
    def refused(port: int) -> bool:
        """True when a connect to ``127.0.0.1:port`` is refused."""
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        return False

    @staticmethod
    def error_body(status: int, message: str) -> bytes:
        """The exact bytes Toxiproxy's apiError writes."""
        payload = {"error": message, "status": status}
        return json.dumps(payload, separators=(",", ":")).encode() + b"\n"

    @classmethod
    def assert_error(cls, response: httpx.Response, status: int, message: str) -> None:
        """Assert a Toxiproxy error response, byte for byte."""
        assert response.status_code == status, response.text
        assert response.content == cls.error_body(status, message)
        assert response.headers["content-type"] == "text/plain; charset=utf-8"
        assert "x-toxiproxy-request-id" in response.headers


@pytest.fixture(scope="session")
def wire() -> type[Wire]:
    return Wire


@pytest.fixture(scope="session")
def proxy_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpawnedProxy]:
    """The session's proxy server, started as a real subprocess."""
    handle = spawn(tmp_path_factory.mktemp("proxy") / "proxy.log", env={"LOG_LEVEL": "info"})
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def api(proxy_process: SpawnedProxy) -> Iterator[httpx.Client]:
    """An HTTP client for the control API; deletes every proxy afterwards."""
    with httpx.Client(base_url=proxy_process.url, timeout=10) as client:
        yield client
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")


@pytest.fixture
def make_proxy(api: httpx.Client) -> Callable[..., ProxyHandle]:
    """Create a proxy on a free loopback port: ``make_proxy(upstream, name=...)``."""
    counter = iter(range(1_000_000))

    def create(upstream: str, name: str | None = None, listen: str = "127.0.0.1:0") -> ProxyHandle:
        name = name or f"proxy_{next(counter)}"
        body = {"name": name, "upstream": upstream, "listen": listen}
        response = api.post("/proxies", json=body)
        assert response.status_code == 201, response.text
        bound = response.json()["listen"]
        host, _, port = bound.rpartition(":")
        return ProxyHandle(name, host.strip("[]"), int(port), bound)

    return create


@pytest.fixture
def toxiproxy_client(proxy_process: SpawnedProxy, api: httpx.Client) -> Iterator[Toxiproxy]:
    """The unmodified toxiproxy-python client pointed at our server."""
    saved = (APIConsumer.host, APIConsumer.port)
    client = Toxiproxy()
    client.update_api_consumer(proxy_process.host, proxy_process.port)
    try:
        yield client
    finally:
        APIConsumer.host, APIConsumer.port = saved


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _ReplyAfterEOF(socketserver.BaseRequestHandler):
    """Read until the client half-closes, then answer with the byte count and close."""

    def handle(self) -> None:
        total = 0
        while data := self.request.recv(65536):
            total += len(data)
        self.request.sendall(f"received {total}\n".encode())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@dataclass(frozen=True)
class LocalServers:
    """Small real TCP servers on loopback, used as proxy upstreams."""

    echo: str
    reply_after_eof: str


@pytest.fixture(scope="session")
def local_servers() -> Iterator[LocalServers]:
    """An echo server and a reply-after-EOF server, each on a free loopback port."""
    servers = [_Server(("127.0.0.1", 0), handler) for handler in (_Echo, _ReplyAfterEOF)]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    try:
        echo, reply = (f"127.0.0.1:{s.server_address[1]}" for s in servers)
        yield LocalServers(echo, reply)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
