"""The controller's aiohttp application: one factory, every task owned by its lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from hallq.controller.api import (
    add_routes,
    bus_key,
    errors_middleware,
    openapi_key,
    reader_key,
    writer_key,
)
from hallq.controller.bus import EventBus
from hallq.controller.openapi import build_openapi
from hallq.controller.store import EventLog
from hallq.controller.writer import HallWriter
from hallq.errors import CommandRejected
from hallq.hall.commands import Tick
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine
from hallq.hall.schedule import business_day

log = logging.getLogger("hallq.controller")

TICK_SECONDS = 30.0  # how often the clock checks for a new business day


def create_app(
    config: HallConfig,
    data_dir: str | Path,
    clock: Callable[[], float] = time.time,
    freeze_gc: bool = False,
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
        yield
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
