"""Process trees are signalled whole, even when children live in sessions of their own."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.stack import ptree
from chaos.stack.state import StackState

# A server shaped like PostgreSQL's postmaster: it forks children that each call setsid(),
# so they are in neither its session nor its process group, then writes their pids (once
# each child has said, through a pipe, that its setsid() is done).
FORKING_SERVER = """
import os, signal, sys, time
children = []
for _ in range(3):
    ready, told = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.setsid()
        os.write(told, b"1")
        while True:
            time.sleep(0.05)
    os.read(ready, 1)
    children.append(pid)
def stop(*_):
    for child in children:
        os.kill(child, signal.SIGTERM)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[1], "w").write(" ".join(map(str, children)))
while True:
    time.sleep(0.05)
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, list[int]]]:
    pids_file = tmp_path / "children"
    proc = subprocess.Popen(
        [sys.executable, "-c", FORKING_SERVER, str(pids_file)], start_new_session=True
    )
    assert ptree.wait_for(lambda: pids_file.exists() and pids_file.read_text() != "", 10)
    children = [int(p) for p in pids_file.read_text().split()]
    try:
        yield proc.pid, children
    finally:
        for pid in [proc.pid, *children]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        proc.wait(5)


def test_tree_finds_children_in_other_sessions(server: tuple[int, list[int]]) -> None:
    leader, children = server
    for child in children:
        stat = ptree.proc_stat(child)
        assert stat is not None and stat.pgrp != leader  # killpg(leader) would miss it
    assert set(ptree.tree(leader)) == {leader, *children}


def test_stop_and_continue_reach_every_member(server: tuple[int, list[int]]) -> None:
    leader, children = server
    ptree.signal_tree(leader, signal.SIGSTOP)
    assert ptree.wait_for(
        lambda: all(ptree.stopped(ptree.proc_stat(p)) for p in [leader, *children]), 5
    )
    ptree.signal_tree(leader, signal.SIGCONT)
    assert ptree.wait_for(
        lambda: not any(ptree.stopped(ptree.proc_stat(p)) for p in [leader, *children]), 5
    )


def test_kill_leaves_no_orphan(server: tuple[int, list[int]]) -> None:
    leader, children = server
    members = ptree.signal_tree(leader, signal.SIGKILL)
    assert set(members) == {leader, *children}
    assert ptree.wait_for(lambda: not ptree.alive(members), 5)


def test_stop_tree_stops_a_paused_server_gracefully(server: tuple[int, list[int]]) -> None:
    leader, _ = server
    snapshot = ptree.signal_tree(leader, signal.SIGSTOP)
    assert ptree.wait_for(lambda: ptree.stopped(ptree.proc_stat(leader)), 5)
    # Paused, it cannot act on SIGTERM until resumed: stop_tree resumes it first.
    assert ptree.stop_tree(leader, signal.SIGTERM, timeout=5) is True
    assert not ptree.alive(snapshot)


def test_a_reused_pid_is_not_taken_for_the_recorded_process(
    server: tuple[int, list[int]],
) -> None:
    leader, _ = server
    state = StackState(urls={})
    state.record("pms", leader)
    assert state.live_pid("pms") == leader
    state.pid_starts["pms"] -= 1  # as if the pid now belonged to a later process
    assert state.live_pid("pms") is None


def test_stopping_a_service_spares_a_process_that_reused_its_pid(
    server: tuple[int, list[int]],
) -> None:
    from chaos.stack.native import stop_service

    leader, children = server
    state = StackState(urls={})
    state.record("pms", leader)
    state.pid_starts["pms"] -= 1  # the recorded pms died; its pid went to this server
    assert stop_service(state, "pms") is True
    assert all(ptree.running(ptree.proc_stat(pid)) for pid in [leader, *children])
