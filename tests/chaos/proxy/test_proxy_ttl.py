"""Faults that expire on their own (an extension: ``ttl_ms``), and the lease watchdog that
removes a dead run's faults through the plain Toxiproxy API."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from chaos.lease import Lease, watch

pytestmark = pytest.mark.chaos


def wait_for(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def test_a_toxic_with_a_ttl_removes_itself(
    api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    p = make_proxy("127.0.0.1:9")
    body = {"name": "brief", "type": "latency", "attributes": {"latency": 5}, "ttl_ms": 300}
    created = api.post(f"/proxies/{p.name}/toxics", json=body)
    assert created.status_code == 200
    assert "ttl_ms" not in created.json()  # the reply keeps Toxiproxy's exact shape
    assert [t["name"] for t in api.get(f"/proxies/{p.name}/toxics").json()] == ["brief"]
    assert wait_for(lambda: api.get(f"/proxies/{p.name}/toxics").json() == [])
    # Without a ttl a toxic stays, as in Toxiproxy.
    api.post(f"/proxies/{p.name}/toxics", json={**body, "name": "stays", "ttl_ms": 0})
    time.sleep(0.6)
    assert [t["name"] for t in api.get(f"/proxies/{p.name}/toxics").json()] == ["stays"]


def test_a_disabled_proxy_with_a_ttl_comes_back_unless_changed_since(
    api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    p = make_proxy("127.0.0.1:9")
    assert (
        api.post(f"/proxies/{p.name}", json={"enabled": False, "ttl_ms": 300}).json()["enabled"]
        is False
    )
    assert wait_for(lambda: api.get(f"/proxies/{p.name}").json()["enabled"] is True)
    q = make_proxy("127.0.0.1:9")
    api.post(f"/proxies/{q.name}", json={"enabled": False, "ttl_ms": 300})
    api.post(f"/proxies/{q.name}", json={"enabled": False})  # a later change wins
    time.sleep(0.6)
    assert api.get(f"/proxies/{q.name}").json()["enabled"] is False


def test_a_negative_ttl_is_refused_with_a_reason(
    api: httpx.Client, make_proxy: Callable[..., Any]
) -> None:
    p = make_proxy("127.0.0.1:9")
    r = api.post(f"/proxies/{p.name}/toxics", json={"type": "latency", "ttl_ms": -1})
    assert r.status_code == 400 and "ttl_ms" in r.json()["error"]


def test_the_watchdog_undoes_a_lapsed_lease_and_ignores_a_closed_one(
    api: httpx.Client, make_proxy: Callable[..., Any], proxy_process: Any,
    tmp_path: Path,
) -> None:  # fmt: skip
    p = make_proxy("127.0.0.1:9")
    api.post(f"/proxies/{p.name}/toxics", json={"name": "held", "type": "latency"})
    api.post(f"/proxies/{p.name}", json={"enabled": False})
    lapsed = tmp_path / "lease"
    lapsed.write_text(json.dumps({"expires_at": time.time() - 1, "proxy_api": proxy_process.url,
                                  "toxics": [[p.name, "held"]], "disabled": [p.name]}))  # fmt: skip
    assert watch(lapsed, poll_s=0.01) == 0
    state = api.get(f"/proxies/{p.name}").json()
    assert state["enabled"] is True and state["toxics"] == []
    assert not lapsed.exists()
    # A lease the run closed (its file gone) undoes nothing.
    assert watch(tmp_path / "closed", poll_s=0.01) == 0


def test_a_live_lease_is_renewed_and_its_watchdog_exits_when_it_closes(
    proxy_process: Any,
) -> None:
    lease = Lease(proxy_process.url, ttl_s=0.6).start()
    try:
        first = json.loads(lease.path.read_text())["expires_at"]
        time.sleep(0.5)
        assert json.loads(lease.path.read_text())["expires_at"] > first
        assert lease.watchdog is not None and lease.watchdog.poll() is None
    finally:
        lease.close()
    assert lease.watchdog.returncode == 0 and not lease.path.exists()
