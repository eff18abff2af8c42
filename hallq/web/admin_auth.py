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
"""

from __future__ import annotations

import asyncio
import math
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from aiohttp import web

from hallq.controller.accounts import (
    SESSION_IDLE_SECONDS,
    Accounts,
    LoginRefused,
    Session,
    check_password,
)
from hallq.controller.api import (
    _read_body,
    accounts_key,
    error_response,
    json_response,
    writer_key,
)
from hallq.errors import BadRequest, CommandRejected

SESSION_COOKIE = "hallq_admin"
PRE_COOKIE = "hallq_admin_pre"  # the login form's anti-CSRF token, before there is a session
CSRF_HEADER = "X-CSRF-Token"
COOKIE_PATH = "/admin"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SETUP_TRIES = 5  # wrong set-up codes in a row before the set-up is refused for a while
SETUP_LOCK_SECONDS = 15 * 60

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
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


def current_session(request: web.Request) -> Session:
    """The session of a guarded request."""
    return request[session_key]


# ---------------------------------------------------------------- checks


def _forbidden(code: str, message: str) -> CommandRejected:
    return CommandRejected(code, message, 403)


def check_origin(request: web.Request) -> None:
    """Refuse a request another site's page made the browser send."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        raise _forbidden(
            "cross_site", "拒绝来自其他网站的请求 / Refused: the request came from another site"
        )
    origin = request.headers.get("Origin")
    if origin is None:
        return  # not every client sends one (curl, older browsers on same-origin GETs)
    # The host and port only: a TLS proxy in front may make the scheme differ.
    netloc = urlsplit(origin).netloc if origin != "null" else ""
    if not netloc or netloc.lower() != request.host.lower():
        raise _forbidden(
            "bad_origin",
            f"拒绝来自 {origin} 的请求 / Refused: the request came from {origin}, not this controller",
        )


async def _sent_token(request: web.Request) -> str:
    token = request.headers.get(CSRF_HEADER, "")
    if token:
        return token
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()  # cached: the handler reads it again
        value = form.get("csrf")
        return value if isinstance(value, str) else ""
    return ""


async def check_csrf(request: web.Request, expected: str) -> None:
    sent = await _sent_token(request)
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


def _now(request: web.Request) -> float:
    return float(request.app[writer_key].clock())


def _accounts(request: web.Request) -> Accounts:
    return request.app[accounts_key]


async def _session(request: web.Request) -> Session:
    token = request.cookies.get(SESSION_COOKIE, "")
    if not token:
        raise CommandRejected(
            "login_required", "请先登录 / Log in first", 401
        )
    session = await asyncio.to_thread(_accounts(request).session, token)
    if session is None:
        raise CommandRejected(
            "session_expired",
            "登录已过期，请重新登录 / Your session has expired: log in again",
            401,
        )
    return session


# ---------------------------------------------------------------- cookies


def _cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="Strict",
        secure=request.secure,
    )


def set_session_cookie(
    response: web.StreamResponse, request: web.Request, session: Session
) -> None:
    """The cookie lives as long as the session (renewed with each use: sliding expiry)."""
    max_age = max(1, math.ceil(session.expires - _now(request)))
    _cookie(response, request, SESSION_COOKIE, session.token, max_age)


def clear_cookie(response: web.StreamResponse, name: str) -> None:
    response.del_cookie(name, path=COOKIE_PATH)


def _new_pre_token(request: web.Request) -> str:
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


# ---------------------------------------------------------------- the guard


def guarded(handler: Handler, who: Who) -> Handler:
    """`handler` behind the session, role and (for writes) CSRF and origin checks."""

    async def run(request: web.Request) -> web.StreamResponse:
        write = request.method in WRITE_METHODS
        if write or request.headers.get("Origin"):
            check_origin(request)
        session = await _session(request)
        if write:
            await check_csrf(request, session.csrf)
        if who == "admin" and session.role != "admin":
            raise _forbidden(
                "admin_only",
                "此操作需要管理员权限 / Only an admin may do this (you are logged in as staff)",
            )
        request[session_key] = session
        response = await handler(request)
        set_session_cookie(response, request, session)
        response.headers["Cache-Control"] = "no-store"
        return response

    run.__name__ = handler.__name__
    return run


