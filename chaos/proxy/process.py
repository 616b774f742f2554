"""Run the proxy server as a child process and learn its API port from the ready line.

``spawn(log_path)`` starts ``python -m chaos.proxy -host 127.0.0.1 -port 0``, waits for
the JSON ready line on stdout (captured in ``log_path``) and returns a handle with the
bound port; ``handle.stop()`` sends SIGTERM (then SIGKILL after a grace period) to that
child only and returns its exit status.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from chaos.proxy.exceptions import ProxyServerError
from chaos.proxy.server import READY_MESSAGE

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass
class SpawnedProxy:
    """A proxy server child process."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM the child, wait up to ``grace`` seconds (then SIGKILL); its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return int(self.process.returncode)


def read_ready_port(log_path: Path) -> int | None:
    """The API port named by the ready line in ``log_path``, if it is there yet."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("{") and READY_MESSAGE in line:
            return int(json.loads(line)["port"])
    return None


def spawn(
    log_path: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 15.0,
) -> SpawnedProxy:
    """Start the server, wait until its API listens, and return the handle."""
    child_env = {**os.environ, **(env or {})}
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
    )
    argv = [sys.executable, "-m", "chaos.proxy", "-host", host, "-port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=child_env)
    handle = SpawnedProxy(process, host, 0, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bound = read_ready_port(log_path)
        if bound is not None:
            handle.port = bound
            return handle
        if process.poll() is not None:
            break
        time.sleep(0.02)
    handle.stop(grace=2.0)
    tail = log_path.read_text(errors="replace")[-2000:]
    raise ProxyServerError(f"proxy server did not become ready (exit {process.returncode}): {tail}")
