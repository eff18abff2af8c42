"""Who is using the admin page: the first-run set-up, logins, sessions, roles and CSRF.

Every admin endpoint is registered through `add_guarded`, which says who may call it:
- a session cookie (`hallq_admin`: random, HttpOnly, SameSite=Strict, Path=/admin) made by
  `Accounts` at login; an unknown or expired one is a 401 that the page turns into the login;
- the role: "admin" may do everything, "staff" (floor staff, 导服) only what is marked so;
- on every POST, PUT and DELETE the session's CSRF token in the `X-CSRF-Token` header (or a
  `csrf` form field), compared in constant time; missing or wrong is a 403;
- an `Origin` header, when the browser sends one, must be this controller, and a request the
  browser marks as cross-site (`Sec-Fetch-Site`) is refused.

Logging in and the first-run set-up have no session yet, so they are guarded against
login CSRF by a double submit: `GET /admin/api/session` sets a random pre-session cookie
and returns the same value in its body; the POST must send it back in `X-CSRF-Token`.

The checks themselves are `hallq.webguard`'s, shared with the central server's pages; what
is the controller's own is here: its cookie names and path, its accounts file, its roles.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web

from hallq import logins
from hallq.controller.accounts import (
    SESSION_IDLE_SECONDS,
    Accounts,
    LoginRefused,
    Session,
)
from hallq.controller.api import _read_body, accounts_key, writer_key
from hallq.errors import BadRequest, CommandRejected
from hallq.logins import check_password, check_repeated
from hallq.webguard import Handler, SessionGuard, forbidden, refusal_response

SETUP_TRIES = 5  # wrong set-up codes in a row before the set-up is refused for a while
SETUP_LOCK_SECONDS = 15 * 60

Who = Literal["admin", "staff"]  # the least role an endpoint needs

session_key = web.RequestKey("admin_session", Session)


@dataclass
class SetupGuard:
    """Wrong set-up codes: the code has 10^8 values, so guessing is slowed like logins."""

    failures: int = 0
    locked_until: float = 0.0


@dataclass
class AdminState:
    """What the admin area keeps for the app's lifetime (never a credential)."""

    setup: SetupGuard = field(default_factory=SetupGuard)
    printer_locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    simulators: dict[str, Any] = field(default_factory=dict)  # kiosk → SimulatedPrinter
    last_tests: dict[str, dict[str, Any]] = field(default_factory=dict)  # kiosk → last result


admin_state_key = web.AppKey("admin_state", AdminState)


def _now(request: web.Request) -> float:
    return float(request.app[writer_key].clock())


def _accounts(request: web.Request) -> Accounts:
    return request.app[accounts_key]


async def _lookup(request: web.Request, token: str) -> Session | None:
    return await asyncio.to_thread(_accounts(request).session, token)


GUARD = SessionGuard(
    session_cookie="hallq_admin",
    pre_cookie="hallq_admin_pre",
    cookie_path="/admin",
    this="this controller",
    key=session_key,
    lookup=_lookup,
    now=_now,
    form_csrf=True,  # a configuration import is a form; its token comes as a field
)


def current_session(request: web.Request) -> Session:
    """The session of a guarded request."""
    return request[session_key]


def _allow(who: Who) -> Callable[[Session], None]:
    def allow(session: Session) -> None:
        if who == "admin" and session.role != "admin":
            raise forbidden(
                "admin_only",
                "此操作需要管理员权限 / Only an admin may do this (you are logged in as staff)",
            )

    return allow


def guarded(handler: Handler, who: Who) -> Handler:
    """`handler` behind the session, role and (for writes) CSRF and origin checks."""
    return GUARD.guard(handler, _allow(who))


def add_guarded(app: web.Application, method: str, path: str, handler: Handler, who: Who) -> None:
    """Register an admin endpoint; `who` is the least role that may call it."""
    app.router.add_route(method, path, guarded(handler, who))


async def read_json(request: web.Request) -> dict[str, Any]:
    return await _read_body(request)


def text_field(body: dict[str, Any], name: str, limit: int = 200) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise BadRequest("invalid_request", f"{name} must be text")
    if len(value) > limit:
        raise BadRequest("invalid_request", f"{name} is at most {limit} characters")
    return value


