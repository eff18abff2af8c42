"""The facilities admin (设施管理后台, `/admin`): one page, its JSON under `/admin/api/`.

The page (static/admin/) is a client of these endpoints and of the hall's feed. Who may do
what is decided in `admin_auth` (sessions, roles, CSRF); configuration in `admin_config`;
users and PINs in `admin_users`; voice and printers in `admin_devices`. docs/ADMIN.md
describes it for the people who use it.
"""

from __future__ import annotations

from aiohttp import web

from hallq.web import admin_auth, admin_config, admin_devices, admin_users
from hallq.web.pages import page


async def admin_page(request: web.Request) -> web.FileResponse:
    response = page("admin/index.html")
    response.headers["Cache-Control"] = "no-store"
    return response


async def admin_slash(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/admin")


def add_routes(app: web.Application) -> None:
    """Add this area's pages and endpoints to the controller's app."""
    app.router.add_get("/admin", admin_page)
    app.router.add_get("/admin/", admin_slash)
    admin_auth.add_routes(app)
    admin_config.add_routes(app)
    admin_users.add_routes(app)
    admin_devices.add_routes(app)
