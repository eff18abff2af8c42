"""What people read: sign-in, the halls at a glance, a hall's page, reports, 回访 and admin.

Pages are static HTML and ES modules (hallq/central/static; the controller's shared library
hallq/web/static/common at /static/common/), each with a JSON API behind it:

- a session cookie (`hallq_central`: random, HttpOnly, SameSite=Strict) made at login and
  kept in the database (hallq.central.accounts), so any server process knows it;
- every write (POST, PUT, PATCH, DELETE) carries the session's CSRF token in `X-CSRF-Token`,
  and an `Origin`, when sent, must be this server; login and set-up use a pre-session token
  (double submit), as the controller's admin page does;
- the API answers 401 (not logged in) or 403 (not allowed) in JSON; a page without a session
  redirects to /login;
- a hall manager sees only their own hall: every route passes `hall_scope(session)` down, and
  another hall is a 404 (its existence is not told).
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import msgspec
from aiohttp import web

from hallq.central import accounts, cases, halls, queries, reports
from hallq.central.accounts import LoginRefused, Session, hall_scope
from hallq.central.app import clock_key, db_key, error_response, json_response
from hallq.central.db import Database
from hallq.errors import BadRequest, CommandRejected, NotFound

log = logging.getLogger("hallq.central.web")

STATIC = Path(__file__).parent / "static"
COMMON = Path(__file__).parent.parent / "web" / "static" / "common"

SESSION_COOKIE = "hallq_central"
PRE_COOKIE = "hallq_central_pre"  # the login form's anti-CSRF token, before there is a session
CSRF_HEADER = "X-CSRF-Token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
BODY_MAX = 64 * 1024

# Nothing from the internet: scripts, styles and data only from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", bound=web.StreamResponse)
session_key = web.RequestKey("central_session", Session)


# ---------------------------------------------------------------- small helpers


def _db(request: web.Request) -> Database:
    return request.app[db_key]


def _now(request: web.Request) -> float:
    return float(request.app[clock_key]())


def _forbidden(code: str, message: str) -> CommandRejected:
    return CommandRejected(code, message, 403)


def current(request: web.Request) -> Session:
    return request[session_key]


async def read_json(request: web.Request) -> dict[str, Any]:
    if request.content_length is not None and request.content_length > BODY_MAX:
        raise BadRequest("body_too_large", f"the request body is over {BODY_MAX} bytes")
    raw = await request.content.read(BODY_MAX + 1)
    if len(raw) > BODY_MAX:
        raise BadRequest("body_too_large", f"the request body is over {BODY_MAX} bytes")
    if not raw.strip():
        return {}
    try:
        body = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError) as e:
        raise BadRequest("invalid_json", f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", "the body must be a JSON object {...}")
    return body


def only(body: dict[str, Any], *allowed: str) -> None:
    """Refuse fields the endpoint does not know (a typo must not pass silently)."""
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise BadRequest(
            "bad_request",
            f"未知字段 {', '.join(unknown)} / unknown fields {', '.join(unknown)}; "
            f"this takes {', '.join(allowed)}",
        )


def text(body: dict[str, Any], name: str, limit: int = 200, required: bool = False) -> str:
    value = body.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise BadRequest("bad_request", f"{name} 须为文本 / {name} must be text")
    if len(value) > limit:
        raise BadRequest(
            "bad_request", f"{name} 最多 {limit} 个字符 / {name} is at most {limit} characters"
        )
    if required and not value.strip():
        raise BadRequest("bad_request", f"请填写 {name} / {name} is required")
    return value


def _no_store(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Cache-Control"] = "no-store"
    return response


# ---------------------------------------------------------------- origin, CSRF, cookies


def check_origin(request: web.Request) -> None:
    """Refuse a request another site's page made the browser send."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        raise _forbidden(
            "cross_site", "拒绝来自其他网站的请求 / Refused: the request came from another site"
        )
    origin = request.headers.get("Origin")
    if origin is None:
        return
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    if not netloc or netloc.lower() != request.host.lower():
        raise _forbidden(
            "bad_origin",
            f"拒绝来自 {origin} 的请求 / Refused: the request came from {origin}, not this server",
        )


