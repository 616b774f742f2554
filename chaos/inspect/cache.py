"""``chaoslab inspect cache``: is the PMS cache doing its job, and is Redis healthy for it?

Two hit ratios side by side against the target (70 %, the original system's):
  app    the agent's own PMS cache counters (``pms_cache_hits_total`` / lookups), the
         ratio that matters and the one that is gated;
  redis  Redis's server-wide ``keyspace_hits`` / (hits + misses) from ``INFO stats``,
         which also counts the deliberate misses of dedupe lookups for new message ids
         and session loads for new guests, so it sits below the app ratio by design
         (reported, never gated).
Both are lifetime figures (since the agent or Redis started), or the change over
``--window`` seconds. Also: evictions, memory against ``maxmemory``, and a TTL survey of
every key family the agent writes (agent keys without a TTL are a leak).

The survey's PTTL calls count as keyspace lookups in Redis's own statistics, so the
counters are read before it and the report says how many lookups it added
(``redis.survey_lookups``): the next reading of the server-wide ratio includes them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from chaos.inspect.counters import KINDS, Counters, read_counters
from chaos.inspect.errors import InspectError
from chaos.inspect.keys import OTHER, KeySurvey, survey_keys
from chaos.inspect.report import Check, Report, Sample, Status
from chaos.inspect.sources import Targets, redis_connect


@dataclass(frozen=True)
class CacheThresholds:
    """Defaults are the original system's targets."""

    min_hit_ratio: float = 0.70
    min_lookups: int = 20
    max_evictions: int = 1000
    max_memory_ratio: float = 0.90


def _ratio(hits: float, misses: float) -> float | None:
    return hits / (hits + misses) if hits + misses > 0 else None


def _pct(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.1%}"


