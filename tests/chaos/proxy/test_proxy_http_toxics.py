"""HTTP toxics through the real proxy (a subprocess) to a real uvicorn server, over TCP.

The upstream counts the requests that reach it and echoes bodies, so a test can tell
an answer the proxy gave from one the server gave. The proxy runs with ``-seed`` so the
per-request rolls are the same on every run.
"""

from __future__ import annotations

import socket
import sys
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import h11
import httpx
import pytest
import redis
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer

from chaos.proxy.process import SpawnedProxy, spawn
from chaos.stack.processes import ManagedProcess, free_port, tcp_open
from chaos.toxiproxy import TOXIC_TYPES, ToxiproxyClient

pytestmark = pytest.mark.chaos

UPSTREAM_APP = """
import sys, uvicorn
seen = 0

async def app(scope, receive, send):
    global seen
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path == "/count":
        parts = [str(seen).encode()]
    else:
        seen += 1
        parts = [body] if path == "/echo" else [b"seen ", path.encode()]
        if path == "/chunked":
            parts = [b"one,", b"two,", b"three"]
    headers = [(b"content-type", b"text/plain")]
    if path != "/chunked":
        headers.append((b"content-length", str(sum(map(len, parts))).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    for index, part in enumerate(parts):
        more = index < len(parts) - 1
        await send({"type": "http.response.body", "body": part, "more_body": more})

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
"""


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A uvicorn server: ``/echo`` echoes the body, ``/count`` says how many came."""
    port = free_port()
    server = ManagedProcess(
        "upstream",
        [sys.executable, "-c", UPSTREAM_APP, str(port)],
        tmp_path_factory.mktemp("upstream") / "uvicorn.log",
        lambda: tcp_open("127.0.0.1", port),
    )
    server.start(timeout=30)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpawnedProxy]:
    """A proxy of its own with seeded rolls."""
    handle = spawn(tmp_path_factory.mktemp("seeded") / "proxy.log", args=["-seed", "16"])
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def api(seeded: SpawnedProxy) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seeded.url, timeout=10) as client:
        yield client
        for name in client.get("/proxies").json():
            client.delete(f"/proxies/{name}")


@pytest.fixture
def proxied(api: httpx.Client, upstream: str) -> str:
    """The address of a proxy named ``web`` in front of the upstream."""
    created = api.post("/proxies", json={"name": "web", "upstream": upstream, "listen": ":0"})
    assert created.status_code == 201, created.text
    return f"127.0.0.1:{created.json()['listen'].rsplit(':', 1)[1]}"


def add(api: httpx.Client, body: dict[str, Any], proxy: str = "web") -> dict[str, Any]:
    response = api.post(f"/proxies/{proxy}/toxics", json=body)
    assert response.status_code == 200, response.text
    return dict(response.json())


def seen(upstream: str) -> int:
    return int(httpx.get(f"http://{upstream}/count", timeout=5).text)


def test_status_share_over_1000_keep_alive_requests(
    api: httpx.Client, upstream: str, proxied: str
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "toxicity": 0.3,
              "attributes": {"status": 503}})  # fmt: skip
    before = seen(upstream)
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=f"http://{proxied}", timeout=10) as client:
        for n in range(1000):
            if n % 3 == 0:
                response = client.get(f"/get/{n}")
                expected = f"seen /get/{n}".encode()
            else:  # bodies with a length, and chunked ones: boundaries must hold
                body = f"request {n} ".encode() * (n % 50)
                content = body if n % 3 == 1 else iter([body[:7], body[7:]])
                response = client.post("/echo", content=content)
                expected = body
            statuses[response.status_code] += 1
            if response.status_code == 200:
                assert response.content == expected, n
            else:
                assert response.status_code == 503 and response.json()["toxic"]
    share = statuses[503] / 1000
    print(f"\nhttp_status toxicity 0.3 over 1000 requests on one connection: {share:.3f}")
    assert set(statuses) == {200, 503}
    assert abs(share - 0.3) <= 0.05
    # The answered requests never reached the server.
    assert seen(upstream) - before == statuses[200]


def test_429_carries_retry_after(api: httpx.Client, upstream: str, proxied: str) -> None:
    add(api, {"type": "http_status", "stream": "upstream",
              "attributes": {"status": 429, "retry_after": 7}})  # fmt: skip
    before = seen(upstream)
    with httpx.Client(base_url=f"http://{proxied}", timeout=10) as client:
        answers = [client.post("/echo", content=b"x" * n) for n in range(20)]
    assert {r.status_code for r in answers} == {429}
    assert {r.headers.get("retry-after") for r in answers} == {"7"}
    assert answers[0].reason_phrase == "Too Many Requests"
    assert seen(upstream) == before


def test_downstream_status_replaces_the_answer_after_the_server_acted(
    api: httpx.Client, upstream: str, proxied: str
) -> None:
    add(api, {"type": "http_status", "attributes": {"status": 500}})  # stream downstream
    before = seen(upstream)
    with httpx.Client(base_url=f"http://{proxied}", timeout=10) as client:
        replaced = [client.get("/chunked"), client.post("/echo", content=b"side effect")]
        assert [r.status_code for r in replaced] == [500, 500]
        api.delete("/proxies/web/toxics/http_status_downstream")
        # Same keep-alive connection: the replaced bodies were dropped exactly.
        assert client.get("/chunked").content == b"one,two,three"
    assert seen(upstream) - before == 3


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_delay_holds_each_response_head(
    api: httpx.Client, upstream: str, proxied: str, stream: str
) -> None:
    add(api, {"type": "http_delay", "stream": stream, "attributes": {"delay": 300}})
    with httpx.Client(base_url=f"http://{proxied}", timeout=10) as client:
        for path in ("/chunked", "/echo", "/get/1"):
            began = time.perf_counter()
            with client.stream("POST" if path == "/echo" else "GET", path) as response:
                headers_after = time.perf_counter() - began
                response.read()
            assert response.status_code == 200
            assert headers_after >= 0.3, f"{path}: headers after {headers_after:.3f} s"


def test_pipelined_requests_get_answers_in_order(
    api: httpx.Client, upstream: str, proxied: str, wire: Any
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "toxicity": 0.5,
              "attributes": {"status": 503}})  # fmt: skip
    requests = b"".join(
        f"GET /get/{n} HTTP/1.1\r\nHost: web\r\n\r\n".encode()
        if n % 2
        else f"POST /echo HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\n\r\nbody{n:02d}".encode()
        for n in range(24)
    )
    port = int(proxied.rsplit(":", 1)[1])
    with wire.connect(port) as sock:
        sock.sendall(requests)  # all at once: the proxy must keep the answers in turn
        answers = read_responses(sock, 24)
    kinds = Counter(status for status, _ in answers)
    assert set(kinds) == {200, 503}, kinds
    for n, (status, body) in enumerate(answers):
        if status == 200:
            assert body == (f"seen /get/{n}".encode() if n % 2 else f"body{n:02d}".encode())


def test_two_http_toxics_nest_and_keep_every_answer_in_turn(
    api: httpx.Client, upstream: str, proxied: str, wire: Any
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "toxicity": 0.4,
              "attributes": {"status": 503}})  # fmt: skip
    add(api, {"type": "http_status", "name": "lost_reply", "toxicity": 0.4,
              "attributes": {"status": 500}})  # fmt: skip
    add(api, {"type": "http_delay", "attributes": {"delay": 20}})
    before = seen(upstream)
    requests = b"".join(
        f"POST /echo HTTP/1.1\r\nHost: web\r\nContent-Length: 6\r\n\r\nbody{n:02d}".encode()
        for n in range(30)
    )
    port = int(proxied.rsplit(":", 1)[1])
    with wire.connect(port) as sock:
        sock.sendall(requests)
        answers = read_responses(sock, 30)
    kinds = Counter(status for status, _ in answers)
    assert set(kinds) == {200, 500, 503}, kinds
    for n, (status, body) in enumerate(answers):
        if status == 200:
            assert body == f"body{n:02d}".encode()
    # 503s never reached the server; 500s did, and their replies were replaced.
    assert seen(upstream) - before == kinds[200] + kinds[500]


def read_responses(sock: socket.socket, count: int) -> list[tuple[int, bytes]]:
    """Parse ``count`` responses off a socket with h11 (a client's own parser)."""
    conn = h11.Connection(h11.CLIENT)
    out: list[tuple[int, bytes]] = []
    for _ in range(count):
        conn.send(h11.Request(method="GET", target="/", headers=[("Host", "web")]))
        conn.send(h11.EndOfMessage())
        status, body = 0, b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(sock.recv(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
        out.append((status, body))
        conn.start_next_cycle()
    return out


def test_non_http_bytes_pass_untouched(
    api: httpx.Client, wire: Any, local_servers: Any, redis_server: Any
) -> None:
    for name, upstream in (("echo", local_servers.echo), ("redis", redis_server.url[8:-2])):
        api.post("/proxies", json={"name": name, "upstream": upstream, "listen": ":0"})
        for body in (
            {"type": "http_status", "stream": "upstream", "attributes": {"status": 503}},
            {"type": "http_status", "attributes": {"status": 500}},
            {"type": "http_delay", "attributes": {"delay": 5000}},
        ):
            add(api, body, proxy=name)
    echo = int(api.get("/proxies/echo").json()["listen"].rsplit(":", 1)[1])
    payload = bytes(range(256)) * 64 + b"GET / HTTP/1.1\r\n\r\n"
    with wire.connect(echo) as sock:
        sock.sendall(payload)
        assert wire.recv_exactly(sock, len(payload)) == payload
    port = int(api.get("/proxies/redis").json()["listen"].rsplit(":", 1)[1])
    client = redis.Redis(port=port, socket_timeout=2)
    client.set("http-toxic", "passes")
    assert client.get("http-toxic") == b"passes"


def test_toxiproxy_python_drives_http_toxics(
    seeded: SpawnedProxy, api: httpx.Client, upstream: str
) -> None:
    saved = (APIConsumer.host, APIConsumer.port)
    toxiproxy = Toxiproxy()
    toxiproxy.update_api_consumer(seeded.host, seeded.port)
    try:
        proxy = toxiproxy.create(upstream=upstream, name="py_http")
        proxy.add_toxic(type="http_status", stream="upstream", attributes={"status": 503})
        url = f"http://127.0.0.1:{proxy.listen.rsplit(':', 1)[1]}/get/1"
        assert httpx.get(url, timeout=5).status_code == 503
        assert proxy.toxics()["http_status_upstream"].attributes == {
            "status": 503,
            "retry_after": 0,
        }
        assert proxy.destroy_toxic("http_status_upstream") is True
        assert httpx.get(url, timeout=5).status_code == 200
    finally:
        APIConsumer.host, APIConsumer.port = saved


def test_updates_apply_to_live_keep_alive_connections(
    api: httpx.Client, upstream: str, proxied: str
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "attributes": {"status": 503}})
    with httpx.Client(base_url=f"http://{proxied}", timeout=10) as client:
        assert client.get("/get/1").status_code == 503
        updated = api.post(
            "/proxies/web/toxics/http_status_upstream",
            json={"attributes": {"status": 502}},
        )
        assert updated.json()["attributes"] == {"status": 502, "retry_after": 0}
        assert client.get("/get/2").status_code == 502
        api.post("/proxies/web/toxics/http_status_upstream", json={"toxicity": 0})
        assert client.get("/get/3").status_code == 200
        api.delete("/proxies/web/toxics/http_status_upstream")
        assert client.get("/get/4").status_code == 200


def test_expect_continue_gets_the_answer_and_a_close(
    api: httpx.Client, proxied: str, wire: Any
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "attributes": {"status": 503}})
    port = int(proxied.rsplit(":", 1)[1])
    with wire.connect(port) as sock:
        sock.sendall(b"PUT /echo HTTP/1.1\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
    assert b"\r\nConnection: close\r\n" in head


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"type": "http_status"}, "invalid value 0 for attribute status of http_status: must "
         "be an HTTP status from 200 to 599"),
        ({"type": "http_status", "attributes": {"status": 600}}, "invalid value 600"),
        ({"type": "http_status", "attributes": {"status": 503, "retry_after": -1}},
         "invalid value -1 for attribute retry_after"),
        ({"type": "http_delay", "attributes": {"delay": 1.5}}, "HTTPDelayToxic.delay"),
    ],
)  # fmt: skip
def test_bad_attributes_are_400_with_a_reason(
    api: httpx.Client, proxied: str, body: dict[str, Any], message: str
) -> None:
    response = api.post("/proxies/web/toxics", json=body)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert api.get("/proxies/web/toxics").json() == []


