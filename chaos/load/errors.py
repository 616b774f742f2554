"""Errors of the load package (subclasses of ``ChaosError``, so the CLI prints one line)."""

from __future__ import annotations

from chaos.exceptions import ChaosError


class LoadError(ChaosError):
    """A load run could not be started, or its results could not be read."""


class ThresholdError(LoadError):
    """A threshold declaration or override that cannot be understood."""


class ScheduleError(LoadError):
    """A fault schedule that cannot be understood."""