def inspect_cache(
    targets: Targets,
    thresholds: CacheThresholds | None = None,
    *,
    window_s: float = 0.0,
    max_keys: int = 100_000,
    timeout_s: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Report:
    """Inspect the PMS cache and its Redis; see the module docstring."""
    t = thresholds or CacheThresholds()
    if targets.redis is None:
        raise InspectError("inspect cache needs a Redis URL")
    client = redis_connect(targets.redis, timeout_s=timeout_s)
    try:
        counters, agent_error = read_counters(client, targets.agent, timeout_s)
        if window_s > 0:
            sleep(window_s)
            later, agent_error = read_counters(client, targets.agent, timeout_s)
            counters = later.minus(counters)
        memory = client.info("memory")
        server = client.info("server")
        survey = survey_keys(client, max_keys=max_keys)
        dbsize = int(client.dbsize())
    except redis.RedisError as exc:
        raise InspectError(f"Redis failed during the inspection: {exc}") from exc
    finally:
        client.close()
    return build_report(targets, t, counters, agent_error, memory, survey, window_s, server, dbsize)


def build_report(
    targets: Targets,
    t: CacheThresholds,
    c: Counters,
    agent_error: str | None,
    memory: dict[str, Any],
    survey: KeySurvey,
    window_s: float,
    server: dict[str, Any],
    dbsize: int,
) -> Report:
    """Checks, figures and recommendations from what was measured (no I/O)."""
    report = Report("cache", targets.redacted())
    span = f"over {window_s:g} s" if window_s > 0 else "since start"

    # -- the application's ratio (gated) ------------------------------------------------
    app: dict[str, Any] | None = None
    if c.app_hits is not None and c.app_misses is not None:
        hits, misses = sum(c.app_hits.values()), sum(c.app_misses.values())
        ratio = _ratio(hits, misses)
        app = {
            "ratio": ratio,
            "hits": hits,
            "misses": misses,
            "lookups": hits + misses,
            "by_kind": {
                k: {
                    "hits": c.app_hits.get(k, 0.0),
                    "misses": c.app_misses.get(k, 0.0),
                    "ratio": _ratio(c.app_hits.get(k, 0.0), c.app_misses.get(k, 0.0)),
                }
                for k in KINDS
            },
            "stale_served": c.stale_served,
            "agent_started_at": c.agent_started_at,
        }
        if hits + misses < t.min_lookups:
            report.checks.append(
                Check(
                    "app_hit_ratio",
                    "skipped",
                    f"{hits + misses:.0f} PMS lookups {span}; need {t.min_lookups} to judge",
                    ratio,
                    t.min_hit_ratio,
                )
            )
        else:
            ok = ratio is not None and ratio >= t.min_hit_ratio
            report.checks.append(
                Check(
                    "app_hit_ratio",
                    "ok" if ok else "warning",
                    f"PMS cache {_pct(ratio)} of {hits + misses:.0f} lookups {span} "
                    f"({'meets' if ok else 'below'} the {t.min_hit_ratio:.0%} target)",
                    ratio,
                    t.min_hit_ratio,
                )
            )
    else:
        reason = agent_error or "no agent URL"
        report.checks.append(Check("app_hit_ratio", "unknown", f"agent counters: {reason}"))

    # -- Redis's server-wide ratio (reported, not gated) --------------------------------
    r_lookups = c.redis_hits + c.redis_misses
    r_ratio = _ratio(c.redis_hits, c.redis_misses)
    status: Status
    if r_lookups < t.min_lookups:
        status, why = "skipped", f"{r_lookups:.0f} keyspace lookups {span}"
    elif r_ratio is not None and r_ratio >= t.min_hit_ratio:
        status, why = "ok", f"keyspace {_pct(r_ratio)} of {r_lookups:.0f} lookups {span}"
    else:
        status = "info"
        why = (
            f"keyspace {_pct(r_ratio)} of {r_lookups:.0f} lookups {span}; includes "
            "dedupe and new-session misses, not gated"
        )
    report.checks.append(Check("redis_keyspace_hit_ratio", status, why, r_ratio, t.min_hit_ratio))

    # -- evictions and memory ----------------------------------------------------------
    evicted_ok = c.evicted <= t.max_evictions
    report.checks.append(
        Check(
            "redis_evictions",
            "ok" if evicted_ok else "warning",
            f"{c.evicted:.0f} keys evicted {span} (policy {memory.get('maxmemory_policy', '?')})",
            c.evicted,
            float(t.max_evictions),
        )
    )
    used = float(memory.get("used_memory", 0))
    maxmem = float(memory.get("maxmemory", 0))
    mem_ratio = used / maxmem if maxmem > 0 else None
    if mem_ratio is None:
        report.checks.append(
            Check(
                "redis_memory",
                "info",
                f"{used / 2**20:.1f} MiB used, no maxmemory limit set",
                None,
                t.max_memory_ratio,
            )
        )
    else:
        mem_ok = mem_ratio < t.max_memory_ratio
        report.checks.append(
            Check(
                "redis_memory",
                "ok" if mem_ok else "warning",
                f"{used / 2**20:.1f} of {maxmem / 2**20:.1f} MiB ({mem_ratio:.0%})",
                mem_ratio,
                t.max_memory_ratio,
            )
        )

    # -- keys without a TTL --------------------------------------------------------------
    leaked = {name: s.no_ttl for name, s in survey.families.items() if s.expires and s.no_ttl}
    if leaked:
        report.checks.append(
            Check(
                "agent_keys_without_ttl",
                "warning",
                ", ".join(f"{n} {name}* keys" for name, n in leaked.items()) + " have no TTL",
                float(sum(leaked.values())),
                0.0,
            )
        )
    else:
        report.checks.append(
            Check(
                "agent_keys_without_ttl",
                "ok",
                "every key family the agent expires has TTLs",
                0.0,
                0.0,
            )
        )

    redis_doc = {
        "version": server.get("redis_version"),
        "uptime_s": server.get("uptime_in_seconds"),
        "dbsize": dbsize,
        "evicted_keys": c.evicted,
        "expired_keys": c.expired,
        "used_memory_bytes": used,
        "maxmemory_bytes": maxmem,
        "memory_ratio": mem_ratio,
        "maxmemory_policy": memory.get("maxmemory_policy"),
        "survey_lookups": survey.scanned,
    }
    report.data = {
        "window_s": window_s,
        "hit_ratio": {
            "target": t.min_hit_ratio,
            "app": app,
            "redis": {
                "ratio": r_ratio,
                "hits": c.redis_hits,
                "misses": c.redis_misses,
                "lookups": r_lookups,
            },
        },
        "redis": redis_doc,
        "keys": survey.to_dict(),
    }
    report.recommendations = recommend(t, c, app, r_ratio, redis_doc, survey)
    report.samples = samples(t, app, r_ratio, r_lookups, redis_doc, survey, window_s)
    return report


def recommend(
    t: CacheThresholds,
    c: Counters,
    app: dict[str, Any] | None,
    r_ratio: float | None,
    redis_doc: dict[str, Any],
    survey: KeySurvey,
) -> list[str]:
    """What to do about what was found (empty when nothing needs doing)."""
    out: list[str] = []
    policy = str(redis_doc.get("maxmemory_policy") or "")
    app_ratio = app["ratio"] if app else None
    app_low = (
        app is not None
        and app["lookups"] >= t.min_lookups
        and (app_ratio is None or app_ratio < t.min_hit_ratio)
    )
    if app_low and app is not None:
        kinds = {k: v for k, v in app["by_kind"].items() if v["hits"] + v["misses"] > 0}
        worst = min(kinds, key=lambda k: kinds[k]["ratio"] or 0.0) if kinds else None
        if worst:
            out.append(
                f"Most misses are '{worst}' lookups ({_pct(kinds[worst]['ratio'])} hit): "
                "a miss is expected the first time a stay is asked for; a low ratio means "
                "guests rarely repeat a question within the entry's TTL."
            )
        fresh = survey.families.get("pms:availability:")
        if fresh and fresh.ttls and max(fresh.ttls) < 300:
            out.append(
                f"Fresh availability entries expire within {max(fresh.ttls):.0f} s: the TTL "
                "(AGENT_PMS__CACHE_AVAILABILITY_TTL_S) is below the 300 s default (the lab "
                "profile uses 15 s); a longer TTL raises the ratio at the cost of staleness."
            )
        if c.evicted > 0:
            out.append(
                f"Redis evicted {c.evicted:.0f} keys: cache entries are dropped before their "
                "TTL. Give Redis more memory before tuning TTLs."
            )
    if (
        app
        and r_ratio is not None
        and app_ratio is not None
        and r_ratio < t.min_hit_ratio <= (app_ratio)
    ):
        out.append(
            f"Redis's keyspace ratio ({_pct(r_ratio)}) is below target while the PMS cache "
            f"meets it ({_pct(app_ratio)}): dedupe lookups of new message ids and session "
            "loads of new guests miss by design. Judge the cache by the app ratio."
        )
    if c.evicted > t.max_evictions:
        out.append(
            f"{c.evicted:.0f} evictions: raise maxmemory, or check what else fills Redis "
            "(key families below)."
        )
    if policy.startswith("allkeys"):
        out.append(
            f"maxmemory-policy {policy} may evict 'sessions:index', which has no TTL by design; "
            "volatile-lru evicts only keys with a TTL (every other agent key)."
        )
    if not redis_doc["maxmemory_bytes"]:
        out.append(
            "No maxmemory is set: Redis grows until the host runs out of memory. Set maxmemory "
            "with maxmemory-policy volatile-lru (docker-compose uses 256mb volatile-lru); "
            "see docs/runbooks/RedisMaxmemoryUnset.md."
        )
    elif (redis_doc["memory_ratio"] or 0) >= t.max_memory_ratio:
        if policy == "noeviction":
            out.append(
                "Redis is near maxmemory with noeviction: writes will fail, and session "
                "saves with them. Raise maxmemory or switch to volatile-lru."
            )
        else:
            out.append("Redis is near maxmemory: raise it before evictions empty the cache.")
    for name, s in survey.families.items():
        if s.expires and s.no_ttl:
            out.append(
                f"{s.no_ttl} '{name}' keys have no TTL although the agent always sets one: "
                "they were written by something else; set a TTL or delete them."
            )
    other = survey.families.get(OTHER)
    if other and other.keys:
        out.append(
            f"{other.keys} keys match no family the agent writes (e.g. "
            f"{', '.join(repr(e) for e in other.examples)}): another client shares this "
            "database and competes for its memory."
        )
    if survey.truncated:
        out.append(f"Only {survey.scanned} keys were surveyed; pass a larger --max-keys.")
    return out


def samples(
    t: CacheThresholds,
    app: dict[str, Any] | None,
    r_ratio: float | None,
    r_lookups: float,
    redis_doc: dict[str, Any],
    survey: KeySurvey,
    window_s: float,
) -> list[Sample]:
    out = [
        Sample("cache_hit_ratio_target", "Hit-ratio target.", t.min_hit_ratio),
        Sample("cache_window_seconds", "Measurement window (0: since start).", window_s),
        Sample("cache_lookups", "Lookups in the window.", r_lookups, {"source": "redis"}),
        Sample("redis_evicted_keys", "Keys evicted in the window.", redis_doc["evicted_keys"]),
        Sample("redis_memory_used_bytes", "Redis used_memory.", redis_doc["used_memory_bytes"]),
        Sample(
            "redis_memory_max_bytes", "Redis maxmemory (0: none).", redis_doc["maxmemory_bytes"]
        ),
    ]
    if r_ratio is not None:
        out.append(Sample("cache_hit_ratio", "Hit ratio.", r_ratio, {"source": "redis"}))
    if app is not None:
        out.append(
            Sample("cache_lookups", "Lookups in the window.", app["lookups"], {"source": "app"})
        )
        if app["ratio"] is not None:
            out.append(Sample("cache_hit_ratio", "Hit ratio.", app["ratio"], {"source": "app"}))
    for fam in survey.families.values():
        out.append(Sample("cache_keys", "Keys per family.", fam.keys, {"family": fam.family}))
        out.append(
            Sample(
                "cache_keys_without_ttl",
                "Keys without a TTL per family.",
                fam.no_ttl,
                {"family": fam.family},
            )
        )
    return out
