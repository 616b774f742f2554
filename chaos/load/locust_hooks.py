"""Locust event hooks shared by every locustfile in ``loadtests/``.

Importing this module imports Locust, which monkey-patches the process with gevent: only
locustfiles import it, never pytest or the chaos library. A locustfile calls ``install``
with its scenario name, thresholds and (optionally) a fault schedule. The hooks then:

- add the options ``--thresholds``, ``--time-scale``, ``--think-time``, ``--fault-schedule``,
  ``--guest-prefix``, ``--seed``, ``--proxy-api`` and ``--pms-url``;
- take the agent URL from the running stack's state file when ``--host`` is not given;
- read the agent's PMS cache counters at test start and at the end;
- apply the fault schedule in a greenlet and restore it on test stop, on quit and at exit,
  writing the real fault windows to ``<stats prefix>_faults.json``;
- judge the thresholds when Locust quits, print each verdict, write
  ``<stats prefix>_thresholds.json`` and set the exit code (1 when any threshold failed);
- append one JSON line per guest message to ``$CHAOSLAB_SAMPLES_FILE`` when it is set.

Faults and thresholds run on the master (or the only process), never on workers.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, ClassVar

import gevent
from locust import LoadTestShape, events
from locust.env import Environment
from locust.runners import WorkerRunner

from chaos import metrics
from chaos.load import results, shapes
from chaos.load.errors import LoadError
from chaos.load.schedule import parse_schedule, scaled
from chaos.load.thresholds import evaluate, parse_override, parse_thresholds
from chaos.scheduler import FaultScheduler
from chaos.toxiproxy import ToxiproxyClient

log = logging.getLogger("chaoslab.load")
logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per metrics scrape is noise
SAMPLES_ENV = "CHAOSLAB_SAMPLES_FILE"


@dataclass
class _Scenario:
    name: str = ""
    thresholds: dict[str, float] = field(default_factory=dict)
    fault_schedule: str = ""


@dataclass
class _Run:
    """Per-run state of the master (a web UI session may hold several runs)."""

    before: metrics.Scrape | None = None
    scheduler: FaultScheduler | None = None
    greenlet: gevent.Greenlet | None = None
    client: ToxiproxyClient | None = None


@dataclass
class StackInfo:
    """Where the lab's services are, from options, environment or the stack's state file."""

    agent_url: str = ""
    proxy_api: str = ""
    pms_url: str = ""
    pms_api_key: str = "pms-dev-key"
    whatsapp_secret: str = ""


SCENARIO = _Scenario()
STACK = StackInfo()
_run = _Run()
_samples: IO[str] | None = None


def install(
    name: str, thresholds: dict[str, float] | None = None, fault_schedule: str = ""
) -> None:
    """Declare the scenario run by this locustfile (the last call wins)."""
    parse_thresholds(thresholds or {})  # a typo fails at start, not at the end of a long run
    if fault_schedule:
        parse_schedule(fault_schedule)
    SCENARIO.name = name
    SCENARIO.thresholds = dict(thresholds or {})
    SCENARIO.fault_schedule = fault_schedule


def _is_worker(environment: Environment) -> bool:
    return isinstance(environment.runner, WorkerRunner)


def _option(environment: Environment, name: str, default: Any = None) -> Any:
    return (
        getattr(environment.parsed_options, name, default)
        if environment.parsed_options
        else default
    )


@events.init_command_line_parser.add_listener
def _add_options(parser: Any) -> None:
    group = parser.add_argument_group("hotel-chaos-lab")
    group.add_argument(
        "--thresholds",
        default="",
        metavar="KEY=N,...",
        help="override the scenario's thresholds, e.g. 'p95_ms=800,error_ratio=0.01'",
    )
    group.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        metavar="F",
        help="multiply the durations of load shapes and fault schedules by F",
    )
    group.add_argument(
        "--think-time",
        default="1,3",
        metavar="MIN,MAX",
        help="seconds a guest waits between messages (uniform)",
    )
    group.add_argument(
        "--fault-schedule",
        default="",
        metavar="SPEC",
        help="faults at given moments, 'proxy:type(attr=N)@start-end; ...' "
        "(seconds); 'none' disables the scenario's own schedule",
    )
    group.add_argument("--guest-prefix", default="locust", help="prefix of every guest id")
    group.add_argument("--seed", type=int, default=7, help="seed of the guests' choices")
    group.add_argument("--proxy-api", default="", help="fault proxy API URL (default: stack state)")
    group.add_argument(
        "--pms-url",
        default="",
        help="PMS simulator URL, to verify WhatsApp replies (default: stack state)",
    )


def _interrupt() -> None:
    log.info("SIGTERM: stopping as on Ctrl-C (faults restored, reports written)")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.kill(os.getpid(), signal.SIGINT)


def _graceful_signals() -> None:
    """Make SIGINT and SIGTERM both end the run through Locust's quit path.

    Headless runs with a load shape join the shape before Locust installs its own SIGTERM
    handler (Locust 2.47), so a SIGTERM would kill the process with faults still applied.
    Until Locust's handler replaces it, SIGTERM here becomes a KeyboardInterrupt. A process
    started in the background may also inherit an ignored SIGINT; Ctrl-C must still work.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    gevent.signal_handler(signal.SIGTERM, _interrupt)


