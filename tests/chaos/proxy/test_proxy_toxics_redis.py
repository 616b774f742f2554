"""Every toxic against real redis-server traffic through the proxy.

Timing assertions only prove an effect (a 200 ms toxic takes at least 180 ms); they never
check speed.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

pytestmark = [pytest.mark.chaos, pytest.mark.integration]

BIG_KEY = "proxy-test:big"
BIG_VALUE = b"v" * 50_000


@pytest.fixture
def rproxy(api: httpx.Client, make_proxy, redis_server) -> Any:
    """A proxy named ``redis`` in front of the session's redis-server."""
    direct = redis.Redis(host=redis_server.host, port=redis_server.port)
    direct.set(BIG_KEY, BIG_VALUE)
    direct.close()
    return make_proxy(f"{redis_server.host}:{redis_server.port}", name="redis")


@pytest.fixture
def client(rproxy) -> Iterator[redis.Redis]:
    """A redis-py client through the proxy that never retries (so faults surface)."""
    conn = redis.Redis(port=rproxy.port, socket_timeout=5, retry=Retry(NoBackoff(), 0))
    conn.ping()  # warm: the connection exists before any toxic
    yield conn
    conn.close()


def add_toxic(api: httpx.Client, **body: Any) -> None:
    response = api.post("/proxies/redis/toxics", json=body)
    assert response.status_code == 200, response.text


def remove_toxic(api: httpx.Client, name: str) -> None:
    assert api.delete(f"/proxies/redis/toxics/{name}").status_code == 204


