"""Exceptions raised by the chaos harness. One shallow tree."""

from __future__ import annotations


class ChaosError(Exception):
    """Base class for the harness's errors; the CLI prints them as one line."""


class StackError(ChaosError):
    """A server of the native stack could not be started, found or stopped."""
