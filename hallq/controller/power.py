"""The power schedule on the controller's clock: dark LED boards outside hours, and each
screen's lit/dark answer for the display it runs on (GET /api/screens/{id}/power).

The controller is the clock of record: a screen Pi asks it when to switch its display rather
than trusting its own clock and a copy of the timetable. hallq/hall/power.py has the rule.
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime

from aiohttp import web

from hallq.controller.api import json_response, writer_key
from hallq.controller.writer import HallWriter
from hallq.drivers.led import LedBus
from hallq.errors import NotFound
from hallq.hall.config import HallConfig, Screen
from hallq.hall.power import lit, next_change

log = logging.getLogger("hallq.power")

POLL_SECONDS = 60.0  # the LED buses' schedule is looked at this often, and at each switch
SWITCH_SECONDS = 15.0  # at most this long to blank or light up one bus

_WINDOW_SCREEN = re.compile(r"^window-(\d{1,3})$")


def find_screen(config: HallConfig, screen_id: str) -> Screen | None:
    """A configured screen, or the window-top screen `window-N` of a window (as the page does)."""
    for screen in config.screens:
        if screen.id == screen_id:
            return screen
    m = _WINDOW_SCREEN.match(screen_id)
    if m and config.window(int(m.group(1))) is not None:
        return Screen(id=screen_id, layout="window-top", window=int(m.group(1)))
    return None


def _local(config: HallConfig, when: float) -> str:
    return datetime.fromtimestamp(when, config.zone).isoformat(timespec="seconds")


async def get_screen_power(request: web.Request) -> web.Response:
    """GET /api/screens/{id}/power: whether the screen is lit now, and when that changes."""
    writer = request.app[writer_key]
    await writer.settled()
    config = writer.engine.config
    screen_id = request.match_info["id"]
    screen = find_screen(config, screen_id)
    if screen is None:
        shown = screen_id[:64]
        raise NotFound(
            "screen_not_found",
            f"没有屏幕 {shown}：请在管理后台的“屏幕”页添加它 / "
            f"There is no screen {shown}: add it on the admin page (Screens)",
        )
    now = writer.clock()
    table = writer.engine.timetable
    change = next_change(config, screen, now, table)
    return json_response(
        {
            "screen": screen.id,
            "lit": lit(config, screen, now, table),
            "now": now,
            "next_change": change,
            "next_change_local": _local(config, change),
        }
    )


def add_power_routes(app: web.Application) -> None:
    """The screens' power schedule endpoint (its OpenAPI entry is in openapi.py)."""
    app.router.add_get("/api/screens/{id}/power", get_screen_power)


async def led_power(
    writer: HallWriter, buses: list[LedBus], poll_seconds: float = POLL_SECONDS
) -> None:
    """Keep each LED bus dark outside its hours: look at each switch, and every `poll_seconds`
    (the admin may change the hours, the clock may be set)."""
    if not buses:
        return
    while True:
        config = writer.engine.config
        table = writer.engine.timetable
        now = writer.clock()
        wake = now + poll_seconds
        settings = {bus.name: bus for bus in config.led_buses}
        for bus in buses:
            target = settings.get(bus.name)
            if (
                target is None
            ):  # removed from the configuration: it goes when the controller restarts
                continue
            dark = not lit(config, target, now, table)
            change = next_change(config, target, now, table)
            wake = min(wake, change)
            was = bus.dark
            try:
                async with asyncio.timeout(SWITCH_SECONDS):
                    await bus.set_dark(dark)
            except TimeoutError:
                bus.failed(
                    f"{bus.name} 按作息{'关屏' if dark else '亮屏'}超时，请检查RS-485转换器和接线",
                    f"{bus.name}: going {'dark' if dark else 'lit'} on schedule timed out; "
                    "check the RS-485 adapter and wiring",
                )
            except Exception:  # a driver bug must not end the schedule of the other buses
                log.exception("%s: power switch failed", bus.name)
            if was != bus.dark:
                log.info(
                    "%s: %s until %s",
                    bus.name,
                    "dark" if dark else "lit",
                    _local(config, change),
                )
        await asyncio.sleep(max(0.5, min(wake - writer.clock(), poll_seconds)))
