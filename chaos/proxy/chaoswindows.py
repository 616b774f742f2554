"""Chaos windows as live Prometheus series: which faults are on which proxy, right now.

``chaoslab_proxy_toxic_active`` (one series per toxic: ``proxy``, ``toxic``, ``type``,
``stream``, ``run_id``) and ``chaoslab_proxy_disabled`` (one per disabled proxy:
``proxy``, ``run_id``) are 1 while their fault is in place and are absent otherwise. A
series that vanishes from a scrape is marked stale by Prometheus, so a range query
shows exactly the scrapes during which the fault was there: that is the window the
dashboards' annotation draws, and a new toxic or a new run is always a new series, so
two windows never merge.

The run id comes from the ``X-Chaoslab-Run`` header of the request that added the toxic
or disabled the proxy (the experiment runner sends it). Real Toxiproxy ignores unknown
headers, so clients that send it keep working against either server.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chaos.proxy.exceptions import BadRequest

if TYPE_CHECKING:
    from chaos.proxy.proxies import Proxy

RUN_HEADER = "X-Chaoslab-Run"
_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

TOXIC_ACTIVE = "chaoslab_proxy_toxic_active"
PROXY_DISABLED = "chaoslab_proxy_disabled"


def run_id_of(headers: dict[str, str]) -> str:
    """The run id a request carries ("" without one); 400 when it is not a plain token."""
    value = headers.get(RUN_HEADER.lower(), "").strip()
    if value and not _RUN_ID.match(value):
        raise BadRequest(f"{RUN_HEADER} must be 1-64 letters, digits, '_', '.' or '-'")
    return value


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _sample(name: str, labels: dict[str, str]) -> str:
    pairs = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return f"{name}{{{pairs}}} 1"


def render(proxies: Iterable[Proxy]) -> str:
    """Both families in the text exposition format (HELP and TYPE even when empty)."""
    lines = [
        f"# HELP {TOXIC_ACTIVE} A toxic on a proxy: 1 while it is there, absent otherwise.",
        f"# TYPE {TOXIC_ACTIVE} gauge",
    ]
    ordered = sorted(proxies, key=lambda p: p.name)
    for proxy in ordered:
        for toxic in sorted(proxy.toxics, key=lambda t: t.name):
            labels = {
                "proxy": proxy.name,
                "toxic": toxic.name,
                "type": toxic.type,
                "stream": toxic.direction,
                "run_id": toxic.run_id,
            }
            lines.append(_sample(TOXIC_ACTIVE, labels))
    lines += [
        f"# HELP {PROXY_DISABLED} A disabled proxy (a `down` fault): 1 while disabled, "
        "absent otherwise.",
        f"# TYPE {PROXY_DISABLED} gauge",
    ]
    for proxy in ordered:
        if not proxy.enabled:
            labels = {"proxy": proxy.name, "run_id": proxy.disabled_by_run}
            lines.append(_sample(PROXY_DISABLED, labels))
    return "\n".join(lines) + "\n"
