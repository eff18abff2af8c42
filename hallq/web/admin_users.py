"""The admin page's users: admin page logins (admin, staff) and the window staff's PINs.

Accounts keeps both in its own file, never in the hall configuration; a PIN is never shown
or sent back, only whether one is set. Staff members themselves (id, name, windows) are part
of the configuration and are edited through it.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from hallq.controller.api import accounts_key, json_response, writer_key
from hallq.errors import BadRequest, NotFound
from hallq.web.admin_auth import add_guarded, current_session, read_json, text_field


def _name(request: web.Request) -> str:
    return request.match_info["name"]


async def list_users(request: web.Request) -> web.StreamResponse:
    accounts = request.app[accounts_key]
    users = await asyncio.to_thread(accounts.users)
    pins = await asyncio.to_thread(accounts.pins_set)
    staff = request.app[writer_key].engine.config.staff
    return json_response(
        {
            "users": [{"name": u.name, "role": u.role, "created": u.created} for u in users],
            "me": current_session(request).name,
            "pins": sorted(p for p in pins if any(s.id == p for s in staff)),
        }
    )


async def add_user(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    name = text_field(body, "name", 64)
    role = text_field(body, "role", 10)
    password = text_field(body, "password", 200)
    await asyncio.to_thread(request.app[accounts_key].add_user, name, role, password)
    return json_response({"ok": True, "name": name.strip()}, status=201)


async def reset_password(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    password = text_field(body, "password", 200)
    await asyncio.to_thread(request.app[accounts_key].set_password, _name(request), password)
    return json_response({"ok": True})


async def set_role(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    role = text_field(body, "role", 10)
    await asyncio.to_thread(request.app[accounts_key].set_role, _name(request), role)
    return json_response({"ok": True})


async def delete_user(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(request.app[accounts_key].delete_user, _name(request))
    return json_response({"ok": True})


async def unlock_user(request: web.Request) -> web.StreamResponse:
    await asyncio.to_thread(request.app[accounts_key].unlock, _name(request))
    return json_response({"ok": True})


def _staff_id(request: web.Request) -> str:
    staff = request.match_info["staff"]
    if not any(s.id == staff for s in request.app[writer_key].engine.config.staff):
        raise NotFound(
            "staff_not_found",
            f"没有工号 {staff} 的工作人员 / No staff member {staff} in the configuration",
        )
    return staff


async def set_pin(request: web.Request) -> web.StreamResponse:
    staff = _staff_id(request)
    body = await read_json(request)
    pin = body.get("pin")
    if not isinstance(pin, str):
        raise BadRequest("invalid_pin", "PIN 为 4-8 位数字 / A PIN is 4-8 digits")
    # A new PIN also lifts a PIN lockout (Accounts clears the failures).
    await asyncio.to_thread(request.app[accounts_key].set_pin, staff, pin)
    return json_response({"ok": True, "staff": staff, "pin_set": True})


async def clear_pin(request: web.Request) -> web.StreamResponse:
    staff = _staff_id(request)
    await asyncio.to_thread(request.app[accounts_key].clear_pin, staff)
    return json_response({"ok": True, "staff": staff, "pin_set": False})


def add_routes(app: web.Application) -> None:
    add_guarded(app, "GET", "/admin/api/users", list_users, "admin")
    add_guarded(app, "POST", "/admin/api/users", add_user, "admin")
    add_guarded(app, "POST", "/admin/api/users/{name}/password", reset_password, "admin")
    add_guarded(app, "POST", "/admin/api/users/{name}/role", set_role, "admin")
    add_guarded(app, "POST", "/admin/api/users/{name}/unlock", unlock_user, "admin")
    add_guarded(app, "DELETE", "/admin/api/users/{name}", delete_user, "admin")
    add_guarded(app, "PUT", "/admin/api/pins/{staff}", set_pin, "admin")
    add_guarded(app, "DELETE", "/admin/api/pins/{staff}", clear_pin, "admin")
