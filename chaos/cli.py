"""``chaoslab``: a thin command line over the chaos library.

Errors from the library are printed as one line on stderr with exit code 2; a failed
verdict (an experiment, a threshold, an inspection) exits with 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence

from chaos.exceptions import ChaosError

Handler = Callable[[argparse.Namespace], int]


def cmd_up(args: argparse.Namespace) -> int:
    from chaos.stack import native
    from chaos.stack.config import StackSettings

    settings = StackSettings()
    if args.profile:
        settings.profile = args.profile
    began = time.monotonic()
    print(f"starting the native stack in {settings.state_dir} (profile {settings.profile})")
    state = native.up(settings)
    print(f"stack up in {time.monotonic() - began:.1f} s\n")
    _print_urls(state.urls)
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
    health = native.probe(state)
    if args.json:
        doc = json.loads(state.to_json())
        doc["healthy"] = health
        print(json.dumps(doc, indent=2, sort_keys=True))
    else:
        for name, ok in health.items():
            print(f"  {name:<18} {'up' if ok else 'DOWN':<5} pid {state.pids.get(name, '-')}")
        print()
        _print_urls(state.urls)
    return 0 if all(health.values()) else 1


def cmd_proxy(args: argparse.Namespace) -> int:
    from chaos.proxy import main as proxy_main

    return int(proxy_main(args.proxy_args) or 0)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="chaoslab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the whole stack natively")
    p.add_argument("--profile", choices=["lab", "default"], default=None,
                   help="lab shortens the agent's timings (default: $CHAOSLAB_PROFILE or lab)")
    p.set_defaults(handler=cmd_up)
    sub.add_parser("down", help="stop every process `up` started").set_defaults(handler=cmd_down)
    p = sub.add_parser("status", help="health and URLs of the running stack")
    p.add_argument("--json", action="store_true", help="machine-readable, for tools and notebooks")
    p.set_defaults(handler=cmd_status)
    p = sub.add_parser("proxy", help="run the Toxiproxy-compatible proxy server",
                       add_help=False, prefix_chars="+")
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
        print(f"chaoslab: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chaoslab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
