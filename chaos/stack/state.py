"""The state file of a running native stack: every URL and every pid, in one JSON file.

The chaos library, the tests and the notebooks find the stack through it (or through
``chaoslab status --json``, which prints the same document).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.exceptions import StackError
from chaos.stack.ptree import proc_stat, running


@dataclass
class StackState:
    """URLs of a running stack and the pids of the processes it started."""

    urls: dict[str, str]
    pids: dict[str, int] = field(default_factory=dict)
    proxies: dict[str, dict[str, str]] = field(default_factory=dict)
    state_dir: str = ""
    started_at: float = 0.0
    admin_token: str = ""
    whatsapp_secret: str = ""
    fallback_path: str = ""
    # Start time (clock ticks after boot) of each recorded pid, so a pid the kernel has
    # since given to another process is never taken for ours (and never signalled).
    pid_starts: dict[str, int] = field(default_factory=dict)
    # The StackSettings the stack was started with, so a restart reproduces them.
    settings: dict[str, Any] = field(default_factory=dict)

    def url(self, name: str) -> str:
        try:
            return self.urls[name]
        except KeyError as exc:
            raise StackError(f"the stack has no URL named {name!r}") from exc

    def record(self, name: str, pid: int) -> None:
        """Remember ``pid`` (and its start time) as the process of service ``name``."""
        self.pids[name] = pid
        ticks = start_ticks(pid)
        if ticks is not None:
            self.pid_starts[name] = ticks

    def live_pid(self, name: str) -> int | None:
        """The recorded pid of ``name`` if that very process is still alive."""
        pid = self.pids.get(name)
        if pid is None or not pid_alive(pid):
            return None
        recorded = self.pid_starts.get(name)
        if recorded is not None and start_ticks(pid) != recorded:
            return None  # the pid now belongs to another process
        return pid

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, path: Path) -> None:
        """Write atomically, so a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackState:
        return cls(**data)

    @classmethod
    def load(cls, path: Path) -> StackState:
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise StackError(
                f"no running stack: {path} does not exist (run `chaoslab up`)"
            ) from exc
        except (json.JSONDecodeError, TypeError) as exc:
            raise StackError(f"unreadable stack state {path}: {exc}") from exc


def start_ticks(pid: int) -> int | None:
    """When ``pid`` started, in clock ticks after boot (None if it is gone)."""
    stat = proc_stat(pid)
    return stat.start if stat else None


def pid_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not yet reaped, counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    stat = proc_stat(pid)
    return stat is None or running(stat)


def discover(state_file: Path | None = None) -> StackState:
    """The running stack, from ``$CHAOSLAB_STATE_FILE`` or the default state folder."""
    from chaos.stack.config import StackSettings

    path = state_file or Path(
        os.environ.get("CHAOSLAB_STATE_FILE", "") or StackSettings().state_file
    )
    state = StackState.load(path)
    # The docker-compose state files carry no secret: the WhatsApp one signs guest traffic.
    state.whatsapp_secret = state.whatsapp_secret or os.environ.get("CHAOSLAB_WHATSAPP_SECRET", "")
    return state