# ---------------------------------------------------------------- endpoints


def _session_json(session: Session, request: web.Request) -> dict[str, Any]:
    return {
        "state": "ok",
        "name": session.name,
        "role": session.role,
        "csrf": session.csrf,
        "expires": session.expires,
        "now": _now(request),
        "idle_seconds": SESSION_IDLE_SECONDS,
    }


async def get_session(request: web.Request) -> web.StreamResponse:
    """Where the page stands: "setup" (no admin yet), "login", or "ok" with the CSRF token."""
    setup = await asyncio.to_thread(_accounts(request).needs_setup)
    return await GUARD.session_state(request, setup, lambda s: _session_json(s, request))


def _logged_in(request: web.Request, session: Session) -> web.Response:
    return GUARD.logged_in(request, session, _session_json(session, request))


def _refused(e: LoginRefused) -> web.Response:
    return refusal_response(e, e.retry_after)


async def login(request: web.Request) -> web.StreamResponse:
    GUARD.check_pre_session(request)
    body = await read_json(request)
    name = text_field(body, "name", 64)
    password = text_field(body, "password", 200)
    if not name.strip() or not password:
        raise BadRequest(
            "invalid_request", "请输入用户名和密码 / Enter your user name and password"
        )
    try:
        session = await asyncio.to_thread(_accounts(request).login, name, password)
    except LoginRefused as e:
        return _refused(e)
    return _logged_in(request, session)


async def setup(request: web.Request) -> web.StreamResponse:
    """The first admin: the set-up code from the controller's log, a name, a password twice."""
    GUARD.check_pre_session(request)
    body = await read_json(request)
    code = text_field(body, "code", 32)
    name = text_field(body, "name", 64)
    password = text_field(body, "password", 200)
    check_repeated(password, text_field(body, "password2", 200))
    check_password(password)
    guard = request.app[admin_state_key].setup
    now = _now(request)
    if guard.locked_until > now:
        return _refused(logins.setup_locked(guard.locked_until, now))
    try:
        session = await asyncio.to_thread(_accounts(request).first_admin, code, name, password)
    except CommandRejected as e:
        if e.code == "wrong_setup_code":
            guard.failures, guard.locked_until = logins.after_failure(
                guard.failures, now, SETUP_TRIES, SETUP_LOCK_SECONDS
            )
        raise
    guard.failures = 0
    return _logged_in(request, session)


async def _end_session(request: web.Request, token: str) -> None:
    await asyncio.to_thread(_accounts(request).logout, token)


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (with its CSRF token, so another site cannot log you out)."""
    return await GUARD.log_out(request, _end_session)


async def change_own_password(request: web.Request) -> web.StreamResponse:
    """Any user changes their own password, giving the current one; other sessions end."""
    session = current_session(request)
    body = await read_json(request)
    current = text_field(body, "current", 200)
    new = text_field(body, "password", 200)
    check_repeated(new, text_field(body, "password2", 200))
    check_password(new)
    accounts = _accounts(request)
    try:
        check = await asyncio.to_thread(accounts.login, session.name, current)
    except LoginRefused as e:
        return _refused(logins.wrong_current_password(e))
    await asyncio.to_thread(accounts.logout, check.token)
    await asyncio.to_thread(accounts.set_password, session.name, new)  # ends every session
    fresh = await asyncio.to_thread(accounts.login, session.name, new)
    response = _logged_in(request, fresh)
    request[session_key] = fresh
    return response


def add_routes(app: web.Application) -> None:
    app[admin_state_key] = AdminState()
    app.router.add_get("/admin/api/session", get_session)
    app.router.add_post("/admin/api/login", login)
    app.router.add_post("/admin/api/setup", setup)
    app.router.add_post("/admin/api/logout", logout)
    app.router.add_post("/admin/api/session/password", _own_password_route)


async def _own_password_route(request: web.Request) -> web.StreamResponse:
    # Guarded by hand: the guard would set the old, now ended, session's cookie afterwards.
    request[session_key] = await GUARD.admit(request)
    return await change_own_password(request)
