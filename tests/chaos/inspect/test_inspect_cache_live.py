"""``chaoslab inspect cache`` against the running stack, under repeated and cache-busting traffic.

The gated ratio is measured over a window while a thread sends guest messages, so traffic
from earlier tests in the session does not matter. Nothing is deleted from Redis.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from chaos.load.stays import MONTHS_EN
from chaos.stack.state import StackState

pytestmark = pytest.mark.integration

WINDOW = ["--window", "3", "--min-lookups", "10"]


def future_stay(k: int) -> tuple[date, int, int]:
    """The k-th of 3000 distinct stays, all inside the PMS's one-year calendar."""
    first = (date.today() + timedelta(days=31)).replace(day=1)
    month = first + timedelta(days=31 * (k % 10))
    check_in = month.replace(day=1 + (k // 10) % 25)
    return check_in, 1 + (k // 250) % 3, 1 + (k // 750) % 4


def ask(client: httpx.Client, check_in: date, nights: int, guests: int) -> None:
    text = (
        f"Do you have rooms from {MONTHS_EN[check_in.month - 1]} {check_in.day} to "
        f"{check_in.day + nights} for {guests} guests?"
    )
    body = {
        "guest_id": f"inspect-cache-{uuid.uuid4().hex[:8]}",
        "text": text,
        "message_id": uuid.uuid4().hex,
    }
    client.post("/api/v1/messages", json=body).raise_for_status()


@dataclass
class Traffic:
    sent: int = 0
    errors: list[str] = field(default_factory=list)


@contextmanager
def traffic(agent_url: str, stays: Callable[[int], tuple[date, int, int]]) -> Iterator[Traffic]:
    """Availability questions in a thread until the block ends; counts sent and failed."""
    stop = threading.Event()
    done = Traffic()

    def loop() -> None:
        with httpx.Client(base_url=agent_url, timeout=10) as client:
            while not stop.is_set():
                try:
                    ask(client, *stays(done.sent))
                except httpx.HTTPError as exc:
                    done.errors.append(f"{type(exc).__name__}: {exc}")
                done.sent += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield done
    finally:
        stop.set()
        thread.join(15)


def test_json_has_the_documented_fields_and_the_agents_key_families(
    stack: StackState, live_agent_url: str, chaoslab: Callable[..., Any]
) -> None:
    run = chaoslab("inspect", "cache", "--json")
    doc = run.json()
    assert run.code in (0, 1), run.err
    assert {
        "command",
        "generated_at",
        "status",
        "failed",
        "exit_code",
        "targets",
        "checks",
        "recommendations",
        "window_s",
        "hit_ratio",
        "redis",
        "keys",
    } <= set(doc)
    assert doc["exit_code"] == run.code and doc["targets"]["redis"] == stack.url("redis")
    assert {c["name"] for c in doc["checks"]} == {
        "app_hit_ratio",
        "redis_keyspace_hit_ratio",
        "redis_evictions",
        "redis_memory",
        "agent_keys_without_ttl",
    }
    app = doc["hit_ratio"]["app"]
    assert set(app) >= {"ratio", "hits", "misses", "lookups", "by_kind", "stale_served"}
    assert app["lookups"] > 0 and set(app["by_kind"]) == {"availability", "room_types"}
    assert doc["hit_ratio"]["target"] == 0.7 and doc["hit_ratio"]["redis"]["lookups"] > 0
    assert set(doc["redis"]) >= {
        "evicted_keys",
        "used_memory_bytes",
        "maxmemory_bytes",
        "memory_ratio",
        "maxmemory_policy",
        "dbsize",
        "survey_lookups",
    }
    families = {f["family"]: f for f in doc["keys"]["families"]}
    # The live conversations wrote sessions, dedupe replies and stale PMS copies.
    for name in ("session:", "dedupe:", "pms:stale:"):
        assert families[name]["keys"] > 0 and families[name]["no_ttl"] == 0, name
        assert families[name]["ttl_max_s"] is not None
    assert families["session:"]["ttl_max_s"] <= 1800
    assert families["sessions:index"]["keys"] == 1 and families["sessions:index"]["no_ttl"] == 1
    assert {c["name"]: c["status"] for c in doc["checks"]}["agent_keys_without_ttl"] == "ok"


def test_repeated_questions_meet_the_target(
    stack: StackState, chaoslab: Callable[..., Any]
) -> None:
    stay = future_stay(random.randrange(3000))
    with httpx.Client(base_url=stack.url("agent"), timeout=10) as client:
        ask(client, *stay)  # the first ask fills the cache
    with traffic(stack.url("agent"), lambda n: stay) as sent:
        run = chaoslab("inspect", "cache", "--json", *WINDOW)
    app = run.json()["hit_ratio"]["app"]
    print(f"\nrepeated: {sent.sent} questions, app ratio {app['ratio']:.1%} of {app['lookups']}")
    assert sent.errors == []
    check = {c["name"]: c for c in run.json()["checks"]}["app_hit_ratio"]
    assert check["status"] == "ok" and app["ratio"] >= 0.7
    assert run.code == 0, run.json()["checks"]


@pytest.mark.slow
def test_cache_busting_traffic_fails_the_check(
    stack: StackState, chaoslab: Callable[..., Any]
) -> None:
    base = random.randrange(3000)

    def bust(n: int) -> tuple[date, int, int]:
        # Every question a stay not asked within the cache TTL: dates, nights, guests vary.
        return future_stay(base + n)

    with traffic(stack.url("agent"), bust) as sent:
        run = chaoslab("inspect", "cache", "--json", *WINDOW)
    doc = run.json()
    app = doc["hit_ratio"]["app"]
    print(f"\nbusting: {sent.sent} questions, app ratio {app['ratio']:.1%} of {app['lookups']}")
    assert sent.errors == []
    check = {c["name"]: c for c in doc["checks"]}["app_hit_ratio"]
    assert run.code == 1 and doc["failed"] is True
    assert check["status"] == "warning" and app["ratio"] < 0.7 and app["lookups"] >= 10
    assert doc["window_s"] == 3.0
    assert any("'availability' lookups" in r for r in doc["recommendations"])

    human = chaoslab("inspect", "cache", *WINDOW)  # no traffic now: too few lookups to judge
    assert human.out.startswith("chaoslab inspect cache:")
    assert "app_hit_ratio" in human.out and "Keys by family" in human.out


def test_prometheus_output_parses(stack: StackState, chaoslab: Callable[..., Any]) -> None:
    run = chaoslab("inspect", "cache", "--prometheus")
    families = {f.name: f for f in text_string_to_metric_families(run.out)}
    ratios = {
        s.labels["source"]: s.value for s in families["chaoslab_inspect_cache_hit_ratio"].samples
    }
    assert set(ratios) == {"app", "redis"} and all(0 <= v <= 1 for v in ratios.values())
    keys = {s.labels["family"]: s.value for s in families["chaoslab_inspect_cache_keys"].samples}
    assert keys["session:"] > 0
    failed = families["chaoslab_inspect_failed"].samples[0].value
    assert failed == float(run.code)
