"""The agent benchmark: one run, one machine, every figure from the same load generator.

Phases, in order, against a running stack (``chaoslab up``):

1. cached path: ``CachedPathGuest`` users (no think time) ask availability questions whose
   PMS answers are cached: throughput and p50/p95/p99 of the agent's full pipeline;
2. bare endpoint: ``BareEndpoint`` users on ``GET /health/live`` of the same server: the
   ceiling of this generator against this server configuration; the ratio of the two;
3. guest mix: the ``steady`` scenario from a cold PMS cache; the hit ratio is read from
   the agent's ``/metrics`` after a warm-up of a third of the phase;
4. Redis latency: the cached-path load with a latency toxic on the Redis proxy;
5. PostgreSQL outage: the proxy disabled, the audit breaker tripped open first, then the
   cached-path load; then PostgreSQL back and the breaker closed and the fallback replayed,
   so the stack is left as it was found;
6. the fault proxy's own overhead, from ``bench.proxy_bench.run()`` when it exists.

Degradation ratios divide a phase's p95 by the healthy cached-path p95. Nothing here
asserts a speed; the figures are printed and written to ``reports/bench.json``.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from chaos import metrics
from chaos.faults import Fault, inject, verify_clean
from chaos.load.conversations import cached_turns
from chaos.load.errors import LoadError
from chaos.load.runner import LocustLoad, loadtests, run_locust
from chaos.load.thresholds import AGGREGATED, Figures
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

Progress = Callable[[str], None]
BENCH_USERS = str(loadtests() / "bench_users.py")


@dataclass(frozen=True)
class BenchConfig:
    users: int = 10
    duration_s: float = 15.0
    mix_users: int = 10
    mix_duration_s: float = 30.0
    redis_latency_ms: int = 150
    pms_api_key: str = "pms-dev-key"
    work_dir: Path = Path("reports/bench")
    recover_timeout_s: float = 60.0


def _figures(fig: Figures) -> dict[str, float]:
    return {
        "rps": round(fig.rps, 2),
        "p50_ms": fig.p50_ms,
        "p95_ms": fig.p95_ms,
        "p99_ms": fig.p99_ms,
        "requests": fig.requests,
        "failures": fig.failures,
    }


def _lookups(page: metrics.Scrape) -> float:
    return (page.total("pms_cache_hits_total") or 0.0) + (
        page.total("pms_cache_misses_total") or 0.0
    )


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 3) if denominator > 0 else None


class AgentBench:
    """Runs the phases against one stack; ``run()`` returns the figures as a dict."""

    def __init__(self, state: StackState, config: BenchConfig, progress: Progress = print) -> None:
        self.state = state
        self.config = config
        began = time.monotonic()
        self.progress = lambda msg: progress(f"[{time.monotonic() - began:6.1f} s] {msg}")
        self.agent = state.url("agent")
        self.proxy = ToxiproxyClient(state.url("proxy_api"))
        self.http = httpx.Client(base_url=self.agent, timeout=15.0)

    def close(self) -> None:
        self.proxy.close()
        self.http.close()

    # --- helpers ------------------------------------------------------------------------

    def _locust(
        self,
        label: str,
        user_class: str,
        scenario: str = BENCH_USERS,
        users: int | None = None,
        duration_s: float | None = None,
        extra: tuple[str, ...] = (),
    ) -> Figures:
        cfg = self.config
        users = users or cfg.users
        run = run_locust(
            scenario,
            self.agent,
            users=users,
            spawn_rate=users,
            run_time_s=duration_s or cfg.duration_s,
            out_base=cfg.work_dir / label,
            user_classes=(user_class,),
            extra_args=("--guest-prefix", f"bench-{label}", *extra),
        )
        figures = run.figures()
        if AGGREGATED not in figures or figures[AGGREGATED].requests == 0:
            raise LoadError(f"bench phase {label} made no request: {run.output[-800:]}")
        return figures[AGGREGATED]

    def _reset_pms(self) -> None:
        response = httpx.post(
            f"{self.state.url('pms')}/_admin/reset",
            timeout=10.0,
            headers={"X-API-Key": self.config.pms_api_key},
        )
        response.raise_for_status()

    def _flush_pms_cache(self) -> None:
        """Drop the agent's cached PMS answers (directly in Redis, not through the proxy)."""
        import redis

        client = redis.Redis.from_url(self.state.url("redis"), socket_timeout=5)
        try:
            keys = list(client.scan_iter(match="pms:*", count=500))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def _message(self, text: str) -> None:
        body = {"guest_id": f"bench-probe-{uuid.uuid4().hex[:8]}", "text": text}
        self.http.post("/api/v1/messages", json=body).raise_for_status()

    def _warm(self) -> None:
        for turn in cached_turns(date.today()):
            self._message(turn.text)

    def _wait_for(
        self,
        what: str,
        ok: Callable[[metrics.Scrape], bool],
        timeout_s: float,
        nudge: bool = True,
    ) -> bool:
        """Poll the agent's metrics until ``ok``; ``nudge`` sends a message between polls
        (a breaker only moves when something calls through it)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if ok(metrics.scrape(self.agent, timeout_s=5.0)):
                return True
            if nudge:
                with contextlib.suppress(httpx.HTTPError):
                    self._message("¿A qué hora es el check-in?")
            time.sleep(0.3)
        self.progress(f"  (gave up waiting for {what} after {timeout_s:.0f} s)")
        return False

    @contextlib.contextmanager
    def _fault(self, fault: Fault) -> Iterator[None]:
        with inject(self.proxy, fault):
            yield

    # --- phases -------------------------------------------------------------------------

    def cached_path(self) -> dict[str, Any]:
        self._warm()
        before = metrics.scrape(self.agent, timeout_s=5.0)
        fig = self._locust("cached", "CachedPathGuest")
        ratio = metrics.cache_hit_ratio(before, metrics.scrape(self.agent, timeout_s=5.0))
        return {**_figures(fig), "cache_hit_ratio": ratio}

    def bare_endpoint(self) -> dict[str, Any]:
        return _figures(self._locust("bare", "BareEndpoint"))

    def guest_mix(self) -> dict[str, Any]:
        cfg = self.config
        self._reset_pms()
        self._flush_pms_cache()
        warm_s = cfg.mix_duration_s / 3
        load = LocustLoad(
            self.agent,
            "steady",
            users=cfg.mix_users,
            spawn_rate=cfg.mix_users,
            out_dir=cfg.work_dir,
            name="guest_mix",
            guest_prefix="bench-mix",
            extra_args=("--think-time", "1,3"),
        )
        load.start()
        try:
            time.sleep(warm_s)
            before = metrics.scrape(self.agent, timeout_s=5.0)
            time.sleep(cfg.mix_duration_s - warm_s)
            after = metrics.scrape(self.agent, timeout_s=5.0)
        finally:
            load.stop()
        fig = load.result().figures()[AGGREGATED]
        self._reset_pms()  # the mix books rooms; leave the hotel empty again
        return {
            "cache_hit_ratio": metrics.cache_hit_ratio(before, after),
            "warm_up_s": round(warm_s, 1),
            "measured_s": round(cfg.mix_duration_s - warm_s, 1),
            "lookups": _lookups(after) - _lookups(before),
            **_figures(fig),
        }

    def redis_latency(self, healthy_p95: float) -> dict[str, Any]:
        ms = self.config.redis_latency_ms
        self._warm()
        with self._fault(Fault("redis", "latency", {"latency": ms, "jitter": 0})):
            fig = self._locust("redis_latency", "CachedPathGuest")
        return {"latency_ms": ms, **_figures(fig), "ratio": _ratio(fig.p95_ms, healthy_p95)}

    def postgres_outage(self, healthy_p95: float) -> dict[str, Any]:
        cfg = self.config
        self._warm()
        before = metrics.scrape(self.agent, timeout_s=5.0)
        with self._fault(Fault("postgres", "down")):
            opened = self._wait_for(
                "the audit breaker to open",
                lambda r: r.total("audit_circuit_breaker_state") == 1,
                30.0,
            )
            fig = self._locust("postgres_outage", "CachedPathGuest")
            during = metrics.scrape(self.agent, timeout_s=5.0)
        self.progress(
            "  PostgreSQL back; waiting for the audit breaker to close and the fallback to drain"
        )
        recovered = self._wait_for(
            "the audit breaker to close and the fallback to drain",
            lambda r: (
                r.total("audit_circuit_breaker_state") == 0
                and not r.total("audit_fallback_pending")
            ),
            cfg.recover_timeout_s,
        )
        return {
            **_figures(fig),
            "ratio": _ratio(fig.p95_ms, healthy_p95),
            "audit_breaker_open": opened,
            "audit_breaker_state_at_end": during.total("audit_circuit_breaker_state"),
            "fallback_pending_at_end": during.total("audit_fallback_pending"),
            "recovered": recovered,
            "before_fallback_pending": before.total("audit_fallback_pending"),
        }

    def run(
        self, proxy_bench: Callable[[], dict[str, Any]] | None = None, proxy_skipped: bool = False
    ) -> dict[str, Any]:
        """Every phase, in order; faults are always removed, even on errors or Ctrl-C."""
        problems = verify_clean(self.proxy)
        if problems:
            raise LoadError(f"proxy not clean, refusing to benchmark: {'; '.join(problems)}")
        self.config.work_dir.mkdir(parents=True, exist_ok=True)
        # An earlier outage may still be replaying its audit fallback; that would slow
        # every phase, so start from the steady state.
        if not self._wait_for(
            "a healthy agent (audit breaker closed, fallback drained)",
            lambda r: (
                r.total("audit_circuit_breaker_state") == 0
                and not r.total("audit_fallback_pending")
            ),
            self.config.recover_timeout_s,
            nudge=False,
        ):
            raise LoadError("the agent is not in its steady state; see its /metrics")
        out: dict[str, Any] = {
            "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "host": self.agent,
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            },
            "config": {
                k: str(v) if isinstance(v, Path) else v
                for k, v in asdict(self.config).items()
                if k != "pms_api_key"
            },
        }
        self.progress(f"cached path: {self.config.users} users, {self.config.duration_s:g} s")
        out["agent_cached"] = self.cached_path()
        self.progress(f"bare endpoint GET /health/live: {self.config.users} users")
        out["bare_endpoint"] = self.bare_endpoint()
        out["agent_to_bare_ratio"] = _ratio(out["agent_cached"]["rps"], out["bare_endpoint"]["rps"])
        self.progress(f"guest mix (steady scenario), cold cache: {self.config.mix_duration_s:g} s")
        out["guest_mix"] = self.guest_mix()
        healthy = float(out["agent_cached"]["p95_ms"])
        self.progress(f"Redis latency {self.config.redis_latency_ms} ms, cached path")
        redis_fig = self.redis_latency(healthy)
        self.progress("PostgreSQL outage, audit breaker open, cached path")
        pg_fig = self.postgres_outage(healthy)
        out["degradation"] = {
            "healthy_p95_ms": healthy,
            "postgres_outage": pg_fig,
            "redis_latency": redis_fig,
        }
        if proxy_skipped:
            out["proxy"], out["proxy_note"] = "unavailable", "skipped (--skip-proxy)"
        else:
            out["proxy"], out["proxy_note"] = self.proxy_overhead(proxy_bench)
        return out

    def proxy_overhead(
        self, runner: Callable[[], dict[str, Any]] | None
    ) -> tuple[dict[str, Any] | str, str]:
        if runner is None:
            return "unavailable", "bench/proxy_bench.py is not in this tree"
        self.progress("fault proxy overhead (bench/proxy_bench.py)")
        try:
            return runner(), ""
        except Exception as exc:  # a colleague's module: report its failure, keep ours
            return "unavailable", f"bench.proxy_bench.run() failed: {type(exc).__name__}: {exc}"


def load_proxy_bench(quick: bool) -> Callable[[], dict[str, Any]] | None:
    """``bench.proxy_bench.run`` when that module exists, bound to a quick run if asked."""
    try:
        module = importlib.import_module("bench.proxy_bench")
    except ModuleNotFoundError as exc:
        if exc.name not in ("bench.proxy_bench", "bench"):
            raise
        return None
    run = getattr(module, "run", None)
    if not callable(run):
        return None
    params = inspect.signature(run).parameters
    kwargs: dict[str, Any] = {}
    if quick and "quick" in params:
        kwargs["quick"] = True

    def call() -> dict[str, Any]:
        result = run(**kwargs)
        return dict(result) if isinstance(result, dict) else {"result": result}

    return call
