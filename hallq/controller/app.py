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

from hallq.controller.accounts import Accounts
from hallq.controller.api import (
    accounts_key,
    add_routes,
    bus_key,
    config_file_key,
    drivers_key,
    errors_middleware,
    openapi_key,
    reader_key,
    writer_key,
)
from hallq.controller.bus import EventBus, Notice
from hallq.controller.config_file import ConfigFile, fingerprint
from hallq.controller.openapi import build_openapi
from hallq.controller.power import add_power_routes, led_power
from hallq.controller.store import EventLog
from hallq.controller.uplink import Uplink, add_uplink_routes, uplink_key
from hallq.controller.views import boards_view
from hallq.controller.watchdog import watch
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DeviceReport, DriverSet
from hallq.drivers.factory import build_drivers
from hallq.drivers.led import LedBus
from hallq.drivers.pi_health import PiMonitor, day_rollover
from hallq.drivers.voice import CallerVoice
from hallq.errors import CommandRejected, ConfigError
from hallq.hall.commands import ChangeConfig, ReportDeviceHealth, Tick
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.engine import Engine
from hallq.hall.events import ConfigChanged, Record
from hallq.hall.schedule import business_day, local_now
from hallq.hall.state import HallState
from hallq.web import add_web_routes

log = logging.getLogger("hallq.controller")

CONFIG_BODY_MAX = 1024 * 1024
TICK_SECONDS = 30.0  # how often the clock checks for a new business day


def create_app(
    config: HallConfig,
    data_dir: str | Path,
    clock: Callable[[], float] = time.time,
    freeze_gc: bool = False,
    drivers: DriverSet | None = None,
    config_path: str | Path | None = None,
) -> web.Application:
    """The controller for one hall, keeping its event log in `data_dir`.

    `freeze_gc` (for the real process, not tests that build many apps): after the state is
    loaded, move everything that exists into the collector's permanent generation, so that
    full collections during the day do not walk the start-up objects and pause the calls.

    `config_path`: the file `config` was read from; configuration changes made through the
    controller (the admin page) are saved there. None: they live in the log only.
    """
    # Commands are held to 64 KiB by the API itself; the admin page's configuration saves
    # and imports of a large hall (60+ windows, LED and keypad tables) need more.
    app = web.Application(middlewares=[errors_middleware], client_max_size=CONFIG_BODY_MAX)
    data = Path(data_dir)
    bus = EventBus()
    writer = HallWriter(Engine(config), EventLog(data / "events.sqlite3"), bus, clock)
    app[writer_key] = writer
    app[bus_key] = bus
    app[accounts_key] = Accounts(data / "accounts.sqlite3", clock)
    config_file = ConfigFile(config_path, data)
    app[config_file_key] = config_file
    uplink = Uplink(writer, data)  # ships the log to the central server ([uplink])
    app[uplink_key] = uplink

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
    writer.roll_day = day_rollover(devices.drivers)  # held while the clock is not set
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
        await _reconcile_config(writer, config_file)
        await uplink.start()
        saver = _ConfigSaver(writer, config_file, devices)
        writer.listeners.append(saver.offer)
        if app[accounts_key].needs_setup():
            log.warning(
                "no admin yet: open /admin and give this set-up code: %s",
                app[accounts_key].setup_code(),
            )
        ticker = asyncio.create_task(_day_clock(writer), name="hallq-day-clock")
        reporting = _HealthReporter(writer)
        for driver in devices.drivers:
            driver.on_health(reporting.report)
            if isinstance(driver, CallerVoice):
                driver.on_speaking(_speaking_notice(bus))
            await driver.start()
        writer.listeners.append(devices.offer)
        voices = [d for d in devices.drivers if isinstance(d, CallerVoice)]
        scheduler = asyncio.create_task(_broadcast_schedule(writer, voices))
        buses = [d for d in devices.drivers if isinstance(d, LedBus)]
        led_dark = asyncio.create_task(led_power(writer, buses), name="hallq-led-power")
        yield
        await uplink.stop()
        scheduler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await scheduler
        led_dark.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await led_dark
        writer.listeners.remove(devices.offer)
        for driver in devices.drivers:
            await driver.stop()
        await reporting.drain()
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
        writer.listeners.remove(saver.offer)
        await saver.drain()
        bus.close()
        await writer.stop()
        writer.log.close()
        app[reader_key].close()
        app[accounts_key].close()

    app.cleanup_ctx.append(lifecycle)
    watch(app, writer)  # systemd: ready, watchdog, stopping (after `lifecycle`: stops first)
    add_routes(app)
    add_power_routes(app)
    add_uplink_routes(app)
    add_web_routes(app)
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


