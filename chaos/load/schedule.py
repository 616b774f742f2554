"""Faults at scheduled moments of a load run, always restored.

A schedule is written compactly, one window per ``;``::

    redis:latency(latency=150,jitter=20)@60-180; postgres:down@120-180

(``proxy:type(attributes)@start-end`` in seconds from the start of the run; an optional
``/upstream`` after the type picks the stream and ``~0.5`` the toxicity). The windows are
applied by ``chaos.scheduler.FaultScheduler``, the scheduler experiments use too.
"""

from __future__ import annotations

import re

from chaos.faults import FAULT_TYPES, TOXIC_ATTRIBUTES, Fault, FaultWindow, attribute_problem
from chaos.load.errors import ScheduleError

#: Redis latency at minute 1, PostgreSQL down at minute 2, everything restored at minute 3.
DEFAULT_SCHEDULE = "redis:latency(latency=150,jitter=20)@60-180; postgres:down@120-180"

_WINDOW = re.compile(
    r"^(?P<proxy>[A-Za-z0-9_.-]+):(?P<type>[a-z_]+)(?:\((?P<attrs>[^)]*)\))?"
    r"(?:/(?P<stream>upstream|downstream))?(?:~(?P<toxicity>[0-9.]+))?"
    r"@(?P<start>[0-9.]+)-(?P<end>[0-9.]+)$"
)


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
        problem = attribute_problem(kind, attrs)
        if problem:
            raise ScheduleError(f"{kind} attribute {problem[0]} {problem[1]} (in {part!r})")
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
