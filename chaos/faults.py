"""Fault context managers on named proxies.

Leaving a context removes exactly the toxics it added (never someone else's) and
re-enables a proxy it disabled, also on error or Ctrl-C, because the clean-up sits in
``finally``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chaos.exceptions import ToxiproxyError
from chaos.toxiproxy import ToxiproxyClient

#: The attributes each toxic type takes, with Toxiproxy's defaults.
TOXIC_ATTRIBUTES: dict[str, dict[str, int]] = {
    "latency": {"latency": 0, "jitter": 0},
    "bandwidth": {"rate": 0},
    "slow_close": {"delay": 0},
    "timeout": {"timeout": 0},
    "reset_peer": {"timeout": 0},
    "slicer": {"average_size": 0, "size_variation": 0, "delay": 0},
    "limit_data": {"bytes": 0},
}
FAULT_TYPES = (*TOXIC_ATTRIBUTES, "down")


@dataclass(frozen=True)
class Fault:
    """One fault on one proxy: a toxic type with its attributes, or ``down``."""

    proxy: str
    type: str
    attributes: dict[str, int] = field(default_factory=dict)
    stream: str = "downstream"
    toxicity: float = 1.0

    def describe(self) -> str:
        if self.type == "down":
            return f"{self.proxy} down"
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes.items())
        partial = f" toxicity={self.toxicity:g}" if self.toxicity < 1 else ""
        return f"{self.proxy} {self.type}({attrs}) {self.stream}{partial}"


@contextlib.contextmanager
def inject(client: ToxiproxyClient, fault: Fault) -> Iterator[list[str]]:
    """Apply ``fault`` for the duration of the block; yields the toxic names it added."""
    added: list[str] = []
    if fault.type == "down":
        client.set_enabled(fault.proxy, False)
        try:
            yield added
        finally:
            client.set_enabled(fault.proxy, True)
        return
    name = f"chaoslab_{fault.type}_{fault.stream}_{uuid.uuid4().hex[:8]}"
    client.add_toxic(
        fault.proxy,
        fault.type,
        name=name,
        stream=fault.stream,
        toxicity=fault.toxicity,
        attributes=dict(fault.attributes),
    )
    added.append(name)
    try:
        yield added
    finally:
        with contextlib.suppress(ToxiproxyError):
            client.remove_toxic(fault.proxy, name)


def latency(
    client: ToxiproxyClient, proxy: str, ms: int, jitter_ms: int = 0, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "latency", {"latency": ms, "jitter": jitter_ms}, **kw))


def outage(client: ToxiproxyClient, proxy: str) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "down"))


def timeout(
    client: ToxiproxyClient, proxy: str, ms: int = 0, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "timeout", {"timeout": ms}, **kw))


def reset_peer(
    client: ToxiproxyClient, proxy: str, ms: int = 0, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "reset_peer", {"timeout": ms}, **kw))


def bandwidth(
    client: ToxiproxyClient, proxy: str, kb_per_s: int, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "bandwidth", {"rate": kb_per_s}, **kw))


def slow_close(
    client: ToxiproxyClient, proxy: str, ms: int, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "slow_close", {"delay": ms}, **kw))


def slicer(
    client: ToxiproxyClient,
    proxy: str,
    average_size: int,
    size_variation: int = 0,
    delay_us: int = 0,
    **kw: Any,
) -> contextlib.AbstractContextManager[list[str]]:
    attrs = {"average_size": average_size, "size_variation": size_variation, "delay": delay_us}
    return inject(client, Fault(proxy, "slicer", attrs, **kw))


def limit_data(
    client: ToxiproxyClient, proxy: str, nbytes: int, **kw: Any
) -> contextlib.AbstractContextManager[list[str]]:
    return inject(client, Fault(proxy, "limit_data", {"bytes": nbytes}, **kw))


def verify_clean(client: ToxiproxyClient) -> list[str]:
    """Problems left on the proxy server: toxics present or proxies disabled."""
    problems = []
    for proxy in client.proxies().values():
        if not proxy.enabled:
            problems.append(f"proxy {proxy.name} is disabled")
        problems.extend(f"proxy {proxy.name} still has toxic {t.name}" for t in proxy.toxics)
    return problems
