"""The agent benchmark: one run, one machine, every ratio from figures taken in that run.

Phases, in order, against a running stack (``chaoslab up``):

1. throughput (wrk, one C thread, ``users`` connections, no think time): a bare FastAPI
   app under the agent's uvicorn settings, the agent's ``GET /health/live``, and cached
   availability questions (``POST /api/v1/messages``: session in Redis, NLP, PMS cache,
   audit row in PostgreSQL, no PMS call). The agent's CPU seconds per message come from
   ``/proc``; wrk's own CPU share marks a figure invalid when the generator was the limit;
2. guest mix (Locust, the ``steady`` scenario) from a cold PMS cache, on the stack's agent
   (lab profile) and on an extra agent with the production settings: the PMS cache hit
   ratio after a warm-up of a third of the phase;
3. Redis latency: the cached-path load with a latency toxic on the Redis proxy; ``ratio``
   is its p95 over the healthy p95, ``redis_trips`` the added p95 in units of the toxic
   (about the number of sequential Redis round trips per message);
4. PostgreSQL outage: the proxy disabled, the audit breaker tripped open first, then the
   cached-path load; then PostgreSQL back and the breaker closed and the fallback replayed,
   so the stack is left as it was found;
5. workers: an extra agent with ``AGENT_WORKERS`` processes under the cached-path load, and
   whether its ``/metrics`` counted every message across the workers;
6. the fault proxy's own overhead, from ``bench.proxy_bench.run()`` when it exists.

Nothing here asserts a speed; the figures are printed and written to ``reports/bench.json``.
"""

from __future__ import annotations

import contextlib
import os
import platform
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench import procs, servers, wrk
from bench.util import figures_of, lookups, metric_sum, ratio
from chaos import metrics
from chaos.faults import Fault, inject, verify_clean
from chaos.load.conversations import cached_turns
from chaos.load.errors import LoadError
from chaos.load.runner import LocustLoad
from chaos.load.thresholds import AGGREGATED
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchConfig:
    users: int = 10
    duration_s: float = 15.0
    mix_users: int = 10
    mix_duration_s: float = 60.0
    mix_profiles: tuple[str, ...] = ("lab", "default")
    redis_latency_ms: int = 150
    workers: int = 2
    pms_api_key: str = "pms-dev-key"
    work_dir: Path = Path("reports/bench")
    recover_timeout_s: float = 60.0


