"""The controller's aiohttp application: one factory, every task owned by its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from aiohttp import web

from hallq.controller.api import (
    add_routes,
    bus_key,
    drivers_key,
    errors_middleware,
    openapi_key,
    reader_key,
    writer_key,
)
from hallq.controller.bus import EventBus, Notice
from hallq.controller.openapi import build_openapi
from hallq.controller.store import EventLog
from hallq.controller.views import boards_view
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DeviceReport, DriverSet
from hallq.drivers.factory import build_drivers
from hallq.drivers.voice import CallerVoice
from hallq.errors import CommandRejected
from hallq.hall.commands import ReportDeviceHealth, Tick
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine
from hallq.hall.schedule import business_day, local_now
from hallq.hall.state import HallState

log = logging.getLogger("hallq.controller")

TICK_SECONDS = 30.0  # how often the clock checks for a new business day


def create_app(
    config: HallConfig,
    data_dir: str | Path,
    clock: Callable[[], float] = time.time,
    freeze_gc: bool = False,
    drivers: DriverSet | None = None,
) -> web.Application:
    """The controller for one hall, keeping its event log in `data_dir`.

    `freeze_gc` (for the real process, not tests that build many apps): after the state is
    loaded, move everything that exists into the collector's permanent generation, so that
    full collections during the day do not walk the start-up objects and pause the calls.
    """
    app = web.Application(middlewares=[errors_middleware], client_max_size=64 * 1024)
    data = Path(data_dir)
    bus = EventBus()
    writer = HallWriter(Engine(config), EventLog(data / "events.sqlite3"), bus, clock)
    app[writer_key] = writer
    app[bus_key] = bus

    async def committed_boards() -> dict[str, Any]:
        await writer.settled()  # nothing awaited between this and the view: committed state
        return boards_view(writer.engine, writer.clock())

    async def committed_state() -> HallState:
        await writer.settled()
        return writer.engine.state

    devices = (
        drivers
        if drivers is not None
        else build_drivers(
            config,
            committed_boards,
            submit=writer.submit,
            state=committed_state,
            data_dir=data,
            clock=clock,
        )
    )
    app[drivers_key] = devices
    app[openapi_key] = build_openapi()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        report = await asyncio.to_thread(writer.load)
        log.info(
            "state rebuilt: snapshot at seq %d, %d events replayed in %.3f s",
            report.snapshot_seq,
            report.replayed,
            report.seconds,
        )
        app[reader_key] = EventLog(data / "events.sqlite3")
        if freeze_gc:
            gc.collect()
            gc.freeze()
        await writer.start()
        ticker = asyncio.create_task(_day_clock(writer, config), name="hallq-day-clock")
        reporting = _HealthReporter(writer)
        for driver in devices.drivers:
            driver.on_health(reporting.report)
            if isinstance(driver, CallerVoice):
                driver.on_speaking(_speaking_notice(bus))
            await driver.start()
        writer.listeners.append(devices.offer)
        voices = [d for d in devices.drivers if isinstance(d, CallerVoice)]
        scheduler = asyncio.create_task(_broadcast_schedule(writer, config, voices))
        yield
        scheduler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scheduler
        writer.listeners.remove(devices.offer)
        for driver in devices.drivers:
            await driver.stop()
        await reporting.drain()
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        bus.close()
        await writer.stop()
        writer.log.close()
        app[reader_key].close()

    app.cleanup_ctx.append(lifecycle)
    add_routes(app)
    return app


def _speaking_notice(bus: EventBus) -> Callable[[str | None, int | None, str], None]:
    """The voice's start and end of each call, as feed notices: a screen highlights in step."""

    def notice(ticket: str | None, window: int | None, phase: str) -> None:
        bus.notify(Notice("speaking", {"ticket": ticket, "window": window, "phase": phase}))

    return notice


class _HealthReporter:
    """Turns a driver's health change into a logged command, without blocking the driver."""

    def __init__(self, writer: HallWriter) -> None:
        self.writer = writer
        self._tasks: set[asyncio.Task[None]] = set()

    def report(self, device: DeviceReport) -> None:
        cmd = ReportDeviceHealth(
            request_id=f"health-{uuid.uuid4()}",
            device=device.device,
            kind=device.kind,
            status=device.health.status,
            reason=device.health.reason,
            reason_en=device.health.reason_en,
        )
        task = asyncio.create_task(self._submit(cmd))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _submit(self, cmd: ReportDeviceHealth) -> None:
        try:
            await self.writer.submit(cmd)
        except CommandRejected as e:  # the controller is stopping, or storage trouble
            log.warning("device health of %s not recorded: %s", cmd.device, e.message)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)


SCHEDULE_SECONDS = 15.0  # how often the broadcast schedule is looked at


async def _broadcast_schedule(
    writer: HallWriter, config: HallConfig, voices: list[CallerVoice]
) -> None:
    """Say each scheduled broadcast once, at its time, on the days the hall is open."""
    if not voices or config.voice is None or not config.voice.schedule:
        return
    said: set[tuple[str, int]] = set()
    while True:
        local = local_now(config, writer.clock())
        today = local.date()
        if writer.engine.timetable.is_workday(today):
            for i, item in enumerate(config.voice.schedule):
                due = datetime.combine(today, clock_time.fromisoformat(item.at), config.zone)
                key = (today.isoformat(), i)
                # Said in the minute after its time: a controller started later does not
                # say the morning's notices in the afternoon.
                if key not in said and due <= local < due + timedelta(minutes=1):
                    said.add(key)
                    for voice in voices:
                        voice.broadcast(item.text, item.repeats)
        await asyncio.sleep(SCHEDULE_SECONDS)


async def _day_clock(writer: HallWriter, config: HallConfig) -> None:
    """Start the new business day promptly at midnight, not only on the first command."""
    while True:
        day = writer.engine.state.day
        # Forwards only, as the engine: a clock stepped back must not send a tick every time.
        if day is None or business_day(config, writer.clock()).isoformat() > day:
            try:
                await writer.submit(Tick(request_id=f"tick-{uuid.uuid4()}"))
            except CommandRejected as e:  # storage trouble: try again next tick
                log.warning("day clock: %s", e.message)
        await asyncio.sleep(TICK_SECONDS)
