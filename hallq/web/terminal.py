"""The window terminal (窗口终端, `/window/{n}`) and the evaluator page (评价器, `/evaluate/{n}`).

Both pages are clients of the command API and the feed. Two small read-only endpoints give
them what the hall view does not carry:

- `GET /api/windows/{n}/queue`: the tickets waiting for window n in the order the window
  would call them (its tiers in turn, priority classes with the anti-starvation rule,
  appointments whose slot has begun, queue order), the counts per service, the missed
  tickets it may reinstate, and the no-show rules the buttons follow.
- `GET /api/windows/{n}/evaluation`: the ticket just finished at window n that the evaluator
  should offer, if it is not yet evaluated and still within the offer time.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hallq.controller.api import json_response, openapi_key, writer_key
from hallq.controller.views import ticket_view
from hallq.errors import NotFound
from hallq.hall.config import HallConfig, Window
from hallq.hall.engine import Engine
from hallq.hall.policy import SortKey, sort_key
from hallq.hall.state import NORMAL_RANK, Ticket
from hallq.web.pages import CSP, page

QUEUE_SHOWN = 200  # a terminal lists this many; the total is given as well
MISSED_SHOWN = 50
# The evaluator offers a finished ticket for this long (or the hall's evaluation window, if
# shorter): long enough to answer at the counter, short enough that the tablet is idle again
# before the next citizen sits down (call-next finishes the last ticket and calls at once).
OFFER_MINUTES = 3.0


# ---------------------------------------------------------------- calling order


def calling_order(
    engine: Engine, tiers: list[list[str]], priority_streak: int, now: float
) -> list[tuple[int, Ticket]]:
    """The waiting tickets of these tiers as (tier index, ticket), in the order a window
    with these tiers would call them if nobody else called and nobody new arrived.

    It replays `policy.choose_next` call by call: the first tier with anyone waiting; in it
    the smallest sort key, except that after `max_priority_in_row` priority calls in a row
    the first normal ticket goes first.
    """
    limit = engine.config.queue.max_priority_in_row
    tickets = engine.state.tickets
    seen: set[str] = set()
    streak = priority_streak
    out: list[tuple[int, Ticket]] = []
    for index, tier in enumerate(tiers):
        codes = [code for code in tier if code not in seen]
        seen.update(codes)
        keyed: list[tuple[SortKey, Ticket]] = []
        for code in codes:
            for tid in engine.waiting.get(code, {}):
                t = tickets[tid]
                keyed.append((sort_key(t, engine.rank(t), now), t))
        keyed.sort(key=lambda pair: pair[0])
        normal = [pair for pair in keyed if pair[0][0] == NORMAL_RANK]
        priority = [pair for pair in keyed if pair[0][0] != NORMAL_RANK]
        i = j = 0  # heads of the priority and normal lists
        while i < len(priority) or j < len(normal):
            take_priority = j >= len(normal) or (
                i < len(priority) and priority[i][0] < normal[j][0] and streak < limit
            )
            if take_priority:
                out.append((index, priority[i][1]))
                i += 1
                streak += 1
            else:
                out.append((index, normal[j][1]))
                j += 1
                streak = 0
    return out


def _window(cfg: HallConfig, raw: str) -> Window:
    number = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 3 else None
    w = cfg.window(number) if number is not None else None
    if w is None:
        known = ", ".join(str(x.number) for x in cfg.windows)
        raise NotFound("window_not_found", f"没有 {raw} 号窗口 / No window {raw}; windows: {known}")
    return w


def _served(w: Window) -> list[str]:
    return [code for tier in w.tiers for code in tier]


def window_queue(engine: Engine, w: Window, now: float) -> dict[str, Any]:
    """What waits for window `w`, in calling order, and what it may reinstate."""
    cfg, st = engine.config, engine.state
    ws = engine.window_state(w.number)
    order = calling_order(engine, w.tiers, ws.priority_streak, now)
    queue = []
    for place, (tier_index, t) in enumerate(order[:QUEUE_SHOWN], start=1):
        item = ticket_view(t)  # no wait estimates: they cost, and staff see the time waited
        item["place"], item["tier"] = place, tier_index + 1
        queue.append(item)
    services = []
    for tier_index, codes in enumerate(w.tiers):
        for code in codes:
            services.append(
                {"code": code, "tier": tier_index + 1, "waiting": len(engine.waiting.get(code, {}))}
            )
    rules = cfg.no_show
    served = set(_served(w))
    missed = sorted(
        (
            t
            for t in st.tickets.values()
            if t.status == "no_show" and (t.window == w.number or t.service in served)
        ),
        key=lambda t: (t.no_show_at or 0.0, t.id),
        reverse=True,
    )
    return {
        "seq": st.seq,
        "now": now,
        "window": w.number,
        "queue": queue,
        "queue_total": len(order),
        "services": services,
        "missed": [
            _missed_view(t, now, rules.grace_minutes, rules.max_reinstatements)
            for t in missed[:MISSED_SHOWN]
        ],
        "rules": {
            "recalls_before_no_show": rules.recalls_before_no_show,
            "grace_minutes": rules.grace_minutes,
            "reinstate_places_back": rules.reinstate_places_back,
            "max_reinstatements": rules.max_reinstatements,
        },
    }


def _missed_view(t: Ticket, now: float, grace_minutes: int, max_times: int) -> dict[str, Any]:
    out = ticket_view(t)
    until = (t.no_show_at or now) + grace_minutes * 60
    out["no_show_at"] = t.no_show_at
    out["reinstate_until"] = until
    if t.reinstatements >= max_times:
        out["reinstatable"], out["why_not"] = False, "reinstate_limit"
    elif now > until:
        out["reinstatable"], out["why_not"] = False, "grace_expired"
    else:
        out["reinstatable"], out["why_not"] = True, None
    return out


def evaluation_offer(engine: Engine, w: Window, now: float) -> dict[str, Any]:
    """The ticket the evaluator at window `w` should ask about now, if any."""
    cfg, st = engine.config, engine.state
    ws = engine.window_state(w.number)
    minutes = min(float(cfg.evaluation.window_minutes), OFFER_MINUTES)
    offer = None
    t = st.tickets.get(ws.last_finished) if ws.last_finished is not None else None
    if t is not None and t.status == "done" and t.evaluation is None and t.finished_at:
        until = t.finished_at + minutes * 60
        if now < until:
            offer = {
                "ticket": t.id,
                "number": t.display,
                "service": t.service,
                "finished_at": t.finished_at,
                "until": until,
                "staff": t.staff,
            }
    return {
        "seq": st.seq,
        "now": now,
        "window": w.number,
        "offer_minutes": minutes,
        "offer": offer,
    }


# ---------------------------------------------------------------- handlers


async def get_queue(request: web.Request) -> web.Response:
    writer = request.app[writer_key]
    await writer.settled()
    w = _window(writer.engine.config, request.match_info["window"])
    return json_response(window_queue(writer.engine, w, writer.clock()))


async def get_evaluation(request: web.Request) -> web.Response:
    writer = request.app[writer_key]
    await writer.settled()
    w = _window(writer.engine.config, request.match_info["window"])
    return json_response(evaluation_offer(writer.engine, w, writer.clock()))


def _no_window_page(cfg: HallConfig, raw: str, area: str) -> web.Response:
    """A plain page naming the windows there are, for a mistyped address."""
    links = "".join(
        f'<li><a href="/{area}/{w.number}">{w.number} {html.escape(w.label)}</a></li>'
        for w in cfg.windows
    )
    zh, en = ("窗口终端", "Window terminal") if area == "window" else ("评价器", "Evaluator")
    shown = html.escape(raw)
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{zh} / {en}</title>"
        '<link rel="stylesheet" href="/static/common/base.css">'
        '<link rel="stylesheet" href="/static/window/missing.css"></head>'
        f'<body><main class="missing"><h1>没有 {shown} 号窗口</h1>'
        f'<p class="en">No window {shown} in this hall.</p>'
        f'<p>{zh}：请选择窗口<br><span class="en">{en}: choose a window</span></p>'
        f"<ul>{links}</ul>"
        '<p><a href="/">返回首页 / Home</a></p></main></body></html>'
    )
    response = web.Response(text=body, status=404, content_type="text/html", charset="utf-8")
    response.headers.update({"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})
    return response


def _page_handler(area: str, file: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        cfg = request.app[writer_key].engine.config
        raw = request.match_info["window"]
        try:
            _window(cfg, raw)
        except NotFound:
            return _no_window_page(cfg, raw, area)
        return page(file)

    handle.__name__ = f"{area}_page"
    return handle


def add_routes(app: web.Application) -> None:
    """Add the terminal's and the evaluator's pages and endpoints to the controller's app."""
    app.router.add_get("/window/{window}", _page_handler("window", "window/index.html"))
    app.router.add_get("/evaluate/{window}", _page_handler("evaluate", "evaluate/index.html"))
    app.router.add_get("/api/windows/{window}/queue", get_queue)
    app.router.add_get("/api/windows/{window}/evaluation", get_evaluation)
    if openapi_key in app:
        paths = app[openapi_key]["paths"]
        paths["/api/windows/{window}/queue"] = _openapi_get(
            "getWindowQueue",
            "What waits for this window, in the order it would call it, and today's missed tickets",
        )
        paths["/api/windows/{window}/evaluation"] = _openapi_get(
            "getWindowEvaluation",
            "The ticket just finished at this window, if it can still be evaluated",
        )


def _openapi_get(operation_id: str, summary: str) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "get": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [
                {"name": "window", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "responses": {
                "200": {
                    "description": "found",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "404": {"description": "no such window", "content": error},
            },
        }
    }
