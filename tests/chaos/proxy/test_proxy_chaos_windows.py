"""The proxy's chaos-window series: which toxics are on which proxy, which proxies are down."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from chaos.proxy.chaoswindows import PROXY_DISABLED, RUN_HEADER, TOXIC_ACTIVE
from chaos.toxiproxy import ToxiproxyClient


def windows(api: httpx.Client) -> dict[str, list[dict[str, str]]]:
    """The label sets of both chaos-window families on /metrics (each value must be 1)."""
    found: dict[str, list[dict[str, str]]] = {TOXIC_ACTIVE: [], PROXY_DISABLED: []}
    for family in text_string_to_metric_families(api.get("/metrics").text):
        for sample in family.samples:
            if sample.name in found:
                assert sample.value == 1
                found[sample.name].append(dict(sample.labels))
    return found


def test_a_toxic_is_a_series_while_it_exists_labelled_with_its_run(
    api: httpx.Client, make_proxy, local_servers, proxy_process
) -> None:
    make_proxy(local_servers.echo, name="redis")
    assert windows(api) == {TOXIC_ACTIVE: [], PROXY_DISABLED: []}
    with ToxiproxyClient(proxy_process.url, run_id="run42") as client:
        client.add_toxic("redis", "latency", name="chaoslab_latency_x", attributes={"latency": 5})
        client.add_toxic("redis", "timeout", name="t_up", stream="upstream")
        assert windows(api)[TOXIC_ACTIVE] == [
            {
                "proxy": "redis",
                "toxic": "chaoslab_latency_x",
                "type": "latency",
                "stream": "downstream",
                "run_id": "run42",
            },
            {
                "proxy": "redis",
                "toxic": "t_up",
                "type": "timeout",
                "stream": "upstream",
                "run_id": "run42",
            },
        ]
        # The run id stays out of the Toxiproxy JSON: real clients see the usual fields.
        listed = api.get("/proxies/redis/toxics").json()
        assert {tuple(sorted(t)) for t in listed} == {
            ("attributes", "name", "stream", "toxicity", "type")
        }
        client.remove_toxic("redis", "chaoslab_latency_x")
    assert [s["toxic"] for s in windows(api)[TOXIC_ACTIVE]] == ["t_up"]


def test_a_toxic_added_without_a_run_id_has_an_empty_one(
    api: httpx.Client, make_proxy, local_servers, toxiproxy_client
) -> None:
    make_proxy(local_servers.echo, name="pms")
    toxiproxy_client.get_proxy("pms").add_toxic(type="bandwidth", attributes={"rate": 1})
    (series,) = windows(api)[TOXIC_ACTIVE]
    assert series["run_id"] == ""
    assert series["type"] == "bandwidth"


def test_a_disabled_proxy_is_a_series_until_it_is_enabled_again(
    api: httpx.Client, make_proxy, local_servers, proxy_process
) -> None:
    make_proxy(local_servers.echo, name="postgres")
    make_proxy(local_servers.echo, name="other")
    with ToxiproxyClient(proxy_process.url, run_id="r-1") as client:
        client.set_enabled("postgres", False)
        assert windows(api)[PROXY_DISABLED] == [{"proxy": "postgres", "run_id": "r-1"}]
        client.set_enabled("postgres", False)  # no change: the window keeps its run
    with ToxiproxyClient(proxy_process.url, run_id="r-2") as client:
        client.set_enabled("postgres", False)
        assert windows(api)[PROXY_DISABLED] == [{"proxy": "postgres", "run_id": "r-1"}]
        client.set_enabled("postgres", True)
    assert windows(api)[PROXY_DISABLED] == []


def test_reset_ends_every_window(
    api: httpx.Client, make_proxy, local_servers, proxy_process
) -> None:
    make_proxy(local_servers.echo, name="redis")
    with ToxiproxyClient(proxy_process.url, run_id="r") as client:
        client.add_toxic("redis", "latency", name="l", attributes={"latency": 1})
        client.set_enabled("redis", False)
        assert len(windows(api)[TOXIC_ACTIVE]) == len(windows(api)[PROXY_DISABLED]) == 1
        client.reset()
    assert windows(api) == {TOXIC_ACTIVE: [], PROXY_DISABLED: []}


def test_a_malformed_run_id_is_refused_and_nothing_is_added(
    api: httpx.Client, make_proxy, local_servers, wire
) -> None:
    make_proxy(local_servers.echo, name="redis")
    response = api.post(
        "/proxies/redis/toxics",
        json={"type": "latency", "attributes": {"latency": 1}},
        headers={RUN_HEADER: 'x"} 1 evil'},
    )
    wire.assert_error(response, 400, f"{RUN_HEADER} must be 1-64 letters, digits, '_', '.' or '-'")
    assert api.get("/proxies/redis/toxics").json() == []
    assert windows(api)[TOXIC_ACTIVE] == []
