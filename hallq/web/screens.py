"""Hall screens (显示屏): the page a TV or Pi shows full-screen at /screen/{id}, and what the
LED boards (条屏) show now, for the screens' LED view (GET /api/boards).

The page is one static file for every screen: it reads the screen's settings (layout, windows,
services, theme, language, hours) from the hall view's `screens` list over the feed, so a
settings change reaches a screen live and a screen configured after its TV was switched on
lights up by itself. docs/SCREENS.md describes the layouts and settings.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hallq.controller.api import drivers_key, json_response, openapi_key
from hallq.drivers.led import LedBus, SerialBoards, SimulatedBoards
from hallq.drivers.ledtext import columns
from hallq.web.pages import page

SCREEN_PAGE = "screen/screen.html"


async def screen_page(request: web.Request) -> web.FileResponse:
    """Every screen id gets the page: it shows the configured layout, or says the id is unknown."""
    return page(SCREEN_PAGE)


async def screens_index(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/screen/")


def bus_view(bus: LedBus) -> dict[str, Any]:
    """One LED bus as the LED view draws it: its boards and the text the driver last sent each.

    `LedBus.shown` holds what each board was last sent successfully (by address); a board
    missing from it has not been written yet (the bus is starting, or it never answered).
    """
    link = bus.link
    health = bus.report.health
    boards = []
    for b in bus.boards:
        known = b.address in bus.shown
        text = bus.shown.get(b.address, "")
        boards.append(
            {
                "address": b.address,
                "window": b.window,
                "kind": "hall" if b.is_hall_board else "window",
                "width": b.width,
                "text": text,
                "columns": columns(text),
                "known": known,
            }
        )
    return {
        "name": bus.name,
        "framing": bus.framing.name,
        "language": bus.language,
        "port": link.url if isinstance(link, SerialBoards) else "sim",
        "simulated": isinstance(link, SimulatedBoards),
        "status": health.status,
        "reason": health.reason,
        "reason_en": health.reason_en,
        "last_seen": bus.report.last_seen,
        "boards": boards,
    }


async def get_boards(request: web.Request) -> web.Response:
    """GET /api/boards: every LED bus, its boards and the text each shows now."""
    buses = [bus_view(d) for d in request.app[drivers_key].drivers if isinstance(d, LedBus)]
    return json_response({"buses": buses})


def add_routes(app: web.Application) -> None:
    """The screens' page and the LED boards' endpoint."""
    app.router.add_get("/screen", screens_index)
    app.router.add_get("/screen/", screen_page)
    app.router.add_get("/screen/{id}", screen_page)
    app.router.add_get("/api/boards", get_boards)
    if openapi_key in app:
        app[openapi_key]["paths"]["/api/boards"] = {
            "get": {
                "operationId": "getBoards",
                "summary": "What each LED board shows now (the screens' LED view)",
                "responses": {
                    "200": {
                        "description": "every LED bus and its boards' texts",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        }
