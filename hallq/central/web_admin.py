"""What a city admin looks after: halls, their uplink tokens, and users (the routes are
registered admin-only in hallq.central.web)."""

from __future__ import annotations

import logging

from aiohttp import web

from hallq.central import accounts, halls, queries
from hallq.central.web_request import db_of, now_of, only, read_json, text
from hallq.central.web_session import current
from hallq.errors import BadRequest
from hallq.webguard import json_response

log = logging.getLogger("hallq.central.web")


# ---------------------------------------------------------------- halls and tokens


async def admin_halls(request: web.Request) -> web.StreamResponse:
    rows = await halls.list_halls(db_of(request))
    now = now_of(request)
    out = []
    for h in rows:
        live = h.pop("live", {}) or {}
        last_seen = h.get("last_seen")
        h["online"] = last_seen is not None and now - last_seen <= queries.OFFLINE_AFTER_SECONDS
        h["live_day"] = live.get("day")
        h["tokens"] = await halls.list_tokens(db_of(request), h["hall_id"])
        out.append(h)
    return json_response({"halls": out, "now": now})


async def admin_create_hall(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "hall_id", "name", "name_en")
    hall_id = text(body, "hall_id", 63, required=True).strip()
    await halls.create_hall(
        db_of(request),
        hall_id,
        text(body, "name", 100),
        text(body, "name_en", 100),
        now_of(request),
    )
    log.info("hall %s created by %s", hall_id, current(request).username)
    return json_response({"hall_id": hall_id}, status=201)


async def admin_update_hall(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "name", "name_en")
    hall_id = request.match_info["hall_id"]
    await halls.update_hall(
        db_of(request), hall_id, text(body, "name", 100), text(body, "name_en", 100)
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
        db_of(request), hall_id, text(body, "label", 100), session.username, now_of(request)
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
    await halls.revoke_token(db_of(request), hall_id, token_id, session.username, now_of(request))
    log.info("uplink token %s of hall %s revoked by %s", token_id, hall_id, session.username)
    return json_response({"hall_id": hall_id, "token_id": token_id, "revoked": True})


# ---------------------------------------------------------------- users


async def admin_users(request: web.Request) -> web.StreamResponse:
    now = now_of(request)
    users = await accounts.list_users(db_of(request))
    return json_response({"users": [u.as_json(now) for u in users]})


async def admin_create_user(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "username", "password", "role", "hall_id", "display_name")
    user = await accounts.create_user(
        db_of(request),
        text(body, "username", 64),
        text(body, "password", 200),
        text(body, "role", 20),
        text(body, "hall_id", 63) or None,
        text(body, "display_name", 64),
        now_of(request),
    )
    log.info("user %s (%s) created by %s", user.username, user.role, current(request).username)
    return json_response(user.as_json(now_of(request)), status=201)


async def admin_reset_password(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    only(body, "password")
    username = request.match_info["username"]
    await accounts.set_password(db_of(request), username, text(body, "password", 200))
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
    await accounts.set_disabled(db_of(request), username, disabled, current(request).username)
    log.info(
        "user %s %s by %s",
        username,
        "disabled" if disabled else "enabled",
        current(request).username,
    )
    return json_response({"username": username, "disabled": disabled})


async def admin_unlock(request: web.Request) -> web.StreamResponse:
    username = request.match_info["username"]
    await accounts.unlock(db_of(request), username)
    return json_response({"username": username})
