"""Where the observability files live, and how to adapt them to a running stack.

The shipped files are valid as they are, with the native stack's default loopback ports.
The launcher and the tests start servers on other ports: they call these functions
instead of editing the files, so the job names, rules and routing stay the shipped ones.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from chaos.dashboards import DashboardError
from chaos.paths import asset

ASSETS_DIR = asset("dashboards")
PROMETHEUS_DIR = ASSETS_DIR / "prometheus"
PROMETHEUS_CONFIG = PROMETHEUS_DIR / "prometheus.yml"
RULES_DIR = PROMETHEUS_DIR / "rules"
RECORDING_RULES = RULES_DIR / "recording.yml"
ALERT_RULES = RULES_DIR / "alerts.yml"
SLO_RULES = RULES_DIR / "slo.yml"  # generated from dashboards/slos.yml (chaos.dashboards.slo)
RULE_FILES = (RECORDING_RULES, ALERT_RULES, SLO_RULES)
PROMTOOL_TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_CONFIG = ASSETS_DIR / "alertmanager" / "alertmanager.yml"
ALERTMANAGER_ROUTE_TESTS = ASSETS_DIR / "alertmanager" / "routes-tests.yml"
GRAFANA_DIR = ASSETS_DIR / "grafana"
GRAFANA_DASHBOARDS_DIR = GRAFANA_DIR / "dashboards"
RUNBOOKS_DIR = asset("docs/runbooks")

# Every alert's runbook_url starts with this; the rest is "<AlertName>.md".
RUNBOOK_BASE_URL = "https://github.com/hotel-chaos-lab/hotel-chaos-lab/blob/main/docs/runbooks/"


def load_yaml(path: Path) -> Any:
    """Parse a YAML file, with the file name in the error."""
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DashboardError(f"cannot read {path}: {exc}") from exc


def alert_rules(path: Path | None = None) -> list[dict[str, Any]]:
    """Every alerting rule of a rule file (default: of every rule file), in file order."""
    docs = [load_yaml(p) for p in ((path,) if path else RULE_FILES)]
    return [r for doc in docs for group in doc["groups"] for r in group["rules"] if "alert" in r]


def rules_with_runbook_base(base_url: str, path: Path = ALERT_RULES) -> str:
    """The alert rule file's text with every runbook_url moved to ``base_url``.

    ``base_url`` ends with a slash, e.g. ``file:///srv/lab/docs/runbooks/``.
    """
    if not base_url.endswith("/"):
        raise DashboardError(f"runbook base URL must end with '/': {base_url!r}")
    return path.read_text(encoding="utf-8").replace(RUNBOOK_BASE_URL, base_url)


def prometheus_config(
    targets: Mapping[str, str | Sequence[str]],
    *,
    rule_files: Sequence[Path] = RULE_FILES,
    alertmanager: str | None = "127.0.0.1:9093",
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
    job_intervals: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The shipped Prometheus config, scraping ``targets`` (job name -> host:port).

    Jobs of the shipped file that ``targets`` leaves out are dropped, so a partial stack
    does not fire MonitoringTargetDown for servers it never started. Job names are part
    of the rules' contract: an unknown one is an error. ``alertmanager=None`` removes the
    alerting section. ``job_intervals`` scrapes some jobs more often than the others.
    """
    config: dict[str, Any] = copy.deepcopy(load_yaml(PROMETHEUS_CONFIG))
    known = {job["job_name"] for job in config["scrape_configs"]}
    unknown = set(targets) - known
    if unknown:
        raise DashboardError(f"unknown scrape jobs {sorted(unknown)}; known: {sorted(known)}")
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] not in targets:
            continue
        addresses = targets[job["job_name"]]
        listed = [addresses] if isinstance(addresses, str) else list(addresses)
        job["static_configs"] = [{"targets": listed}]
        if job_intervals and job["job_name"] in job_intervals:
            job["scrape_interval"] = job["scrape_timeout"] = job_intervals[job["job_name"]]
        jobs.append(job)
    config["scrape_configs"] = jobs
    config["rule_files"] = [str(Path(p).resolve()) for p in rule_files]
    if alertmanager is None:
        config.pop("alerting", None)
    else:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [alertmanager]}]}]}
    if scrape_interval:
        config["global"]["scrape_interval"] = scrape_interval
        config["global"]["scrape_timeout"] = scrape_interval
    if evaluation_interval:
        config["global"]["evaluation_interval"] = evaluation_interval
    return config


def write_prometheus_config(
    out_dir: Path,
    targets: Mapping[str, str | Sequence[str]],
    *,
    runbook_base_url: str | None = None,
    time_compression: int | None = None,
    **options: Any,
) -> Path:
    """Write prometheus.yml and its rule files into ``out_dir``; return the config path.

    ``time_compression`` writes the lab profile's rules (``chaos.dashboards.lab``).
    """
    rules_dir = out_dir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for source in RULE_FILES:
        text = (
            rules_with_runbook_base(runbook_base_url, source)
            if runbook_base_url
            else source.read_text(encoding="utf-8")
        )
        if time_compression:
            from chaos.dashboards.lab import lab_rules_text

            text = lab_rules_text(text, time_compression)
        (rules_dir / source.name).write_text(text, encoding="utf-8")
        written.append(rules_dir / source.name)
    config = prometheus_config(targets, rule_files=written, **options)
    path = out_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def alertmanager_config(
    webhook_url: str,
    *,
    group_wait: str | None = None,
    group_interval: str | None = None,
) -> dict[str, Any]:
    """The shipped Alertmanager config with every webhook sent to ``webhook_url``.

    The timing overrides apply to every route; tests use them to avoid waiting 10 s.
    """
    config: dict[str, Any] = copy.deepcopy(load_yaml(ALERTMANAGER_CONFIG))
    for receiver in config["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            hook["url"] = webhook_url
    routes = [config["route"], *config["route"].get("routes", [])]
    for route in routes:
        if group_wait:
            route["group_wait"] = group_wait
        if group_interval:
            route["group_interval"] = group_interval
    return config
