"""Faults on named proxies: context managers, and the one scheduler that applies them.

Leaving a context removes exactly the toxics it added (never someone else's) and
re-enables a proxy it disabled, also on error or Ctrl-C, because the clean-up sits in
``finally``. ``FaultScheduler`` applies faults at planned offsets for experiments and
for Locust's scheduled faults alike, reads each removal back from the proxy, and records
when the proxy confirmed each start and end.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import psycopg

from chaos.exceptions import ChaosError, ToxiproxyError
from chaos.journal import FaultRecord
from chaos.lease import Lease
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
}
FAULT_TYPES = (*TOXIC_ATTRIBUTES, "down")
# How long past its planned end a fault may last if the runner dies mid-window (our proxy
# expires it; ``chaos.lease`` covers a proxy that does not).
EXPIRY_MARGIN_S = 10.0
#: Faults on a service of the stack rather than on a proxy, and the services they apply to.
SERVICE_FAULTS: dict[str, tuple[str, ...]] = {"disconnect": ("postgres",)}


@dataclass(frozen=True)
class Fault:
    """One fault: a toxic or ``down`` on a proxy, or a service fault on ``service``."""

    proxy: str
    type: str
    attributes: dict[str, int] = field(default_factory=dict)
    stream: str = "downstream"
    toxicity: float = 1.0
    service: str = ""

    @property
    def target(self) -> str:
        return self.service or self.proxy

    def describe(self) -> str:
        if self.service:
            return f"{self.service} {self.type}"
        if self.type == "down":
            return f"{self.proxy} down"
        attrs = ", ".join(f"{k}={v}" for k, v in self.attributes.items())
        partial = f" toxicity={self.toxicity:g}" if self.toxicity < 1 else ""
        return f"{self.proxy} {self.type}({attrs}) {self.stream}{partial}"


def disconnect_postgres(dsn: str) -> int:
    """Terminate the agent's PostgreSQL sessions, as a failover or a restart would.

    The server closes the connections; what the agent sees of it depends on the path
    (a proxy holding the close, say). Returns how many sessions were terminated.
    """
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'hotel-agent%%' AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


@contextlib.contextmanager
def inject(
    client: ToxiproxyClient, fault: Fault, stack: StackState | None = None, ttl_ms: int = 0
) -> Iterator[list[str]]:
    """Apply ``fault`` for the duration of the block; yields the toxic names it added.

    A service fault needs the ``stack`` it runs on; ``disconnect`` acts once, at the start.
    With ``ttl_ms`` a proxy fault also expires on its own should the block never end
    (our proxy honours it; Toxiproxy ignores it).
    """
    added: list[str] = []
    if fault.service:
        if stack is None:
            raise ChaosError(f"{fault.describe()}: a service fault needs the stack's URLs")
        try:
            disconnect_postgres(stack.url("postgres"))
        except psycopg.Error as exc:
            raise ChaosError(f"{fault.describe()} failed: {str(exc).splitlines()[0]}") from exc
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


def removal_problem(client: ToxiproxyClient, fault: Fault, toxics: list[str]) -> str:
    """Why the proxy still shows ``fault`` after its removal ("" when it is gone)."""
    if fault.service:
        return ""  # a service fault leaves nothing on the proxy
    try:
        proxy = client.proxy(fault.proxy)
    except ToxiproxyError as exc:
        return f"could not read proxy {fault.proxy} back: {exc}"
    if fault.type == "down" and not proxy.enabled:
        return f"proxy {fault.proxy} is still disabled"
    left = sorted(set(toxics) & {t.name for t in proxy.toxics})
    return f"proxy {fault.proxy} still has {', '.join(left)}" if left else ""


class FaultScheduler:
    """Applies scheduled faults as time advances; records what the proxy confirmed.

    ``run`` keeps time itself (monotonic clock, waking exactly when the next start or end
    is due); ``tick`` lets a caller that keeps its own time (a Locust greenlet) advance it.
    Nothing else runs in the scheduler, so probes or a slow agent cannot delay a fault.
    """

    def __init__(
        self,
        client: ToxiproxyClient,
        windows: list[FaultWindow],
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _: None,
        stack: StackState | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._client = client
        self._stack = stack
        self._lease = lease
        self._windows = list(windows)
        self._clock = clock
        self._log = log
        self._active: dict[int, contextlib.ExitStack] = {}
        self._done: set[int] = set()
        self._lock = threading.RLock()
        # The schedule's zero, on both clocks: ``run`` waits on the monotonic one.
        self.began = time.monotonic()
        self.started_at = clock()
        self.records: list[FaultRecord] = []

    def _say(self, message: str) -> None:
        # A broken stdout (the reader went away) must never stop a fault from being removed.
        with contextlib.suppress(Exception):
            self._log(message)

    @property
    def active(self) -> int:
        return len(self._active)

    @property
    def finished(self) -> bool:
        return len(self._done) == len(self._windows)

    def next_due(self) -> float | None:
        """The offset of the next start or end still to do, or None when all are done."""
        due = [
            w.end_s if i in self._active else w.start_s
            for i, w in enumerate(self._windows)
            if i not in self._done
        ]
        return min(due, default=None)

    def tick(self, elapsed_s: float) -> None:
        """End the windows that are over, then start those that are due."""
        with self._lock:
            for i, w in enumerate(self._windows):
                if i in self._active and elapsed_s >= w.end_s:
                    self._end(i)
            for i, w in enumerate(self._windows):
                if i not in self._active and i not in self._done and w.start_s <= elapsed_s:
                    if elapsed_s < w.end_s:
                        self._start(i, w)
                    else:
                        self._done.add(i)  # a window the run skipped past entirely

    def run(self, stop: threading.Event, began: float | None = None) -> None:
        """Apply the whole schedule on time from ``began`` (monotonic; default: creation)."""
        began = self.began if began is None else began
        while not self.finished and not stop.is_set():
            due = self.next_due()
            if due is None:
                break
            if stop.wait(max(0.0, began + due - time.monotonic())):
                break
            self.tick(time.monotonic() - began)

    def restore(self) -> None:
        """End every active window and stop scheduling new ones."""
        with self._lock:
            errors: list[BaseException] = []
            for i in list(self._active):
                try:
                    self._end(i)
                except Exception as exc:  # keep restoring the others, then report
                    errors.append(exc)
            self._done.update(range(len(self._windows)))
        if errors:
            raise errors[0]

    def _record(self, i: int) -> FaultRecord:
        return next(r for r in reversed(self.records) if r.index == i)

    def _start(self, i: int, w: FaultWindow) -> None:
        record = FaultRecord(
            index=i,
            fault=w.fault.describe(),
            target=w.fault.target,
            type=w.fault.type,
            planned_start_s=w.start_s,
            planned_end_s=w.end_s,
            planned_start_at=self.started_at + w.start_s,
            planned_end_at=self.started_at + w.end_s,
            start_requested_at=self._clock(),
        )
        self.records.append(record)
        stack = contextlib.ExitStack()
        try:
            # A fault outlives its window by EXPIRY_MARGIN_S at most, should we die.
            ttl_ms = int((w.end_s - w.start_s + EXPIRY_MARGIN_S) * 1000)
            faulted = stack.enter_context(inject(self._client, w.fault, self._stack, ttl_ms))
            record.toxics = list(faulted)
        except ChaosError as exc:
            record.error = str(exc)
            self._done.add(i)
            self._say(f"fault NOT applied: {w.fault.describe()}: {exc}")
            return
        record.started_at = self._clock()
        self._active[i] = stack
        if self._lease is not None and not w.fault.service:
            for name in record.toxics:
                self._lease.hold_toxic(w.fault.proxy, name)
            if w.fault.type == "down":
                self._lease.hold_disabled(w.fault.proxy)
        self._say(f"fault start +{record.started_at - self.started_at:.1f} s: {record.fault}")

    def _end(self, i: int) -> None:
        stack = self._active.pop(i)
        self._done.add(i)
        record = self._record(i)
        record.end_requested_at = self._clock()
        try:
            stack.close()
        except ToxiproxyError as exc:
            record.error = f"restore failed: {exc}"
            self._say(f"fault restore FAILED: {record.fault}: {exc}")
        record.ended_at = self._clock()
        fault = self._windows[i].fault
        if self._lease is not None and not fault.service:
            self._lease.release(fault.proxy, record.toxics, fault.type == "down")
        problem = removal_problem(self._client, fault, record.toxics)
        record.removed_ok = not problem and not record.error
        record.removal_detail = problem or record.error or "gone from the proxy"
        self._say(f"fault end   +{record.ended_at - self.started_at:.1f} s: {record.fault}")

    def document(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "schedule": [
                {"start_s": w.start_s, "end_s": w.end_s, "fault": w.fault.describe()}
                for w in self._windows
            ],
            "windows": [asdict(r) for r in self.records],
        }