def check_csrf(request: web.Request, expected: str) -> None:
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        raise _forbidden(
            "csrf_missing",
            "缺少安全令牌，请刷新页面后重试 / The CSRF token is missing: reload the page and try again",
        )
    if not secrets.compare_digest(sent.encode(), expected.encode()):
        raise _forbidden(
            "csrf_failed",
            "安全令牌不对，请刷新页面后重试 / Wrong CSRF token: reload the page and try again",
        )


def _cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def set_session_cookie(
    response: web.StreamResponse, request: web.Request, session: Session
) -> None:
    max_age = max(1, math.ceil(session.expires - _now(request)))
    _cookie(response, request, SESSION_COOKIE, session.token, max_age)


async def _session_of(request: web.Request) -> Session | None:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        return None
    return await accounts.session(_db(request), token, _now(request))


async def _require_session(request: web.Request) -> Session:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise CommandRejected("login_required", "请先登录 / Log in first", 401)
    session = await accounts.session(_db(request), token, _now(request))
    if session is None:
        raise CommandRejected(
            "session_expired",
            "登录已过期，请重新登录 / Your session has expired: log in again",
            401,
        )
    return session


def _admin_only() -> CommandRejected:
    return _forbidden("admin_only", "仅市级管理员可以操作 / Only a city admin may do this")


def api(handler: Handler, admin: bool = False) -> Handler:
    """`handler` behind the session, the role and (for writes) CSRF and origin checks."""

    async def run(request: web.Request) -> web.StreamResponse:
        write = request.method in WRITE_METHODS
        if write or request.headers.get("Origin"):
            check_origin(request)
        session = await _require_session(request)
        if write:
            check_csrf(request, session.csrf)
        if admin and not session.is_city_admin:
            raise _admin_only()
        request[session_key] = session
        response = await handler(request)
        set_session_cookie(response, request, session)
        return _no_store(response)

    run.__name__ = handler.__name__
    return run


# ---------------------------------------------------------------- pages


def _html_headers(response: R) -> R:
    response.headers.update(
        {
            "Cache-Control": "no-store",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        }
    )
    return response


def _file(name: str) -> web.StreamResponse:
    response = web.FileResponse(STATIC / name)
    response.content_type = "text/html"
    response.charset = "utf-8"
    return _html_headers(response)


def _message_page(status: int, zh: str, en: str) -> web.Response:
    """A small page for 403/404 on a page route (the API answers JSON)."""
    body = (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status}</title>"
        '<link rel="stylesheet" href="/static/central/central.css"></head>'
        '<body class="central"><main class="message-page">'
        f"<h1>{html.escape(zh)}</h1><p>{html.escape(en)}</p>"
        '<p><a href="/">返回总览 / Back to the overview</a></p></main></body></html>'
    )
    return _html_headers(web.Response(text=body, status=status, content_type="text/html"))


def _login_redirect(request: web.Request) -> web.HTTPFound:
    target = request.path_qs
    return web.HTTPFound("/login" + (f"?next={quote(target, safe='')}" if target != "/" else ""))


def page(name: str, admin: bool = False) -> Handler:
    """A page behind the session: no session → /login; not allowed → a 403 page."""

    async def run(request: web.Request) -> web.StreamResponse:
        session = await _session_of(request)
        if session is None:
            raise _login_redirect(request)
        if admin and not session.is_city_admin:
            return _message_page(
                403, "仅市级管理员可以打开此页", "Only a city admin may open this page."
            )
        response = _file(name)
        set_session_cookie(response, request, session)
        return response

    run.__name__ = f"page_{name.split('.')[0]}"
    return run


async def overview_page(request: web.Request) -> web.StreamResponse:
    session = await _session_of(request)
    if session is None:
        raise _login_redirect(request)
    if not session.is_city_admin:  # a hall manager has one hall: go straight to it
        if not session.hall_id:
            return _message_page(403, "此账号未指定大厅", "This account has no hall.")
        raise web.HTTPFound(f"/halls/{quote(session.hall_id, safe='')}")
    response = _file("overview.html")
    set_session_cookie(response, request, session)
    return response


