"""``make demo``: bring the native stack up, hold a real conversation with the agent, then
run the experiment catalogue under light guest load and write ``reports/index.html``."""

from __future__ import annotations

import sys
from pathlib import Path

from chaos.exceptions import ChaosError
from chaos.experiment.batch import run_batch
from chaos.experiment.model import catalogue
from chaos.stack import native
from chaos.traffic import ENGLISH_QUESTIONS, SPANISH_BOOKING, converse, stay_dates

REPORTS = Path("reports")


def main() -> int:
    try:
        state = native.up()
        with native.agent_client(state, timeout=30) as client:
            for title, script, days in (
                ("Spanish booking", SPANISH_BOOKING, 10),
                ("English questions", ENGLISH_QUESTIONS, 20),
            ):
                print(f"\n== {title} ==")
                guest = f"demo-{title.split()[0].lower()}"
                for turn in converse(client, guest, script, stay_dates(days, 3)):
                    flag = " [degraded]" if turn["degraded"] else ""
                    print(f"guest> {turn['sent']}")
                    print(f"agent> ({turn['intent']}, {turn['confidence']:.2f}){flag}")
                    for line in turn["reply"].splitlines():
                        print(f"       {line}")
        print("\n== Experiment catalogue ==")
        outcomes = run_batch(list(catalogue().values()), state, REPORTS)
    except ChaosError as exc:
        print(f"demo: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    passed = sum(o.passed for o in outcomes)
    print(f"\n{passed} of {len(outcomes)} experiments passed; open {REPORTS / 'index.html'}")
    print(
        f"The stack keeps running (agent {state.url('agent')}, Prometheus "
        f"{state.url('prometheus')}); stop it with `make down`."
    )
    return 0 if passed == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
