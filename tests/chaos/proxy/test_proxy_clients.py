"""Real clients drive the server unchanged: toxiproxy-python 0.1.1 and chaos.toxiproxy/faults."""

from __future__ import annotations

import time

import pytest
import redis
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaos import faults
from chaos.exceptions import ToxiproxyError
from chaos.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.chaos


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def timed_ping(client: redis.Redis) -> float:
    start = time.perf_counter()
    client.ping()
    return time.perf_counter() - start


# -- toxiproxy-python ---------------------------------------------------------------------------
def test_python_client_version_running_and_create(toxiproxy_client, wire) -> None:
    assert toxiproxy_client.running()
    assert toxiproxy_client.version() == b'{"version": "2.12.0"}\n'
    proxy = toxiproxy_client.create(upstream="127.0.0.1:9", name="py")
    assert proxy.listen.startswith("127.0.0.1:")
    assert proxy.enabled is True
    assert not wire.refused(port_of(proxy.listen))
    assert set(toxiproxy_client.proxies()) == {"py"}
    assert toxiproxy_client.get_proxy("py").listen == proxy.listen
    assert toxiproxy_client.get_proxy("nope") is None


def test_python_client_duplicate_raises_proxy_exists(toxiproxy_client) -> None:
    toxiproxy_client.create(upstream="127.0.0.1:9", name="dup")
    with pytest.raises(ProxyExists):
        toxiproxy_client.create(upstream="127.0.0.1:9", name="dup")
    # The raw POST the client's own tests make: no listen at all, and a 409 from the server.
    with pytest.raises(ProxyExists, match="proxy already exists"):
        APIConsumer.post("/proxies", json={"name": "dup", "upstream": "127.0.0.1:9"})


def test_python_client_toxics_roundtrip(toxiproxy_client) -> None:
    proxy = toxiproxy_client.create(upstream="127.0.0.1:9", name="tox")
    proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 10})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", toxicity=0.5)
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    assert toxics["latency_downstream"].attributes == {"latency": 100, "jitter": 10}
    assert toxics["bw"].toxicity == 0.5
    assert proxy.get_toxic("bw").stream == "upstream"
    assert proxy.destroy_toxic("bw") is True
    assert proxy.get_toxic("bw") is None
    with pytest.raises(NotFound):
        proxy.destroy_toxic("bw")
    with pytest.raises(InvalidToxic, match="invalid toxic type"):
        proxy.add_toxic(type="bogus")


def test_python_client_disable_enable_and_down_keep_the_listen(toxiproxy_client, wire) -> None:
    proxy = toxiproxy_client.create(upstream="127.0.0.1:9", name="flip")
    port = port_of(proxy.listen)
    proxy.disable()
    assert proxy.enabled is False
    assert wire.refused(port)
    proxy.enable()
    assert toxiproxy_client.get_proxy("flip").listen == proxy.listen
    with proxy.down():
        assert wire.refused(port)
        assert toxiproxy_client.get_proxy("flip").enabled is False
    assert not wire.refused(port)
    assert toxiproxy_client.get_proxy("flip").listen == proxy.listen


def test_python_client_reset_populate_destroy(toxiproxy_client, wire) -> None:
    port = wire.free_port()
    spec = {"name": "pop", "upstream": "127.0.0.1:9", "listen": f"127.0.0.1:{port}"}
    created = toxiproxy_client.populate([spec])
    assert [p.name for p in created] == ["pop"]
    assert toxiproxy_client.populate([spec]) == []  # unchanged: nothing re-created
    proxy = toxiproxy_client.get_proxy("pop")
    proxy.add_toxic(type="timeout")
    proxy.disable()
    assert toxiproxy_client.reset() is True
    after = toxiproxy_client.get_proxy("pop")
    assert after.enabled is True
    assert after.listen == f"127.0.0.1:{port}"
    assert after.toxics() == {}
    assert toxiproxy_client.destroy(after) is True
    toxiproxy_client.destroy_all()
    assert toxiproxy_client.proxies() == {}
    with pytest.raises(NotFound):
        APIConsumer.get("/not_found")


@pytest.mark.integration
def test_python_client_latency_on_real_redis(toxiproxy_client, redis_server) -> None:
    proxy = toxiproxy_client.create(upstream=f"127.0.0.1:{redis_server.port}", name="redis")
    client = redis.Redis(port=port_of(proxy.listen), socket_timeout=5)
    client.ping()
    proxy.add_toxic(type="latency", attributes={"latency": 200})
    assert timed_ping(client) >= 0.18
    proxy.destroy_toxic("latency_downstream")
    assert timed_ping(client) < 0.1
    client.close()


# -- the project's own chaos library -------------------------------------------------------------
@pytest.mark.integration
def test_chaos_library_faults_against_real_redis(proxy_process, api, redis_server) -> None:
    with ToxiproxyClient(proxy_process.url) as client:
        assert client.version() == "2.12.0"
        proxy = client.create_proxy("redis", "127.0.0.1:0", f"127.0.0.1:{redis_server.port}")
        r = redis.Redis(port=port_of(proxy.listen), socket_timeout=0.5, retry=None)
        r.ping()
        warm_id = r.client_id()
        with faults.latency(client, "redis", 200) as added:
            assert [t.name for t in client.toxics("redis")] == added
            assert timed_ping(r) >= 0.18
            updated = client.update_toxic("redis", added[0], attributes={"latency": 0})
            assert updated.attributes == {"latency": 0, "jitter": 0}
            assert timed_ping(r) < 0.1
        assert r.client_id() == warm_id  # same connection throughout
        with faults.timeout(client, "redis", 0), pytest.raises(redis.exceptions.TimeoutError):
            r.ping()
        with faults.outage(client, "redis"), pytest.raises(redis.exceptions.ConnectionError):
            redis.Redis(port=port_of(proxy.listen), socket_timeout=0.5, retry=None).ping()
        assert faults.verify_clean(client) == []
        with pytest.raises(ToxiproxyError) as info:
            client.add_toxic("redis", "latency", name="bad", attributes={"latency": 1.5})
        assert info.value.status == 400
        assert "cannot unmarshal number 1.5" in info.value.message
        r.close()
