"""The journal of an experiment run: one typed document, written and read only here.

The runner fills a ``Journal``; the CLI, the HTML report, the lab API and the notebooks
read it back with ``Journal.read``. The JSON carries ``journal_version``; a journal
from another version is refused with a one-line reason instead of being half-read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.exceptions import ChaosError
from chaos.metrics import Timeline
from chaos.traffic import COLUMNS, Sample

JOURNAL_VERSION = 2
#: Exit codes of ``chaoslab run`` per run status (the worst run decides).
EXIT_CODES = {
    "passed": 0,
    "failed": 1,
    "error": 2,
    "inconclusive": 3,
    "aborted": 4,
    "interrupted": 130,
}
# When several runs end differently, the first status of this list decides the exit code.
SEVERITY = ("interrupted", "error", "failed", "aborted", "inconclusive", "passed")
VERDICTS = ("passed", "failed", "inconclusive")


def exit_code(statuses: list[str]) -> int:
    """The exit code of a batch of runs: the most severe status among them."""
    worst = min(statuses, key=lambda s: SEVERITY.index(s) if s in SEVERITY else 0, default="passed")
    return EXIT_CODES.get(worst, 2)


PHASES = ("before", "during", "after")


@dataclass(frozen=True)
class ProbeResult:
    probe: str
    phase: str
    ok: bool
    detail: str
    at: float


@dataclass
class FaultRecord:
    """One fault of the method: planned offsets, and what the proxy actually confirmed.

    ``started_at`` and ``ended_at`` are the moments the proxy (or, for a process fault,
    the service) confirmed the fault and its removal; ``recovered_at`` when a process
    fault's service answered again after its restart or resume (requested at
    ``recovery_requested_at``); ``removed_ok`` says whether a read-back showed the
    fault gone (the proxy clean, the service running and answering).
    """

    index: int
    fault: str
    target: str
    type: str
    planned_start_s: float
    planned_end_s: float
    planned_start_at: float | None = None
    planned_end_at: float | None = None
    start_requested_at: float | None = None
    started_at: float | None = None
    end_requested_at: float | None = None
    ended_at: float | None = None
    recovery_requested_at: float | None = None
    recovered_at: float | None = None
    toxics: list[str] = field(default_factory=list)
    error: str = ""
    removed_ok: bool | None = None
    removal_detail: str = ""


@dataclass(frozen=True)
class Verdict:
    """One expectation judged: passed, failed, or inconclusive (data missing)."""

    expectation: str
    kind: str
    status: str
    detail: str
    observed: dict[str, Any] = field(default_factory=dict)
    proves_fault: bool = False

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class Rollback:
    action: str
    ok: bool
    detail: str = ""


@dataclass
class Journal:
    """Everything a run did and saw, and what it concluded."""

    run_id: str
    experiment: dict[str, Any]
    stack: dict[str, str]
    started_at: float
    ended_at: float | None = None
    status: str = "error"
    error: str | None = None
    load: dict[str, Any] = field(default_factory=dict)
    steady_state: dict[str, list[ProbeResult]] = field(
        default_factory=lambda: {p: [] for p in PHASES}
    )
    faults: list[FaultRecord] = field(default_factory=list)
    rollbacks: list[Rollback] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    timeline: Timeline = field(default_factory=Timeline)
    audit: dict[str, Any] | None = None
    # WhatsApp replies in the Graph recorder reconciled with the messages (ReplyCheck).
    replies: dict[str, Any] | None = None
    abort: dict[str, Any] | None = None  # the guardrail that stopped the run, if one did
    figures: dict[str, Any] = field(default_factory=dict)
    generator: str = "chaos"
    # What Prometheus, Alertmanager and the sink showed (chaos.alerting.AlertEvidence).
    alerts: dict[str, Any] | None = None
    # Dashboard panels over the run with the chaos windows (chaos.dashboards.snapshot).
    panels: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.experiment.get("name", ""))

    @property
    def exit_code(self) -> int:
        return EXIT_CODES.get(self.status, 2)

    @property
    def fault_window(self) -> tuple[float, float] | None:
        """From the first confirmed fault start to the last confirmed removal."""
        starts = [f.started_at for f in self.faults if f.started_at is not None]
        ends = [f.ended_at or f.started_at for f in self.faults if f.started_at is not None]
        if not starts:
            return None
        return min(starts), max(e for e in ends if e is not None)

    @property
    def origin(self) -> float:
        """Time zero of charts and offsets: the first fault start, else the run start."""
        window = self.fault_window
        return window[0] if window else self.started_at

    def phase_of(self, t: float) -> str:
        """before, during or after the fault window (everything is before without one)."""
        window = self.fault_window
        if window is None or t < window[0]:
            return "before"
        return "during" if t <= window[1] else "after"

    def failing(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.status != "passed"]

    def reason(self) -> str:
        """One line: why the run ended as it did (empty when it passed)."""
        if self.error:
            return self.error
        bad = self.failing()
        return f"{bad[0].expectation}: {bad[0].detail}" if bad else ""

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "journal_version": JOURNAL_VERSION,
            "generator": self.generator,
            "run_id": self.run_id,
            "experiment": self.experiment,
            "stack": self.stack,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "status": self.status,
            "error": self.error,
            "load": self.load,
            "steady_state": {p: [asdict(r) for r in rs] for p, rs in self.steady_state.items()},
            "faults": [asdict(f) for f in self.faults],
            "rollbacks": [asdict(r) for r in self.rollbacks],
            "verdicts": [asdict(v) for v in self.verdicts],
            "samples": {
                "columns": list(COLUMNS),
                "rows": [[getattr(s, c) for c in COLUMNS] for s in self.samples],
            },
            "timeline": self.timeline.to_dict(),
            "audit": self.audit,
            "replies": self.replies,
            "abort": self.abort,
            "figures": self.figures,
            "alerts": self.alerts,
            "panels": self.panels,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "journal") -> Journal:
        version = data.get("journal_version")
        if version != JOURNAL_VERSION:
            raise ChaosError(
                f"{where} has journal_version {version!r}; this chaoslab reads version "
                f"{JOURNAL_VERSION} (re-run the experiment to get one)"
            )
        try:
            columns = data["samples"]["columns"]
            samples = [
                Sample.from_dict(dict(zip(columns, row, strict=True)))
                for row in data["samples"]["rows"]
            ]
            return cls(
                run_id=str(data["run_id"]),
                experiment=dict(data["experiment"]),
                stack=dict(data.get("stack") or {}),
                started_at=float(data["started_at"]),
                ended_at=data.get("ended_at"),
                status=str(data["status"]),
                error=data.get("error"),
                load=dict(data.get("load") or {}),
                steady_state={
                    p: [ProbeResult(**r) for r in rs]
                    for p, rs in (data.get("steady_state") or {}).items()
                },
                faults=[FaultRecord(**f) for f in data.get("faults") or []],
                rollbacks=[Rollback(**r) for r in data.get("rollbacks") or []],
                verdicts=[Verdict(**v) for v in data.get("verdicts") or []],
                samples=samples,
                timeline=Timeline.from_dict(data.get("timeline") or {}),
                audit=data.get("audit"),
                replies=data.get("replies"),
                abort=data.get("abort"),
                figures=dict(data.get("figures") or {}),
                generator=str(data.get("generator", "chaos")),
                alerts=data.get("alerts"),
                panels=list(data.get("panels") or []),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ChaosError(
                f"{where} is not a valid journal: {type(exc).__name__}: {exc}"
            ) from exc

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1, default=str), encoding="utf-8")
        return path

    @classmethod
    def read(cls, path: Path) -> Journal:
        """A journal from its JSON file; ``ChaosError`` with one line when it is not one."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ChaosError(f"cannot read journal {path}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ChaosError(f"journal {path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise ChaosError(f"journal {path} is not a JSON object")
        return cls.from_dict(data, str(path))
