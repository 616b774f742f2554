"""The FastAPI application factory and its lifespan (wiring of every service)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from agent import __version__
from agent.alerts import AlertService
from agent.audit import AuditLog, FallbackLocked
from agent.conversation import Orchestrator
from agent.dedupe import Deduplicator
from agent.delivery import Claims, Outbox, StatusStore
from agent.dependencies import DependencyMonitor
from agent.errors import install_error_handlers
from agent.logging import configure_logging
from agent.metrics import MULTIPROC_ENV, AgentMetrics, multiprocess
from agent.middleware import BodyLimitMiddleware, RequestContextMiddleware
from agent.nlp.remote import nlu_for
from agent.pms import PMSClient
from agent.pms.warmer import CacheWarmer
from agent.pools import watch_pools
from agent.resilience.listeners import OnOpen
from agent.routes import admin, health, messages, metrics, whatsapp
from agent.sessions import SessionStore
from agent.settings import AgentSettings
from agent.voice import Transcriber, VoiceNotes
from agent.whatsapp import GraphClient

log = structlog.get_logger(__name__)


def redis_client(settings: AgentSettings) -> aioredis.Redis:
    """A Redis client whose only retries are the agent's own, counted ones."""
    r = settings.redis
    # A blocking pool queues callers when every connection is busy; the default pool
    # raises MaxConnectionsError at once, which under load looks like an outage.
    pool = aioredis.BlockingConnectionPool.from_url(
        r.url,
        max_connections=r.max_connections,
        timeout=r.socket_timeout_s,
        socket_timeout=r.socket_timeout_s,
        socket_connect_timeout=r.connect_timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )
    return aioredis.Redis(connection_pool=pool)


async def _periodic(interval_s: float, fn: object, name: str) -> None:
    while True:
        await asyncio.sleep(interval_s)
        try:
            await fn()  # type: ignore[operator]
        except Exception as exc:  # a failed cleanup is retried next round
            log.warning("periodic_task_failed", task=name, error=str(exc))


def fallback_slot(path: Path, slot: int) -> Path:
    """The fallback file of worker slot ``slot``: slot 0 keeps the configured name."""
    return path if slot == 0 else path.with_name(f"{path.stem}.{slot}{path.suffix}")


async def _start_audit(
    settings: AgentSettings, metrics: AgentMetrics, alerts: AlertService
) -> AuditLog:
    """Start the audit log on the first fallback slot no other process owns.

    One process owns a fallback file; with several workers each takes a free slot, and a
    restarted worker takes over (and replays) the slot its predecessor left.
    """
    slots = max(1, settings.workers) * 2
    for slot in range(slots):
        audit_settings = settings.audit.model_copy(
            update={"fallback_path": fallback_slot(settings.audit.fallback_path, slot)}
        )
        audit = AuditLog(
            audit_settings, settings.database, metrics, on_fallback=alerts.audit_fallback_active
        )
        try:
            await audit.start()
        except FallbackLocked:
            continue
        audit.breaker.add_listener(OnOpen(alerts.breaker_opened))
        return audit
    raise FallbackLocked(f"all {slots} audit fallback slots are owned by other processes")


