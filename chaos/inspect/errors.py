"""The inspect commands' one error type (a ``ChaosError``: the CLI prints one line, exit 2)."""

from __future__ import annotations

from chaos.exceptions import ChaosError


class InspectError(ChaosError):
    """A source could not be reached or read, or an argument is unusable."""
