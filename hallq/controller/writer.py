"""The single writer: every command passes through here, in order.

Commands wait in one queue. The writer takes all that are waiting, applies them to the
engine one after another, commits their events in one transaction (off the event loop, in
its own I/O thread) and only then answers them and publishes the events.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from hallq.controller.bus import EventBus
from hallq.controller.store import EventLog
from hallq.errors import CommandRejected, StorageError
from hallq.hall.commands import Command, command_name
from hallq.hall.engine import Engine, Outcome, summarize
from hallq.hall.events import DayStarted, Record
from hallq.hall.state import STATE_VERSION, HallState

log = logging.getLogger("hallq.writer")

MAX_BATCH = 512
SNAPSHOT_AFTER_REPLAY = 2_000  # events replayed at start above which a snapshot is written


class Unavailable(CommandRejected):
    def __init__(self, message: str) -> None:
        super().__init__("storage_unavailable", message, status=503)


class InternalError(CommandRejected):
    def __init__(self) -> None:
        super().__init__("internal_error", "内部错误，已记录 / Internal error (logged)", status=500)


@dataclass
class LoadReport:
    snapshot_seq: int
    replayed: int
    seconds: float


class HallWriter:
    """Owns the engine and the log. Use `submit` from the event loop that started it."""

    def __init__(
        self,
        engine: Engine,
        log_: EventLog,
        bus: EventBus,
        clock: Callable[[], float] = time.time,
        roll_day: Callable[[], bool] = lambda: True,
    ) -> None:
        self.engine = engine
        self.log = log_
        self.bus = bus
        self.clock = clock
        # False holds the business day (the Pi's clock is not synchronised yet): asked once a
        # batch, so it must be cheap; the controller sets it once its devices are built.
        self.roll_day = roll_day
        self._queue: asyncio.Queue[tuple[Command, asyncio.Future[dict[str, Any]]]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallq-log")
        self.commands = 0
        self.batches = 0
        self.committed_seq = 0
        self._settled = asyncio.Event()
        self._settled.set()
        self._stopping = False
        # Called with each batch's records once committed (drivers): must not block or raise.
        self.listeners: list[Callable[[list[Record]], None]] = []

    # ------------------------------------------------------------ lifecycle

    def load(self) -> LoadReport:
        """Rebuild the state: the newest snapshot, then every event after it."""
        started = time.perf_counter()
        snap = self.log.latest_snapshot(STATE_VERSION)
        if snap is not None:
            self.engine.restore(snap)
        base = self.engine.state.seq
        replayed = 0
        for record in self.log.iter_after(base):
            self.engine.apply_record(record)
            replayed += 1
        if replayed >= SNAPSHOT_AFTER_REPLAY:
            self.log.save_snapshot(self.engine.state, self.clock())
        self.committed_seq = self.engine.state.seq
        return LoadReport(base, replayed, time.perf_counter() - started)

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._task = asyncio.create_task(self._run(), name="hallq-writer")

    async def stop(self) -> None:
        """Finish the batch in hand, refuse what still waits, save a snapshot."""
        self._stopping = True
        await self.settled()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue is not None and not self._queue.empty():
            _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(Unavailable("控制器正在关闭 / The controller is stopping; retry"))
        await asyncio.get_running_loop().run_in_executor(
            self._io, self.log.save_snapshot, self.engine.state, self.clock()
        )
        self._io.shutdown(wait=True)

    # ------------------------------------------------------------ commands

    async def submit(self, cmd: Command) -> dict[str, Any]:
        """Queue a command; return its reply once its events are committed."""
        if self._queue is None or self._stopping:
            raise Unavailable("控制器尚未就绪 / The controller is not running; retry in a moment")
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((cmd, fut))
        return await fut

    @property
    def running(self) -> bool:
        """The writer's task is there and has not ended (the watchdog pings only while it is)."""
        return self._task is not None and not self._task.done()

    async def settled(self) -> None:
        """Wait until no batch is between being applied and being committed.

        Readers (the hall view, the feed's snapshot) call this first, so they never show a
        state whose events are not yet on disk.
        """
        if not self._settled.is_set():
            await self._settled.wait()

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        pending: list[tuple[Command, asyncio.Future[dict[str, Any]]]] = []
        while True:
            batch = pending or [await self._queue.get()]
            pending = []
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._settled.clear()
            results: list[tuple[asyncio.Future[dict[str, Any]], Outcome]] = []
            records: list[Record] = []
            broken: asyncio.Future[dict[str, Any]] | None = None
            roll_day = self._may_roll_day()
            for i, (cmd, fut) in enumerate(batch):
                try:
                    out = self.engine.execute(cmd, self.clock(), roll_day=roll_day)
                except Exception:
                    # A bug, not a user mistake: this command fails, the hall goes on. Its
                    # half-applied changes are dropped by rebuilding the state from the log
                    # once the commands before it are committed; those after it run next.
                    log.exception("internal error executing %s", command_name(cmd))
                    broken, pending = fut, batch[i + 1 :]
                    break
                records.extend(out.records)
                results.append((fut, out))
            try:
                if records:  # a batch of refusals and repeats has nothing to write
                    await loop.run_in_executor(self._io, self.log.append, records)
            except StorageError as err:
                log.error("event log write failed; rebuilding state from the log: %s", err)
                await self._recover(loop)
                for fut, _ in results:
                    if not fut.done():
                        fut.set_exception(
                            Unavailable("存储写入失败，请重试 / Could not save; please retry")
                        )
                if broken is not None and not broken.done():
                    broken.set_exception(InternalError())
                self._settle()
                await asyncio.sleep(0)
                continue
            if broken is not None:
                await self._recover(loop)
                if not broken.done():
                    broken.set_exception(InternalError())
            self.commands += len(results)
            self.batches += 1
            for fut, out in results:
                if fut.done():  # the client went away
                    continue
                if out.error is not None:
                    fut.set_exception(out.error)
                elif out.duplicate is not None:
                    reply = out.reply
                    if reply is None:
                        first, last = out.duplicate.first, out.duplicate.last
                        old = await loop.run_in_executor(self._io, self.log.read_range, first, last)
                        reply = summarize(old, last)
                    fut.set_result({**reply, "repeated": True})
                else:
                    fut.set_result(out.reply or summarize([], self.engine.state.seq))
            if records:
                self.bus.publish(records)
                for listener in self.listeners:
                    try:
                        listener(records)
                    except Exception:
                        log.exception("a listener of committed events failed")
                if any(isinstance(r.event, DayStarted) for r in records):
                    await loop.run_in_executor(
                        self._io, self.log.save_snapshot, self.engine.state, self.clock()
                    )
            self._settle()
            # Let the readers that waited for a settled state read it before the next batch.
            await asyncio.sleep(0)

    def _may_roll_day(self) -> bool:
        try:
            return self.roll_day()
        except Exception:  # a broken probe must not stop the hall: roll as without one
            log.exception("roll_day failed; the business day may roll over")
            return True

    def _settle(self) -> None:
        self.committed_seq = self.engine.state.seq
        self._settled.set()

    async def _recover(self, loop: asyncio.AbstractEventLoop) -> None:
        self.engine.restore(HallState())
        try:
            await loop.run_in_executor(self._io, self.load)
        except StorageError as err:  # pragma: no cover - the disk is gone
            log.critical("cannot reload the event log: %s", err)
