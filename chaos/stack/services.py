"""How each server of the native stack is launched, configured and probed for readiness."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from chaos.exceptions import StackError
from chaos.stack.config import LAB_AGENT_ENV, StackSettings
from chaos.stack.processes import ManagedProcess, require_binary, sys_python, tcp_open

PROXIES = ("redis", "postgres", "pms", "graph", "nlu", "stt")


def http_ok(url: str, expect: str | None = None) -> bool:
    """True when ``url`` answers 2xx (and its body contains ``expect``, if given)."""
    try:
        response = httpx.get(url, timeout=1.0)
    except httpx.HTTPError:
        return False
    return response.is_success and (expect is None or expect in response.text)


def stack_urls(s: StackSettings) -> dict[str, str]:
    """Every address the stack exposes, keyed by a stable name."""
    h, p = s.host, s.ports
    return {
        "agent": f"http://{h}:{p.agent}",
        "pms": f"http://{h}:{p.pms}",
        "proxy_api": f"http://{h}:{p.proxy_api}",
        "redis": f"redis://{h}:{p.redis}/0",
        "redis_proxied": f"redis://{h}:{p.proxy_redis}/0",
        "postgres": f"postgresql://postgres@{h}:{p.postgres}/hotel",
        "postgres_proxied": f"postgresql://postgres@{h}:{p.proxy_postgres}/hotel",
        "pms_proxied": f"http://{h}:{p.proxy_pms}",
        # The WhatsApp Graph recorder lives in the PMS simulator, behind a proxy of its own.
        "graph_proxied": f"http://{h}:{p.proxy_graph}",
        "nlu": f"http://{h}:{p.nlu}",
        "nlu_proxied": f"http://{h}:{p.proxy_nlu}",
        "stt": f"http://{h}:{p.stt}",
        "stt_proxied": f"http://{h}:{p.proxy_stt}",
        "prometheus": f"http://{h}:{p.prometheus}",
        "alertmanager": f"http://{h}:{p.alertmanager}",
        "redis_exporter": f"http://{h}:{p.redis_exporter}",
        "postgres_exporter": f"http://{h}:{p.postgres_exporter}",
        "alert_sink": f"http://{h}:{p.alert_sink}",
    }


def proxy_config(s: StackSettings) -> list[dict[str, Any]]:
    """The proxies the agent's traffic passes through."""
    h, p = s.host, s.ports
    pairs = {
        "redis": (p.proxy_redis, p.redis),
        "postgres": (p.proxy_postgres, p.postgres),
        "pms": (p.proxy_pms, p.pms),
        "graph": (p.proxy_graph, p.pms),
        "nlu": (p.proxy_nlu, p.nlu),
        "stt": (p.proxy_stt, p.stt),
    }
    return [
        {"name": name, "listen": f"{h}:{listen}", "upstream": f"{h}:{upstream}", "enabled": True}
        for name, (listen, upstream) in pairs.items()
    ]


def proxy(s: StackSettings, folder: Path) -> ManagedProcess:
    config = folder / "toxiproxy.json"
    config.write_text(json.dumps(proxy_config(s), indent=2))
    url = f"http://{s.host}:{s.ports.proxy_api}/proxies"

    def ready() -> bool:
        try:
            listed = httpx.get(url, timeout=1.0).json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(name in listed for name in PROXIES)

    argv = [
        sys_python(),
        "-m",
        "chaos.proxy",
        "-host",
        s.host,
        "-port",
        str(s.ports.proxy_api),
        "-config",
        str(config),
    ]
    return ManagedProcess("proxy", argv, folder / "proxy.log", ready)


def pms_simulator(s: StackSettings, folder: Path) -> ManagedProcess:
    argv = [
        sys_python(),
        "-m",
        "chaos.pms_simulator",
        "--host",
        s.host,
        "--port",
        str(s.ports.pms),
        "--api-key",
        s.pms_api_key,
    ]
    if s.profile == "lab":
        # Idle keep-alive connections closed after 0.5 s (the agent pings the PMS every
        # second): the slow-close experiment needs server-side closes within its window.
        argv += ["--keep-alive-s", "0.5"]
    return ManagedProcess(
        "pms", argv, folder / "pms.log", lambda: http_ok(f"http://{s.host}:{s.ports.pms}/health")
    )