def timed(fn: Any, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def test_latency_200ms_on_a_warm_connection_then_removal_restores_it(
    api: httpx.Client, client: redis.Redis
) -> None:
    client_id = client.client_id()
    assert timed(client.ping) < 0.1
    add_toxic(api, type="latency", attributes={"latency": 200})
    assert timed(client.ping) >= 0.18
    assert timed(client.ping) >= 0.18
    remove_toxic(api, "latency_downstream")
    assert timed(client.ping) < 0.1
    assert client.client_id() == client_id  # no reconnect happened


def test_latency_on_both_streams_adds_up(api: httpx.Client, client: redis.Redis) -> None:
    add_toxic(api, type="latency", stream="upstream", attributes={"latency": 150})
    add_toxic(api, type="latency", stream="downstream", attributes={"latency": 150})
    assert timed(client.ping) >= 0.28


def test_latency_jitter_stays_within_its_bounds(api: httpx.Client, client: redis.Redis) -> None:
    add_toxic(api, type="latency", attributes={"latency": 100, "jitter": 50})
    for _ in range(4):
        assert timed(client.ping) >= 0.045


def test_updating_a_toxic_applies_to_the_live_connection(
    api: httpx.Client, client: redis.Redis
) -> None:
    add_toxic(api, type="latency", attributes={"latency": 300})
    assert timed(client.ping) >= 0.28
    api.patch("/proxies/redis/toxics/latency_downstream", json={"attributes": {"latency": 10}})
    assert 0.009 <= timed(client.ping) < 0.2


def test_toxicity_zero_never_applies(api: httpx.Client, client: redis.Redis) -> None:
    add_toxic(api, type="latency", toxicity=0, attributes={"latency": 300})
    assert timed(client.ping) < 0.1


def test_toxicity_is_a_coin_flip_per_connection(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(api, type="latency", toxicity=0.5, attributes={"latency": 60})

    def two_pings(_: int) -> tuple[bool, bool]:
        with wire.connect(rproxy.port) as sock:
            slow = []
            for _ in range(2):
                start = time.perf_counter()
                sock.sendall(b"PING\r\n")
                assert sock.recv(10) == b"+PONG\r\n"
                slow.append(time.perf_counter() - start >= 0.04)
            return slow[0], slow[1]

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(two_pings, range(16)))
    assert all(first == second for first, second in results)  # each connection keeps its roll
    assert any(first for first, _ in results)
    assert not all(first for first, _ in results)


def test_timeout_toxic_makes_redis_py_time_out(api: httpx.Client, rproxy) -> None:
    conn = redis.Redis(port=rproxy.port, socket_timeout=0.3, retry=Retry(NoBackoff(), 0))
    conn.ping()
    add_toxic(api, type="timeout", attributes={"timeout": 0})
    with pytest.raises(redis.exceptions.TimeoutError):
        conn.ping()
    conn.close()


def test_removing_a_timeout_toxic_closes_the_connection(api: httpx.Client, rproxy, wire) -> None:
    with wire.connect(rproxy.port, timeout=0.3) as sock:
        add_toxic(api, type="timeout", attributes={"timeout": 0})
        sock.sendall(b"PING\r\n")
        with pytest.raises(socket.timeout):
            sock.recv(10)  # the reply was swallowed
        sock.settimeout(2)
        remove_toxic(api, "timeout_downstream")
        assert sock.recv(10) == b""


def test_timeout_toxic_closes_after_its_delay(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(api, type="timeout", attributes={"timeout": 300})
    start = time.perf_counter()
    with wire.connect(rproxy.port) as sock:
        sock.sendall(b"PING\r\n")
        assert wire.recv_until_eof(sock) == b""
    assert time.perf_counter() - start >= 0.28


def test_reset_peer_gives_a_connection_reset(api: httpx.Client, client: redis.Redis) -> None:
    add_toxic(api, type="reset_peer", attributes={"timeout": 0})
    with pytest.raises(redis.exceptions.ConnectionError, match="reset by peer"):
        client.ping()


def test_reset_peer_waits_its_timeout_after_the_first_data(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(api, type="reset_peer", stream="upstream", attributes={"timeout": 200})
    with wire.connect(rproxy.port) as sock:
        start = time.perf_counter()
        sock.sendall(b"PING\r\n")
        with pytest.raises(ConnectionResetError):
            sock.recv(10)
        assert time.perf_counter() - start >= 0.18


def test_down_refuses_new_connections_and_kills_open_ones(
    api: httpx.Client, client: redis.Redis, rproxy, wire
) -> None:
    with wire.connect(rproxy.port) as raw:
        raw.sendall(b"PING\r\n")
        assert raw.recv(10) == b"+PONG\r\n"
        api.post("/proxies/redis", json={"enabled": False})
        assert raw.recv(10) == b""
        with pytest.raises(redis.exceptions.ConnectionError):
            client.ping()
        assert wire.refused(rproxy.port)
    api.post("/proxies/redis", json={"enabled": True})
    assert redis.Redis(port=rproxy.port, socket_timeout=2).ping()


def test_bandwidth_limits_a_large_reply(api: httpx.Client, client: redis.Redis) -> None:
    assert timed(client.get, BIG_KEY) < 0.2
    add_toxic(api, type="bandwidth", attributes={"rate": 100})  # 100 KB/s: 50 KB takes 0.5 s
    start = time.perf_counter()
    assert client.get(BIG_KEY) == BIG_VALUE
    assert time.perf_counter() - start >= 0.4
    remove_toxic(api, "bandwidth_downstream")
    assert timed(client.get, BIG_KEY) < 0.2


def test_slicer_cuts_replies_into_paced_pieces(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(
        api,
        type="slicer",
        attributes={"average_size": 500, "size_variation": 100, "delay": 3000},
    )
    expected = b"$50000\r\n" + BIG_VALUE + b"\r\n"
    with wire.connect(rproxy.port) as sock:
        start = time.perf_counter()
        sock.sendall(f"GET {BIG_KEY}\r\n".encode())
        pieces = []
        while sum(map(len, pieces)) < len(expected):
            pieces.append(sock.recv(65536))
        elapsed = time.perf_counter() - start
    assert b"".join(pieces) == expected
    assert len(pieces) >= 10  # about 100 pieces sent 3 ms apart
    assert elapsed >= 0.1


def test_limit_data_truncates_then_closes(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(api, type="limit_data", attributes={"bytes": 10})
    with wire.connect(rproxy.port) as sock:
        sock.sendall(f"GET {BIG_KEY}\r\n".encode())
        assert wire.recv_until_eof(sock) == b"$50000\r\nvv"


def test_slow_close_delays_the_close_not_the_data(api: httpx.Client, rproxy, wire) -> None:
    add_toxic(api, type="slow_close", attributes={"delay": 300})
    with wire.connect(rproxy.port) as sock:
        start = time.perf_counter()
        sock.sendall(b"QUIT\r\n")
        assert sock.recv(10) == b"+OK\r\n"
        reply_time = time.perf_counter() - start
        assert sock.recv(10) == b""
        close_time = time.perf_counter() - start
    assert reply_time < 0.2
    assert close_time >= 0.28


def test_noop_toxic_passes_traffic(api: httpx.Client, client: redis.Redis) -> None:
    add_toxic(api, type="noop")
    assert client.get(BIG_KEY) == BIG_VALUE


def test_changing_toxics_mid_stream_loses_and_reorders_nothing(
    api: httpx.Client, rproxy, wire
) -> None:
    count = 3000
    key = "proxy-test:counter"
    redis.Redis(port=rproxy.port).delete(key)
    received: list[bytes] = []

    def pump() -> None:
        with wire.connect(rproxy.port, timeout=10) as sock:
            for _ in range(count // 100):
                sock.sendall(f"INCR {key}\r\n".encode() * 100)
                time.sleep(0.01)
            expected = sum(len(f":{i}\r\n") for i in range(1, count + 1))
            received.append(wire.recv_exactly(sock, expected))

    thread = threading.Thread(target=pump)
    thread.start()
    flips = 0
    while thread.is_alive():
        add_toxic(api, type="latency", name="flap", stream="upstream", attributes={"latency": 5})
        add_toxic(api, type="slicer", name="cut", attributes={"average_size": 7})
        remove_toxic(api, "flap")
        remove_toxic(api, "cut")
        flips += 1
    thread.join()
    assert flips >= 3
    expected = b"".join(f":{i}\r\n".encode() for i in range(1, count + 1))
    assert received == [expected]


def test_unreachable_upstream_accepts_then_closes(api: httpx.Client, make_proxy, wire) -> None:
    proxy = make_proxy(f"127.0.0.1:{wire.free_port()}")
    with wire.connect(proxy.port, timeout=0.5) as sock:
        assert sock.recv(10) == b""