def _discover_stack(environment: Environment) -> None:
    STACK.proxy_api = _option(environment, "proxy_api") or os.environ.get("CHAOSLAB_PROXY_API", "")
    STACK.pms_url = _option(environment, "pms_url") or os.environ.get("CHAOSLAB_PMS_URL", "")
    STACK.whatsapp_secret = os.environ.get("CHAOSLAB_WHATSAPP_SECRET", "")
    STACK.pms_api_key = os.environ.get("PMS_SIM_API_KEY", STACK.pms_api_key)
    try:
        from chaos.stack.state import discover

        state = discover()
    except Exception as exc:  # no stack running here: options and environment must do
        log.debug("no stack state: %s", exc)
    else:
        if not environment.host:
            environment.host = state.urls.get("agent")
        STACK.proxy_api = STACK.proxy_api or state.urls.get("proxy_api", "")
        STACK.pms_url = STACK.pms_url or state.urls.get("pms", "")
        STACK.whatsapp_secret = STACK.whatsapp_secret or state.whatsapp_secret
    STACK.agent_url = environment.host or ""


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global _samples
    try:
        parse_override(str(_option(environment, "thresholds", "") or ""))
        parse_schedule(_schedule_spec(environment))
    except LoadError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        raise SystemExit(2) from exc
    _graceful_signals()
    _discover_stack(environment)
    if not SCENARIO.name and environment.parsed_options:
        SCENARIO.name = Path(str(environment.parsed_options.locustfile)).stem
    path = os.environ.get(SAMPLES_ENV)
    if path and _samples is None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Open for the life of the process; line-buffered so a killed run loses no line.
        _samples = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115
    if not _is_worker(environment):
        log.info("scenario %s against %s", SCENARIO.name, environment.host or "(no host)")


@events.request.add_listener
def _on_request(
    request_type: str,
    name: str,
    response_time: float,
    response_length: int,
    response: Any = None,
    context: dict[str, Any] | None = None,
    exception: BaseException | None = None,
    start_time: float | None = None,
    **_: Any,
) -> None:
    if _samples is None or not (context or {}).get("sample"):
        return
    ctx = context or {}
    status = int(getattr(response, "status_code", 0) or 0)
    sent = start_time or (time.time() - response_time / 1000)
    _samples.write(
        json.dumps(
            {
                # A closed-loop user sends when it means to: intended and actual coincide.
                "intended_at": round(sent, 4),
                "sent_at": round(sent, 4),
                "done_at": round(sent + response_time / 1000, 4),
                "status": status,
                "channel": str(ctx.get("channel", "")),
                "message_id": str(ctx.get("message_id", "")),
                "guest_id": str(ctx.get("guest_id", "")),
                "label": name,
                "degraded": ctx.get("degraded"),
                "intent": str(ctx.get("intent", "")),
                "error": "" if exception is None or status else type(exception).__name__,
            }
        )
        + "\n"
    )


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write a JSON report; a read-only folder is logged, never fatal to the run."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=2))
    except OSError as exc:
        log.error("could not write %s: %s", path, exc)
    else:
        log.info("wrote %s", path)


def output_base(environment: Environment) -> Path:
    """Where this run's stats go; the fault and threshold files sit next to them."""
    opts = environment.parsed_options
    for attr in ("csv_prefix", "json_file"):
        value = getattr(opts, attr, None) if opts else None
        if value:
            return Path(value)
    html = getattr(opts, "html_file", None) if opts else None
    if html:
        return Path(html).with_suffix("")
    folder = Path(os.environ.get("CHAOSLAB_LOAD_REPORTS", "") or Path("reports") / "load")
    return folder / (SCENARIO.name or "locust")


def _schedule_spec(environment: Environment) -> str:
    spec = str(_option(environment, "fault_schedule", "") or "").strip()
    if spec.lower() == "none":
        return ""
    return spec or SCENARIO.fault_schedule


@events.test_start.add_listener
def _on_test_start(environment: Environment, **_: Any) -> None:
    if _is_worker(environment):
        return
    _restore()  # a previous web UI run that was not stopped cleanly
    _run.before = _read_agent()
    spec = _schedule_spec(environment)
    if not spec:
        return
    if not STACK.proxy_api:
        log.error("a fault schedule needs the proxy API: pass --proxy-api or run `chaoslab up`")
        environment.process_exit_code = 2
        if environment.runner is not None:
            gevent.spawn_later(0, environment.runner.quit)
        return
    windows = scaled(parse_schedule(spec), float(_option(environment, "time_scale", 1.0)))
    _run.client = ToxiproxyClient(STACK.proxy_api)
    _run.scheduler = FaultScheduler(_run.client, windows, log=lambda m: print(m, flush=True))
    _run.greenlet = gevent.spawn(_drive_schedule, _run.scheduler, time.monotonic())


def _drive_schedule(scheduler: FaultScheduler, began: float) -> None:
    while not scheduler.finished:
        scheduler.tick(time.monotonic() - began)
        gevent.sleep(0.1)


def _restore(environment: Environment | None = None) -> None:
    """End every fault window (idempotent) and write the windows next to the stats."""
    if _run.greenlet is not None:
        _run.greenlet.kill(block=False)
        _run.greenlet = None
    scheduler = _run.scheduler
    if scheduler is None:
        return
    try:
        scheduler.restore()
    finally:
        _run.scheduler = None
        if _run.client is not None:
            _run.client.close()
            _run.client = None
        if environment is not None:
            _write(Path(f"{output_base(environment)}_faults.json"), scheduler.document())


@events.test_stop.add_listener
def _on_test_stop(environment: Environment, **_: Any) -> None:
    if not _is_worker(environment):
        _restore(environment)


def _read_agent() -> metrics.Scrape | None:
    if not STACK.agent_url:
        return None
    try:
        return metrics.scrape(STACK.agent_url, timeout_s=5.0)
    except Exception as exc:  # the agent may be the thing under test; report, do not crash
        log.warning("could not read the agent's /metrics: %s", exc)
        return None


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    if _samples is not None:
        _samples.flush()
    if _is_worker(environment):
        return
    _restore(environment)
    declared = dict(SCENARIO.thresholds)
    declared.update(parse_override(str(_option(environment, "thresholds", "") or "")))
    entries = [dict(e.serialize()) for e in environment.stats.entries.values() if e.num_requests]
    by_name = results.figures_by_name(entries)
    after = _read_agent()
    ratio = metrics.cache_hit_ratio(_run.before, after) if _run.before and after else None
    total = by_name["Aggregated"]
    hit = "n/a" if ratio is None else f"{ratio:.3f}"
    print(
        f"{SCENARIO.name}: {total.requests} requests, {total.failures} failures, "
        f"p50 {total.p50_ms:.0f} ms, p95 {total.p95_ms:.0f} ms, p99 {total.p99_ms:.0f} ms, "
        f"{total.rps:.2f} req/s, PMS cache hit ratio {hit}",
        flush=True,
    )
    verdicts = evaluate(parse_thresholds(declared), by_name, ratio)
    for v in verdicts:
        print(v.message(), flush=True)
    _write(
        Path(f"{output_base(environment)}_thresholds.json"),
        {
            "scenario": SCENARIO.name,
            "host": environment.host,
            "cache_hit_ratio": ratio,
            "requests": total.requests,
            "failures": total.failures,
            "passed": all(v.passed for v in verdicts),
            "verdicts": [v.as_dict() for v in verdicts],
        },
    )
    if verdicts:
        # Thresholds decide, as in k6: failures within the error budget do not fail the run.
        environment.process_exit_code = 0 if all(v.passed for v in verdicts) else 1


class StagesShape(LoadTestShape):
    """A load shape from ``chaos.load.shapes`` stages, stretched by ``--time-scale``."""

    abstract = True
    stages: ClassVar[list[shapes.Stage]] = []

    def tick(self) -> tuple[int, float] | None:
        scale = 1.0
        if self.runner is not None:
            scale = float(_option(self.runner.environment, "time_scale", 1.0))
        return shapes.tick(self.stages, self.get_run_time(), scale)


@atexit.register
def _restore_at_exit() -> None:
    _restore()
