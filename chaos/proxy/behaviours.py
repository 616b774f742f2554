"""What each toxic does to the data of one link (one direction of one connection).

A runner is created per toxic per link. Its toxicity is rolled when it starts (at link
start, or when the toxic is added or updated), so toxicity is per connection and per
direction as in Toxiproxy. Runners see chunks in order and hand them on with ``emit``;
an interrupted sleep (the toxic was removed or updated) sends the chunk on at once, so
no data is ever dropped by changing toxics, except where a toxic drops data by design.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Protocol

from chaos.proxy.toxics import Toxic


class Chunk:
    """Bytes read from a link's source, stamped with the loop time they became available."""

    __slots__ = ("data", "ts")

    def __init__(self, data: bytes, ts: float) -> None:
        self.data = data
        self.ts = ts


class EndOfStream:
    """The source side half-closed (or went away); passes through the chain like a chunk."""

    __slots__ = ()


EOF = EndOfStream()

#: Source of toxicity rolls, jitter and slice sizes; ``-seed`` seeds it.
rng = random.Random()
Item = Chunk | EndOfStream
Emit = Callable[[Item], Awaitable[None]]


class ConnectionControl(Protocol):
    """What a toxic may do to the whole connection its link belongs to."""

    def close(self) -> None:
        """Close both sockets after flushing what was already written."""

    def reset(self) -> None:
        """Close both sockets with TCP RST."""


def _wake(future: asyncio.Future[bool], value: bool) -> None:
    if not future.done():
        future.set_result(value)


