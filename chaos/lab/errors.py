"""Errors of the notebook-facing API (subclasses of ``ChaosError``)."""

from __future__ import annotations

from chaos.exceptions import ChaosError


class LabError(ChaosError):
    """A notebook step could not run: no stack, a bad parameter, a load run that failed."""
