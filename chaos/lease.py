"""A lease on a run's faults: if the runner dies, a watchdog removes them.

A killed runner (SIGKILL, a lost terminal, a sleeping laptop) cannot roll back. While a
run holds faults, a small watchdog process (``python -m chaos.lease FILE``, in a session
of its own so it outlives the runner) watches a lease file that the runner renews every
``ttl_s / 3`` seconds and that lists what to undo: toxics to remove, proxies to enable.
When the lease lapses the watchdog undoes them through the Toxiproxy API, so this works
against the real Toxiproxy too; when the runner ends normally it deletes the file and the
watchdog exits. Our own proxy also expires each fault natively (``ttl_ms``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chaos.exceptions import ToxiproxyError
from chaos.toxiproxy import ToxiproxyClient

POLL_S = 0.2


@dataclass
class Lease:
    """What a run must undo if it dies, renewed while it lives."""

    proxy_api: str
    ttl_s: float = 3.0
    path: Path = field(default_factory=lambda: Path(tempfile.mkstemp(prefix="chaoslab-lease-")[1]))
    toxics: list[tuple[str, str]] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    watchdog: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _write(self) -> None:
        doc = {
            "expires_at": time.time() + self.ttl_s,
            "proxy_api": self.proxy_api,
            "toxics": self.toxics,
            "disabled": self.disabled,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc))
        os.replace(tmp, self.path)  # the watchdog never reads half a file

    def start(self) -> Lease:
        """Write the lease, start the watchdog and the renewals."""
        with self._lock:
            self._write()
        self.watchdog = subprocess.Popen(
            [sys.executable, "-m", "chaos.lease", str(self.path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self._thread = threading.Thread(target=self._renew, name="lease", daemon=True)
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl_s / 3):
            with self._lock:
                if self.path.exists():
                    self._write()

    def hold_toxic(self, proxy: str, name: str) -> None:
        with self._lock:
            self.toxics.append((proxy, name))
            self._write()

    def hold_disabled(self, proxy: str) -> None:
        with self._lock:
            self.disabled.append(proxy)
            self._write()

    def release(self, proxy: str, toxics: list[str], disabled: bool) -> None:
        with self._lock:
            self.toxics = [t for t in self.toxics if not (t[0] == proxy and t[1] in toxics)]
            if disabled and proxy in self.disabled:
                self.disabled.remove(proxy)
            self._write()

    def close(self) -> None:
        """The run ended and rolled back: the watchdog exits without undoing anything."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self.path.unlink(missing_ok=True)
        if self.watchdog is not None:
            try:
                self.watchdog.wait(5)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
                self.watchdog.wait(5)


def undo(doc: dict[str, Any]) -> list[str]:
    """Remove the lease's toxics and enable its proxies; what could not be undone."""
    problems = []
    with ToxiproxyClient(doc["proxy_api"], timeout_s=3.0) as client:
        for proxy, name in doc.get("toxics", []):
            try:
                client.remove_toxic(proxy, name)
            except ToxiproxyError as exc:
                if exc.status != 404:  # already gone is what we want
                    problems.append(f"{proxy}/{name}: {exc}")
        for proxy in doc.get("disabled", []):
            try:
                client.set_enabled(proxy, True)
            except ToxiproxyError as exc:
                problems.append(f"{proxy}: {exc}")
    return problems


def watch(path: Path, poll_s: float = POLL_S) -> int:
    """The watchdog: undo the faults once the lease lapses; exit when the file is gone."""
    while True:
        try:
            doc = json.loads(path.read_text())
        except FileNotFoundError:
            return 0
        except (OSError, ValueError):
            time.sleep(poll_s)
            continue
        if time.time() > float(doc["expires_at"]):
            problems = undo(doc)
            path.unlink(missing_ok=True)
            return 1 if problems else 0
        time.sleep(poll_s)


if __name__ == "__main__":
    raise SystemExit(watch(Path(sys.argv[1])))
