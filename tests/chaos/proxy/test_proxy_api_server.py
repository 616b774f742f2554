"""HTTP contract of the server-wide endpoints and the HTTP layer itself."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.chaos

UNUSED_UPSTREAM = "127.0.0.1:9"


def raw_http(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=3) as sock:
        sock.sendall(request)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


# -- routing -------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/nope", "/proxies/", "/proxies/a/toxics/b/c", "/"])
def test_unknown_routes_are_plain_404_without_request_id(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert (response.status_code, response.content) == (404, b"404 page not found\n")
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert "x-toxiproxy-request-id" not in response.headers


@pytest.mark.parametrize(
    ("method", "path"),
    [("DELETE", "/version"), ("GET", "/reset"), ("PUT", "/proxies"), ("GET", "/populate")],
)
def test_wrong_methods_are_405_with_empty_body(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path)
    assert (response.status_code, response.content) == (405, b"")


def test_browsers_are_refused(api: httpx.Client) -> None:
    response = api.get("/proxies", headers={"User-Agent": "Mozilla/5.0 (X11; Linux)"})
    assert (response.status_code, response.content) == (403, b"User agent not allowed\n")
    assert api.get("/proxies", headers={"User-Agent": "curl/8.0"}).status_code == 200


def test_request_ids_are_unique(api: httpx.Client) -> None:
    ids = {api.get("/version").headers["x-toxiproxy-request-id"] for _ in range(5)}
    assert len(ids) == 5


def test_malformed_http_gets_400_and_server_keeps_running(proxy_process, api: httpx.Client) -> None:
    reply = raw_http(proxy_process.port, b"NOT-HTTP\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert api.get("/version").status_code == 200


def test_keep_alive_chunked_body_and_expect_continue(proxy_process, api: httpx.Client) -> None:
    body = b'{"name": "chunky", "upstream": "127.0.0.1:9", "enabled": false}'
    request = (
        b"POST /proxies HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Expect: 100-continue\r\n\r\n"
        + f"{len(body):x}\r\n".encode()
        + body
        + b"\r\n0\r\n\r\n"
        + b"GET /proxies/chunky HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    reply = raw_http(proxy_process.port, request)
    assert reply.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n")
    assert reply.count(b'"name":"chunky"') == 2
    assert b"HTTP/1.1 200 OK\r\n" in reply


# -- populate --------------------------------------------------------------------------------
def test_populate_creates_in_input_order(api: httpx.Client) -> None:
    body = [
        {"name": "z", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0"},
        {"name": "a", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0", "enabled": False},
    ]
    response = api.post("/populate", json=body)
    assert response.status_code == 201
    proxies = response.json()["proxies"]
    assert [(p["name"], p["enabled"]) for p in proxies] == [("z", True), ("a", False)]
    assert set(api.get("/proxies").json()) == {"a", "z"}


def test_populate_empty_array_answers_null(api: httpx.Client) -> None:
    response = api.post("/populate", json=[])
    assert (response.status_code, response.content) == (201, b'{"proxies":null}')


def test_populate_keeps_unchanged_and_replaces_changed(wire, api: httpx.Client) -> None:
    port = wire.free_port()
    entry = {"name": "keep", "upstream": UNUSED_UPSTREAM, "listen": f"127.0.0.1:{port}"}
    api.post("/populate", json=[entry])
    api.post("/proxies/keep/toxics", json={"type": "latency"})
    again = api.post("/populate", json=[{**entry, "listen": f"localhost:{port}"}])
    assert again.status_code == 201
    assert len(again.json()["proxies"][0]["toxics"]) == 1  # same resolved address: kept
    changed = api.post("/populate", json=[{**entry, "upstream": "127.0.0.1:10"}])
    replaced = changed.json()["proxies"][0]
    assert (replaced["upstream"], replaced["toxics"]) == ("127.0.0.1:10", [])


def test_populate_validates_everything_before_creating(wire, api: httpx.Client) -> None:
    body = [
        {"name": "ok", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0"},
        {"upstream": UNUSED_UPSTREAM},
    ]
    response = api.post("/populate", json=body)
    assert response.status_code == 400
    assert response.content == (
        b'{"error":"missing required field: name at proxy 2","status":400,"proxies":null}\n'
    )
    missing_upstream = api.post("/populate", json=[{"name": "x"}])
    assert missing_upstream.json()["error"] == "missing required field: upstream at proxy 1"
    assert api.get("/proxies").json() == {}


def test_populate_needs_an_array(api: httpx.Client) -> None:
    response = api.post("/populate", json={"name": "x"})
    assert response.status_code == 400
    assert response.json() == {
        "error": "bad request body: json: cannot unmarshal object into Go value of type "
        "[]toxiproxy.Proxy",
        "status": 400,
        "proxies": None,
    }


def test_populate_stops_at_the_first_os_error_and_keeps_earlier_ones(api: httpx.Client) -> None:
    body = [
        {"name": "first", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0"},
        {"name": "second", "upstream": UNUSED_UPSTREAM, "listen": "local373"},
        {"name": "third", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0"},
    ]
    response = api.post("/populate", json=body)
    assert response.status_code == 500
    payload = response.json()
    assert payload["error"] == "listen tcp: address local373: missing port in address"
    assert [p["name"] for p in payload["proxies"]] == ["first"]
    assert list(api.get("/proxies").json()) == ["first"]


# -- reset -------------------------------------------------------------------------------------
def test_reset_reenables_on_the_same_port_and_drops_toxics(
    wire, api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM, name="r")
    api.post("/proxies/r/toxics", json={"type": "latency", "stream": "upstream"})
    api.post("/proxies/r", json={"enabled": False})
    response = api.post("/reset", content=b"ignored")
    assert (response.status_code, response.content) == (204, b"")
    after = api.get("/proxies/r").json()
    assert (after["enabled"], after["listen"], after["toxics"]) == (True, proxy.listen, [])
    assert not wire.refused(proxy.port)


def test_reset_keeps_live_connections(wire, api: httpx.Client, make_proxy, local_servers) -> None:
    proxy = make_proxy(local_servers.echo)
    api.post(
        f"/proxies/{proxy.name}/toxics", json={"type": "latency", "attributes": {"latency": 1}}
    )
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"x")
        assert sock.recv(1) == b"x"
        assert api.post("/reset").status_code == 204
        sock.sendall(b"y")
        assert sock.recv(1) == b"y"


def test_reset_is_500_when_a_proxy_cannot_rebind(wire, api: httpx.Client, make_proxy) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    api.post(f"/proxies/{proxy.name}", json={"enabled": False})
    with socket.socket() as thief:
        thief.bind(("127.0.0.1", proxy.port))
        thief.listen()
        response = api.post("/reset")
    wire.assert_error(
        response, 500, f"listen tcp 127.0.0.1:{proxy.port}: bind: address already in use"
    )


# -- metrics ------------------------------------------------------------------------------------
def test_metrics_count_bytes_and_connections_live(
    wire, api: httpx.Client, make_proxy, local_servers
) -> None:
    proxy = make_proxy(local_servers.echo, name="m")

    def samples() -> dict[tuple[str, str], float]:
        response = api.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
        found = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.labels.get("proxy") == "m":
                    key = (sample.name, sample.labels.get("direction", ""))
                    found[key] = sample.value
                    assert sample.labels["listener"] == proxy.listen
                    assert sample.labels["upstream"] == local_servers.echo
        return found

    with wire.connect(proxy.port) as sock:
        sock.sendall(b"x" * 1000)
        wire.recv_exactly(sock, 1000)
        live = samples()  # the connection is still open
        assert live[("toxiproxy_proxy_received_bytes_total", "upstream")] == 1000
        assert live[("toxiproxy_proxy_sent_bytes_total", "upstream")] == 1000
        assert live[("toxiproxy_proxy_sent_bytes_total", "downstream")] == 1000
        assert live[("toxiproxy_proxy_connections_total", "")] == 1
        assert live[("toxiproxy_proxy_active_connections", "")] == 1
