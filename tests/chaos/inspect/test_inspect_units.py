"""Inspect building blocks without servers: key families, verdicts, renderings, arguments."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from pathlib import Path

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agent.audit.query import AuditQuery
from agent.audit.schema import INDEXES
from agent.dedupe import Deduplicator
from agent.pms.cache import ROOM_TYPES_KEY, availability_key, night_index_key, stale_key
from agent.sessions import INDEX_KEY, session_key
from chaos.cli import main as cli_main
from chaos.inspect.cache import CacheThresholds, build_report
from chaos.inspect.counters import Counters
from chaos.inspect.errors import InspectError
from chaos.inspect.keys import OTHER, family_of, survey_keys, ttl_bucket
from chaos.inspect.plans import CRITICAL_QUERIES, QueryParams
from chaos.inspect.report import Check, Report, Sample, to_prometheus
from chaos.inspect.sources import Targets, redact, resolve_targets
from chaos.metrics import parse as parse_metrics


def test_every_key_the_agent_builds_falls_in_its_own_family() -> None:
    fresh = availability_key(date(2027, 3, 3), date(2027, 3, 5), 2, "Suite: deluxe")
    expected = {
        fresh: "pms:availability:",
        stale_key(fresh): "pms:stale:",
        stale_key(ROOM_TYPES_KEY): "pms:stale:",
        night_index_key(date(2027, 3, 3)): "pms:index:availability:",
        ROOM_TYPES_KEY: "pms:room_types",
        session_key("whatsapp", "guest-1"): "session:",
        INDEX_KEY: "sessions:index",
        Deduplicator._key("api", "m-1"): "dedupe:",
    }
    assert {key: family_of(key) for key in expected} == expected
    assert family_of("sessions:index:extra") == OTHER
    assert family_of("celery-task-meta-1") == OTHER


def test_critical_queries_are_the_agents_own_and_name_declared_indexes() -> None:
    params = QueryParams(
        "g-1", "escalation", datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    )
    for q in CRITICAL_QUERIES:
        assert q.index in {i.name for i in INDEXES}
        built = q.build(params)
        assert isinstance(built, AuditQuery)
        sql, _ = built.page_sql()
        assert "ORDER BY occurred_at DESC, event_id DESC" in sql
    by_name = {q.name: q.build(params) for q in CRITICAL_QUERIES}
    assert by_name["by_guest_time"].guest_id == "g-1"
    assert by_name["by_guest_time"].since == datetime(2026, 4, 24, tzinfo=UTC)
    assert by_name["by_type_time"].event_type == "escalation"
    assert by_name["keyset_page"].cursor is not None and by_name["newest_page"] == AuditQuery()


@pytest.mark.parametrize(
    ("ttl", "bucket"),
    [
        (None, "none"),
        (0.5, "<=1m"),
        (60, "<=1m"),
        (60.1, "<=5m"),
        (300, "<=5m"),
        (1800, "<=30m"),
        (3599, "<=1h"),
        (86_400, "<=1d"),
        (86_401, ">1d"),
    ],
)
def test_ttl_buckets_have_inclusive_upper_bounds(ttl: float | None, bucket: str) -> None:
    assert ttl_bucket(ttl) == bucket


def test_key_survey_counts_families_and_missing_ttls() -> None:
    r = fakeredis.FakeRedis()
    r.set(session_key("api", "g1"), "{}", ex=1800)
    r.set(session_key("api", "g2"), "{}")  # leaked: sessions always get a TTL
    r.zadd(INDEX_KEY, {"session:api:g1": 1.0})
    r.set(Deduplicator._key("api", "m1"), "{}", ex=86_400)
    r.set("foreign:key", "x")
    survey = survey_keys(r, max_keys=1000, batch=2)
    doc = {f["family"]: f for f in survey.to_dict()["families"]}
    assert survey.scanned == 5 and not survey.truncated
    assert doc["session:"]["keys"] == 2 and doc["session:"]["no_ttl"] == 1
    assert doc["session:"]["ttl_buckets"]["<=30m"] == 1
    assert doc["sessions:index"]["no_ttl"] == 1 and doc["sessions:index"]["expires"] is False
    assert doc["dedupe:"]["ttl_buckets"]["<=1d"] == 1
    assert doc[OTHER]["examples"] == ["foreign:key"]
    assert "examples" not in doc["session:"]  # agent keys carry guest ids: never shown
    capped = survey_keys(r, max_keys=2, batch=1)
    assert capped.scanned == 2 and capped.truncated


def _counters(**overrides: object) -> Counters:
    values: dict[str, object] = {
        "app_hits": {"availability": 90.0, "room_types": 10.0},
        "app_misses": {"availability": 10.0, "room_types": 0.0},
        "stale_served": 0.0,
        "agent_started_at": 1.0,
        "redis_hits": 30.0,
        "redis_misses": 70.0,
        "evicted": 0.0,
        "expired": 5.0,
    }
    values.update(overrides)
    return Counters(**values)  # type: ignore[arg-type]


def _cache_report(c: Counters, t: CacheThresholds | None = None, **memory: object) -> Report:
    r = fakeredis.FakeRedis()
    return build_report(
        Targets(agent="http://a", redis="redis://:secret@r:6379/0"),
        t or CacheThresholds(),
        c,
        None if c.app_hits is not None else "agent metrics at http://a: refused",
        {"used_memory": 100, "maxmemory": 1000, "maxmemory_policy": "volatile-lru", **memory},
        survey_keys(r, max_keys=10),
        0.0,
        {"redis_version": "7"},
        0,
    )


def test_cache_verdicts_gate_the_app_ratio_and_only_report_the_keyspace_one() -> None:
    good = _cache_report(_counters())
    checks = {c.name: c for c in good.checks}
    assert checks["app_hit_ratio"].status == "ok" and checks["app_hit_ratio"].value == 100 / 110
    assert checks["redis_keyspace_hit_ratio"].status == "info"  # 30 %, but not gated
    assert good.exit_code() == 0
    assert any("dedupe" in rec for rec in good.recommendations)
    assert good.to_dict()["targets"]["redis"] == "redis://:***@r:6379/0"

    low = _cache_report(
        _counters(app_hits={"availability": 60.0}, app_misses={"availability": 40.0})
    )
    app = next(c for c in low.checks if c.name == "app_hit_ratio")
    assert app.status == "warning" and app.value == 0.6 and low.exit_code() == 1
    assert low.exit_code("critical") == 0
    passes_lower_target = _cache_report(
        _counters(app_hits={"availability": 60.0}, app_misses={"availability": 40.0}),
        CacheThresholds(min_hit_ratio=0.5),
    )
    assert passes_lower_target.exit_code() == 0

    few = _cache_report(_counters(app_hits={"availability": 1.0}, app_misses={"availability": 5.0}))
    assert next(c for c in few.checks if c.name == "app_hit_ratio").status == "skipped"
    assert few.exit_code() == 0

    blind = _cache_report(_counters(app_hits=None, app_misses=None, stale_served=None))
    unknown = next(c for c in blind.checks if c.name == "app_hit_ratio")
    assert unknown.status == "unknown" and "refused" in unknown.detail and blind.exit_code() == 1


def test_cache_memory_and_eviction_thresholds() -> None:
    full = _cache_report(_counters(evicted=5000.0), used_memory=950, maxmemory_policy="noeviction")
    checks = {c.name: c.status for c in full.checks}
    assert checks["redis_evictions"] == "warning" and checks["redis_memory"] == "warning"
    assert any("noeviction" in rec for rec in full.recommendations)
    unbounded = _cache_report(_counters(), maxmemory=0)
    assert {c.name: c.status for c in unbounded.checks}["redis_memory"] == "info"
    assert any("No maxmemory" in rec for rec in unbounded.recommendations)


def test_window_deltas_survive_a_counter_reset() -> None:
    before = _counters(redis_hits=500.0, app_hits={"availability": 50.0, "room_types": 0.0})
    after = _counters(redis_hits=20.0, app_hits={"availability": 80.0, "room_types": 0.0})
    delta = after.minus(before)
    assert delta.redis_hits == 20.0  # Redis restarted: counts from zero
    assert delta.app_hits == {"availability": 30.0, "room_types": 0.0}
    assert delta.app_misses == {"availability": 0.0, "room_types": 0.0}


def test_prometheus_rendering_parses_and_carries_the_verdicts() -> None:
    report = Report("db", {}, checks=[Check("query:x", "critical", "slow"), Check("t", "ok", "")])
    report.samples = [
        Sample("db_query_execution_seconds", "time", 0.25, {"query": 'a "quoted"\nname'}),
        Sample("db_table_rows", "rows", math.nan),  # not measured: left out, not "NaN"
    ]
    text = to_prometheus(report)
    families = {f.name: f for f in text_string_to_metric_families(text)}
    assert "chaoslab_inspect_db_table_rows" not in families
    sample = families["chaoslab_inspect_db_query_execution_seconds"].samples[0]
    assert sample.labels == {"command": "db", "query": 'a "quoted"\nname'} and sample.value == 0.25
    severity = {
        s.labels["check"]: s.value for s in families["chaoslab_inspect_check_severity"].samples
    }
    assert severity == {"query:x": 2.0, "t": 0.0}
    assert families["chaoslab_inspect_failed"].samples[0].value == 1.0


def test_metrics_parsing_sums_matching_labels() -> None:
    scrape = parse_metrics(
        'pms_cache_hits_total{kind="availability"} 3\npms_cache_hits_total{kind="room_types"} 2\n'
    )
    assert scrape.total("pms_cache_hits_total") == 5
    assert scrape.total("pms_cache_hits_total", kind="room_types") == 2
    assert scrape.total("missing_total") is None


def test_redact_hides_passwords_only() -> None:
    assert redact("postgresql://app:s3cret@db:5432/hotel") == "postgresql://app:***@db:5432/hotel"
    assert redact("redis://:pw@cache:6379/0") == "redis://:***@cache:6379/0"
    assert redact("http://agent:8080") == "http://agent:8080"


def test_explicit_urls_need_no_state_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAOSLAB_STATE_FILE", str(tmp_path / "none.json"))
    t = resolve_targets(["postgres"], postgres="postgresql://x@h/db")
    assert t.postgres == "postgresql://x@h/db" and t.redis is None
    with pytest.raises(InspectError, match="--redis-url"):
        resolve_targets(["postgres", "redis"], postgres="postgresql://x@h/db")
    (tmp_path / "s.json").write_text(json.dumps({"urls": {"agent": "http://a", "redis": "r"}}))
    monkeypatch.setenv("CHAOSLAB_STATE_FILE", str(tmp_path / "s.json"))
    assert resolve_targets(["agent", "redis"], redis_url="redis://o").redis == "redis://o"
    assert resolve_targets(["agent"]).agent == "http://a"


def test_the_docker_state_file_names_every_source_directly(monkeypatch: pytest.MonkeyPatch) -> None:
    state = Path(__file__).resolve().parents[3] / "docker" / "stack.docker.json"
    monkeypatch.setenv("CHAOSLAB_STATE_FILE", str(state))
    t = resolve_targets(["agent", "redis", "postgres"])
    # Inside the compose network, straight to the servers (not through toxiproxy).
    assert t == Targets(
        agent="http://agent:8080",
        redis="redis://redis:6379/0",
        postgres="postgresql://postgres@postgres:5432/hotel",
    )


def test_cli_errors_are_one_line_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli_main(
        ["inspect", "db", "--postgres-url", "postgresql://postgres@127.0.0.1:1/x", "--timeout", "1"]
    )
    err = capsys.readouterr().err
    assert (
        code == 2
        and err.startswith("chaoslab: cannot reach PostgreSQL at")
        and err.count("\n") == 1
    )
    assert cli_main(["seed-audit", "--postgres-url", "postgresql://h/x"]) == 2
    assert "give a number of rows" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli_main(["inspect", "pools", "--warn-percent", "120"])
