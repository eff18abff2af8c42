"""What guards a JSON API behind sign-in pages: the hall controller's admin page and the
central server's pages both stand on it.

- JSON in and out, and every error as `{"error": {"code", "message"}}` (`errors_middleware`):
  a person's mistake is a 4xx that says why, never a traceback;
- the headers that keep a page safe (its CSP, no sniffing, no referrer);
- `SessionGuard`: one app's session cookie (random, HttpOnly, SameSite=Strict), the CSRF
  token every write must carry (`X-CSRF-Token`), the same-origin check, and the pre-session
  token (double submit) that guards logging in and the first-run set-up against login CSRF:
  the session endpoint sets a random cookie and returns the same value in its body; the POST
  must send it back in `X-CSRF-Token`.

What differs between the two apps (cookie names and path, how a session is looked up, who
may do what, how a refusal names the app) is given as parameters. This module knows neither
app: it imports only the standard library, aiohttp, msgspec and `hallq.errors`.
"""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

import msgspec
from aiohttp import web
from aiohttp.typedefs import Middleware

from hallq.errors import BadRequest, CommandRejected

CSRF_HEADER = "X-CSRF-Token"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PRE_TOKEN_SECONDS = 2 * 3600  # how long a login form's pre-session token lasts

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
R = TypeVar("R", bound=web.StreamResponse)


# ---------------------------------------------------------------- JSON in and out


def json_response(data: Any, status: int = 200) -> web.Response:
    """JSON as UTF-8, Chinese kept readable; msgspec encodes it several times faster than json."""
    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def error_response(code: str, message: str, status: int, **extra: Any) -> web.Response:
    return json_response({"error": {"code": code, "message": message}, **extra}, status=status)


def refusal_response(e: CommandRejected, retry_after: float | None) -> web.Response:
    """A refused login as JSON; a lockout also says in `Retry-After` when to try again."""
    response = error_response(e.code, e.message, e.status)
    if retry_after is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return response


def no_store(response: R) -> R:
    response.headers["Cache-Control"] = "no-store"
    return response


def check_body_size(size: int | None, limit: int) -> None:
    if size is not None and size > limit:
        raise BadRequest("body_too_large", f"the request body is over {limit} bytes")


