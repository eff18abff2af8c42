"""Who is asking: sign-in, the first-run set-up, sessions, and the guard of the pages API.

- a session cookie (`hallq_central`: random, HttpOnly, SameSite=Strict) made at login and
  kept in the database (hallq.central.accounts), so any server process knows it;
- every write (POST, PUT, PATCH, DELETE) carries the session's CSRF token in `X-CSRF-Token`,
  and an `Origin`, when sent, must be this server; login and set-up use a pre-session token
  (double submit), as the controller's admin page does;
- the API answers 401 (not logged in) or 403 (not allowed) in JSON.

The checks are `hallq.webguard`'s, shared with the controller's admin page; what is the
central server's own is here: its cookie names, its accounts in the database, its roles.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from hallq.central import accounts
from hallq.central.accounts import LoginRefused, Session
from hallq.central.app import clock_key, db_key
from hallq.central.web_request import db_of, now_of, only, read_json, text
from hallq.errors import BadRequest
from hallq.logins import check_repeated, wrong_current_password
from hallq.webguard import Handler, SessionGuard, forbidden, no_store, refusal_response

log = logging.getLogger("hallq.central.web")

session_key = web.RequestKey("central_session", Session)


async def _lookup(request: web.Request, token: str) -> Session | None:
    return await accounts.session(db_of(request), token, now_of(request))


GUARD = SessionGuard(
    session_cookie="hallq_central",
    pre_cookie="hallq_central_pre",
    cookie_path="/",
    this="this server",
    key=session_key,
    lookup=_lookup,
    now=now_of,
)


def current(request: web.Request) -> Session:
    """The session of a guarded request."""
    return request[session_key]


def _city_admin_only(session: Session) -> None:
    if not session.is_city_admin:
        raise forbidden("admin_only", "仅市级管理员可以操作 / Only a city admin may do this")


def api(handler: Handler, admin: bool = False) -> Handler:
    """`handler` behind the session, the role and (for writes) CSRF and origin checks."""
    return GUARD.guard(handler, _city_admin_only if admin else None)


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
        "now": now_of(request),
        "idle_seconds": accounts.SESSION_IDLE_SECONDS,
    }


async def get_session(request: web.Request) -> web.StreamResponse:
    """Where the page stands: "setup" (no user yet), "login", or "ok" with the CSRF token."""
    setup = await accounts.needs_setup(db_of(request))
    return await GUARD.session_state(request, setup, lambda s: _session_json(s, request))


def _logged_in(request: web.Request, session: Session) -> web.StreamResponse:
    return GUARD.logged_in(request, session, _session_json(session, request))


def _refused(e: LoginRefused) -> web.StreamResponse:
    return no_store(refusal_response(e, e.retry_after))


async def login(request: web.Request) -> web.StreamResponse:
    GUARD.check_pre_session(request)
    body = await read_json(request)
    only(body, "username", "password")
    username = text(body, "username", 64)
    password = text(body, "password", 200)
    if not username.strip() or not password:
        raise BadRequest("bad_request", "请输入用户名和密码 / Enter your user name and password")
    try:
        session = await accounts.login(db_of(request), username, password, now_of(request))
    except LoginRefused as e:
        return _refused(e)
    return _logged_in(request, session)


async def setup(request: web.Request) -> web.StreamResponse:
    """The first city admin: the set-up code from the server's log, a name, a password twice."""
    GUARD.check_pre_session(request)
    body = await read_json(request)
    only(body, "code", "username", "display_name", "password", "password2")
    password = text(body, "password", 200)
    check_repeated(password, text(body, "password2", 200))
    try:
        session = await accounts.first_admin(
            db_of(request),
            text(body, "code", 32),
            text(body, "username", 64),
            password,
            text(body, "display_name", 64),
            now_of(request),
        )
    except LoginRefused as e:
        return _refused(e)
    log.info("first city admin %s created through /setup", session.username)
    return _logged_in(request, session)


async def _end_session(request: web.Request, token: str) -> None:
    await accounts.logout(db_of(request), token)


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (with its CSRF token, so another site cannot log you out)."""
    return await GUARD.log_out(request, _end_session)


async def change_own_password(request: web.Request) -> web.StreamResponse:
    """Any user changes their own password, giving the current one; other sessions end.

    Guarded by hand: the guard would set the old, now ended, session's cookie afterwards.
    """
    session = await GUARD.admit(request)
    body = await read_json(request)
    only(body, "current", "password", "password2")
    new = text(body, "password", 200)
    check_repeated(new, text(body, "password2", 200))
    accounts.check_password(new)
    db = db_of(request)
    try:
        check = await accounts.login(
            db, session.username, text(body, "current", 200), now_of(request)
        )
    except LoginRefused as e:
        return _refused(wrong_current_password(e))
    await accounts.logout(db, check.token)
    await accounts.set_password(db, session.username, new)  # ends every session
    fresh = await accounts.login(db, session.username, new, now_of(request))
    return _logged_in(request, fresh)


# ---------------------------------------------------------------- the first run


async def print_setup_code(app: web.Application) -> AsyncIterator[None]:
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
