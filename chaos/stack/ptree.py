"""Process trees: a server and every process it forked, found in /proc and signalled whole.

A process group is not enough: PostgreSQL's postmaster puts each child (backends,
checkpointer, WAL writer) in a session of its own, so ``killpg`` would stop the
postmaster while the backends kept answering their clients. The tree is the leader
plus its descendants by parent pid, plus anything left in the leader's process group.
To signal it without a race, the leader is stopped first (a stopped process cannot
fork), then the tree is listed, then every member is signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple


class ProcStat(NamedTuple):
    """The fields of /proc/PID/stat this module needs."""

    state: str  # R running, S sleeping, T stopped, Z zombie...
    ppid: int
    pgrp: int
    threads: int
    start: int  # clock ticks after boot


def proc_stat(pid: int) -> ProcStat | None:
    """``pid``'s state, parent, process group and start time, or None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ")".
    fields = raw[raw.rfind(b")") + 2 :].split()
    try:
        return ProcStat(
            fields[0].decode(), int(fields[1]), int(fields[2]), int(fields[17]), int(fields[19])
        )
    except (IndexError, ValueError):
        return None


def running(stat: ProcStat | None) -> bool:
    """True for a process that exists and is not a zombie.

    A killed multi-threaded process shows its main thread as a zombie while the other
    threads are still exiting, holding its files and sockets: that is still running.
    """
    return stat is not None and (stat.state not in ("Z", "X") or stat.threads > 1)


def stopped(stat: ProcStat | None) -> bool:
    """True for a process stopped by SIGSTOP (or a tracer)."""
    return stat is not None and stat.state in ("T", "t")


def _reap(pid: int) -> None:
    """Collect ``pid``'s exit status if it is our child (a zombie otherwise looks alive)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def tree(leader: int) -> dict[int, ProcStat]:
    """``leader`` and every live process it forked, directly or not, with their stats.

    Processes left in ``leader``'s process group are included even when the leader is
    gone: the kernel never reuses a pid that is still some group's id.
    """
    _reap(leader)
    table: dict[int, ProcStat] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = proc_stat(int(entry))
            if running(stat):
                assert stat is not None
                table[int(entry)] = stat
    members = {pid for pid, stat in table.items() if stat.pgrp == leader}
    if leader in table:
        members.add(leader)
    frontier = list(members)
    while frontier:
        parent = frontier.pop()
        for pid, stat in table.items():
            if stat.ppid == parent and pid not in members:
                members.add(pid)
                frontier.append(pid)
    return {pid: table[pid] for pid in sorted(members)}


def alive(snapshot: dict[int, ProcStat]) -> list[int]:
    """The pids of ``snapshot`` that still run as the same processes."""
    found = []
    for pid, before in snapshot.items():
        now = proc_stat(pid)
        if running(now) and now is not None and now.start == before.start:
            found.append(pid)
        else:
            _reap(pid)
    return found


def wait_for(check: Callable[[], bool], timeout: float, step: float = 0.02) -> bool:
    """Poll ``check`` until it is true or ``timeout`` seconds pass; its last answer."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(step)


def _send(pids: Iterable[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def signal_tree(leader: int, sig: int) -> dict[int, ProcStat]:
    """Send ``sig`` to ``leader`` and every process of its tree; the members reached.

    For SIGSTOP and SIGKILL the leader is stopped first and the tree listed once it
    is, so a child forked meanwhile cannot escape.
    """
    if sig in (signal.SIGSTOP, signal.SIGKILL) and running(proc_stat(leader)):
        _send([leader], signal.SIGSTOP)
        wait_for(lambda: not running(proc_stat(leader)) or stopped(proc_stat(leader)), 2.0)
    members = tree(leader)
    # Children first: a parent resumed before them could notice them stopped.
    _send([pid for pid in members if pid != leader], sig)
    if leader in members:
        _send([leader], sig)
    return members


def stop_tree(leader: int, stop_signal: int = signal.SIGTERM, timeout: float = 10.0) -> bool:
    """Stop a server and its children gracefully; SIGKILL what is left after ``timeout``.

    A stopped (paused) process cannot act on ``stop_signal``, so the tree is resumed
    first. Returns False when something had to be killed.
    """
    snapshot = tree(leader)
    if not snapshot:
        return True
    _send(snapshot, signal.SIGCONT)
    if leader in snapshot:
        _send([leader], stop_signal)
    else:
        _send(snapshot, signal.SIGKILL)  # an orphaned remainder has nobody to stop it
    if wait_for(lambda: not alive(snapshot), timeout, step=0.05):
        return True
    for pid in alive(snapshot):
        _send([pid], signal.SIGKILL)
    wait_for(lambda: not alive(snapshot), 5.0)
    return False
