"""The halls as a hall manager or the city sees them: the overview of every hall, one hall's
page, and its charts; a hall manager sees only their own hall (`hall_scope`), another hall
is a 404 (its existence is not told)."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from hallq.central import queries
from hallq.central.accounts import hall_scope
from hallq.central.web_request import db_of, now_of
from hallq.central.web_session import current
from hallq.webguard import json_response


async def list_visible_halls(request: web.Request) -> web.StreamResponse:
    return json_response(
        {"halls": await queries.visible_halls(db_of(request), hall_scope(current(request)))}
    )


async def overview(request: web.Request) -> web.StreamResponse:
    now = now_of(request)
    rows = await queries.overview(db_of(request), hall_scope(current(request)), now)
    return json_response(
        {"now": now, "offline_after_seconds": queries.OFFLINE_AFTER_SECONDS, "halls": rows}
    )


async def hall_detail(request: web.Request) -> web.StreamResponse:
    data = await queries.hall_detail(
        db_of(request), request.match_info["hall_id"], hall_scope(current(request)), now_of(request)
    )
    return json_response(data)


def _period(request: web.Request, zone_today: dt.date) -> tuple[dt.date, dt.date]:
    q = request.query
    start = queries.parse_day(q["from"], "from") if q.get("from") else zone_today
    end = queries.parse_day(q["to"], "to") if q.get("to") else start
    return start, end


async def hall_charts(request: web.Request) -> web.StreamResponse:
    hall_id = request.match_info["hall_id"]
    scope = hall_scope(current(request))
    row = await queries.hall_row(db_of(request), hall_id, scope)
    names = (await queries.names_of(db_of(request), [row]))[hall_id]
    today = dt.date.fromisoformat(queries.local_day(names.zone, now_of(request)))
    start, end = _period(request, today)
    return json_response(await queries.hall_charts(db_of(request), hall_id, scope, start, end))
