"""Bad-review follow-up (回访): the cases of the halls a session may see, who may own one,
and a case's owner, status and note (hallq.central.cases)."""

from __future__ import annotations

from aiohttp import web

from hallq.central import cases, queries
from hallq.central.accounts import hall_scope
from hallq.central.web_request import db_of, int_param, now_of, read_json
from hallq.central.web_session import current
from hallq.errors import BadRequest
from hallq.webguard import json_response


async def list_cases(request: web.Request) -> web.StreamResponse:
    q = request.query
    overdue = q.get("overdue", "")
    if overdue not in ("", "0", "1", "true", "false"):
        raise BadRequest("bad_request", "overdue 须为 1 或 0 / overdue must be 1 or 0")
    data = await cases.list_cases(
        db_of(request),
        hall_scope(current(request)),
        now_of(request),
        status=q.get("status", ""),
        hall=q.get("hall", ""),
        overdue=overdue in ("1", "true"),
        limit=int_param(request, "limit", 100),
        offset=int_param(request, "offset", 0),
    )
    return json_response(data)


async def case_owners(request: web.Request) -> web.StreamResponse:
    hall_id = request.match_info["hall_id"]
    await queries.hall_row(db_of(request), hall_id, hall_scope(current(request)))
    return json_response({"owners": await cases.owners(db_of(request), hall_id)})


async def update_case(request: web.Request) -> web.StreamResponse:
    session = current(request)
    body = await read_json(request)
    case = await cases.update_case(
        db_of(request),
        hall_scope(session),
        request.match_info["hall_id"],
        request.match_info["case_no"],
        body,
        session.username,
        now_of(request),
    )
    return json_response(case)
