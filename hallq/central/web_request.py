"""Reading a request to the central server's pages API: its database and clock, a JSON
body, its text fields and numbers, each refused with a message that says what to fix."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hallq.central.app import clock_key, db_key
from hallq.central.db import Database
from hallq.errors import BadRequest
from hallq.webguard import check_body_size, json_object

BODY_MAX = 64 * 1024


def db_of(request: web.Request) -> Database:
    return request.app[db_key]


def now_of(request: web.Request) -> float:
    return float(request.app[clock_key]())


async def read_json(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object ({} when empty)."""
    check_body_size(request.content_length, BODY_MAX)
    # Only what may be read: the app takes far larger bodies (uplink batches).
    return json_object(await request.content.read(BODY_MAX + 1), BODY_MAX)


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


def int_param(request: web.Request, name: str, default: int) -> int:
    """A whole number in the query string (ASCII digits only: "²" is a digit to str.isdigit)."""
    raw = request.query.get(name, "")
    if not raw:
        return default
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 7):
        raise BadRequest("bad_request", f"{name} 须为整数 / {name} must be a whole number")
    return int(raw)
