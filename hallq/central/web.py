"""What people read: sign-in, the halls at a glance, a hall's page, reports, 回访 and admin.

Pages are static HTML and ES modules (hallq/central/static; the controller's shared library
hallq/web/static/common at /static/common/), each with a JSON API behind it. This module
serves the pages and registers every route; the API is in one module per page:

- `web_session`: sign-in, the first-run set-up, sessions, and the guard every API route
  passes (`api`: the session, the role, and for writes the CSRF token and the origin);
- `web_halls`: the overview and a hall's page; `web_reports`: reports and their setting;
  `web_cases`: bad-review follow-up (回访); `web_admin`: halls, uplink tokens and users;
- `web_request`: reading a request (its JSON body, fields and numbers).

A page without a session redirects to /login; the API answers 401 (not logged in) or 403
(not allowed) in JSON. A hall manager sees only their own hall: every route passes
`hall_scope(session)` down, and another hall is a 404 (its existence is not told).
"""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import quote

from aiohttp import web

from hallq.central import accounts, queries, web_admin, web_cases, web_halls, web_reports
from hallq.central.accounts import Session, hall_scope
from hallq.central.web_request import db_of
from hallq.central.web_session import (
    GUARD,
    api,
    change_own_password,
    get_session,
    login,
    logout,
    print_setup_code,
    setup,
)
from hallq.errors import NotFound
from hallq.webguard import Handler, html_file, no_icon, page_headers

STATIC = Path(__file__).parent / "static"
COMMON = Path(__file__).parent.parent / "web" / "static" / "common"

# Nothing from the internet: scripts, styles and data only from this server.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


# ---------------------------------------------------------------- pages


def _file(name: str) -> web.StreamResponse:
    return html_file(STATIC / name, CSP, cache="no-store", deny_framing=True)


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
    response = web.Response(text=body, status=status, content_type="text/html")
    return page_headers(response, CSP, cache="no-store", deny_framing=True)


def _login_redirect(request: web.Request) -> web.HTTPFound:
    target = request.path_qs
    return web.HTTPFound("/login" + (f"?next={quote(target, safe='')}" if target != "/" else ""))


async def _signed_in(request: web.Request) -> Session:
    """The session of a page's request; without one, off to /login (and back after it)."""
    session = await GUARD.session_of(request)
    if session is None:
        raise _login_redirect(request)
    return session


def _page_for(request: web.Request, session: Session, name: str) -> web.StreamResponse:
    """The page `name`; its answer renews the session's cookie, as the API's do."""
    response = _file(name)
    GUARD.set_session_cookie(response, request, session)
    return response


def page(name: str, admin: bool = False) -> Handler:
    """A page behind the session: no session → /login; not allowed → a 403 page."""

    async def run(request: web.Request) -> web.StreamResponse:
        session = await _signed_in(request)
        if admin and not session.is_city_admin:
            return _message_page(
                403, "仅市级管理员可以打开此页", "Only a city admin may open this page."
            )
        return _page_for(request, session, name)

    run.__name__ = f"page_{name.split('.')[0]}"
    return run


async def overview_page(request: web.Request) -> web.StreamResponse:
    session = await _signed_in(request)
    if not session.is_city_admin:  # a hall manager has one hall: go straight to it
        if not session.hall_id:
            return _message_page(403, "此账号未指定大厅", "This account has no hall.")
        raise web.HTTPFound(f"/halls/{quote(session.hall_id, safe='')}")
    return _page_for(request, session, "overview.html")


async def hall_page(request: web.Request) -> web.StreamResponse:
    session = await _signed_in(request)
    hall_id = request.match_info["hall_id"]
    try:
        await queries.hall_row(db_of(request), hall_id, hall_scope(session))
    except NotFound:
        return _message_page(404, f"没有大厅 {hall_id}", f"No hall {hall_id}.")
    return _page_for(request, session, "hall.html")


def _safe_next(raw: str) -> str:
    """Only a path on this server (never //other.site or a scheme)."""
    if raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return "/"


async def gate_page(request: web.Request) -> web.StreamResponse:
    """/login and /setup: one page; it asks the API which form to show."""
    db = db_of(request)
    setup = await accounts.needs_setup(db)
    if request.path == "/setup" and not setup:
        raise web.HTTPFound("/login")
    if request.path == "/login" and setup:
        raise web.HTTPFound("/setup")
    if not setup and await GUARD.session_of(request) is not None:
        raise web.HTTPFound(_safe_next(request.query.get("next", "/")))
    return _file("gate.html")


# ---------------------------------------------------------------- routes


def add_central_web(app: web.Application) -> None:
    """Register the pages and their JSON API."""
    app.cleanup_ctx.append(print_setup_code)
    r = app.router
    r.add_static("/static/central/", STATIC, append_version=False)
    r.add_static("/static/common/", COMMON, append_version=False)
    r.add_get("/favicon.ico", no_icon)

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

    r.add_get("/api/halls", api(web_halls.list_visible_halls))
    r.add_get("/api/overview", api(web_halls.overview))
    r.add_get("/api/halls/{hall_id}", api(web_halls.hall_detail))
    r.add_get("/api/halls/{hall_id}/charts", api(web_halls.hall_charts))
    r.add_get("/api/halls/{hall_id}/owners", api(web_cases.case_owners))
    r.add_get("/api/reports", api(web_reports.report_json))
    r.add_get("/api/reports.csv", api(web_reports.report_csv))
    r.add_get("/api/reports.xlsx", api(web_reports.report_xlsx))
    r.add_get("/api/settings", api(web_reports.get_settings))
    r.add_put("/api/settings", api(web_reports.put_settings, admin=True))
    r.add_get("/api/cases", api(web_cases.list_cases))
    r.add_patch("/api/cases/{hall_id}/{case_no}", api(web_cases.update_case))

    r.add_get("/api/admin/halls", api(web_admin.admin_halls, admin=True))
    r.add_post("/api/admin/halls", api(web_admin.admin_create_hall, admin=True))
    r.add_patch("/api/admin/halls/{hall_id}", api(web_admin.admin_update_hall, admin=True))
    r.add_post("/api/admin/halls/{hall_id}/tokens", api(web_admin.admin_issue_token, admin=True))
    r.add_delete(
        "/api/admin/halls/{hall_id}/tokens/{token_id}",
        api(web_admin.admin_revoke_token, admin=True),
    )
    r.add_get("/api/admin/users", api(web_admin.admin_users, admin=True))
    r.add_post("/api/admin/users", api(web_admin.admin_create_user, admin=True))
    r.add_post(
        "/api/admin/users/{username}/password", api(web_admin.admin_reset_password, admin=True)
    )
    r.add_post(
        "/api/admin/users/{username}/disabled", api(web_admin.admin_set_disabled, admin=True)
    )
    r.add_post("/api/admin/users/{username}/unlock", api(web_admin.admin_unlock, admin=True))