async def _broadcast_schedule(writer: HallWriter, voices: list[CallerVoice]) -> None:
    """Say each scheduled broadcast once, at its time, on the days the hall is open."""
    if not voices:
        return
    said: set[tuple[str, str, str]] = set()
    while True:
        config = writer.engine.config  # the admin page may change the schedule at any time
        local = local_now(config, writer.clock())
        today = local.date()
        schedule = config.voice.schedule if config.voice is not None else []
        workday = writer.engine.timetable.is_workday(today)
        for item in schedule:
            said_today = item.date == today.isoformat() if item.date else workday
            if not said_today:
                continue
            due = datetime.combine(today, clock_time.fromisoformat(item.at), config.zone)
            key = (today.isoformat(), item.at, item.text)
            # Said in the minute after its time: a controller started later does not
            # say the morning's notices in the afternoon.
            if key not in said and due <= local < due + timedelta(minutes=1):
                said.add(key)
                for voice in voices:
                    voice.broadcast(item.text, item.repeats)
        await asyncio.sleep(SCHEDULE_SECONDS)


async def _day_clock(writer: HallWriter) -> None:
    """Start the new business day promptly at midnight, not only on the first command."""
    held = False
    while True:
        day = writer.engine.state.day
        config = writer.engine.config
        # Forwards only, as the engine: a clock stepped back must not send a tick every time.
        due = day is None or business_day(config, writer.clock()).isoformat() > day
        # While the clock is not set (device pi-clock) the new day waits: no tick, one line.
        hold = due and day is not None and not writer.roll_day()
        if hold != held:
            held = hold
            log.warning(
                "new business day %s", "held until NTP sets the clock" if hold else "no longer held"
            )
        if due and not hold:
            try:
                await writer.submit(Tick(request_id=f"tick-{uuid.uuid4()}"))
            except CommandRejected as e:  # storage trouble: try again next tick
                log.warning("day clock: %s", e.message)
        await asyncio.sleep(TICK_SECONDS)


async def _reconcile_config(writer: HallWriter, file: ConfigFile) -> None:
    """Bring the configuration file and the log's last configuration change into step."""
    state = writer.engine.state
    text = await asyncio.to_thread(file.read)
    if text is None:
        return
    if not state.config_text or text == state.config_text:
        await asyncio.to_thread(file.remember, text)  # the file as it stands is in effect
        return
    if file.known() == fingerprint(text):
        # The file is what hallq last wrote, and the log has a later change: its write was
        # cut off (power cut right after the commit). Write it again.
        await asyncio.to_thread(file.save, state.config_text)
        return
    # Edited by hand since hallq last wrote it: the file wins, as a logged change.
    try:
        parse_config(text, str(file.path))
    except ConfigError as e:
        log.error("the configuration file has errors; running the last good one:\n%s", e)
        return
    try:
        await writer.submit(ChangeConfig(request_id=f"file-{uuid.uuid4()}", text=text, by="file"))
        await asyncio.to_thread(file.remember, text)
        log.info("configuration file edited by hand: its changes are now in effect")
    except CommandRejected as e:
        log.error("the edited configuration file cannot be used now: %s", e.message)


class _ConfigSaver:
    """After a committed configuration change: save the file and retune the live devices."""

    def __init__(self, writer: HallWriter, file: ConfigFile, devices: DriverSet) -> None:
        self.writer = writer
        self.file = file
        self.devices = devices
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def offer(self, records: list[Record]) -> None:
        if not any(isinstance(r.event, ConfigChanged) for r in records):
            return
        self._retune()
        if self._task is not None and not self._task.done():
            self._again = True  # one write at a time; the newest text wins
            return
        self._task = asyncio.create_task(self._save(), name="hallq-config-save")

    def _retune(self) -> None:
        for d in self.devices.drivers:
            if isinstance(d, PiMonitor):
                d.reconfigure(self.writer.engine.config.system)
        voice_cfg = self.writer.engine.config.voice
        if voice_cfg is None:
            return
        for d in self.devices.drivers:
            if isinstance(d, CallerVoice):
                d.reconfigure(
                    volume=voice_cfg.volume,
                    repeats=voice_cfg.repeats,
                    quiet_hours=voice_cfg.quiet_hours,
                    quiet_mode=voice_cfg.quiet_mode,
                )

    async def _save(self) -> None:
        while True:
            self._again = False
            text = self.writer.engine.state.config_text
            try:
                await asyncio.to_thread(self.file.save, text)
            except OSError as e:
                log.error("configuration not saved to %s: %s (the log has it)", self.file.path, e)
            if not self._again:
                return

    async def drain(self) -> None:
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