def json_object(raw: bytes, limit: int) -> dict[str, Any]:
    """A request body as a JSON object; an empty body is {}."""
    check_body_size(len(raw), limit)  # a chunked body has no Content-Length to check first
    if not raw.strip():
        return {}
    try:
        body = msgspec.json.decode(raw)  # strict JSON: NaN, Infinity and bad UTF-8 refused
    except (msgspec.DecodeError, RecursionError) as e:
        raise BadRequest("invalid_json", f"the body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest("invalid_json", "the body must be a JSON object {...}")
    return body


ErrorAnswer = Callable[[web.Request, Exception], web.StreamResponse | None]


def errors_middleware(
    log: logging.Logger,
    keep_headers: Iterable[str] = ("Allow",),
    answer: ErrorAnswer | None = None,
) -> Middleware:
    """Every error as JSON {"error": {"code", "message"}}: a person's mistake never a 500.

    `keep_headers`: what an aiohttp HTTP error's own headers keep (a 405 says which methods
    the path takes, RFC 9110). `answer`: the app's own answer to an exception of its own
    (None: an internal error, logged, 500).
    """
    kept = tuple(keep_headers)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except CommandRejected as e:
            return error_response(e.code, e.message, e.status)
        except web.HTTPException as e:
            if e.status >= 400 and e.content_type != "application/json":
                response = error_response(
                    e.reason.lower().replace(" ", "_"), e.text or e.reason, e.status
                )
                for header in kept:
                    if header in e.headers:
                        response.headers[header] = e.headers[header]
                return response
            raise
        except asyncio.CancelledError:
            raise
        except Exception as e:
            own = answer(request, e) if answer is not None else None
            if own is not None:
                return own
            log.exception("internal error on %s %s", request.method, request.path)
            return error_response(
                "internal_error", "内部错误，已记录 / Internal error (logged)", 500
            )

    return middleware


# ---------------------------------------------------------------- pages


def page_headers(response: R, csp: str, cache: str, deny_framing: bool = False) -> R:
    """The headers of an HTML page: its Content-Security-Policy, no sniffing, no referrer;
    `deny_framing` adds X-Frame-Options for browsers older than CSP's frame-ancestors."""
    response.headers.update(
        {
            "Cache-Control": cache,
            "Content-Security-Policy": csp,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    )
    if deny_framing:
        response.headers["X-Frame-Options"] = "DENY"
    return response


def html_file(path: Path, csp: str, cache: str, deny_framing: bool = False) -> web.FileResponse:
    """An HTML page from a file, with `page_headers`."""
    response = web.FileResponse(path)
    response.content_type = "text/html"
    response.charset = "utf-8"
    return page_headers(response, csp, cache, deny_framing)


async def no_icon(request: web.Request) -> web.Response:
    """No icon: an empty answer, so that browsers stop asking and log no error."""
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


# ---------------------------------------------------------------- sessions


def forbidden(code: str, message: str) -> CommandRejected:
    return CommandRejected(code, message, 403)


class SignedIn(Protocol):
    """What the guard needs of a session; each app's Session has more."""

    @property
    def token(self) -> str: ...  # the cookie's value

    @property
    def csrf(self) -> str: ...

    @property
    def expires(self) -> float: ...


S = TypeVar("S", bound=SignedIn)


@dataclass(frozen=True)
class SessionGuard(Generic[S]):
    """One app's session cookies and the checks in front of its JSON API."""

    session_cookie: str
    pre_cookie: str  # the login form's anti-CSRF token, before there is a session
    cookie_path: str
    this: str  # how a refused origin names this app: "this server", "this controller"
    key: web.RequestKey[S]  # where a guarded request keeps its session
    lookup: Callable[[web.Request, str], Awaitable[S | None]]  # a cookie's live session
    now: Callable[[web.Request], float]
    form_csrf: bool = False  # the CSRF token may also come as a `csrf` form field

    # ------------------------------------------------------------ checks

    def check_origin(self, request: web.Request) -> None:
        """Refuse a request another site's page made the browser send."""
        if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
            raise forbidden(
                "cross_site", "拒绝来自其他网站的请求 / Refused: the request came from another site"
            )
        origin = request.headers.get("Origin")
        if origin is None:
            return  # not every client sends one (curl, older browsers on same-origin GETs)
        # The host and port only: a TLS proxy in front may make the scheme differ.
        netloc = urlsplit(origin).netloc if origin != "null" else ""
        if not netloc or netloc.lower() != request.host.lower():
            raise forbidden(
                "bad_origin",
                f"拒绝来自 {origin} 的请求 / Refused: the request came from {origin}, "
                f"not {self.this}",
            )

    async def _sent_csrf(self, request: web.Request) -> str:
        token = request.headers.get(CSRF_HEADER, "")
        if token or not self.form_csrf:
            return token
        if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()  # cached: the handler reads it again
            value = form.get("csrf")
            return value if isinstance(value, str) else ""
        return ""

    async def check_csrf(self, request: web.Request, expected: str) -> None:
        """The session's CSRF token, compared in constant time; missing or wrong is a 403."""
        sent = await self._sent_csrf(request)
        if not sent:
            raise forbidden(
                "csrf_missing",
                "缺少安全令牌，请刷新页面后重试 / The CSRF token is missing: reload the page and "
                "try again",
            )
        if not secrets.compare_digest(sent.encode(), expected.encode()):
            raise forbidden(
                "csrf_failed",
                "安全令牌不对，请刷新页面后重试 / Wrong CSRF token: reload the page and try again",
            )

    def pre_token(self, request: web.Request) -> str:
        """The pre-session token: the browser's own while it looks like one, else a new one."""
        token = request.cookies.get(self.pre_cookie, "")
        return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)

    def check_pre_session(self, request: web.Request) -> None:
        """Logging in or setting up: from this app's own page, with its pre-session token."""
        self.check_origin(request)
        cookie = request.cookies.get(self.pre_cookie, "")
        sent = request.headers.get(CSRF_HEADER, "")
        if not cookie or not sent:
            raise forbidden(
                "csrf_missing",
                "页面已过期，请刷新后再登录 / The page is out of date: reload it and log in again",
            )
        if not secrets.compare_digest(cookie.encode(), sent.encode()):
            raise forbidden(
                "csrf_failed",
                "安全令牌不对，请刷新后再登录 / Wrong CSRF token: reload the page and log in again",
            )

    # ------------------------------------------------------------ cookies

    def set_cookie(
        self,
        response: web.StreamResponse,
        request: web.Request,
        name: str,
        value: str,
        max_age: int,
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=self.cookie_path,
            httponly=True,
            samesite="Strict",
            secure=request.secure,
        )

    def set_session_cookie(
        self, response: web.StreamResponse, request: web.Request, session: S
    ) -> None:
        """The cookie lives as long as the session (renewed with each use: sliding expiry)."""
        max_age = max(1, math.ceil(session.expires - self.now(request)))
        self.set_cookie(response, request, self.session_cookie, session.token, max_age)

    def clear_cookie(self, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(name, path=self.cookie_path)

    # ------------------------------------------------------------ sessions

    async def session_of(self, request: web.Request) -> S | None:
        """The request's live session, or None (no cookie, or expired)."""
        token = request.cookies.get(self.session_cookie, "")
        return await self.lookup(request, token) if token else None

    async def require_session(self, request: web.Request) -> S:
        """The request's live session, or a 401 that the page turns into the login."""
        token = request.cookies.get(self.session_cookie, "")
        if not token:
            raise CommandRejected("login_required", "请先登录 / Log in first", 401)
        session = await self.lookup(request, token)
        if session is None:
            raise CommandRejected(
                "session_expired",
                "登录已过期，请重新登录 / Your session has expired: log in again",
                401,
            )
        return session

    async def admit(self, request: web.Request) -> S:
        """The session of a request to the API: origin and (for writes) CSRF checked."""
        write = request.method in WRITE_METHODS
        if write or request.headers.get("Origin"):
            self.check_origin(request)
        session = await self.require_session(request)
        if write:
            await self.check_csrf(request, session.csrf)
        return session

    def guard(self, handler: Handler, allow: Callable[[S], None] | None = None) -> Handler:
        """`handler` behind the session, the role (`allow` raises when it is not enough) and
        (for writes) the CSRF and origin checks; its answer renews the session's cookie."""

        async def run(request: web.Request) -> web.StreamResponse:
            session = await self.admit(request)
            if allow is not None:
                allow(session)
            request[self.key] = session
            response = await handler(request)
            self.set_session_cookie(response, request, session)
            return no_store(response)

        run.__name__ = handler.__name__
        return run

    # ------------------------------------------------------------ the session endpoints

    async def session_state(
        self, request: web.Request, setup: bool, describe: Callable[[S], dict[str, Any]]
    ) -> web.Response:
        """The session endpoint: "setup" (no user yet), "login", or "ok" (`describe`).

        Without a session the answer carries a new pre-session token, also set as a cookie
        for the login form to send back; the cookie of an ended session is cleared.
        """
        session = None if setup else await self.session_of(request)
        if session is not None:
            response = json_response(describe(session))
            self.set_session_cookie(response, request, session)
            return no_store(response)
        pre = self.pre_token(request)
        cookie = request.cookies.get(self.session_cookie, "")
        if setup:
            body: dict[str, Any] = {"state": "setup", "token": pre}
        else:
            body = {"state": "login", "token": pre, "expired": bool(cookie)}
        response = json_response(body)
        self.set_cookie(response, request, self.pre_cookie, pre, PRE_TOKEN_SECONDS)
        if cookie:
            self.clear_cookie(response, self.session_cookie)
        return no_store(response)

    def logged_in(self, request: web.Request, session: S, body: dict[str, Any]) -> web.Response:
        """A login's answer: the session's cookie; the pre-session token is used up."""
        response = json_response(body)
        self.set_session_cookie(response, request, session)
        self.clear_cookie(response, self.pre_cookie)
        return no_store(response)

    async def log_out(
        self, request: web.Request, end: Callable[[web.Request, str], Awaitable[None]]
    ) -> web.Response:
        """Ends the session (with its CSRF token, so another site cannot log you out)."""
        self.check_origin(request)
        token = request.cookies.get(self.session_cookie, "")
        session = await self.session_of(request)
        if session is not None:
            await self.check_csrf(request, session.csrf)
            await end(request, token)
        response = json_response({"state": "login"})
        self.clear_cookie(response, self.session_cookie)
        return no_store(response)
