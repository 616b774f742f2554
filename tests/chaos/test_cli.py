"""The ``chaoslab`` command line as installed without the harness extra, and the agent
without the harness: each says in one line what it needs, or runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from chaos import cli

# Runs ``what`` in a fresh interpreter where the harness's and the lab's modules cannot be
# imported, as after `pip install hotel-chaos-lab` (the agent alone).
WITHOUT_EXTRAS = textwrap.dedent(
    """
    import importlib.abc, sys
    class Missing(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in {"yaml", "numpy", "pandas", "matplotlib", "locust"}:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    sys.meta_path.insert(0, Missing())
    """
)


def without_extras(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_EXTRAS + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_command_without_its_extra_says_which_in_one_line() -> None:
    done = without_extras("from chaos.cli import main; raise SystemExit(main(['list']))")
    assert done.returncode == 2
    assert done.stderr == (
        "chaoslab: list needs the harness extra (pip install 'hotel-chaos-lab[harness]'): "
        "no module named 'yaml'\n"
    )


def test_the_agent_needs_nothing_from_the_harness() -> None:
    done = without_extras(
        """
        from agent.main import create_app
        create_app()
        print("agent ready")
        """
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("agent ready")


def test_any_other_missing_module_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_: object) -> int:
        raise ModuleNotFoundError("No module named 'internal_thing'", name="internal_thing")

    args = cli.build_parser().parse_args(["list"])
    monkeypatch.setattr(cli.argparse.ArgumentParser, "parse_args", lambda *_: args)
    args.handler = broken
    with pytest.raises(ModuleNotFoundError):
        cli.main(["list"])