class Runner:
    """A toxic running on one link; the base class passes everything through (noop)."""

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        self.toxic = toxic
        self.control = control
        self.active = False
        self.removed = False
        self._sleeper: asyncio.Future[bool] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Roll the toxicity and start any timers."""
        self.active = rng.random() < self.toxic.toxicity
        if self.active:
            self.on_start()

    def restart(self) -> None:
        """Apply an update: flush a waiting chunk, re-roll toxicity, restart timers."""
        self.interrupt()
        self._cancel_timer()
        self.start()

    def remove(self) -> None:
        """Take the toxic off this link."""
        self.removed = True
        self.interrupt()
        self._cancel_timer()
        if self.active:
            self.on_remove()

    def stop(self) -> None:
        """The connection is gone: cancel timers, no side effects."""
        self.removed = True
        self.interrupt()
        self._cancel_timer()

    def interrupt(self) -> None:
        """End a running sleep early; the chunk it delays goes on at once."""
        if self._sleeper is not None:
            _wake(self._sleeper, False)

    async def sleep(self, seconds: float) -> bool:
        """Sleep unless interrupted; True when the full time passed."""
        if seconds <= 0:
            return True
        if self.removed:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        handle = loop.call_later(seconds, _wake, future, True)
        self._sleeper = future
        try:
            return await future
        finally:
            handle.cancel()
            self._sleeper = None

    def _set_timer(self, seconds: float, callback: Callable[[], None]) -> None:
        self._timer = asyncio.get_running_loop().call_later(seconds, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def on_start(self) -> None:
        """Hook: the toxic became active on this link."""

    def on_remove(self) -> None:
        """Hook: an active toxic was removed from this link."""

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        """Handle one chunk; the default passes it on."""
        await emit(chunk)

    async def on_eof(self, emit: Emit) -> None:
        """Handle the end of the source stream; the default passes it on."""
        await emit(EOF)


class LatencyRunner(Runner):
    """Delay every chunk by latency +- jitter ms, counted from its arrival (pipelined)."""

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        delay_ms = self.toxic.attr("latency")
        jitter = self.toxic.attr("jitter")
        if jitter > 0:
            delay_ms += rng.randrange(-jitter, jitter)
        target = chunk.ts + delay_ms / 1000.0
        await self.sleep(target - asyncio.get_running_loop().time())
        # The next stage counts from the scheduled time, so stacked latencies add up
        # while a steady stream still flows at full speed.
        chunk.ts = target
        await emit(chunk)


class BandwidthRunner(Runner):
    """Limit the link to ``rate`` KB/s (1 KB = 1000 bytes); 0 means unlimited."""

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        super().__init__(toxic, control)
        self._clock = 0.0

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        rate = self.toxic.attr("rate")
        if rate <= 0:
            await emit(chunk)
            return
        loop = asyncio.get_running_loop()
        bytes_per_second = rate * 1000
        slice_size = max(1, rate * 100)  # at most 100 ms worth of data per write
        data = chunk.data
        throttled = True
        for start in range(0, len(data), slice_size):
            piece = data[start : start + slice_size]
            if throttled:
                # Carry timing debt across chunks: the clock only resets after idling.
                self._clock = max(self._clock, loop.time()) + len(piece) / bytes_per_second
                throttled = await self.sleep(self._clock - loop.time())
            await emit(Chunk(piece, chunk.ts))


class SlowCloseRunner(Runner):
    """Delay the close (EOF) of the link by ``delay`` ms; data passes untouched."""

    async def on_eof(self, emit: Emit) -> None:
        await self.sleep(self.toxic.attr("delay") / 1000.0)
        await emit(EOF)


class TimeoutRunner(Runner):
    """Swallow all data; close the connection after ``timeout`` ms (never when 0)."""

    def on_start(self) -> None:
        timeout = self.toxic.attr("timeout")
        if timeout > 0:
            self._set_timer(timeout / 1000.0, self.control.close)

    def on_remove(self) -> None:
        # Bytes were swallowed, so the stream is corrupt: end it (as Toxiproxy does).
        self.control.close()

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        return


class ResetPeerRunner(Runner):
    """On the first chunk (or EOF): drop it, wait ``timeout`` ms, reset the connection."""

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        super().__init__(toxic, control)
        self._fired = False

    async def _fire(self) -> None:
        if self._fired:
            return
        self._fired = True
        await self.sleep(self.toxic.attr("timeout") / 1000.0)
        # Interrupted or not, the dropped chunk would corrupt the stream: reset now.
        self.control.reset()

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        await self._fire()

    async def on_eof(self, emit: Emit) -> None:
        await self._fire()


def slice_sizes(length: int, average: int, variation: int, rng: random.Random) -> list[int]:
    """Split ``length`` bytes by recursive halving until pieces are near ``average`` bytes.

    ``average`` below 1 counts as 1 (Toxiproxy recurses forever on 0); pieces are never empty.
    """
    average = max(1, average)
    variation = max(0, variation)
    sizes: list[int] = []
    stack = [length]
    while stack:
        size = stack.pop()
        if size - average <= variation or size < 2:
            sizes.append(size)
            continue
        middle = size // 2
        if variation > 0:
            middle += rng.randrange(-variation, variation)
        middle = min(max(middle, 1), size - 1)
        stack.append(size - middle)  # right half, handled after the left one
        stack.append(middle)
    return sizes


class SlicerRunner(Runner):
    """Cut chunks into pieces of about ``average_size`` bytes, ``delay`` us apart."""

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        sizes = slice_sizes(
            len(chunk.data),
            self.toxic.attr("average_size"),
            self.toxic.attr("size_variation"),
            rng,
        )
        delay = self.toxic.attr("delay") / 1_000_000.0
        data = memoryview(chunk.data)
        offset = 0
        pacing = delay > 0
        for index, size in enumerate(sizes):
            await emit(Chunk(bytes(data[offset : offset + size]), chunk.ts))
            offset += size
            if pacing and index < len(sizes) - 1:
                pacing = await self.sleep(delay)


class LimitDataRunner(Runner):
    """Pass ``bytes`` bytes in total, truncate the chunk that crosses it, then close."""

    def __init__(self, toxic: Toxic, control: ConnectionControl) -> None:
        super().__init__(toxic, control)
        self.passed = 0  # survives updates, as in Toxiproxy

    async def on_chunk(self, chunk: Chunk, emit: Emit) -> None:
        remaining = self.toxic.attr("bytes") - self.passed
        if len(chunk.data) < remaining:
            self.passed += len(chunk.data)
            await emit(chunk)
            return
        if remaining > 0:
            self.passed += remaining
            await emit(Chunk(chunk.data[:remaining], chunk.ts))
        self.control.close()


RUNNERS: dict[str, type[Runner]] = {
    "noop": Runner,
    "latency": LatencyRunner,
    "bandwidth": BandwidthRunner,
    "slow_close": SlowCloseRunner,
    "timeout": TimeoutRunner,
    "reset_peer": ResetPeerRunner,
    "slicer": SlicerRunner,
    "limit_data": LimitDataRunner,
}


def make_runner(toxic: Toxic, control: ConnectionControl) -> Runner:
    """A started runner for ``toxic`` on one link."""
    runner = RUNNERS[toxic.type](toxic, control)
    runner.start()
    return runner
