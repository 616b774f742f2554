"""Observability assets as code: Prometheus, Alertmanager and Grafana files, and a renderer.

The files live in the repository's ``dashboards/`` folder; this package finds them, adapts
them to a running stack (target addresses, webhook URL, runbook base), reads the PromQL
inside them and draws the Grafana dashboards from live Prometheus data.
"""

from __future__ import annotations

from chaos.exceptions import ChaosError


class DashboardError(ChaosError):
    """A dashboard, rule file or Prometheus query could not be read, run or drawn."""
