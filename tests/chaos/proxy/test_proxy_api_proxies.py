"""HTTP contract of the proxy endpoints: status codes, JSON shapes, defaults and errors."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.chaos

UNUSED_UPSTREAM = "127.0.0.1:9"  # never dialled in these tests


def test_version_is_the_exact_toxiproxy_body(api: httpx.Client) -> None:
    response = api.get("/version")
    assert response.status_code == 200
    assert response.content == b'{"version": "2.12.0"}\n'
    assert response.headers["content-type"] == "application/json;charset=utf-8"
    assert response.headers["x-toxiproxy-request-id"]


def test_empty_server_lists_an_empty_object(api: httpx.Client) -> None:
    response = api.get("/proxies")
    assert (response.status_code, response.content) == (200, b"{}")
    assert response.headers["content-type"] == "application/json"


def test_create_returns_201_with_go_field_order_and_bound_port(wire, api: httpx.Client) -> None:
    response = api.post(
        "/proxies", json={"name": "redis", "upstream": "redis:6379", "listen": "127.0.0.1:0"}
    )
    assert response.status_code == 201
    body = response.json()
    port = int(body["listen"].rsplit(":", 1)[1])
    assert port > 0
    assert response.text == (
        f'{{"name":"redis","listen":"127.0.0.1:{port}","upstream":"redis:6379",'
        '"enabled":true,"Logger":{},"toxics":[]}'
    )
    assert not wire.refused(port)
    listed = api.get("/proxies").json()
    assert listed == {"redis": body}


def test_listing_is_sorted_by_name(api: httpx.Client) -> None:
    for name in ("b", "c", "a"):
        api.post("/proxies", json={"name": name, "upstream": UNUSED_UPSTREAM, "enabled": False})
    assert list(api.get("/proxies").json()) == ["a", "b", "c"]


def test_missing_listen_binds_loopback_on_a_free_port(wire, api: httpx.Client) -> None:
    response = api.post("/proxies", json={"name": "nolisten", "upstream": UNUSED_UPSTREAM})
    assert response.status_code == 201
    host, port = response.json()["listen"].rsplit(":", 1)
    assert host == "127.0.0.1"
    assert not wire.refused(int(port))


def test_localhost_is_reported_by_ip(api: httpx.Client) -> None:
    response = api.post(
        "/proxies", json={"name": "lh", "upstream": UNUSED_UPSTREAM, "listen": "localhost:0"}
    )
    assert response.json()["listen"].startswith("127.0.0.1:")


def test_wildcard_listen_is_reported_like_go_and_reachable(wire, api: httpx.Client) -> None:
    response = api.post(
        "/proxies", json={"name": "any", "upstream": UNUSED_UPSTREAM, "listen": "0.0.0.0:0"}
    )
    listen = response.json()["listen"]
    assert listen.startswith("[::]:")
    assert not wire.refused(int(listen.rsplit(":", 1)[1]))


def test_disabled_create_echoes_listen_verbatim_and_does_not_bind(wire, api: httpx.Client) -> None:
    port = wire.free_port()
    response = api.post(
        "/proxies",
        json={
            "name": "off",
            "upstream": UNUSED_UPSTREAM,
            "listen": f"localhost:{port}",
            "enabled": False,
        },
    )
    assert response.status_code == 201
    assert response.json()["listen"] == f"localhost:{port}"
    assert response.json()["enabled"] is False
    assert wire.refused(port)


def test_null_enabled_keeps_the_default(api: httpx.Client) -> None:
    body = {"name": "n", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0", "enabled": None}
    assert api.post("/proxies", json=body).json()["enabled"] is True


def test_keys_match_case_insensitively_and_trailing_bytes_are_ignored(api: httpx.Client) -> None:
    content = b'{"NAME": "ci", "Upstream": "127.0.0.1:9", "LISTEN": "127.0.0.1:0"} trailing'
    response = api.post("/proxies", content=content)
    assert response.status_code == 201
    assert response.json()["name"] == "ci"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"upstream": UNUSED_UPSTREAM}, "missing required field: name"),
        ({"name": "", "upstream": UNUSED_UPSTREAM}, "missing required field: name"),
        ({"name": "x"}, "missing required field: upstream"),
        ({"name": "x", "upstream": ""}, "missing required field: upstream"),
    ],
)
def test_missing_fields_are_400(
    wire, api: httpx.Client, body: dict[str, str], message: str
) -> None:
    wire.assert_error(api.post("/proxies", json=body), 400, message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "bad request body: EOF"),
        (
            b"{not json",
            "bad request body: invalid character 'n' looking for beginning of object key string",
        ),
        (b'{"name": "x",', "bad request body: unexpected EOF"),
        (
            b"[]",
            "bad request body: json: cannot unmarshal array into Go value of type toxiproxy.Proxy",
        ),
        (
            b'{"name": 5, "upstream": "a:1"}',
            "bad request body: json: cannot unmarshal number"
            " into Go struct field Proxy.name of type string",
        ),
        (
            b'{"name": "x", "upstream": "a:1", "enabled": "yes"}',
            "bad request body: json: cannot unmarshal string"
            " into Go struct field Proxy.enabled of type bool",
        ),
    ],
)
def test_bad_bodies_are_400_and_the_server_keeps_running(
    wire, api: httpx.Client, content: bytes, message: str
) -> None:
    wire.assert_error(api.post("/proxies", content=content), 400, message)
    assert api.get("/version").status_code == 200


def test_duplicate_name_is_409(wire, api: httpx.Client) -> None:
    body = {"name": "dup", "upstream": UNUSED_UPSTREAM, "listen": "127.0.0.1:0"}
    assert api.post("/proxies", json=body).status_code == 201
    wire.assert_error(api.post("/proxies", json=body), 409, "proxy already exists")


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("local373", "listen tcp: address local373: missing port in address"),
        ("127.0.0.1:70000", "listen tcp: address 70000: invalid port"),
        ("a:b:c", "listen tcp: address a:b:c: too many colons in address"),
        ("nosuchhost.invalid:0", "listen tcp: lookup nosuchhost.invalid: no such host"),
    ],
)
def test_bad_listen_addresses_are_500_and_nothing_is_created(
    wire, api: httpx.Client, listen: str, message: str
) -> None:
    response = api.post(
        "/proxies", json={"name": "bad", "upstream": UNUSED_UPSTREAM, "listen": listen}
    )
    wire.assert_error(response, 500, message)
    assert api.get("/proxies/bad").status_code == 404
    assert api.get("/version").status_code == 200


def test_port_in_use_is_500_with_the_os_error(wire, api: httpx.Client) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        response = api.post(
            "/proxies",
            json={"name": "busy", "upstream": UNUSED_UPSTREAM, "listen": f"127.0.0.1:{port}"},
        )
    wire.assert_error(response, 500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    assert api.get("/proxies").json() == {}


def test_get_one_proxy_and_404(wire, api: httpx.Client, make_proxy: Callable[..., Any]) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM, name="one")
    response = api.get("/proxies/one")
    assert response.status_code == 200
    assert response.json()["listen"] == proxy.listen
    wire.assert_error(api.get("/proxies/missing"), 404, "proxy not found")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_disable_enable_keeps_the_port(
    wire, api: httpx.Client, make_proxy: Callable[..., Any], method: str
) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    off = api.request(method, f"/proxies/{proxy.name}", json={"enabled": False})
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert off.json()["listen"] == proxy.listen
    assert wire.refused(proxy.port)
    on = api.request(method, f"/proxies/{proxy.name}", json={"enabled": True})
    assert (on.status_code, on.json()["enabled"], on.json()["listen"]) == (200, True, proxy.listen)
    assert not wire.refused(proxy.port)


def test_disable_closes_live_connections(
    wire, api: httpx.Client, make_proxy: Callable[..., Any], local_servers
) -> None:
    proxy = make_proxy(local_servers.echo)
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"ping")
        assert sock.recv(10) == b"ping"
        api.patch(f"/proxies/{proxy.name}", json={"enabled": False})
        assert sock.recv(10) == b""


def test_update_merges_fields_and_accepts_unresolvable_upstream(
    api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    response = api.post(
        f"/proxies/{proxy.name}", json={"upstream": "somehost:12345", "name": "ignored"}
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["upstream"], body["enabled"]) == (proxy.name, "somehost:12345", True)
    assert api.get(f"/proxies/{proxy.name}").json()["upstream"] == "somehost:12345"


def test_update_listen_moves_the_listener(
    wire, api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    new_port = wire.free_port()
    response = api.patch(f"/proxies/{proxy.name}", json={"listen": f"127.0.0.1:{new_port}"})
    assert response.json()["listen"] == f"127.0.0.1:{new_port}"
    assert wire.refused(proxy.port)
    assert not wire.refused(new_port)


def test_localhost_alias_of_the_current_listen_does_not_restart(
    wire, api: httpx.Client, make_proxy: Callable[..., Any], local_servers
) -> None:
    proxy = make_proxy(local_servers.echo)
    with wire.connect(proxy.port) as sock:
        sock.sendall(b"a")
        assert sock.recv(1) == b"a"
        response = api.patch(f"/proxies/{proxy.name}", json={"listen": f"localhost:{proxy.port}"})
        assert response.status_code == 200
        sock.sendall(b"b")
        assert sock.recv(1) == b"b"  # the live connection survived


def test_update_errors(wire, api: httpx.Client, make_proxy: Callable[..., Any]) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    wire.assert_error(api.patch("/proxies/missing", json={}), 404, "proxy not found")
    wire.assert_error(
        api.patch(f"/proxies/{proxy.name}", content=b"{"),
        400,
        "bad request body: unexpected EOF",
    )
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        response = api.patch(f"/proxies/{proxy.name}", json={"listen": f"127.0.0.1:{port}"})
    wire.assert_error(response, 500, f"listen tcp 127.0.0.1:{port}: bind: address already in use")
    after = api.get(f"/proxies/{proxy.name}").json()
    assert after["enabled"] is False  # as in Go: stopped, new address stored
    assert after["listen"] == f"127.0.0.1:{port}"


def test_delete_is_204_then_404(wire, api: httpx.Client, make_proxy: Callable[..., Any]) -> None:
    proxy = make_proxy(UNUSED_UPSTREAM)
    response = api.delete(f"/proxies/{proxy.name}")
    assert (response.status_code, response.content) == (204, b"")
    assert wire.refused(proxy.port)
    wire.assert_error(api.delete(f"/proxies/{proxy.name}"), 404, "proxy not found")


def test_names_are_percent_decoded_and_html_escaped_in_json(api: httpx.Client) -> None:
    name = "a b<&>"
    response = api.post(
        "/proxies", json={"name": name, "upstream": UNUSED_UPSTREAM, "enabled": False}
    )
    assert '"name":"a b\\u003c\\u0026\\u003e"' in response.text
    assert api.get("/proxies/a%20b%3C%26%3E").json()["name"] == name