async def hall_page(request: web.Request) -> web.StreamResponse:
    session = await _session_of(request)
    if session is None:
        raise _login_redirect(request)
    hall_id = request.match_info["hall_id"]
    try:
        await queries.hall_row(_db(request), hall_id, hall_scope(session))
    except NotFound:
        return _message_page(404, f"没有大厅 {hall_id}", f"No hall {hall_id}.")
    response = _file("hall.html")
    set_session_cookie(response, request, session)
    return response


def _safe_next(raw: str) -> str:
    """Only a path on this server (never //other.site or a scheme)."""
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def gate_page(request: web.Request) -> web.StreamResponse:
    """/login and /setup: one page; it asks the API which form to show."""
    db = _db(request)
    setup = await accounts.needs_setup(db)
    if request.path == "/setup" and not setup:
        raise web.HTTPFound("/login")
    if request.path == "/login" and setup:
        raise web.HTTPFound("/setup")
    if not setup and await _session_of(request) is not None:
        raise web.HTTPFound(_safe_next(request.query.get("next", "/")))
    return _file("gate.html")


async def favicon(request: web.Request) -> web.Response:
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


# ---------------------------------------------------------------- session endpoints


def _session_json(session: Session, request: web.Request) -> dict[str, Any]:
    return {
        "state": "ok",
        "username": session.username,
        "display_name": session.display_name,
        "role": session.role,
        "hall_id": session.hall_id,
        "csrf": session.csrf,
        "expires": session.expires,
        "now": _now(request),
        "idle_seconds": accounts.SESSION_IDLE_SECONDS,
    }


def _pre_token(request: web.Request) -> str:
    token = request.cookies.get(PRE_COOKIE, "")
    return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)


