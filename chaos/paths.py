"""Where the project's files are: the checkout when running from one, else the copy the
wheel installed under ``<prefix>/share/hotel-chaos-lab``.

The harness needs files that are not Python: the Prometheus rules and Alertmanager
configuration the native stack runs with (``dashboards/``), the runbooks alerts link to
(``docs/runbooks/``) and the Locust scenarios (``loadtests/``). A checkout has them
beside the packages; ``pip install hotel-chaos-lab[harness]`` installs them as data files.
"""

from __future__ import annotations

import site
import sys
from pathlib import Path

from chaos.exceptions import ChaosError

CHECKOUT = Path(__file__).resolve().parents[1]
SHARE = ("share", "hotel-chaos-lab")


def in_checkout() -> bool:
    """True when running from a source checkout (the assets sit beside ``chaos/``)."""
    return (CHECKOUT / "dashboards").is_dir() and (CHECKOUT / "pyproject.toml").is_file()


def installed_roots() -> list[Path]:
    """Where an installed wheel's data files can be: the environment, then the user base."""
    roots = [Path(sys.prefix).joinpath(*SHARE)]
    if site.USER_BASE:
        roots.append(Path(site.USER_BASE).joinpath(*SHARE))
    return roots


def asset(relative: str) -> Path:
    """The project file or folder ``relative`` (``dashboards``, ``loadtests``, ...)."""
    candidates = [CHECKOUT / relative] if in_checkout() else []
    candidates += [root / relative for root in installed_roots()]
    for path in candidates:
        if path.exists():
            return path
    raise ChaosError(
        f"{relative} not found (looked in {', '.join(str(p) for p in candidates)}); "
        "install hotel-chaos-lab with the harness extra or run from a checkout"
    )


def state_root() -> Path:
    """Where ``chaoslab up`` keeps its state by default: the checkout, else the current folder."""
    return CHECKOUT if in_checkout() else Path.cwd()
