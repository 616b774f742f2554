"""Faults on named proxies and on services, and context managers that apply them.

Leaving a context removes exactly the toxics it added (never someone else's) and
re-enables a proxy it disabled, or brings back a service a process fault took away, also
on error or Ctrl-C, because the clean-up sits in ``finally``. Process faults are in
``chaos.processfaults``; ``chaos.scheduler.FaultScheduler`` applies faults of both
kinds at planned offsets, for experiments and for Locust's scheduled faults alike.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from chaos.exceptions import ChaosError, ToxiproxyError
from chaos.processfaults import (
    PROCESS_FAULTS,
    PROCESS_SERVICES,
    NativeServices,
    ProcessFault,
    Services,
    is_process_fault,
)
from chaos.stack.state import StackState
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
    # chaos.proxy's HTTP toxics (an extension: the real Toxiproxy refuses them).
    "http_status": {"status": 0, "retry_after": 0},
    "http_delay": {"delay": 0},
}
#: Attributes a toxic cannot do without, and bounds tighter than "a non-negative integer".
REQUIRED_ATTRIBUTES: dict[str, tuple[str, ...]] = {"http_status": ("status",)}
ATTRIBUTE_RANGES: dict[tuple[str, str], tuple[int, int]] = {("http_status", "status"): (200, 599)}
HTTP_TOXICS = ("http_status", "http_delay")
FAULT_TYPES = (*TOXIC_ATTRIBUTES, "down")
# How long past its planned end a fault may last if the runner dies mid-window (our proxy
# expires it; ``chaos.lease`` covers a proxy that does not).
EXPIRY_MARGIN_S = 10.0
#: Faults on a service of the stack rather than on a proxy, and the services they apply to.
SERVICE_FAULTS: dict[str, tuple[str, ...]] = {
    "disconnect": ("postgres",),
    **dict.fromkeys(PROCESS_FAULTS, PROCESS_SERVICES),
}


def attribute_problem(ftype: str, attributes: dict[str, Any]) -> tuple[str, str] | None:
    """The first attribute of a toxic that is wrong, and why; None when all are right."""
    allowed = TOXIC_ATTRIBUTES.get(ftype, {})
    for key, value in attributes.items():
        if key not in allowed:
            return key, f"not an attribute of {ftype}; allowed: {', '.join(allowed) or 'none'}"
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            return key, f"must be a non-negative integer, got {value!r}"
        low, high = ATTRIBUTE_RANGES.get((ftype, key), (0, value))
        if not low <= value <= high:
            return key, f"must be between {low} and {high}, got {value}"
    for key in REQUIRED_ATTRIBUTES.get(ftype, ()):
        if key not in attributes:
            return key, f"is required for {ftype}"
    return None


@dataclass(frozen=True)
class Fault:
    """One fault: a toxic or ``down`` on a proxy, or a service fault on ``service``."""

    proxy: str
    type: str
    # Toxic attributes; for a process fault, its recovery delay (``restart_after_ms``).
    attributes: dict[str, int] = field(default_factory=dict)
    stream: str = "downstream"
    toxicity: float = 1.0
    service: str = ""

    @property
    def target(self) -> str:
        return self.service or self.proxy

    def describe(self) -> str:
        if self.service:
            attrs = "".join(f" {k}={v}" for k, v in self.attributes.items())
            return f"{self.service} {self.type}{attrs}"
        if self.type == "down":
            return f"{self.proxy} down"
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes.items())
        partial = f" toxicity={self.toxicity:g}" if self.toxicity < 1 else ""
        return f"{self.proxy} {self.type}({attrs}) {self.stream}{partial}"


@contextlib.contextmanager
def inject(
    client: ToxiproxyClient,
    fault: Fault,
    stack: StackState | None = None,
    ttl_ms: int = 0,
    services: Services | None = None,
) -> Iterator[list[str]]:
    """Apply ``fault`` for the duration of the block; yields the toxic names it added.

    ``disconnect`` needs the ``stack`` it runs on and acts once, at the start. A process
    fault (kill, pause, restart) is recovered when the block ends. With ``ttl_ms`` a
    proxy fault also expires on its own should the block never end (our proxy honours
    it; Toxiproxy ignores it).
    """
    added: list[str] = []
    if fault.service:
        if stack is None:
            raise ChaosError(f"{fault.describe()}: a service fault needs the stack's URLs")
        services = services or NativeServices.of(stack)
        if is_process_fault(fault):
            with ProcessFault(fault, services).held():
                yield added
            return
        try:
            services.disconnect_postgres(stack.url("postgres"))
        except ChaosError as exc:
            raise ChaosError(f"{fault.describe()} failed: {exc}") from exc
        yield added
        return
    if fault.type == "down":
        client.set_enabled(fault.proxy, False, ttl_ms=ttl_ms)
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
        ttl_ms=ttl_ms,
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


@dataclass(frozen=True)
class FaultWindow:
    """A fault held from ``start_s`` to ``end_s`` seconds after the schedule began."""

    start_s: float
    end_s: float
    fault: Fault
