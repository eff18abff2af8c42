"""What every driver shares: a bounded queue of hall events, its own task, and health.

The calling loop never waits on hardware. The controller offers each committed event to
each driver without blocking (`offer`); the driver works through its queue in its own task,
every device operation under a timeout. A slow or dead device fills only its own queue (the
oldest events it has not shown yet are dropped for devices that show only the latest state,
`keeps_every_event = False`); it cannot delay a call, stop the controller or hold up the
others. Health (ok / warning / error, a reason a person can act on, last seen) is reported
through a callback whenever it changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from hallq.hall.events import Record

HealthStatus = Literal["ok", "warning", "error", "unknown"]

log = logging.getLogger("hallq.drivers")


@dataclass(frozen=True)
class Health:
    """A device's health as staff see it: 打印机缺纸，请更换纸卷 is a reason; errno 5 is not."""

    status: HealthStatus
    reason: str = ""
    reason_en: str = ""


@dataclass
class DeviceReport:
    device: str
    kind: str
    health: Health
    last_seen: float | None = None
    dropped: int = 0


HealthListener = Callable[[DeviceReport], None]


class Driver(ABC):
    """One device (or one bus of devices) behind one interface, real or simulated."""

    kind = "device"
    keeps_every_event = True  # the voice must say every call; a board shows only the latest
    operation_timeout = 2.0  # seconds for one device operation before it counts as failed

    def __init__(self, name: str, queue_size: int = 256) -> None:
        self.name = name
        self._queue: asyncio.Queue[Record] = asyncio.Queue(queue_size)
        self._listeners: list[HealthListener] = []
        self.report = DeviceReport(device=name, kind=self.kind, health=Health("unknown"))
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.report.health.status}>"

    # ------------------------------------------------------------ for the controller

    def offer(self, record: Record) -> None:
        """Hand an event to the driver without waiting; never raises."""
        try:
            self._queue.put_nowait(record)
        except asyncio.QueueFull:
            if self.keeps_every_event:
                self.report.dropped += 1
                self._set_health(
                    Health(
                        "error",
                        f"{self.name} 处理不过来，已丢弃 {self.report.dropped} 条",
                        f"{self.name} is too slow: {self.report.dropped} events dropped",
                    )
                )
                return
            self._queue.get_nowait()  # the oldest state is stale: show the newest instead
            self._queue.put_nowait(record)

    def on_health(self, listener: HealthListener) -> None:
        self._listeners.append(listener)

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.create_task(self._run(), name=f"driver-{self.name}")

    async def stop(self) -> None:
        """Stop the task (cancelling until it has really ended), then close the device."""
        task, self._task = self._task, None
        while task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task], timeout=0.5)
        if task is not None and not task.cancelled() and task.exception() is not None:
            log.error("%s: driver task failed", self.name, exc_info=task.exception())
        await self.close()

    # ------------------------------------------------------------ for subclasses

    async def open(self) -> None:  # noqa: B027 - most devices need nothing opened
        """Open the device; failures are reported as health, not raised."""

    async def close(self) -> None:  # noqa: B027
        """Release the device."""

    @abstractmethod
    async def handle(self, record: Record) -> None:
        """Act on one event (under `operation_timeout`)."""

    def seen(self, health: Health | None = None) -> None:
        """The device answered: note the time, and its health if it said something."""
        self.report.last_seen = time.time()
        self._set_health(health or Health("ok"))

    def failed(self, reason: str, reason_en: str, status: HealthStatus = "error") -> None:
        self._set_health(Health(status, reason, reason_en))

    # ------------------------------------------------------------ internals

    def _set_health(self, health: Health) -> None:
        if health == self.report.health:
            return
        self.report.health = health
        for listener in self._listeners:
            try:
                listener(self.report)
            except Exception:  # a listener's bug must not stop the device
                log.exception("health listener failed for %s", self.name)

    async def _run(self) -> None:
        while True:
            record = await self._queue.get()
            try:
                # asyncio.timeout, not wait_for: in 3.11 wait_for can swallow a cancel that
                # arrives as the handler finishes, and stop() would then wait for ever.
                async with asyncio.timeout(self.operation_timeout):
                    await self.handle(record)
            except TimeoutError:
                self.failed(
                    f"{self.name} 无响应（超过 {self.operation_timeout:g} 秒）",
                    f"{self.name} did not answer within {self.operation_timeout:g} s",
                )
            except asyncio.CancelledError:
                raise
            except Exception as e:  # a device fault or a driver bug: report, go on
                log.exception("driver %s failed on event %d", self.name, record.seq)
                self.failed(f"{self.name} 出错：{e}", f"{self.name} failed: {e}")


@dataclass
class DriverSet:
    """The hall's drivers, fed from the controller's committed events."""

    drivers: list[Driver] = field(default_factory=list)

    def offer(self, records: list[Record]) -> None:
        for record in records:
            for d in self.drivers:
                d.offer(record)

    def reports(self) -> list[DeviceReport]:
        return [d.report for d in self.drivers]