def test_the_typed_client_drives_http_toxics(
    seeded: SpawnedProxy, api: httpx.Client, proxied: str
) -> None:
    assert {"http_status", "http_delay"} <= set(TOXIC_TYPES)
    with ToxiproxyClient(seeded.url) as client:
        toxic = client.add_toxic(
            "web", "http_status", name="busy", stream="upstream", attributes={"status": 503}
        )
        assert toxic.attributes == {"status": 503, "retry_after": 0}
        client.update_toxic("web", "busy", attributes={"status": 429, "retry_after": 2})
        answer = httpx.get(f"http://{proxied}/get/1", timeout=5)
        assert (answer.status_code, answer.headers["retry-after"]) == (429, "2")
        client.remove_toxic("web", "busy")
    assert httpx.get(f"http://{proxied}/get/1", timeout=5).status_code == 200


def test_removed_mid_answer_closes_only_that_connection(
    api: httpx.Client, upstream: str, proxied: str, wire: Any
) -> None:
    add(api, {"type": "http_status", "stream": "upstream", "attributes": {"status": 503}})
    port = int(proxied.rsplit(":", 1)[1])
    with wire.connect(port) as sock:
        # Half a body of a request the toxic swallows: removing it now would let the
        # rest reach the server as garbage, so that connection is closed instead.
        sock.sendall(b"POST /echo HTTP/1.1\r\nContent-Length: 10\r\n\r\nhalf")
        assert sock.recv(65536).startswith(b"HTTP/1.1 503")
        api.delete("/proxies/web/toxics/http_status_upstream")
        assert wire.recv_until_eof(sock) == b""
    assert httpx.get(f"http://{proxied}/get/9", timeout=5).status_code == 200
