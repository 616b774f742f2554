"""``make demo``: bring the native stack up and show a real guest conversation through it."""

from __future__ import annotations

import sys

from chaos.exceptions import ChaosError
from chaos.stack import native
from chaos.traffic import ENGLISH_QUESTIONS, SPANISH_BOOKING, converse, stay_dates


def main() -> int:
    try:
        state = native.up()
    except ChaosError as exc:
        print(f"demo: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    with native.agent_client(state, timeout=30) as client:
        for title, script, days in (
            ("Spanish booking", SPANISH_BOOKING, 10),
            ("English questions", ENGLISH_QUESTIONS, 20),
        ):
            print(f"\n== {title} ==")
            for turn in converse(
                client, f"demo-{title.split()[0].lower()}", script, stay_dates(days, 3)
            ):
                flag = " [degraded]" if turn["degraded"] else ""
                print(f"guest> {turn['sent']}")
                print(f"agent> ({turn['intent']}, {turn['confidence']:.2f}){flag}")
                for line in turn["reply"].splitlines():
                    print(f"       {line}")
    print(
        f"\nThe stack keeps running: agent {state.url('agent')}, "
        f"Prometheus {state.url('prometheus')}. Stop it with `make down`."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
