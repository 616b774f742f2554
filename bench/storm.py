"""The full WhatsApp duplicate storm: ``python -m bench.storm [--webhooks 1000]``.

Runs the catalogue's ``whatsapp-duplicate-storm`` against the running stack with its rate
raised so that about ``--webhooks`` signed webhooks arrive (duplicates and concurrent
pairs included; the catalogue run sends about 300) and prints what the guests got:
messages, deliveries, replies, and replies or audit rows duplicated (goal 0).
"""

from __future__ import annotations

import argparse
import dataclasses

from chaos.experiment.model import catalogue
from chaos.experiment.runner import run_experiment
from chaos.stack.state import discover

STORM = "whatsapp-duplicate-storm"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.storm", description=__doc__)
    parser.add_argument("--webhooks", type=int, default=1000)
    args = parser.parse_args(argv)
    exp = catalogue()[STORM]
    assert exp.load is not None  # the catalogue's storm has its load
    seconds = exp.baseline_s + exp.method_s + exp.settle_s
    rate = args.webhooks / seconds / (1 + exp.load.duplicate_share)
    exp = dataclasses.replace(exp, load=dataclasses.replace(exp.load, rate_per_s=rate))
    journal = run_experiment(exp, discover(), progress=lambda _: None)
    shown = {k: v for k, v in journal.figures.items() if "whatsapp" in k or "replies" in k}
    print(f"{STORM} at {rate:.1f} messages/s: {journal.status}")
    for key, value in sorted(shown.items()):
        print(f"  {key}: {value}")
    print(f"  audit: {journal.audit}")
    return 0 if journal.status == "passed" else 1


if __name__ == "__main__":
    raise SystemExit(main())