def add_guarded(
    app: web.Application, method: str, path: str, handler: Handler, who: Who
) -> None:
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
    accounts = _accounts(request)
    cookie = request.cookies.get(SESSION_COOKIE, "")
    session: Session | None = None
    pre = ""
    if await asyncio.to_thread(accounts.needs_setup):
        pre = _new_pre_token(request)
        body: dict[str, Any] = {"state": "setup", "token": pre}
    else:
        session = await asyncio.to_thread(accounts.session, cookie) if cookie else None
        if session is not None:
            body = _session_json(session, request)
        else:
            pre = _new_pre_token(request)
            body = {"state": "login", "token": pre, "expired": bool(cookie)}
    response = json_response(body)
    if session is not None:
        set_session_cookie(response, request, session)
    else:
        _cookie(response, request, PRE_COOKIE, pre, 2 * 3600)
        if cookie:
            clear_cookie(response, SESSION_COOKIE)
    response.headers["Cache-Control"] = "no-store"
    return response


def _logged_in(request: web.Request, session: Session) -> web.Response:
    response = json_response(_session_json(session, request))
    set_session_cookie(response, request, session)
    clear_cookie(response, PRE_COOKIE)  # used up: the session has its own token now
    response.headers["Cache-Control"] = "no-store"
    return response


def _refused(e: LoginRefused) -> web.Response:
    response = error_response(e.code, e.message, e.status)
    if e.retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(e.retry_after)))
    return response


async def login(request: web.Request) -> web.StreamResponse:
    check_origin(request)
    _check_pre_token(request)
    body = await read_json(request)
    name = text_field(body, "name", 64)
    password = text_field(body, "password", 200)
    if not name.strip() or not password:
        raise BadRequest("invalid_request", "请输入用户名和密码 / Enter your user name and password")
    try:
        session = await asyncio.to_thread(_accounts(request).login, name, password)
    except LoginRefused as e:
        return _refused(e)
    return _logged_in(request, session)


async def setup(request: web.Request) -> web.StreamResponse:
    """The first admin: the set-up code from the controller's log, a name, a password twice."""
    check_origin(request)
    _check_pre_token(request)
    body = await read_json(request)
    code = text_field(body, "code", 32)
    name = text_field(body, "name", 64)
    password = text_field(body, "password", 200)
    if password != text_field(body, "password2", 200):
        raise BadRequest("passwords_differ", "两次输入的密码不一致 / The two passwords differ")
    check_password(password)
    guard = request.app[admin_state_key].setup
    now = _now(request)
    if guard.locked_until > now:
        wait = guard.locked_until - now
        return _refused(
            LoginRefused(
                "locked",
                f"设置码连续输错，请 {max(1, round(wait / 60))} 分钟后再试 / Too many wrong "
                f"set-up codes: try again in {max(1, round(wait / 60))} min",
                wait,
            )
        )
    try:
        session = await asyncio.to_thread(_accounts(request).first_admin, code, name, password)
    except CommandRejected as e:
        if e.code == "wrong_setup_code":
            guard.failures += 1
            if guard.failures >= SETUP_TRIES:
                guard.failures, guard.locked_until = 0, now + SETUP_LOCK_SECONDS
        raise
    guard.failures = 0
    return _logged_in(request, session)


async def logout(request: web.Request) -> web.StreamResponse:
    """Ends the session (with its CSRF token, so another site cannot log you out)."""
    check_origin(request)
    token = request.cookies.get(SESSION_COOKIE, "")
    session = await asyncio.to_thread(_accounts(request).session, token) if token else None
    if session is not None:
        await check_csrf(request, session.csrf)
        await asyncio.to_thread(_accounts(request).logout, token)
    response = json_response({"state": "login"})
    clear_cookie(response, SESSION_COOKIE)
    response.headers["Cache-Control"] = "no-store"
    return response


async def change_own_password(request: web.Request) -> web.StreamResponse:
    """Any user changes their own password, giving the current one; other sessions end."""
    session = current_session(request)
    body = await read_json(request)
    current = text_field(body, "current", 200)
    new = text_field(body, "password", 200)
    if new != text_field(body, "password2", 200):
        raise BadRequest("passwords_differ", "两次输入的密码不一致 / The two passwords differ")
    check_password(new)
    accounts = _accounts(request)
    try:
        check = await asyncio.to_thread(accounts.login, session.name, current)
    except LoginRefused as e:
        if e.code == "wrong_login":
            e = LoginRefused("wrong_password", "当前密码不对 / The current password is wrong")
        return _refused(e)
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
    check_origin(request)
    session = await _session(request)
    await check_csrf(request, session.csrf)
    request[session_key] = session
    return await change_own_password(request)