def nlu(s: StackSettings, folder: Path) -> ManagedProcess:
    """The intent engine as a service (Rasa's /model/parse shape), behind proxy:nlu."""
    argv = [sys_python(), "-m", "agent.nlp", "--host", s.host, "--port", str(s.ports.nlu)]
    return ManagedProcess(
        "nlu", argv, folder / "nlu.log", lambda: http_ok(f"http://{s.host}:{s.ports.nlu}/health")
    )


def stt(s: StackSettings, folder: Path) -> ManagedProcess:
    """The speech-to-text server (OpenAI's transcription API), behind proxy:stt."""
    # Said here in one line, rather than in the server's log once the stack times out.
    require_binary("ffmpeg", "install it with: apt-get install ffmpeg")
    if importlib.util.find_spec("pocketsphinx") is None:
        raise StackError("pocketsphinx not found: pip install 'hotel-chaos-lab[harness]'")
    argv = [sys_python(), "-m", "chaos.stt", "--host", s.host, "--port", str(s.ports.stt)]
    return ManagedProcess(
        "stt", argv, folder / "stt.log", lambda: http_ok(f"http://{s.host}:{s.ports.stt}/health")
    )


def agent_env(s: StackSettings, folder: Path) -> dict[str, str]:
    """The agent's environment: every dependency reached through the proxy."""
    urls = stack_urls(s)
    env = dict(LAB_AGENT_ENV) if s.profile == "lab" else {}
    env.update(
        {
            "AGENT_HOST": s.host,
            "AGENT_PORT": str(s.ports.agent),
            "AGENT_ENVIRONMENT": f"native-{s.profile}",
            "AGENT_ADMIN_TOKEN": s.admin_token,
            "AGENT_REDIS__URL": urls["redis_proxied"],
            "AGENT_DATABASE__DSN": urls["postgres_proxied"],
            "AGENT_PMS__BASE_URL": urls["pms_proxied"],
            "AGENT_PMS__API_KEY": s.pms_api_key,
            "AGENT_ALERTS__ALERTMANAGER_URL": urls["alertmanager"],
            "AGENT_AUDIT__FALLBACK_PATH": str(folder / "audit_fallback.jsonl"),
            "AGENT_WHATSAPP__APP_SECRET": s.whatsapp_secret,
            "AGENT_WHATSAPP__VERIFY_TOKEN": s.whatsapp_secret,
            "AGENT_WHATSAPP__GRAPH_BASE_URL": f"{urls['graph_proxied']}/graph",
            "AGENT_NLP__URL": urls["nlu_proxied"],
            "AGENT_STT__URL": urls["stt_proxied"],
        }
    )
    env.update(s.agent_env)
    return env


def agent(s: StackSettings, folder: Path) -> ManagedProcess:
    return ManagedProcess(
        "agent",
        [sys_python(), "-m", "agent"],
        folder / "agent.log",
        lambda: http_ok(f"http://{s.host}:{s.ports.agent}/health/live"),
        env=agent_env(s, folder),
    )


def prometheus(s: StackSettings, folder: Path) -> ManagedProcess:
    """Prometheus with the project's rules, scraping every server of the stack."""
    from chaos.dashboards.assets import RUNBOOKS_DIR, write_prometheus_config
    from chaos.dashboards.lab import LAB_TIME_COMPRESSION

    binary = require_binary("prometheus", "install it with: apt-get install prometheus")
    h, p = s.host, s.ports
    targets = {
        "agent": f"{h}:{p.agent}",
        "proxy": f"{h}:{p.proxy_api}",
        "redis": f"{h}:{p.redis_exporter}",
        "postgres": f"{h}:{p.postgres_exporter}",
        "alertmanager": f"{h}:{p.alertmanager}",
        "prometheus": f"{h}:{p.prometheus}",
    }
    runbooks = RUNBOOKS_DIR.resolve().as_uri() + "/"
    lab = s.profile == "lab"
    config = write_prometheus_config(
        folder,
        targets,
        runbook_base_url=runbooks,
        alertmanager=f"{h}:{p.alertmanager}",
        scrape_interval="2s",
        # The lab evaluates time-compressed rules, every second, so that alerts fire and
        # resolve within an experiment; the default profile keeps the production rules.
        evaluation_interval="1s" if lab else "2s",
        time_compression=LAB_TIME_COMPRESSION if lab else None,
        # The proxy's chaos-window series, scraped every second, put a fault's start and
        # end on the dashboards within about a second of the proxy confirming them. The
        # lab scrapes the agent every second too: its compressed `for: 2s` then needs two
        # failed scrapes, not one, before AgentDown pages.
        job_intervals={"proxy": "1s", "agent": "1s"} if lab else {"proxy": "1s"},
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={folder / 'tsdb'}",
        f"--web.listen-address={h}:{p.prometheus}",
        "--web.enable-lifecycle",
        "--storage.tsdb.retention.time=1d",
    ]
    return ManagedProcess(
        "prometheus",
        argv,
        folder / "prometheus.log",
        lambda: http_ok(f"http://{h}:{p.prometheus}/-/ready"),
    )


