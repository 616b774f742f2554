"""Unit tests of the fallback file: durability order, torn lines, atomic rewrite, ownership."""

from __future__ import annotations

import asyncio
import errno
import json
import os
from pathlib import Path

import pytest

from agent.audit import AuditUnavailable, FallbackLocked, new_event
from agent.audit.events import event_from_line
from agent.audit.fallback import FallbackFile


def events(n: int, guest: str = "g1") -> list:
    return [
        new_event("message", guest, channel="api", intent="greeting", payload={"n": i})
        for i in range(n)
    ]


@pytest.fixture
async def fb(tmp_path: Path):
    f = FallbackFile(tmp_path / "logs" / "audit_fallback.jsonl")
    await f.open()
    yield f
    await f.close()


def lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines()


async def test_append_writes_one_json_object_per_line(fb: FallbackFile) -> None:
    evs = events(3)
    await fb.append(evs[:1])
    await fb.append(evs[1:])
    raw = fb.path.read_bytes()
    assert raw.endswith(b"\n")
    lines = raw.splitlines()
    assert [json.loads(line)["event_id"] for line in lines] == [e.event_id for e in evs]
    assert [event_from_line(line) for line in lines] == evs
    assert fb.pending == 3


async def test_every_append_returns_after_an_fsync_that_covers_its_line(
    fb: FallbackFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced_sizes: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        synced_sizes.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    evs = events(40)

    async def one(e) -> int:
        await fb.append([e])
        # At return, some fsync must already have covered this event's line.
        data = fb.path.read_bytes()
        return data.index(e.to_line()) + len(e.to_line()) + 1

    ends = await asyncio.gather(*(one(e) for e in evs))
    for end in ends:
        assert any(size >= end for size in synced_sizes)
    assert len(lines_of(fb.path)) == 40
    assert fb.pending == 40
    # Concurrent appends share fsyncs (group commit) instead of queueing one each.
    assert len(synced_sizes) < 40


async def test_unparseable_torn_tail_is_moved_aside_at_open(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    good = events(2)
    path.write_bytes(b"".join(e.to_line() + b"\n" for e in good) + b'{"v":1,"event_id":"ab')
    fb = FallbackFile(path)
    assert await fb.open() == 2
    assert lines_of(path) == [e.to_line() for e in good]
    assert path.read_bytes().endswith(b"\n")
    assert fb.rejected_path.read_bytes() == b'{"v":1,"event_id":"ab\n'
    await fb.append(events(1))
    assert all(event_from_line(line) for line in lines_of(path))
    assert fb.pending == 3
    await fb.close()


async def test_whole_event_missing_only_its_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ev = events(2)
    path.write_bytes(ev[0].to_line() + b"\n" + ev[1].to_line())
    fb = FallbackFile(path)
    assert await fb.open() == 2
    assert path.read_bytes() == ev[0].to_line() + b"\n" + ev[1].to_line() + b"\n"
    assert not fb.rejected_path.exists()
    await fb.close()


async def test_pending_at_open_counts_only_valid_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ev = events(3)
    path.write_bytes(
        ev[0].to_line()
        + b"\n\nnot json\n"
        + ev[1].to_line()
        + b"\n"
        + b'{"v":99}\n'
        + ev[2].to_line()
        + b"\n"
    )
    fb = FallbackFile(path)
    assert await fb.open() == 3
    await fb.close()


async def test_reader_leaves_a_line_still_being_written(fb: FallbackFile) -> None:
    ev = events(2)
    await fb.append(ev[:1])
    partial = ev[1].to_line()
    with fb.path.open("ab") as f:  # an append caught half-way
        f.write(partial[:10])
    chunk = await fb.read_chunk(0, 100)
    assert chunk.events == ev[:1]
    assert chunk.end == len(ev[0].to_line()) + 1
    with fb.path.open("ab") as f:  # the append completes
        f.write(partial[10:] + b"\n")
    later = await fb.read_chunk(chunk.end, 100)
    assert later.events == ev[1:]


async def test_read_chunk_reports_bad_lines_separately(fb: FallbackFile) -> None:
    ev = events(2)
    with fb.path.open("ab") as f:
        f.write(ev[0].to_line() + b"\n" + b"garbage\n" + ev[1].to_line() + b"\n")
    chunk = await fb.read_chunk(0, 100)
    assert chunk.events == ev
    assert chunk.rejected == [b"garbage"]
    limited = await fb.read_chunk(0, 2)
    assert limited.events == ev[:1]
    assert limited.rejected == [b"garbage"]


async def test_consume_rewrites_atomically_keeping_later_appends(fb: FallbackFile) -> None:
    first, later = events(5), events(3, guest="g2")
    await fb.append(first)
    chunk = await fb.read_chunk(0, 100)
    await fb.append(later)  # arrives while the chunk's rows are being inserted
    inode = fb.path.stat().st_ino
    await fb.consume(chunk.end, len(chunk.events))
    assert [event_from_line(line) for line in lines_of(fb.path)] == later
    assert fb.path.stat().st_ino != inode  # replaced, not edited in place
    assert not list(fb.path.parent.glob("*.tmp"))
    assert fb.pending == 3
    rest = await fb.read_chunk(0, 100)
    await fb.consume(rest.end, len(rest.events))
    assert fb.path.read_bytes() == b""
    assert fb.pending == 0


async def test_failed_rewrite_keeps_every_line(
    fb: FallbackFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    ev = events(4)
    await fb.append(ev)
    before = fb.path.read_bytes()
    chunk = await fb.read_chunk(0, 100)

    def crash(*_: object) -> None:
        raise OSError(errno.EIO, "simulated crash before os.replace")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated"):
        await fb.consume(chunk.end, len(chunk.events))
    assert fb.path.read_bytes() == before
    assert fb.pending == 4


async def test_leftover_temp_file_is_discarded_at_open(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    ev = events(1)
    path.write_bytes(ev[0].to_line() + b"\n")
    tmp = tmp_path / "audit.jsonl.tmp"
    tmp.write_bytes(b"half a rewrite")
    fb = FallbackFile(path)
    assert await fb.open() == 1
    assert not tmp.exists()
    assert path.read_bytes() == ev[0].to_line() + b"\n"
    await fb.close()


async def test_append_after_a_torn_end_starts_a_new_line(fb: FallbackFile) -> None:
    with fb.path.open("ab") as f:
        f.write(b'{"v":1,"trunc')  # left by a partial write that could not be undone
    ev = events(1)
    await fb.append(ev)
    assert lines_of(fb.path) == [b'{"v":1,"trunc', ev[0].to_line()]
    chunk = await fb.read_chunk(0, 100)
    assert chunk.events == ev
    assert chunk.rejected == [b'{"v":1,"trunc']


async def test_failed_append_is_undone_and_reported(
    fb: FallbackFile, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fb.append(events(1))
    size = fb.path.stat().st_size
    real_write = os.write

    def disk_full(fd: int, data: bytes) -> int:
        real_write(fd, bytes(data[:7]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", disk_full)
    with pytest.raises(AuditUnavailable, match="No space left"):
        await fb.append(events(1))
    monkeypatch.undo()
    assert fb.path.stat().st_size == size
    assert fb.pending == 1


async def test_second_owner_is_refused_until_the_first_closes(fb: FallbackFile) -> None:
    other = FallbackFile(fb.path)
    with pytest.raises(FallbackLocked, match="owned by another process"):
        await other.open()
    await fb.close()
    assert await other.open() == 0
    await other.close()


async def test_append_before_open_is_refused(tmp_path: Path) -> None:
    fb = FallbackFile(tmp_path / "x.jsonl")
    with pytest.raises(AuditUnavailable, match="not open"):
        await fb.append(events(1))
