"""Reports over a month or a period, as JSON, CSV or XLSX (hallq.central.reports), and the
day the reporting month starts on (the one setting, changed by a city admin only)."""

from __future__ import annotations

import datetime as dt
import logging

from aiohttp import web

from hallq.central import queries, reports
from hallq.central.accounts import hall_scope
from hallq.central.web_request import db_of, now_of, only, read_json
from hallq.central.web_session import current
from hallq.errors import BadRequest
from hallq.webguard import json_response

log = logging.getLogger("hallq.central.web")


async def _report(request: web.Request) -> reports.Report:
    q = request.query
    db = db_of(request)
    start_day = await reports.month_start_day(db)
    month = q.get("month", "")
    if month and (q.get("from") or q.get("to")):
        raise BadRequest(
            "bad_period",
            "请给 month，或给 from 和 to，不要同时给 / Give month, or from and to, not both",
        )
    if month:
        start, end = reports.month_period(month, start_day)
    elif q.get("from") or q.get("to"):
        if not (q.get("from") and q.get("to")):
            raise BadRequest("bad_period", "请同时给 from 和 to / Give both from and to")
        start = queries.parse_day(q["from"], "from")
        end = queries.parse_day(q["to"], "to")
    else:
        today = dt.datetime.fromtimestamp(now_of(request), queries.hall_names("").zone).date()
        month = reports.month_of(today, start_day)
        start, end = reports.month_period(month, start_day)
    return await reports.build_report(
        db,
        hall_scope(current(request)),
        start,
        end,
        q.get("group", "hall"),
        q.get("hall") or None,
        month or None,
    )


def _lang(request: web.Request) -> str:
    lang = request.query.get("lang", "both")
    if lang not in ("zh", "en", "both"):
        raise BadRequest("bad_lang", "lang 须为 zh、en 或 both / lang must be zh, en or both")
    return lang


def _filename(report: reports.Report, ext: str) -> str:
    period = report.month or f"{report.start.isoformat()}_{report.end.isoformat()}"
    return f"hallq-report-{period}-{report.group}.{ext}"


async def report_json(request: web.Request) -> web.StreamResponse:
    report = await _report(request)
    data = report.as_json()
    data["month_start_day"] = await reports.month_start_day(db_of(request))
    return json_response(data)


async def report_csv(request: web.Request) -> web.StreamResponse:
    lang = _lang(request)
    report = await _report(request)
    return web.Response(
        body=reports.to_csv(report, lang),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "csv")}"'},
    )


async def report_xlsx(request: web.Request) -> web.StreamResponse:
    lang = _lang(request)
    report = await _report(request)
    generated = dt.datetime.fromtimestamp(now_of(request), queries.hall_names("").zone)
    return web.Response(
        body=reports.to_xlsx(report, lang, generated.strftime("%Y-%m-%d %H:%M")),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "xlsx")}"'},
    )


async def get_settings(request: web.Request) -> web.StreamResponse:
    return json_response({"month_start_day": await reports.month_start_day(db_of(request))})


async def put_settings(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "month_start_day")
    if "month_start_day" not in body:
        raise BadRequest("bad_request", "请给 month_start_day / Send month_start_day (1-28)")
    day = await reports.set_month_start_day(db_of(request), body["month_start_day"])
    log.info("month_start_day set to %s by %s", day, current(request).username)
    return json_response({"month_start_day": day})
