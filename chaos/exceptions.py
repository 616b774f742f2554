"""Exceptions raised by the chaos harness. One shallow tree."""

from __future__ import annotations


class ChaosError(Exception):
    """Base class for the harness's errors; the CLI prints them as one line."""


class StackError(ChaosError):
    """A server of the native stack could not be started, found or stopped."""


class ToxiproxyError(ChaosError):
    """The Toxiproxy API answered with an error status (or could not be reached)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"toxiproxy: {status} {message}" if status else f"toxiproxy: {message}")
        self.status = status
        self.message = message


class MetricsError(ChaosError):
    """Metrics could not be read: the endpoint did not answer, or not with exposition text."""


class ExperimentError(ChaosError):
    """An experiment file is invalid; the message names the offending field."""


class ExperimentAborted(ChaosError):
    """A safety probe failed during the method; the run was rolled back."""