def create_app(settings: AgentSettings | None = None) -> FastAPI:
    """Build the agent; services start in the lifespan, so building never touches the network."""
    settings = settings or AgentSettings()
    metrics_ = AgentMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = redis_client(settings)
        alerts = AlertService(settings.alerts, metrics_)

        pms = PMSClient(settings.pms, metrics_, redis)
        pms.breaker.add_listener(OnOpen(alerts.breaker_opened))
        audit = await _start_audit(settings, metrics_, alerts)
        sessions = SessionStore(redis, settings.sessions, metrics_)
        sample_pools = watch_pools(metrics_, audit=audit, redis=redis)
        graph = GraphClient(settings.whatsapp)

        async def redis_up() -> bool:
            return bool(await redis.ping())

        nlu = nlu_for(settings.nlp, metrics_)
        checks: dict[str, Any] = {"redis": redis_up, "postgres": audit.ping, "pms": pms.ping}
        if settings.nlp.url:
            checks["nlu"] = nlu.ping
            metrics_.dependency_up.labels(dependency="nlu").set(0)
        transcriber = Transcriber(settings.stt, metrics_) if settings.stt.url else None
        if transcriber is not None:
            # Guests who send voice notes are asked to type while it is open: staff hear of it.
            transcriber.breaker.add_listener(OnOpen(alerts.breaker_opened))
            checks["stt"] = transcriber.ping
            metrics_.dependency_up.labels(dependency="stt").set(0)
        app.state.voice = VoiceNotes(graph, transcriber, settings.stt.max_audio_bytes)
        monitor = DependencyMonitor(checks, metrics_)
        app.state.settings = settings
        app.state.metrics = metrics_
        app.state.audit = audit
        app.state.alerts = alerts
        app.state.pms = pms
        app.state.sessions = sessions
        app.state.graph = graph
        dedupe = Deduplicator(redis)
        app.state.dedupe = dedupe
        wa = settings.whatsapp
        app.state.claims = Claims(
            redis, dedupe, claim_ttl_s=wa.claim_ttl_s, wait_s=wa.duplicate_wait_s
        )
        app.state.statuses = StatusStore(redis, metrics_)

        async def delivered(item: Any, wamid: str) -> None:
            await app.state.claims.mark_sent(item.channel, item.message_id, wamid)

        outbox = Outbox(
            redis,
            graph.send,
            metrics_,
            wa.outbox_retry,
            on_sent=delivered,
            interval_s=wa.outbox_interval_s,
        )
        app.state.outbox = outbox
        app.state.dependencies = monitor
        app.state.orchestrator = Orchestrator(
            settings,
            metrics_,
            pms=pms,
            sessions=sessions,
            audit=audit,
            alerts=alerts,
            dedupe=dedupe,
            nlu=nlu,
        )
        warmer = CacheWarmer(pms, metrics_)
        warmer.start()
        outbox.start()
        monitor.start(settings.dependency_check_interval_s)
        cleanup = asyncio.create_task(
            _periodic(settings.sessions.cleanup_interval_s, sessions.cleanup, "session-cleanup")
        )
        if multiprocess():

            async def sample() -> None:
                sample_pools()

            sampler = asyncio.create_task(
                _periodic(settings.dependency_check_interval_s, sample, "pool-gauges")
            )
            app.state.pool_sampler = sampler
        log.info("agent_started", version=__version__, environment=settings.environment)
        try:
            yield
        finally:
            for task in (cleanup, getattr(app.state, "pool_sampler", None)):
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await warmer.stop()
            await outbox.stop()
            await monitor.stop()
            await audit.stop()
            await alerts.drain()
            await alerts.aclose()
            await pms.aclose()
            await graph.aclose()
            await nlu.aclose()
            if transcriber is not None:
                await transcriber.aclose()
            # The pool was passed in, so closing the client alone would leave its
            # connections open.
            await redis.aclose(close_connection_pool=True)
            if multiprocess():
                from prometheus_client import multiprocess as mp

                mp.mark_process_dead(os.getpid())
            log.info("agent_stopped")

    app = FastAPI(title="hotel-chaos-lab agent", version=__version__, lifespan=lifespan)
    app.state.metrics = metrics_
    app.state.settings = settings
    install_error_handlers(app)
    # Routers are matched in this order, each a step for every request: probes and guest
    # messages, by far the most frequent, come first.
    for module in (health, messages, metrics, whatsapp, admin):
        app.include_router(module.router)
    app.add_middleware(
        BodyLimitMiddleware,
        limits=[("/webhooks/whatsapp", settings.whatsapp.max_body_bytes)],
        default=settings.request_max_bytes,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics_)
    return app


def server_options(settings: AgentSettings) -> dict[str, Any]:
    """uvicorn's settings for the agent; the bench serves its bare app with the same ones."""
    return {"host": settings.host, "port": settings.port, "log_config": None, "access_log": False}


def worker_app() -> FastAPI:
    """The app of one worker process (``AGENT_WORKERS`` > 1), built from the environment."""
    settings = AgentSettings()
    configure_logging(settings.log_level)
    return create_app(settings)


def main() -> None:
    """Run the agent with uvicorn on the configured (loopback by default) address.

    With ``AGENT_WORKERS`` > 1, uvicorn runs that many worker processes on the one port;
    their metrics are merged through ``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary
    folder unless set; emptied at start so no dead worker's values linger).
    """
    import uvicorn

    settings = AgentSettings()
    configure_logging(settings.log_level)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), **server_options(settings))
        return
    folder = Path(os.environ.get(MULTIPROC_ENV) or tempfile.mkdtemp(prefix="agent-metrics-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(folder)
    uvicorn.run(
        "agent.main:worker_app",
        factory=True,
        workers=settings.workers,
        **server_options(settings),
    )
