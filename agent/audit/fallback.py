"""The audit fallback file: JSON lines appended durably, drained by the replayer.

Protocol (one owner process, enforced with an ``fcntl`` lock on ``<file>.lock``):

* Append: every line is a whole JSON object plus ``\\n``, written and ``fsync``-ed before
  ``append`` returns. Concurrent appends are grouped into one write and one fsync
  (group commit); a thread lock serialises every change to the file.
* Replay: ``read_chunk`` reads complete lines from an offset without taking the lock,
  so appends never wait for a reader. A last line without ``\\n`` is left for later: it
  may be an append in progress. After the rows are committed, ``consume`` rewrites the
  file atomically (temp file, fsync, ``os.replace``, fsync of the folder) keeping only
  the bytes after the consumed offset, that is, lines appended meanwhile. A crash
  before the replace leaves the old file whole; replaying it again is harmless because
  inserts are idempotent on the event id.
* Torn last line: under the lock no append of ours is in progress, so an unterminated
  last line seen at ``open`` (the file is otherwise quiet) is a crash relic. Its event
  was never reported durable (the fsync did not return). If it still parses as a whole
  event it is kept and terminated; otherwise it is moved to ``<file>.rejected``. An
  append that finds a torn end writes a newline first, so a new line never glues onto
  a fragment. Complete lines that do not parse also go to ``<file>.rejected``, never
  silently away.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agent.audit.errors import AuditUnavailable, FallbackLocked, InvalidAuditEvent
from agent.audit.events import AuditEvent, event_from_line

_BLOCK = 64 * 1024


@dataclass
class Chunk:
    """Complete lines read from ``start`` up to ``end`` (the offset after the last one)."""

    start: int
    end: int
    events: list[AuditEvent] = field(default_factory=list)
    rejected: list[bytes] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.end == self.start


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _last_line_start(fd: int, size: int) -> int:
    """Offset just after the last ``\\n`` before ``size`` (0 when there is none)."""
    pos = size
    while pos > 0:
        start = max(0, pos - _BLOCK)
        block = os.pread(fd, pos - start, start)
        i = block.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


class FallbackFile:
    """Durable JSON-lines file for audit events PostgreSQL could not take."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rejected_path = path.with_name(path.name + ".rejected")
        self.lock_path = path.with_name(path.name + ".lock")
        self._tmp_path = path.with_name(path.name + ".tmp")
        self._io = threading.Lock()
        self._group = asyncio.Lock()
        self._queue: list[tuple[list[bytes], asyncio.Future[None]]] = []
        self._lock_fd: int | None = None
        self.pending = 0

    # -- ownership -------------------------------------------------------------------

    async def open(self) -> int:
        """Take ownership, repair a torn end, and return the number of pending events."""
        return await asyncio.to_thread(self._open_sync)

    def _open_sync(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise FallbackLocked(
                f"{self.path} is owned by another process (lock {self.lock_path})"
            ) from None
        self._lock_fd = fd
        with self._io:
            # A temp file is only ever a rewrite that did not reach os.replace.
            with contextlib.suppress(FileNotFoundError):
                self._tmp_path.unlink()
            self._repair_tail()
            self.pending = self._count()
        return self.pending

    async def close(self) -> None:
        """Release ownership (pending lines stay in the file)."""
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _repair_tail(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return
        try:
            size = os.fstat(fd).st_size
            if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
                return
            start = _last_line_start(fd, size)
            tail = os.pread(fd, size - start, start)
            try:
                event_from_line(tail)
            except InvalidAuditEvent:
                self._reject_locked([tail])
                os.ftruncate(fd, start)
            else:
                os.pwrite(fd, b"\n", size)
            os.fsync(fd)
        finally:
            os.close(fd)

    def _count(self) -> int:
        count = 0
        try:
            with self.path.open("rb") as f:
                for line in f:
                    try:
                        event_from_line(line.rstrip(b"\n"))
                    except InvalidAuditEvent:
                        continue
                    count += 1
        except FileNotFoundError:
            return 0
        return count

    # -- append (reply path) ---------------------------------------------------------

    async def append(self, events: Sequence[AuditEvent]) -> None:
        """Append ``events`` durably (fsync) or raise ``AuditUnavailable``."""
        if self._lock_fd is None:
            raise AuditUnavailable("fallback file is not open")
        lines = [event.to_line() for event in events]
        if not lines:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Nobody may await a future whose owner was cancelled; retrieve its outcome anyway.
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._queue.append((lines, fut))
        async with self._group:
            if not fut.done():
                batch, self._queue = self._queue, []
                # Shielded: a cancelled caller must not abandon other callers' lines.
                await asyncio.shield(self._flush(batch))
        await fut

    async def _flush(self, batch: list[tuple[list[bytes], asyncio.Future[None]]]) -> None:
        lines = [line for group, _ in batch for line in group]
        try:
            await asyncio.to_thread(self._append_sync, lines)
        except Exception as exc:
            for _, fut in batch:
                if not fut.done():
                    fut.set_exception(AuditUnavailable(f"fallback write failed: {exc}"))
            return
        for _, fut in batch:
            if not fut.done():
                fut.set_result(None)

    def _append_sync(self, lines: list[bytes]) -> None:
        with self._io:
            created = not self.path.exists()
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                size = os.fstat(fd).st_size
                torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
                data = (b"\n" if torn else b"") + b"\n".join(lines) + b"\n"
                try:
                    _write_all(fd, data)
                    os.fsync(fd)
                except OSError:
                    # Keep the file ending on a line boundary after a partial write.
                    with contextlib.suppress(OSError):
                        os.ftruncate(fd, size)
                        os.fsync(fd)
                    raise
            finally:
                os.close(fd)
            # Counted under the thread lock, like every other change of ``pending``.
            self.pending += len(lines)
            if created:
                _fsync_dir(self.path.parent)

    # -- replay ----------------------------------------------------------------------

    async def read_chunk(self, offset: int, max_lines: int) -> Chunk:
        """Up to ``max_lines`` complete lines from ``offset``; a torn last line is left."""
        return await asyncio.to_thread(self._read_sync, offset, max_lines)

    def _read_sync(self, offset: int, max_lines: int) -> Chunk:
        chunk = Chunk(start=offset, end=offset)
        try:
            f = self.path.open("rb")
        except FileNotFoundError:
            return chunk
        with f:
            f.seek(offset)
            taken = 0
            while taken < max_lines:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # end of file, or a line still being written
                chunk.end += len(line)
                body = line[:-1]
                if not body.strip():
                    continue
                taken += 1
                try:
                    chunk.events.append(event_from_line(body))
                except InvalidAuditEvent:
                    chunk.rejected.append(body)
        return chunk

    async def reject(self, lines: Sequence[bytes]) -> None:
        """Keep unreadable lines in ``<file>.rejected`` (durably) for a human to inspect."""
        if lines:
            await asyncio.to_thread(self._reject_sync, list(lines))

    def _reject_sync(self, lines: list[bytes]) -> None:
        with self._io:
            self._reject_locked(lines)

    def _reject_locked(self, lines: list[bytes]) -> None:
        fd = os.open(self.rejected_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            _write_all(fd, b"".join(line + b"\n" for line in lines))
            os.fsync(fd)
        finally:
            os.close(fd)

    async def consume(self, end: int, events: int) -> None:
        """Drop bytes before ``end`` (their rows are committed): atomic rewrite of the rest."""
        await asyncio.to_thread(self._consume_sync, end, events)

    def _consume_sync(self, end: int, events: int) -> None:
        with self._io:
            try:
                with self.path.open("rb") as f:
                    f.seek(end)
                    rest = f.read()
            except FileNotFoundError:
                rest = b""
            with self._tmp_path.open("wb") as tmp:
                tmp.write(rest)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.replace(self._tmp_path, self.path)
            _fsync_dir(self.path.parent)
            self.pending = max(0, self.pending - events) if rest else 0
