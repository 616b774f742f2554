"""Run chaoslab in-process and capture what it prints (the CLI exactly as users run it)."""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from chaos.cli import main


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def run_chaoslab(*args: str) -> Run:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return Run(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def chaoslab() -> Callable[..., Run]:
    """``chaoslab(*argv)`` -> exit code, stdout, stderr."""
    return run_chaoslab
