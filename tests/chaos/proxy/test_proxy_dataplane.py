"""Data-plane behaviour over real loopback TCP: half-close, bulk integrity, toxics on bytes."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.chaos


def add_toxic(api: httpx.Client, proxy: Any, **body: Any) -> None:
    response = api.post(f"/proxies/{proxy.name}/toxics", json=body)
    assert response.status_code == 200, response.text


def echo_roundtrip(wire: Any, port: int, payload: bytes) -> bytes:
    """Send ``payload`` from one thread while reading the echo in this one."""
    with wire.connect(port, timeout=10) as sock:
        sender = threading.Thread(target=sock.sendall, args=(payload,))
        sender.start()
        echoed = wire.recv_exactly(sock, len(payload))
        sender.join()
    return echoed


@pytest.mark.parametrize("toxic", [None, {"type": "latency", "attributes": {"latency": 20}}])
def test_half_close_reaches_the_upstream_and_the_reply_comes_back(
    api: httpx.Client, make_proxy, local_servers, wire, toxic: dict | None
) -> None:
    proxy = make_proxy(local_servers.reply_after_eof)
    if toxic:
        add_toxic(api, proxy, stream="upstream", **toxic)
        add_toxic(api, proxy, stream="downstream", **toxic)
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"x" * 100_000)
        sock.shutdown(socket.SHUT_WR)
        assert wire.recv_until_eof(sock) == b"received 100000\n"


def test_bulk_data_arrives_intact(make_proxy, local_servers, wire) -> None:
    proxy = make_proxy(local_servers.echo)
    payload = os.urandom(8 << 20)
    echoed = echo_roundtrip(wire, proxy.port, payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()


def test_latency_is_pipelined_not_per_chunk(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo)
    add_toxic(api, proxy, type="latency", attributes={"latency": 100})
    payload = os.urandom(4 << 20)  # 128 chunks of 32 KiB: 12.8 s if delays were serial
    start = time.perf_counter()
    assert echo_roundtrip(wire, proxy.port, payload) == payload
    assert time.perf_counter() - start < 5.0


def test_slicer_reassembles_exactly(api: httpx.Client, make_proxy, local_servers, wire) -> None:
    proxy = make_proxy(local_servers.echo)
    add_toxic(
        api,
        proxy,
        type="slicer",
        stream="upstream",
        attributes={"average_size": 64, "size_variation": 32},
    )
    payload = os.urandom(200_000)
    assert echo_roundtrip(wire, proxy.port, payload) == payload


def test_bandwidth_rate_is_in_kilobytes_of_1000(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo)
    add_toxic(api, proxy, type="bandwidth", stream="upstream", attributes={"rate": 400})
    start = time.perf_counter()
    assert echo_roundtrip(wire, proxy.port, b"b" * 200_000) == b"b" * 200_000
    assert time.perf_counter() - start >= 0.45  # 200 000 bytes at 400 000 B/s


def test_limit_data_truncates_the_crossing_chunk_then_closes(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo)
    add_toxic(api, proxy, type="limit_data", attributes={"bytes": 100})
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"a" * 90)
        assert wire.recv_exactly(sock, 90) == b"a" * 90
        sock.sendall(b"b" * 20)
        assert wire.recv_until_eof(sock) == b"b" * 10


def test_limit_data_counter_survives_updates(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo)
    add_toxic(api, proxy, type="limit_data", name="lim", attributes={"bytes": 50})
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"c" * 40)
        assert wire.recv_exactly(sock, 40) == b"c" * 40
        api.patch(f"/proxies/{proxy.name}/toxics/lim", json={"attributes": {"bytes": 60}})
        sock.sendall(b"d" * 40)
        assert wire.recv_until_eof(sock) == b"d" * 20


def test_toxic_added_to_a_live_connection_applies_to_it(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo)
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"1")
        assert sock.recv(1) == b"1"
        add_toxic(api, proxy, type="latency", stream="upstream", attributes={"latency": 150})
        start = time.perf_counter()
        sock.sendall(b"2")
        assert sock.recv(1) == b"2"
        assert time.perf_counter() - start >= 0.13


def test_closed_connections_leave_the_active_gauge(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    proxy = make_proxy(local_servers.echo, name="gauge")
    for _ in range(3):
        assert echo_roundtrip(wire, proxy.port, b"hello") == b"hello"

    def active() -> str:
        for line in api.get("/metrics").text.splitlines():
            if line.startswith("toxiproxy_proxy_active_connections") and 'proxy="gauge"' in line:
                return line.rsplit(" ", 1)[1]
        return "missing"

    deadline = time.monotonic() + 2
    while active() != "0" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert active() == "0"
