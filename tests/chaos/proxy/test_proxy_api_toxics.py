"""HTTP contract of the toxic endpoints: defaults, validation order, merges and errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.chaos

ALL_ZERO = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
    "noop": {},
}


@pytest.fixture
def proxy(make_proxy: Callable[..., Any]) -> Any:
    return make_proxy("127.0.0.1:9", name="p")


def add(api: httpx.Client, body: Any) -> httpx.Response:
    return api.post("/proxies/p/toxics", json=body)


def test_list_is_an_empty_array(api: httpx.Client, proxy: Any) -> None:
    response = api.get("/proxies/p/toxics")
    assert (response.status_code, response.content) == (200, b"[]")


def test_create_is_200_with_defaults_and_go_field_order(api: httpx.Client, proxy: Any) -> None:
    response = add(api, {"type": "latency", "attributes": {"latency": 100}})
    assert response.status_code == 200
    assert response.text == (
        '{"attributes":{"latency":100,"jitter":0},"name":"latency_downstream",'
        '"type":"latency","stream":"downstream","toxicity":1}'
    )
    proxy_json = api.get("/proxies/p").json()
    assert proxy_json["toxics"] == [response.json()]


@pytest.mark.parametrize("toxic_type", sorted(ALL_ZERO))
def test_every_type_fills_every_attribute(api: httpx.Client, proxy: Any, toxic_type: str) -> None:
    response = add(api, {"type": toxic_type, "attributes": None})
    assert response.status_code == 200
    assert response.json()["attributes"] == ALL_ZERO[toxic_type]


def test_stream_is_case_insensitive_and_echoed_as_sent(api: httpx.Client, proxy: Any) -> None:
    body = add(api, {"type": "slicer", "stream": "UPSTREAM"}).json()
    assert (body["stream"], body["name"]) == ("UPSTREAM", "slicer_UPSTREAM")


@pytest.mark.parametrize("stream", ["", "sideways"])
def test_invalid_stream_is_400(wire, api: httpx.Client, proxy: Any, stream: str) -> None:
    wire.assert_error(
        add(api, {"type": "latency", "stream": stream}),
        400,
        "stream was invalid, can be either upstream or downstream",
    )


@pytest.mark.parametrize("body", [{"type": "bogus"}, {"type": "Latency"}, {}, {"name": "x"}])
def test_unknown_or_missing_type_is_400(wire, api: httpx.Client, proxy: Any, body: dict) -> None:
    wire.assert_error(add(api, body), 400, "invalid toxic type")


def test_validation_order_stream_before_type(wire, api: httpx.Client, proxy: Any) -> None:
    wire.assert_error(
        add(api, {"type": "bogus", "stream": "nope"}),
        400,
        "stream was invalid, can be either upstream or downstream",
    )


def test_names_are_unique_across_streams(wire, api: httpx.Client, proxy: Any) -> None:
    assert add(api, {"type": "latency", "name": "foo", "stream": "upstream"}).status_code == 200
    wire.assert_error(add(api, {"type": "latency", "name": "foo"}), 409, "toxic already exists")
    # duplicate check comes before attribute parsing
    wire.assert_error(
        add(api, {"type": "latency", "name": "foo", "attributes": {"latency": 1.5}}),
        409,
        "toxic already exists",
    )


def test_default_names_differ_by_stream_and_list_upstream_first(
    api: httpx.Client, proxy: Any
) -> None:
    add(api, {"type": "latency", "stream": "downstream"})
    add(api, {"type": "timeout", "stream": "upstream"})
    add(api, {"type": "latency", "stream": "upstream"})
    names = [t["name"] for t in api.get("/proxies/p/toxics").json()]
    assert names == ["timeout_upstream", "latency_upstream", "latency_downstream"]


def test_unknown_attributes_are_ignored_and_toxicity_is_float32(
    api: httpx.Client, proxy: Any
) -> None:
    response = add(
        api, {"type": "bandwidth", "toxicity": 0.2, "attributes": {"rate": 5, "burst": 9}}
    )
    assert response.json()["attributes"] == {"rate": 5}
    assert '"toxicity":0.2' in response.text


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        (
            100.0,
            "json: cannot unmarshal number 100.0"
            " into Go struct field LatencyToxic.latency of type int64",
        ),
        (
            "100",
            "json: cannot unmarshal string into Go struct field LatencyToxic.latency of type int64",
        ),
        (
            True,
            "json: cannot unmarshal bool into Go struct field LatencyToxic.latency of type int64",
        ),
        (-5, "invalid value -5 for attribute latency of latency: must be a non-negative integer"),
    ],
)
def test_non_integer_or_negative_attributes_are_400(
    wire, api: httpx.Client, proxy: Any, value: object, detail: str
) -> None:
    response = add(api, {"type": "latency", "attributes": {"latency": value}})
    wire.assert_error(response, 400, f"bad request body: {detail}")
    assert api.get("/proxies/p/toxics").json() == []


def test_exponent_literal_is_rejected_like_go(wire, api: httpx.Client, proxy: Any) -> None:
    response = api.post(
        "/proxies/p/toxics", content=b'{"type": "latency", "attributes": {"latency": 1e2}}'
    )
    wire.assert_error(
        response,
        400,
        "bad request body: json: cannot unmarshal number 1e2 into Go struct field "
        "LatencyToxic.latency of type int64",
    )


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"{", "unexpected EOF"),
        (
            b'{"type": "latency", "toxicity": "x"}',
            "json: cannot unmarshal string"
            " into Go struct field ToxicWrapper.toxicity of type float32",
        ),
        (
            b'{"type": "latency", "attributes": 7}',
            "json: cannot unmarshal number"
            " into Go struct field ToxicWrapper.attributes of type toxics.Toxic",
        ),
    ],
)
def test_bad_toxic_bodies_are_400(
    wire, api: httpx.Client, proxy: Any, content: bytes, detail: str
) -> None:
    wire.assert_error(
        api.post("/proxies/p/toxics", content=content), 400, f"bad request body: {detail}"
    )


def test_get_and_404s(wire, api: httpx.Client, proxy: Any) -> None:
    created = add(api, {"type": "timeout", "name": "t1"}).json()
    assert api.get("/proxies/p/toxics/t1").json() == created
    wire.assert_error(api.get("/proxies/p/toxics/nope"), 404, "toxic not found")
    for method, path in [
        ("GET", "/proxies/none/toxics"),
        ("POST", "/proxies/none/toxics"),
        ("GET", "/proxies/none/toxics/t1"),
        ("PATCH", "/proxies/none/toxics/t1"),
        ("DELETE", "/proxies/none/toxics/t1"),
    ]:
        wire.assert_error(api.request(method, path, json={}), 404, "proxy not found")


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_update_merges_attributes_and_keeps_toxicity(
    api: httpx.Client, proxy: Any, method: str
) -> None:
    add(api, {"type": "latency", "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 7}})
    response = api.request(
        method, "/proxies/p/toxics/latency_downstream", json={"attributes": {"latency": 50}}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["attributes"] == {"latency": 50, "jitter": 7}
    assert body["toxicity"] == 0.5
    again = api.patch(
        "/proxies/p/toxics/latency_downstream", json={"toxicity": 1, "type": "timeout"}
    )
    assert (again.json()["toxicity"], again.json()["type"]) == (1, "latency")


def test_update_errors(wire, api: httpx.Client, proxy: Any) -> None:
    add(api, {"type": "latency"})
    wire.assert_error(api.patch("/proxies/p/toxics/nope", json={}), 404, "toxic not found")
    wire.assert_error(
        api.patch("/proxies/p/toxics/latency_downstream", json={"attributes": {"jitter": 0.5}}),
        400,
        "bad request body: json: cannot unmarshal number 0.5 into Go struct field "
        "LatencyToxic.jitter of type int64",
    )
    assert api.get("/proxies/p/toxics/latency_downstream").json()["attributes"]["jitter"] == 0


def test_delete_is_204_then_404(wire, api: httpx.Client, proxy: Any) -> None:
    add(api, {"type": "noop"})
    response = api.delete("/proxies/p/toxics/noop_downstream")
    assert (response.status_code, response.content) == (204, b"")
    wire.assert_error(api.delete("/proxies/p/toxics/noop_downstream"), 404, "toxic not found")
