"""The FastAPI application factory and its lifespan (wiring of every service)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import structlog
from fastapi import FastAPI
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from agent import __version__
from agent.alerts import AlertService
from agent.audit import AuditLog
from agent.conversation import Orchestrator
from agent.dedupe import Deduplicator
from agent.dependencies import DependencyMonitor
from agent.errors import install_error_handlers
from agent.logging import configure_logging
from agent.metrics import AgentMetrics
from agent.middleware import BodyLimitMiddleware, RequestContextMiddleware
from agent.pms import PMSClient
from agent.pools import watch_pools
from agent.resilience.listeners import OnOpen
from agent.routes import admin, health, messages, metrics, whatsapp
from agent.sessions import SessionStore
from agent.settings import AgentSettings
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
        audit = AuditLog(
            settings.audit, settings.database, metrics_, on_fallback=alerts.audit_fallback_active
        )
        audit.breaker.add_listener(OnOpen(alerts.breaker_opened))
        sessions = SessionStore(redis, settings.sessions, metrics_)
        watch_pools(metrics_, audit=audit, redis=redis)
        graph = GraphClient(settings.whatsapp)

        async def redis_up() -> bool:
            return bool(await redis.ping())

        monitor = DependencyMonitor(
            {"redis": redis_up, "postgres": audit.ping, "pms": pms.ping}, metrics_
        )
        app.state.settings = settings
        app.state.metrics = metrics_
        app.state.audit = audit
        app.state.alerts = alerts
        app.state.pms = pms
        app.state.sessions = sessions
        app.state.graph = graph
        app.state.dedupe = Deduplicator(redis)
        app.state.dependencies = monitor
        app.state.orchestrator = Orchestrator(
            settings, metrics_, pms=pms, sessions=sessions, audit=audit, alerts=alerts
        )
        await audit.start()
        monitor.start(settings.dependency_check_interval_s)
        cleanup = asyncio.create_task(
            _periodic(settings.sessions.cleanup_interval_s, sessions.cleanup, "session-cleanup")
        )
        log.info("agent_started", version=__version__, environment=settings.environment)
        try:
            yield
        finally:
            cleanup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await cleanup
            await monitor.stop()
            await audit.stop()
            await alerts.drain()
            await alerts.aclose()
            await pms.aclose()
            await graph.aclose()
            # The pool was passed in, so closing the client alone would leave its
            # connections open.
            await redis.aclose(close_connection_pool=True)
            log.info("agent_stopped")

    app = FastAPI(title="hotel-chaos-lab agent", version=__version__, lifespan=lifespan)
    app.state.metrics = metrics_
    app.state.settings = settings
    install_error_handlers(app)
    for module in (messages, whatsapp, health, admin, metrics):
        app.include_router(module.router)
    app.add_middleware(
        BodyLimitMiddleware,
        limits=[("/webhooks/whatsapp", settings.whatsapp.max_body_bytes)],
        default=settings.request_max_bytes,
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics_)
    return app


def main() -> None:
    """Run the agent with uvicorn on the configured (loopback by default) address."""
    import uvicorn

    settings = AgentSettings()
    configure_logging(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )
