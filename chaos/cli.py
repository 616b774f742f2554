"""``chaoslab``: a thin command line over the chaos library.

Errors from the library are printed as one line on stderr with exit code 2; a failed
verdict (an experiment, a threshold, an inspection) exits with 1. ``run`` exits with the
most severe status of its runs: 1 failed, 2 error, 3 inconclusive (the data could not
prove or refute the hypothesis), 4 aborted, 0 when every run passed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chaos.exceptions import ChaosError
from chaos.inspect.command import add_parsers as add_inspect_parsers

Handler = Callable[[argparse.Namespace], int]
# Third-party modules a command may need that the agent alone does not install, by extra.
EXTRAS = {
    "yaml": "harness",
    "numpy": "harness",
    "pandas": "harness",
    "matplotlib": "harness",
    "scipy": "harness",
    "pocketsphinx": "harness",
    "multipart": "harness",
    "locust": "lab",
    "gevent": "lab",
    "papermill": "lab",
    "nbclient": "lab",
    "nbformat": "lab",
    "prometheus_api_client": "lab",
}


def cmd_up(args: argparse.Namespace) -> int:
    from chaos.stack import native
    from chaos.stack.config import StackSettings

    settings = StackSettings()
    if args.profile:
        settings.profile = args.profile
    began = time.monotonic()
    existing = native.running(settings)
    if existing is None:
        print(f"starting the native stack in {settings.state_dir} (profile {settings.profile})")
    elif args.profile and native.settings_of(existing).profile != args.profile:
        print(
            f"the running stack has profile {native.settings_of(existing).profile}; "
            "`chaoslab down` first to change it"
        )
    state = native.up(settings)
    print(f"stack up in {time.monotonic() - began:.1f} s\n")
    _print_urls(state.urls)
    return 0


def cmd_restart(args: argparse.Namespace) -> int:
    from chaos.stack import control
    from chaos.stack.config import StackSettings

    # The stack `up`, `status` and `down` manage (CHAOSLAB_STATE_DIR), not $CHAOSLAB_STATE_FILE.
    outcome = control.restart(args.service, StackSettings().state_file, timeout=args.timeout)
    print(f"{outcome.service} {outcome.action} in {outcome.seconds:.2f} s (pid {outcome.pids[0]})")
    if args.service == "proxy":
        print("the proxy starts from its config: toxics and run-time proxy changes are gone")
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from chaos.stack import native

    native.down()
    return 0


def _print_urls(urls: dict[str, str]) -> None:
    width = max(len(k) for k in urls)
    for name, url in sorted(urls.items()):
        print(f"  {name:<{width}}  {url}")


def cmd_status(args: argparse.Namespace) -> int:
    from chaos.stack import native
    from chaos.stack.config import StackSettings
    from chaos.stack.state import StackState

    state = StackState.load(StackSettings().state_file)
    conditions = native.service_states(state)
    health = {name: condition == "up" for name, condition in conditions.items()}
    if args.json:
        doc = json.loads(state.to_json())
        doc["healthy"] = health
        doc["states"] = conditions
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        for name, condition in conditions.items():
            shown = condition if condition == "up" else condition.upper()
            print(f"  {name:<18} {shown:<14} pid {state.pids.get(name, '-')}")
        print()
        _print_urls(state.urls)
    return 0 if all(health.values()) else 1


def cmd_proxy(args: argparse.Namespace) -> int:
    from chaos.proxy import main as proxy_main

    return int(proxy_main(args.proxy_args) or 0)


def cmd_list(args: argparse.Namespace) -> int:
    from chaos.experiment.model import catalogue

    for exp in catalogue().values():
        print(f"  {exp.name:<24} {exp.purpose}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from collections import Counter
    from pathlib import Path

    from chaos.experiment.batch import run_batch
    from chaos.experiment.model import catalogue, load_experiment
    from chaos.journal import exit_code
    from chaos.stack.state import discover

    known = catalogue()
    if args.all == bool(args.names):
        raise ChaosError("name experiments to run, or pass --all")
    chosen = []
    for name in args.names:
        if name in known:
            chosen.append(known[name])
        elif Path(name).is_file():
            chosen.append(load_experiment(Path(name)))
        else:
            raise ChaosError(f"no experiment named {name!r}; see `chaoslab list`")
    if args.all:
        chosen = list(known.values())
    if args.load:
        from dataclasses import replace

        from chaos.experiment.model import Load

        chosen = [replace(e, load=Load(locust=args.load)) for e in chosen]
    if args.dry_run:
        return _dry_run(chosen, args.compose)
    state = discover()
    if args.null_faults:
        return _run_null_faults(chosen, state, Path(args.out) / "null-faults")
    services = None
    if args.compose:
        from chaos.processfaults import ComposeServices

        services = ComposeServices()
    outcomes = run_batch(chosen, state, Path(args.out), services=services)
    print()
    width = max(len(o.journal.name) for o in outcomes)
    for o in outcomes:
        print(f"  {o.journal.name:<{width}}  {o.journal.status.upper():<12} {o.journal.reason()}")
    counts = Counter(o.journal.status for o in outcomes)
    print(
        "\n"
        + ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        + f"; reports in {args.out}/index.html"
    )
    return exit_code([o.journal.status for o in outcomes])


def _dry_run(chosen: list[Any], compose: bool) -> int:
    """Print what each experiment's method would do, applying nothing."""
    from chaos.experiment.dryrun import dry_run

    for exp in chosen:
        plan = dry_run(exp, compose=compose)
        where = "docker compose" if compose else "the native stack"
        print(f"{exp.name}: the method on {where} (dry run: nothing is applied)")
        for line in plan.lines:
            print(f"  {line}")
        for warning in plan.warnings:
            print(f"  warning: {warning}")
    return 0


def _run_null_faults(chosen: list[Any], state: Any, out: Path) -> int:
    """Run experiments with faults accepted but never applied: none may pass."""
    from dataclasses import replace

    from chaos.experiment.batch import run_batch
    from chaos.nullproxy import NullFaultProxy

    with NullFaultProxy(state.url("proxy_api")) as null:
        fake = replace(state, urls={**state.urls, "proxy_api": null.url})
        print(f"faults go to a proxy API that applies none ({null.url}); no run may pass")
        outcomes = run_batch(chosen, fake, out, services=null.services)
    print()
    width = max(len(o.journal.name) for o in outcomes)
    held = [o for o in outcomes if o.journal.status == "passed"]
    for o in outcomes:
        verdict = (
            "HOLDS WITHOUT ITS FAULT"
            if o in held
            else f"depends on its fault ({o.journal.status}: {o.journal.reason()})"
        )
        print(f"  {o.journal.name:<{width}}  {verdict}")
    print(f"\n{len(outcomes) - len(held)} of {len(outcomes)} depend on their faults")
    return 1 if held else 0


def cmd_report(args: argparse.Namespace) -> int:
    from chaos.journal import Journal
    from chaos.report import render_report

    path = Path(args.journal)
    out = render_report(
        Journal.read(path), Path(args.out) if args.out else path.with_suffix(".html")
    )
    print(out)
    return 0


def cmd_dashboards(args: argparse.Namespace) -> int:
    from chaos.dashboards.render import main as render_main

    argv = list(args.render_args)
    if "--prometheus" not in argv:
        from chaos.stack.state import discover

        argv = ["--prometheus", discover().url("prometheus"), *argv]
    return render_main(argv)


def cmd_inspect(args: argparse.Namespace) -> int:
    from chaos.inspect.command import run_inspect

    return run_inspect(args)


def cmd_seed_audit(args: argparse.Namespace) -> int:
    from chaos.inspect.command import run_seed

    return run_seed(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chaoslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the whole stack natively")
    p.add_argument(
        "--profile",
        choices=["lab", "default"],
        default=None,
        help="lab shortens the agent's timings (default: $CHAOSLAB_PROFILE or lab)",
    )
    p.set_defaults(handler=cmd_up)
    sub.add_parser("down", help="stop every process `up` started").set_defaults(handler=cmd_down)
    p = sub.add_parser("restart", help="restart one service gracefully and wait until it is ready")
    p.add_argument("service", help="agent, redis, postgres, pms, proxy, prometheus, ...")
    p.add_argument(
        "--timeout", type=float, default=10.0, help="seconds before SIGKILL (default 10)"
    )
    p.set_defaults(handler=cmd_restart)
    p = sub.add_parser("status", help="health and URLs of the running stack")
    p.add_argument("--json", action="store_true", help="machine-readable, for tools and notebooks")
    p.set_defaults(handler=cmd_status)
    sub.add_parser("list", help="the experiment catalogue").set_defaults(handler=cmd_list)
    p = sub.add_parser("run", help="run experiments against the running stack")
    p.add_argument("names", nargs="*", help="catalogue names or experiment files")
    p.add_argument("--all", action="store_true", help="run the whole catalogue")
    p.add_argument("--load", metavar="SCENARIO", help="drive a Locust scenario as background load")
    p.add_argument("--out", default="reports", help="folder for journals and reports")
    p.add_argument(
        "--null-faults",
        action="store_true",
        help="test the verdicts: faults accepted but never applied, so no run may pass",
    )
    p.add_argument(
        "--compose",
        action="store_true",
        help="kill, pause and restart docker-compose's containers through `docker compose`",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print what each method would do (with --compose: the docker compose commands)",
    )
    p.set_defaults(handler=cmd_run)
    p = sub.add_parser("report", help="render the HTML report of a journal")
    p.add_argument("journal")
    p.add_argument("--out", help="HTML path (default: next to the journal)")
    p.set_defaults(handler=cmd_report)
    p = sub.add_parser("dashboards", help="draw the Grafana dashboards from live Prometheus data")
    dash = p.add_subparsers(dest="dashboards_command", required=True)
    r = dash.add_parser(
        "render",
        help="PNG per dashboard (see `chaoslab dashboards render -- -h`)",
        add_help=False,
        prefix_chars="+",
    )
    r.add_argument("render_args", nargs=argparse.REMAINDER)
    r.set_defaults(handler=cmd_dashboards)
    add_inspect_parsers(sub, cmd_inspect, cmd_seed_audit)
    p = sub.add_parser(
        "proxy", help="run the Toxiproxy-compatible proxy server", add_help=False, prefix_chars="+"
    )
    p.add_argument("proxy_args", nargs=argparse.REMAINDER)
    p.set_defaults(handler=cmd_proxy)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    try:
        return handler(args)
    except ChaosError as exc:
        # One line: the first line of the error names the cause and where its log is.
        print(
            f"chaoslab: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            file=sys.stderr,
        )
        return 2
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(
            f"chaoslab: {args.command} needs the {extra} extra "
            f"(pip install 'hotel-chaos-lab[{extra}]'): no module named {exc.name!r}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("chaoslab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader (head, grep -q) went away; that is not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