class AgentBench:
    """Runs the phases against one stack; ``run()`` returns the figures as a dict."""

    def __init__(self, state: StackState, config: BenchConfig, progress: Progress = print) -> None:
        self.state = state
        self.config = config
        began = time.monotonic()
        self.progress = lambda msg: progress(f"[{time.monotonic() - began:6.1f} s] {msg}")
        self.agent = state.url("agent")
        self.agent_pid = state.pids.get("agent")
        self.proxy = ToxiproxyClient(state.url("proxy_api"))
        self.http = httpx.Client(base_url=self.agent, timeout=15.0)
        self.texts = [turn.text for turn in cached_turns(date.today())]

    def close(self) -> None:
        self.proxy.close()
        self.http.close()

    # --- helpers ------------------------------------------------------------------------

    def _wrk_warm_up(self, label: str, url: str, script: str) -> None:
        """An unmeasured second: pools grow and statements get prepared at the start of a
        load, which is not the steady state a figure describes."""
        cfg = self.config
        wrk.run(url, script, connections=cfg.users, duration_s=1, work_dir=cfg.work_dir,
                name=f"{label}_warmup")  # fmt: skip

    def _wrk(
        self, label: str, url: str, script: str, pid: int | None = None, warm_up: bool = True
    ) -> dict[str, Any]:
        """One wrk phase; with ``pid``, that process tree's CPU seconds per request too."""
        cfg = self.config
        if warm_up:
            self._wrk_warm_up(label, url, script)
        cpu_before = procs.tree_cpu_seconds(pid) if pid else 0.0
        result = wrk.run(
            url,
            script,
            connections=cfg.users,
            duration_s=cfg.duration_s,
            work_dir=cfg.work_dir,
            name=label,
        )
        if result.requests == 0:
            raise LoadError(f"bench phase {label} made no request")
        out = result.as_dict()
        if pid:
            cpu = procs.tree_cpu_seconds(pid) - cpu_before
            out["server_cpu_ms_per_request"] = round(1000 * cpu / result.requests, 3)
            out["server_cpu_share"] = round(cpu / result.duration_s, 3)
        out["machine_load_per_cpu"] = procs.busy_share()
        return out

    def _messages(
        self, label: str, url: str | None = None, pid: int | None = None, warm_up: bool = True
    ) -> dict[str, Any]:
        script = wrk.messages_script(self.texts, f"bench-{label}")
        return self._wrk(label, url or self.agent, script, pid, warm_up)

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

    def _message(self, text: str, agent: str | None = None) -> None:
        body = {"guest_id": f"bench-probe-{uuid.uuid4().hex[:8]}", "text": text}
        url = f"{agent or self.agent}/api/v1/messages"
        self.http.post(url, json=body).raise_for_status()

    def _warm(self, agent: str | None = None) -> None:
        """Ask the cached questions once, then wait (up to 20 s) until the warmer has put
        their nights back in Redis: a phase starts from the steady state, not a flush."""
        import redis

        for text in self.texts:
            self._message(text, agent)
        keys = [
            f"pms:night:{(date.today() + timedelta(days=d)).isoformat()}" for d in range(10, 33)
        ]
        client = redis.Redis.from_url(self.state.url("redis"), socket_timeout=5)
        try:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and client.exists(*keys) < len(keys):
                time.sleep(0.2)
        finally:
            client.close()

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

    def throughput(self) -> dict[str, Any]:
        """Bare app, agent's /health/live and cached messages, back to back."""
        out: dict[str, Any] = {}
        with servers.bare_app(self.config.work_dir) as (url, pid):
            out["bare_app"] = self._wrk("bare_app", f"{url}/health/live", wrk.get_script(), pid)
        out["bare_endpoint"] = self._wrk(
            "agent_live", f"{self.agent}/health/live", wrk.get_script(), self.agent_pid
        )
        self._warm()
        before = metrics.scrape(self.agent, timeout_s=5.0)
        cached = self._messages("cached", pid=self.agent_pid)
        cached["cache_hit_ratio"] = metrics.cache_hit_ratio(
            before, metrics.scrape(self.agent, timeout_s=5.0)
        )
        out["agent_cached"] = cached
        out["agent_to_bare_ratio"] = ratio(cached["rps"], out["bare_endpoint"]["rps"])
        out["live_to_bare_app_ratio"] = ratio(out["bare_endpoint"]["rps"], out["bare_app"]["rps"])
        out["agent_cpu_ms_per_message"] = cached.get("server_cpu_ms_per_request")
        return out

    def guest_mix(self, agent: str | None = None, label: str = "guest_mix") -> dict[str, Any]:
        cfg = self.config
        agent = agent or self.agent
        self._reset_pms()
        self._flush_pms_cache()
        warm_s = cfg.mix_duration_s / 3
        load = LocustLoad(
            agent,
            "steady",
            users=cfg.mix_users,
            spawn_rate=cfg.mix_users,
            out_dir=cfg.work_dir,
            name=label,
            guest_prefix=f"bench-{label}",
            extra_args=("--think-time", "1,3"),
        )
        load.start()
        try:
            time.sleep(warm_s)
            before = metrics.scrape(agent, timeout_s=5.0)
            time.sleep(cfg.mix_duration_s - warm_s)
            after = metrics.scrape(agent, timeout_s=5.0)
        finally:
            load.stop()
        fig = load.result().figures()[AGGREGATED]
        self._reset_pms()  # the mix books rooms; leave the hotel empty again
        self._flush_pms_cache()  # and the cache must not remember those bookings
        return {
            "cache_hit_ratio": metrics.cache_hit_ratio(before, after),
            "warm_up_s": round(warm_s, 1),
            "measured_s": round(cfg.mix_duration_s - warm_s, 1),
            "lookups": lookups(after) - lookups(before),
            **figures_of(fig),
        }

    def guest_mix_profiles(self) -> dict[str, Any]:
        """The guest mix on the stack's agent (lab) and on an extra agent per other profile."""
        out: dict[str, Any] = {}
        for profile in self.config.mix_profiles:
            self.progress(f"guest mix, {profile} profile: {self.config.mix_duration_s:g} s")
            if profile == "lab":
                out[profile] = self.guest_mix()
                continue
            with servers.extra_agent(self.state, profile=profile) as (url, _):
                out[profile] = self.guest_mix(url, f"guest_mix_{profile}")
        return out

    def redis_latency(self, healthy_p95: float) -> dict[str, Any]:
        ms = self.config.redis_latency_ms
        self._warm()
        with self._fault(Fault("redis", "latency", {"latency": ms, "jitter": 0})):
            fig = self._messages("redis_latency")
        added = (fig["p95_ms"] - healthy_p95) / ms if ms else None
        return {
            "latency_ms": ms,
            **fig,
            "ratio": ratio(fig["p95_ms"], healthy_p95),
            "redis_trips": round(added, 2) if added is not None else None,
        }

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
            fig = self._messages("postgres_outage")
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
            **fig,
            "ratio": ratio(fig["p95_ms"], healthy_p95),
            "audit_breaker_open": opened,
            "audit_breaker_state_at_end": during.total("audit_circuit_breaker_state"),
            "fallback_pending_at_end": during.total("audit_fallback_pending"),
            "recovered": recovered,
            "before_fallback_pending": before.total("audit_fallback_pending"),
        }

    def workers(self) -> dict[str, Any]:
        """An extra agent with several workers: throughput, and metrics across workers."""
        n = self.config.workers
        env = {"AGENT_WORKERS": str(n)}
        with servers.extra_agent(self.state, env=env) as (url, pid):
            self._warm(url)
            workers = len(procs.children(pid))
            self._wrk_warm_up("workers", url, wrk.messages_script(self.texts, "bench-warm"))
            counted_before = metric_sum(url, "orchestrator_messages_total")
            fig = self._messages("workers", url, pid, warm_up=False)
            counted = metric_sum(url, "orchestrator_messages_total") - counted_before
        return {
            "workers": n,
            "worker_processes_seen": workers,
            **fig,
            "messages_counted_by_metrics": counted,
            # Up to one request per connection is in flight when the window opens (the
            # warm-up's last) and when wrk stops counting.
            "metrics_count_every_message": 0 <= counted - fig["requests"] <= 2 * self.config.users,
        }

    def run(
        self, proxy_bench: Callable[[], dict[str, Any]] | None = None, proxy_skipped: bool = False
    ) -> dict[str, Any]:
        """Every phase, in order; faults are always removed, even on errors or Ctrl-C."""
        problems = verify_clean(self.proxy)
        if problems:
            raise LoadError(f"proxy not clean, refusing to benchmark: {'; '.join(problems)}")
        if not wrk.available():
            raise LoadError("wrk is not installed (make system-deps, or apt-get install wrk)")
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
        self.progress(
            f"throughput (wrk): bare app, /health/live, cached messages, "
            f"{self.config.users} connections, {self.config.duration_s:g} s each"
        )
        out.update(self.throughput())
        mixes = self.guest_mix_profiles()
        out["guest_mix"] = mixes.get("lab") or next(iter(mixes.values()), {})
        out["guest_mix_profiles"] = mixes
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
        if self.config.workers > 1:
            self.progress(f"{self.config.workers} worker processes, cached path")
            out["workers"] = self.workers()
            out["workers"]["to_one_worker_ratio"] = ratio(
                out["workers"]["rps"], out["agent_cached"]["rps"]
            )
        out["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
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
