"""Faults at scheduled moments of a load run, always restored.

A schedule is written compactly, one window per ``;``::

    redis:latency(latency=150,jitter=20)@60-180; postgres:down@120-180

(``proxy:type(attributes)@start-end`` in seconds from the start of the run; an optional
``/upstream`` after the type picks the stream and ``~0.5`` the toxicity). ``FaultScheduler``
applies and removes the windows as the caller advances time, through
``chaos.faults.inject``, so each window removes exactly the toxics it added. ``restore``
ends every active window; it is idempotent, so a test-stop hook, a quit hook and
``atexit`` can all call it.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.exceptions import ToxiproxyError
from chaos.faults import FAULT_TYPES, TOXIC_ATTRIBUTES, Fault, inject
from chaos.load.errors import ScheduleError
from chaos.toxiproxy import ToxiproxyClient

#: Redis latency at minute 1, PostgreSQL down at minute 2, everything restored at minute 3.
DEFAULT_SCHEDULE = "redis:latency(latency=150,jitter=20)@60-180; postgres:down@120-180"

_WINDOW = re.compile(
    r"^(?P<proxy>[A-Za-z0-9_.-]+):(?P<type>[a-z_]+)(?:\((?P<attrs>[^)]*)\))?"
    r"(?:/(?P<stream>upstream|downstream))?(?:~(?P<toxicity>[0-9.]+))?"
    r"@(?P<start>[0-9.]+)-(?P<end>[0-9.]+)$"
)


@dataclass(frozen=True)
class FaultWindow:
    start_s: float
    end_s: float
    fault: Fault


def parse_schedule(spec: str) -> list[FaultWindow]:
    """Windows from the compact form; the message names the part it cannot read."""
    windows = []
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        m = _WINDOW.match(part.replace(" ", ""))
        if not m:
            raise ScheduleError(
                f"cannot read fault window {part!r}; expected e.g. "
                "'redis:latency(latency=150)@60-180' or 'postgres:down@120-180'"
            )
        kind = m["type"]
        if kind not in FAULT_TYPES:
            raise ScheduleError(
                f"unknown fault type {kind!r} in {part!r}; known: {', '.join(FAULT_TYPES)}"
            )
        attrs: dict[str, int] = {}
        for item in filter(None, (m["attrs"] or "").split(",")):
            name, sep, value = item.partition("=")
            if not sep or not value.lstrip("-").isdigit():
                raise ScheduleError(f"attribute {item!r} in {part!r} is not NAME=INTEGER")
            if name not in TOXIC_ATTRIBUTES.get(kind, {}):
                raise ScheduleError(f"{kind} takes no attribute {name!r} (in {part!r})")
            attrs[name] = int(value)
        start, end = float(m["start"]), float(m["end"])
        if end <= start:
            raise ScheduleError(f"window {part!r} ends before it starts")
        toxicity = float(m["toxicity"]) if m["toxicity"] else 1.0
        if not 0 < toxicity <= 1:
            raise ScheduleError(f"toxicity in {part!r} must be in (0, 1]")
        fault = Fault(m["proxy"], kind, attrs, m["stream"] or "downstream", toxicity)
        windows.append(FaultWindow(start, end, fault))
    return windows


def scaled(windows: list[FaultWindow], factor: float) -> list[FaultWindow]:
    """The same schedule with every moment multiplied by ``factor``."""
    return [FaultWindow(w.start_s * factor, w.end_s * factor, w.fault) for w in windows]


class FaultScheduler:
    """Applies scheduled faults as time advances and records when each really held."""

    def __init__(
        self,
        client: ToxiproxyClient,
        windows: list[FaultWindow],
        clock: Callable[[], float] = time.time,
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        self._client = client
        self._windows = list(windows)
        self._clock = clock
        self._log = log
        self._active: dict[int, contextlib.ExitStack] = {}
        self._done: set[int] = set()
        self._lock = threading.RLock()
        self.started_at = clock()
        self.records: list[dict[str, Any]] = []

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

    def tick(self, elapsed_s: float) -> None:
        """Start the windows that are due and end those that are over."""
        with self._lock:
            for i, w in enumerate(self._windows):
                if i in self._active and elapsed_s >= w.end_s:
                    self._end(i)
                elif i not in self._active and i not in self._done and w.start_s <= elapsed_s:
                    if elapsed_s < w.end_s:
                        self._start(i, w)
                    else:
                        self._done.add(i)  # a window the run skipped past entirely

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

    def _record(self, i: int) -> dict[str, Any]:
        return next(r for r in reversed(self.records) if r["window"] == i)

    def _start(self, i: int, w: FaultWindow) -> None:
        now = self._clock()
        record: dict[str, Any] = {
            "window": i,
            "fault": w.fault.describe(),
            "proxy": w.fault.proxy,
            "type": w.fault.type,
            "attributes": dict(w.fault.attributes),
            "planned_start_s": w.start_s,
            "planned_end_s": w.end_s,
            "started_at": now,
            "start_offset_s": round(now - self.started_at, 3),
            "ended_at": None,
            "end_offset_s": None,
            "toxics": [],
            "error": None,
        }
        self.records.append(record)
        stack = contextlib.ExitStack()
        try:
            record["toxics"] = list(stack.enter_context(inject(self._client, w.fault)))
        except ToxiproxyError as exc:
            record["error"] = str(exc)
            record["ended_at"] = record["started_at"]
            record["end_offset_s"] = record["start_offset_s"]
            self._done.add(i)
            self._say(f"fault NOT applied: {w.fault.describe()}: {exc}")
            return
        self._active[i] = stack
        self._say(f"fault start +{record['start_offset_s']:.1f} s: {w.fault.describe()}")

    def _end(self, i: int) -> None:
        stack = self._active.pop(i)
        self._done.add(i)
        record = self._record(i)
        try:
            stack.close()
        except ToxiproxyError as exc:
            record["error"] = f"restore failed: {exc}"
            self._say(f"fault restore FAILED: {record['fault']}: {exc}")
        now = self._clock()
        record["ended_at"] = now
        record["end_offset_s"] = round(now - self.started_at, 3)
        self._say(f"fault end   +{record['end_offset_s']:.1f} s: {record['fault']}")

    def document(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "schedule": [
                {"start_s": w.start_s, "end_s": w.end_s, "fault": w.fault.describe()}
                for w in self._windows
            ],
            "windows": self.records,
        }

    def write(self, path: Path) -> Path:
        """Write the planned schedule and the real fault windows as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.document(), indent=2))
        return path
