"""The one fault scheduler: faults at planned offsets, confirmed, read back, restored.

``FaultScheduler`` applies the faults of an experiment's method (and of a Locust fault
schedule) in a thread that does nothing else, records when the proxy or the service
confirmed each start, recovery and end, reads each removal back from the proxy (or, for
a process fault, checks that the service runs and answers), and on any exit, Ctrl-C
included, ends every fault still active.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from chaos.exceptions import ChaosError, ToxiproxyError
from chaos.faults import EXPIRY_MARGIN_S, Fault, FaultWindow, inject
from chaos.journal import FaultRecord
from chaos.lease import Lease
from chaos.processfaults import NativeServices, ProcessFault, Services, is_process_fault
from chaos.stack.state import StackState
from chaos.toxiproxy import ToxiproxyClient


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

    ``run`` keeps time itself (monotonic clock, waking exactly when the next start,
    recovery or end is due); ``tick`` lets a caller that keeps its own time (a Locust
    greenlet) advance it. Nothing else runs in the scheduler, so probes or a slow agent
    cannot delay a fault. Process faults act through ``services`` (by default the
    native stack of ``stack``); a recovery or restart blocks the schedule while the
    service starts, so a step that needs a service back should end after its recovery.
    """

    def __init__(
        self,
        client: ToxiproxyClient,
        windows: list[FaultWindow],
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _: None,
        stack: StackState | None = None,
        services: Services | None = None,
        lease: Lease | None = None,
    ) -> None:
        self._client = client
        self._stack = stack
        self._services = services
        self._lease = lease
        self._windows = list(windows)
        self._clock = clock
        self._log = log
        self._active: dict[int, contextlib.ExitStack] = {}
        self._process: dict[int, ProcessFault] = {}
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
        """The offset of the next start, recovery or end still to do; None when all are done."""
        due = [
            w.end_s if i in self._active else w.start_s
            for i, w in enumerate(self._windows)
            if i not in self._done
        ]
        for i, process in self._process.items():
            delay = process.recover_after_s
            if i in self._active and process.recovery_requested_at is None and delay is not None:
                due.append(self._windows[i].start_s + delay)
        return min(due, default=None)

    def tick(self, elapsed_s: float) -> None:
        """Recover the process faults that are due, end the windows that are over, then
        start those that are due."""
        with self._lock:
            for i, process in list(self._process.items()):
                since = elapsed_s - self._windows[i].start_s
                if i in self._active and process.recovery_due(since):
                    self._recover(i, process)
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

    def _services_for(self, fault: Fault) -> Services:
        if self._services is None and self._stack is None:
            raise ChaosError(f"{fault.describe()}: a service fault needs the stack")
        return self._services or NativeServices.of(self._stack)  # type: ignore[arg-type]

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
            if is_process_fault(w.fault):
                self._start_process(i, w.fault, stack, record)
            else:
                services = self._services if w.fault.service else None
                # A fault outlives its window by EXPIRY_MARGIN_S at most, should we die.
                ttl_ms = int((w.end_s - w.start_s + EXPIRY_MARGIN_S) * 1000)
                faulted = inject(self._client, w.fault, self._stack, ttl_ms, services)
                record.toxics = list(stack.enter_context(faulted))
        except ChaosError as exc:
            record.error = str(exc)
            self._done.add(i)
            self._say(f"fault NOT applied: {w.fault.describe()}: {exc}")
            return
        record.started_at = record.started_at or self._clock()
        self._active[i] = stack
        if self._lease is not None and not w.fault.service:
            for name in record.toxics:
                self._lease.hold_toxic(w.fault.proxy, name)
            if w.fault.type == "down":
                self._lease.hold_disabled(w.fault.proxy)
        self._say(f"fault start +{record.started_at - self.started_at:.1f} s: {record.fault}")
        if record.recovered_at is not None:
            self._say(f"recovered   +{record.recovered_at - self.started_at:.1f} s: {record.fault}")

    def _start_process(
        self, i: int, fault: Fault, stack: contextlib.ExitStack, record: FaultRecord
    ) -> None:
        services = self._services_for(fault)
        process = ProcessFault(fault, services, self._clock)
        entry = services.lease_entry(fault.service) if self._lease is not None else None
        if self._lease is not None and entry is not None:
            # Held before the fault acts: a runner killed in the middle of a kill or a
            # restart still leaves the watchdog a service to bring back.
            self._lease.hold_service(entry)
            stack.callback(self._lease.release_service, fault.service)
        try:
            stack.enter_context(process.held())
        except ChaosError:
            stack.close()  # held() brought the service back: nothing left for the lease
            raise
        finally:
            self._copy(process, record)
        self._process[i] = process

    @staticmethod
    def _copy(process: ProcessFault, record: FaultRecord) -> None:
        record.started_at = process.started_at
        record.recovery_requested_at = process.recovery_requested_at
        record.recovered_at = process.recovered_at

    def _recover(self, i: int, process: ProcessFault) -> None:
        record = self._record(i)
        try:
            process.recover()
        except ChaosError as exc:
            # The window's end (or the rollback) tries again with ensure_running.
            record.error = f"recovery failed: {exc}"
            self._say(f"fault recovery FAILED: {record.fault}: {exc}")
            return
        self._copy(process, record)
        assert record.recovered_at is not None
        self._say(f"recovered   +{record.recovered_at - self.started_at:.1f} s: {record.fault}")

    def _end(self, i: int) -> None:
        stack = self._active.pop(i)
        self._done.add(i)
        record = self._record(i)
        record.end_requested_at = self._clock()
        try:
            stack.close()
        except ChaosError as exc:
            record.error = "; ".join(filter(None, (record.error, f"restore failed: {exc}")))
            self._say(f"fault restore FAILED: {record.fault}: {exc}")
        record.ended_at = self._clock()
        process = self._process.get(i)
        if process is not None:
            record.recovery_requested_at = process.recovery_requested_at
            record.recovered_at = process.recovered_at
            problem = process.problem()
            done = process.describe_recovery()
        else:
            fault = self._windows[i].fault
            if self._lease is not None and not fault.service:
                self._lease.release(fault.proxy, record.toxics, fault.type == "down")
            problem = removal_problem(self._client, fault, record.toxics)
            done = "gone from the proxy"
        record.removed_ok = not problem and not record.error
        record.removal_detail = problem or record.error or done
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