def _check_pre_token(request: web.Request) -> None:
    cookie = request.cookies.get(PRE_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not cookie or not sent:
        raise _forbidden(
            "csrf_missing",
            "页面已过期，请刷新后再登录 / The page is out of date: reload it and log in again",
        )
    if not secrets.compare_digest(cookie.encode(), sent.encode()):
        raise _forbidden(
            "csrf_failed",
            "安全令牌不对，请刷新后再登录 / Wrong CSRF token: reload the page and log in again",
        )


async def get_session(request: web.Request) -> web.StreamResponse:
    """Where the page stands: "setup" (no user yet), "login", or "ok" with the CSRF token."""
    db = _db(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    session: Session | None = None
    pre = ""
    if await accounts.needs_setup(db):
        pre = _pre_token(request)
        body: dict[str, Any] = {"state": "setup", "token": pre}
    else:
        session = await _session_of(request)
        if session is not None:
            body = _session_json(session, request)
        else:
            pre = _pre_token(request)
            body = {"state": "login", "token": pre, "expired": bool(cookie)}
    response = json_response(body)
    if session is not None:
        set_session_cookie(response, request, session)
    else:
        _cookie(response, request, PRE_COOKIE, pre, 2 * 3600)
        if cookie:
            response.del_cookie(SESSION_COOKIE, path="/")
    return _no_store(response)


def _logged_in(request: web.Request, session: Session) -> web.StreamResponse:
    response = json_response(_session_json(session, request))
    set_session_cookie(response, request, session)
    response.del_cookie(PRE_COOKIE, path="/")
    return _no_store(response)


def _refused(e: LoginRefused) -> web.StreamResponse:
    response = error_response(e.code, e.message, e.status)
    if e.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
    return _no_store(response)


async def login(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    _check_pre_token(request)
    body = await read_json(request)
    only(body, "username", "password")
    username = text(body, "username", 64)
    password = text(body, "password", 200)
    if not username.strip() or not password:
        raise BadRequest("bad_request", "请输入用户名和密码 / Enter your user name and password")
    try:
        session = await accounts.login(_db(request), username, password, _now(request))
    except LoginRefused as e:
        return _refused(e)
    return _logged_in(request, session)


async def setup(request: web.Request) -> web.StreamResponse:
    """The first city admin: the set-up code from the server's log, a name, a password twice."""
    check_origin(request)
    _check_pre_token(request)
    body = await read_json(request)
    only(body, "code", "username", "display_name", "password", "password2")
    password = text(body, "password", 200)
    if password != text(body, "password2", 200):
        raise BadRequest("passwords_differ", "两次输入的密码不一致 / The two passwords differ")
    try:
        session = await accounts.first_admin(
            _db(request),
            text(body, "code", 32),
            text(body, "username", 64),
            password,
            text(body, "display_name", 64),
            _now(request),
        )
    except LoginRefused as e:
        return _refused(e)
    log.info("first city admin %s created through /setup", session.username)
    return _logged_in(request, session)


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (with its CSRF token, so another site cannot log you out)."""
    check_origin(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await _session_of(request)
    if session is not None:
        check_csrf(request, session.csrf)
        await accounts.logout(_db(request), token)
    response = json_response({"state": "login"})
    response.del_cookie(SESSION_COOKIE, path="/")
    return _no_store(response)


async def change_own_password(request: web.Request) -> web.StreamResponse:
    """Any user changes their own password, giving the current one; other sessions end."""
    check_origin(request)
    session = await _require_session(request)
    check_csrf(request, session.csrf)
    body = await read_json(request)
    only(body, "current", "password", "password2")
    new = text(body, "password", 200)
    if new != text(body, "password2", 200):
        raise BadRequest("passwords_differ", "两次输入的密码不一致 / The two passwords differ")
    accounts.check_password(new)
    db = _db(request)
    try:
        check = await accounts.login(
            db, session.username, text(body, "current", 200), _now(request)
        )
    except LoginRefused as e:
        if e.code == "wrong_login":
            e = LoginRefused("wrong_password", "当前密码不对 / The current password is wrong")
        return _refused(e)
    await accounts.logout(db, check.token)
    await accounts.set_password(db, session.username, new)  # ends every session
    fresh = await accounts.login(db, session.username, new, _now(request))
    return _logged_in(request, fresh)


# ---------------------------------------------------------------- halls: overview and page


async def list_visible_halls(request: web.Request) -> web.StreamResponse:
    return json_response(
        {"halls": await queries.visible_halls(_db(request), hall_scope(current(request)))}
    )


async def overview(request: web.Request) -> web.StreamResponse:
    now = _now(request)
    rows = await queries.overview(_db(request), hall_scope(current(request)), now)
    return json_response(
        {"now": now, "offline_after_seconds": queries.OFFLINE_AFTER_SECONDS, "halls": rows}
    )


async def hall_detail(request: web.Request) -> web.StreamResponse:
    data = await queries.hall_detail(
        _db(request), request.match_info["hall_id"], hall_scope(current(request)), _now(request)
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
    row = await queries.hall_row(_db(request), hall_id, scope)
    names = (await queries.names_of(_db(request), [row]))[hall_id]
    today = dt.date.fromisoformat(queries.local_day(names.zone, _now(request)))
    start, end = _period(request, today)
    return json_response(await queries.hall_charts(_db(request), hall_id, scope, start, end))


# ---------------------------------------------------------------- reports


async def _report(request: web.Request) -> reports.Report:
    q = request.query
    db = _db(request)
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
        today = dt.datetime.fromtimestamp(_now(request), queries.hall_names("").zone).date()
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
    data["month_start_day"] = await reports.month_start_day(_db(request))
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
    generated = dt.datetime.fromtimestamp(_now(request), queries.hall_names("").zone)
    return web.Response(
        body=reports.to_xlsx(report, lang, generated.strftime("%Y-%m-%d %H:%M")),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{_filename(report, "xlsx")}"'},
    )


async def get_settings(request: web.Request) -> web.StreamResponse:
    return json_response({"month_start_day": await reports.month_start_day(_db(request))})


async def put_settings(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "month_start_day")
    if "month_start_day" not in body:
        raise BadRequest("bad_request", "请给 month_start_day / Send month_start_day (1-28)")
    day = await reports.set_month_start_day(_db(request), body["month_start_day"])
    log.info("month_start_day set to %s by %s", day, current(request).username)
    return json_response({"month_start_day": day})


# ---------------------------------------------------------------- 回访 cases


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7):
        raise BadRequest("bad_request", f"{name} 须为整数 / {name} must be a whole number")
    return int(raw)


async def list_cases(request: web.Request) -> web.StreamResponse:
    q = request.query
    overdue = q.get("overdue", "")
    if overdue not in ("", "0", "1", "true", "false"):
        raise BadRequest("bad_request", "overdue 须为 1 或 0 / overdue must be 1 or 0")
    data = await cases.list_cases(
        _db(request),
        hall_scope(current(request)),
        _now(request),
        status=q.get("status", ""),
        hall=q.get("hall", ""),
        overdue=overdue in ("1", "true"),
        limit=_int_param(request, "limit", 100),
        offset=_int_param(request, "offset", 0),
    )
    return json_response(data)


async def case_owners(request: web.Request) -> web.StreamResponse:
    hall_id = request.match_info["hall_id"]
    await queries.hall_row(_db(request), hall_id, hall_scope(current(request)))
    return json_response({"owners": await cases.owners(_db(request), hall_id)})


async def update_case(request: web.Request) -> web.StreamResponse:
    session = current(request)
    body = await read_json(request)
    case = await cases.update_case(
        _db(request),
        hall_scope(session),
        request.match_info["hall_id"],
        request.match_info["case_no"],
        body,
        session.username,
        _now(request),
    )
    return json_response(case)


# ---------------------------------------------------------------- admin: halls and tokens


async def admin_halls(request: web.Request) -> web.StreamResponse:
    rows = await halls.list_halls(_db(request))
    now = _now(request)
    out = []
    for h in rows:
        live = h.pop("live", {}) or {}
        last_seen = h.get("last_seen")
        h["online"] = last_seen is not None and now - last_seen <= queries.OFFLINE_AFTER_SECONDS
        h["live_day"] = live.get("day")
        h["tokens"] = await halls.list_tokens(_db(request), h["hall_id"])
        out.append(h)
    return json_response({"halls": out, "now": now})


async def admin_create_hall(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "hall_id", "name", "name_en")
    hall_id = text(body, "hall_id", 63, required=True).strip()
    await halls.create_hall(
        _db(request), hall_id, text(body, "name", 100), text(body, "name_en", 100), _now(request)
    )
    log.info("hall %s created by %s", hall_id, current(request).username)
    return json_response({"hall_id": hall_id}, status=201)


async def admin_update_hall(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "name", "name_en")
    hall_id = request.match_info["hall_id"]
    await halls.update_hall(
        _db(request), hall_id, text(body, "name", 100), text(body, "name_en", 100)
    )
    return json_response({"hall_id": hall_id})


def _server_url(request: web.Request) -> str:
    """This server as the browser reached it (behind a proxy: what the proxy was asked for)."""
    proto = request.headers.get("X-Forwarded-Proto", request.scheme).split(",")[0].strip()
    host = request.headers.get("X-Forwarded-Host", request.host).split(",")[0].strip()
    return f"{proto if proto in ('http', 'https') else 'http'}://{host}"


async def admin_issue_token(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "label")
    hall_id = request.match_info["hall_id"]
    session = current(request)
    token, token_id = await halls.issue_token(
        _db(request), hall_id, text(body, "label", 100), session.username, _now(request)
    )
    log.info("uplink token %s issued for hall %s by %s", token_id, hall_id, session.username)
    url = _server_url(request)
    return json_response(
        {
            "hall_id": hall_id,
            "token": token,
            "token_id": token_id,
            "token_file": "uplink.token",
            "url": url,
            "toml": f'[uplink]\nurl = "{url}"\n',
        },
        status=201,
    )


async def admin_revoke_token(request: web.Request) -> web.StreamResponse:
    hall_id = request.match_info["hall_id"]
    token_id = request.match_info["token_id"]
    session = current(request)
    await halls.revoke_token(_db(request), hall_id, token_id, session.username, _now(request))
    log.info("uplink token %s of hall %s revoked by %s", token_id, hall_id, session.username)
    return json_response({"hall_id": hall_id, "token_id": token_id, "revoked": True})


# ---------------------------------------------------------------- admin: users


async def admin_users(request: web.Request) -> web.StreamResponse:
    now = _now(request)
    users = await accounts.list_users(_db(request))
    return json_response({"users": [u.as_json(now) for u in users]})


async def admin_create_user(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "username", "password", "role", "hall_id", "display_name")
    user = await accounts.create_user(
        _db(request),
        text(body, "username", 64),
        text(body, "password", 200),
        text(body, "role", 20),
        text(body, "hall_id", 63) or None,
        text(body, "display_name", 64),
        _now(request),
    )
    log.info("user %s (%s) created by %s", user.username, user.role, current(request).username)
    return json_response(user.as_json(_now(request)), status=201)


async def admin_reset_password(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "password")
    username = request.match_info["username"]
    await accounts.set_password(_db(request), username, text(body, "password", 200))
    log.info("password of %s reset by %s", username, current(request).username)
    return json_response({"username": username})


async def admin_set_disabled(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "disabled")
    disabled = body.get("disabled")
    if not isinstance(disabled, bool):
        raise BadRequest(
            "bad_request", "disabled 须为 true 或 false / disabled must be true or false"
        )
    username = request.match_info["username"]
    await accounts.set_disabled(_db(request), username, disabled, current(request).username)
    log.info(
        "user %s %s by %s",
        username,
        "disabled" if disabled else "enabled",
        current(request).username,
    )
    return json_response({"username": username, "disabled": disabled})


async def admin_unlock(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    await accounts.unlock(_db(request), username)
    return json_response({"username": username})


# ---------------------------------------------------------------- the first run


async def _print_setup_code(app: web.Application) -> AsyncIterator[None]:
    """With no user yet, print a one-time set-up code: /setup asks for it (runs after the
    database is open: it is added after the database's own cleanup context)."""
    db = app[db_key]
    if await accounts.needs_setup(db):
        code = await accounts.new_setup_code(db, float(app[clock_key]()))
        log.warning(
            "no users yet: open /setup on this server and enter the set-up code %s "
            "to create the first city admin (or: hallq central add-user)",
            code,
        )
    yield


def add_central_web(app: web.Application) -> None:
    """Register the pages and their JSON API."""
    app.cleanup_ctx.append(_print_setup_code)
    r = app.router
    r.add_static("/static/central/", STATIC, append_version=False)
    r.add_static("/static/common/", COMMON, append_version=False)
    r.add_get("/favicon.ico", favicon)

    r.add_get("/login", gate_page)
    r.add_get("/setup", gate_page)
    r.add_get("/", overview_page)
    r.add_get("/halls/{hall_id}", hall_page)
    r.add_get("/reports", page("reports.html"))
    r.add_get("/cases", page("cases.html"))
    r.add_get("/admin", page("admin.html", admin=True))

    r.add_get("/api/session", get_session)
    r.add_post("/api/login", login)
    r.add_post("/api/setup", setup)
    r.add_post("/api/logout", logout)
    r.add_post("/api/session/password", change_own_password)

    r.add_get("/api/halls", api(list_visible_halls))
    r.add_get("/api/overview", api(overview))
    r.add_get("/api/halls/{hall_id}", api(hall_detail))
    r.add_get("/api/halls/{hall_id}/charts", api(hall_charts))
    r.add_get("/api/halls/{hall_id}/owners", api(case_owners))
    r.add_get("/api/reports", api(report_json))
    r.add_get("/api/reports.csv", api(report_csv))
    r.add_get("/api/reports.xlsx", api(report_xlsx))
    r.add_get("/api/settings", api(get_settings))
    r.add_put("/api/settings", api(put_settings, admin=True))
    r.add_get("/api/cases", api(list_cases))
    r.add_patch("/api/cases/{hall_id}/{case_no}", api(update_case))

    r.add_get("/api/admin/halls", api(admin_halls, admin=True))
    r.add_post("/api/admin/halls", api(admin_create_hall, admin=True))
    r.add_patch("/api/admin/halls/{hall_id}", api(admin_update_hall, admin=True))
    r.add_post("/api/admin/halls/{hall_id}/tokens", api(admin_issue_token, admin=True))
    r.add_delete(
        "/api/admin/halls/{hall_id}/tokens/{token_id}", api(admin_revoke_token, admin=True)
    )
    r.add_get("/api/admin/users", api(admin_users, admin=True))
    r.add_post("/api/admin/users", api(admin_create_user, admin=True))
    r.add_post("/api/admin/users/{username}/password", api(admin_reset_password, admin=True))
    r.add_post("/api/admin/users/{username}/disabled", api(admin_set_disabled, admin=True))
    r.add_post("/api/admin/users/{username}/unlock", api(admin_unlock, admin=True))
