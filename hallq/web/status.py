"""The citizen's status page (/t/{code}): the ticket's QR opens it on a phone.

The page polls `GET /api/status/{code}`, which says only what the page shows: the ticket's
number, service, status, how many wait ahead of it, the estimated wait and, once called, the
window. Nothing personal (no appointment, no staff), nothing about other tickets but the
count ahead. The codes are unguessable (see hallq.controller.status_codes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web

from hallq.controller.api import json_response, openapi_key, writer_key
from hallq.controller.status_codes import StatusCodes, normalize, status_codes_key
from hallq.errors import BadRequest, NotFound
from hallq.hall.engine import Engine
from hallq.hall.policy import ranked
from hallq.hall.schedule import local_now
from hallq.hall.state import Ticket
from hallq.web.pages import page

NOT_FOUND = "号票不存在或已过期 / Ticket not found or expired"
BAD_CODE = "链接无效，请重新扫描号票上的二维码 / This link is not valid: scan the QR code on your ticket again"
PLACES_FOR_SECONDS = 10  # positions are recomputed at least this often (appointments fall due)


class _Places:
    """Every waiting ticket's place in its service's queue, kept until the hall changes.

    Many phones poll the same queues: one ranking per service and event serves them all.
    """

    def __init__(self) -> None:
        self._key: tuple[int, int] | None = None
        self._by_service: dict[str, dict[int, int]] = {}

    def ahead(self, engine: Engine, t: Ticket, now: float) -> int:
        key = (engine.state.seq, int(now // PLACES_FOR_SECONDS))
        if key != self._key:
            self._key, self._by_service = key, {}
        places = self._by_service.get(t.service)
        if places is None:
            tickets = engine.state.tickets
            order = ranked((tickets[i] for i in engine.waiting.get(t.service, {})), engine.ranks, now)
            places = self._by_service[t.service] = {q.id: n for n, q in enumerate(order)}
        return places.get(t.id, 0)


def status_view(engine: Engine, t: Ticket, now: float, places: _Places) -> dict[str, Any]:
    """What the citizen's page shows about their ticket, and nothing more."""
    cfg = engine.config
    svc = cfg.service(t.service)
    out: dict[str, Any] = {
        "number": t.display,
        "service": t.service,
        "service_name": svc.name if svc else t.service,
        "service_name_en": svc.name_en if svc else "",
        "status": t.status,
        "issued_at": t.issued_at,
        "issued_local": local_now(cfg, t.issued_at).strftime("%H:%M"),
        "ahead": None,
        "estimate_minutes": None,
        "window": None,
        "window_label": "",
        "window_label_en": "",
        "called_at": None,
        "hall_name": cfg.hall.name,
        "hall_name_en": cfg.hall.name_en,
        "now": now,
        "local_time": local_now(cfg, now).isoformat(timespec="seconds"),
        "refresh_seconds": _refresh_seconds(t.status, None),
    }
    if t.status == "waiting":
        ahead = places.ahead(engine, t, now)
        minutes = engine.forecast_ticket(t, ahead, now).minutes
        out["ahead"] = ahead
        out["estimate_minutes"] = None if minutes is None else round(minutes, 1)
        out["refresh_seconds"] = _refresh_seconds(t.status, ahead)
    elif t.status in ("called", "serving") and t.window is not None:
        w = cfg.window(t.window)
        out["window"] = t.window
        out["window_label"] = w.label if w else ""
        out["window_label_en"] = w.label_en if w else ""
        out["called_at"] = t.called_at
    return out


def _refresh_seconds(status: str, ahead: int | None) -> int | None:
    """How soon the page should ask again: often near the front, never once it is over."""
    if status == "waiting":
        return 3 if ahead is not None and ahead < 10 else 8
    if status in ("called", "serving"):
        return 3
    if status == "no_show":
        return 15  # it may be put back in the queue (过号顺延)
    return None  # done, expired, cancelled: nothing more will happen


def _code(request: web.Request) -> str:
    code = normalize(request.match_info["code"])
    if code is None:
        raise BadRequest("invalid_code", BAD_CODE)
    return code


async def _ticket(request: web.Request, code: str) -> Ticket:
    writer = request.app[writer_key]
    state = writer.engine.state
    day = state.day
    tid = await request.app[status_codes_key].find(code, day, state.tickets)
    await writer.settled()  # nothing awaited from here to the view: committed state
    t = writer.engine.state.tickets.get(tid) if tid is not None else None
    if t is None or t.day != day:  # gone, or a new day began during the look-up
        raise NotFound("ticket_not_found", NOT_FOUND)
    return t


def add_routes(app: web.Application) -> None:
    """Add this area's pages and endpoints to the controller's app."""
    data_dir = Path(app[writer_key].log.path).parent
    app[status_codes_key] = StatusCodes.in_dir(data_dir)
    places = _Places()

    async def get_status(request: web.Request) -> web.Response:
        t = await _ticket(request, _code(request))
        writer = request.app[writer_key]
        response = json_response(status_view(writer.engine, t, writer.clock(), places))
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def status_page(request: web.Request) -> web.FileResponse:
        # The same page in every case; its script shows the ticket or says what is wrong.
        response = page("status/status.html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex"
        code = normalize(request.match_info["code"])
        if code is None:
            response.set_status(400)
        else:
            try:
                await _ticket(request, code)
            except NotFound:
                response.set_status(404)
        return response

    app.router.add_get("/t/{code}", status_page)
    app.router.add_get("/api/status/{code}", get_status)
    if openapi_key in app:
        app[openapi_key]["paths"]["/api/status/{code}"] = OPENAPI_PATH


_STATUS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["number", "service", "status", "ahead", "estimate_minutes", "window"],
    "additionalProperties": False,
    "properties": {
        "number": {"type": "string"},
        "service": {"type": "string"},
        "service_name": {"type": "string"},
        "service_name_en": {"type": "string"},
        "status": {
            "type": "string",
            "enum": ["waiting", "called", "serving", "done", "no_show", "expired", "cancelled"],
        },
        "issued_at": {"type": "number"},
        "issued_local": {"type": "string", "description": "HH:MM, the hall's time"},
        "ahead": {"type": ["integer", "null"], "description": "tickets before it (waiting)"},
        "estimate_minutes": {"type": ["number", "null"]},
        "window": {"type": ["integer", "null"], "description": "where to go (called, serving)"},
        "window_label": {"type": "string"},
        "window_label_en": {"type": "string"},
        "called_at": {"type": ["number", "null"]},
        "hall_name": {"type": "string"},
        "hall_name_en": {"type": "string"},
        "now": {"type": "number"},
        "local_time": {"type": "string"},
        "refresh_seconds": {
            "type": ["integer", "null"],
            "description": "when to ask again; null: the ticket is finished",
        },
    },
}

_ERROR_REF = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

OPENAPI_PATH: dict[str, Any] = {
    "get": {
        "operationId": "getTicketStatus",
        "summary": "The citizen's view of a ticket, by the code in its QR (/t/{code})",
        "parameters": [
            {
                "name": "code",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": "^[A-Za-z2-7]{16}$"},
                "description": "16 letters A-Z and digits 2-7 (either case)",
            }
        ],
        "responses": {
            "200": {
                "description": "the ticket's status",
                "content": {"application/json": {"schema": _STATUS_SCHEMA}},
            },
            "400": {"description": "not a status code", "content": _ERROR_REF},
            "404": {"description": "no such ticket today", "content": _ERROR_REF},
        },
    }
}
