"""``make demo``: bring the native stack up, hold a real conversation with the agent, then
run the experiment catalogue under light guest load and write ``reports/index.html``."""

from __future__ import annotations

import sys
from pathlib import Path

from chaos.exceptions import ChaosError
from chaos.experiment.batch import run_batch
from chaos.experiment.model import catalogue
from chaos.journal import exit_code
from chaos.stack import native
from chaos.traffic import GuestMix, play

REPORTS = Path("reports")


def main() -> int:
    try:
        state = native.up()
        guest = GuestMix(seed=3).guest
        with native.agent_client(state, timeout=30) as client:
            for kind in ("booking", "information"):
                print(f"\n== A guest's {kind} conversation ==")
                for turn, reply in play(client, f"demo-{kind}", kind, guest):
                    flag = " [degraded]" if reply["degraded"] else ""
                    print(f"guest> {turn.text}")
                    print(f"agent> ({reply['intent']}, {reply['confidence']:.2f}){flag}")
                    for line in reply["reply"].splitlines():
                        print(f"       {line}")
        print("\n== Experiment catalogue ==")
        outcomes = run_batch(list(catalogue().values()), state, REPORTS)
    except ChaosError as exc:
        print(f"demo: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 2
    passed = sum(o.journal.status == "passed" for o in outcomes)
    print(f"\n{passed} of {len(outcomes)} experiments passed; open {REPORTS / 'index.html'}")
    print(
        f"The stack keeps running (agent {state.url('agent')}, Prometheus "
        f"{state.url('prometheus')}); stop it with `make down`."
    )
    return exit_code([o.journal.status for o in outcomes])


if __name__ == "__main__":
    sys.exit(main())