def alert_sink(s: StackSettings, folder: Path) -> ManagedProcess:
    """The local webhook receiver Alertmanager notifies (one JSON line per notification)."""
    argv = [
        sys_python(),
        "-m",
        "chaos.dashboards.alert_sink",
        "--listen",
        f"{s.host}:{s.ports.alert_sink}",
        "--out",
        str(folder / "notifications.jsonl"),
    ]
    return ManagedProcess(
        "alert_sink", argv, folder / "alert_sink.log", lambda: tcp_open(s.host, s.ports.alert_sink)
    )


def alertmanager(s: StackSettings, folder: Path) -> ManagedProcess:
    from chaos.dashboards.assets import alertmanager_config

    binary = require_binary(
        "prometheus-alertmanager", "install it with: apt-get install prometheus-alertmanager"
    )
    config = folder / "alertmanager.yml"
    # The sink takes notifications on /alerts: its root answers 404, and Alertmanager
    # does not retry a 4xx, so a wrong path here silently drops every notification.
    sink = f"http://{s.host}:{s.ports.alert_sink}/alerts"
    config.write_text(
        yaml.safe_dump(
            # Shipped routing, grouping and inhibition; timers at a 1 s floor, so that an
            # alert joining a group that is still open is notified within a second, not
            # swallowed when it ends before the group's next flush.
            alertmanager_config(sink, group_wait="1s", group_interval="1s"),
            sort_keys=False,
        )
    )
    argv = [
        binary,
        f"--config.file={config}",
        f"--storage.path={folder / 'data'}",
        f"--web.listen-address={s.host}:{s.ports.alertmanager}",
        "--cluster.listen-address=",
    ]
    return ManagedProcess(
        "alertmanager",
        argv,
        folder / "alertmanager.log",
        lambda: http_ok(f"http://{s.host}:{s.ports.alertmanager}/-/ready"),
    )


def redis_exporter(s: StackSettings, folder: Path) -> ManagedProcess:
    binary = require_binary(
        "prometheus-redis-exporter", "install it with: apt-get install prometheus-redis-exporter"
    )
    argv = [
        binary,
        "-redis.addr",
        f"redis://{s.host}:{s.ports.redis}",
        "-web.listen-address",
        f"{s.host}:{s.ports.redis_exporter}",
    ]
    url = f"http://{s.host}:{s.ports.redis_exporter}/metrics"
    return ManagedProcess(
        "redis_exporter", argv, folder / "redis_exporter.log", lambda: http_ok(url, "redis_up 1")
    )


def postgres_exporter(s: StackSettings, folder: Path) -> ManagedProcess:
    binary = require_binary(
        "prometheus-postgres-exporter",
        "install it with: apt-get install prometheus-postgres-exporter",
    )
    dsn = f"postgresql://postgres@{s.host}:{s.ports.postgres}/postgres?sslmode=disable"
    argv = [binary, f"--web.listen-address={s.host}:{s.ports.postgres_exporter}"]
    url = f"http://{s.host}:{s.ports.postgres_exporter}/metrics"
    return ManagedProcess(
        "postgres_exporter",
        argv,
        folder / "postgres_exporter.log",
        lambda: http_ok(url, "pg_up 1"),
        env={"DATA_SOURCE_NAME": dsn},
    )


def port_is_free(host: str, port: int) -> bool:
    return not tcp_open(host, port, timeout=0.2)
