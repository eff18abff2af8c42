"""Serving the pages' files: static HTML, JS and CSS, with headers that keep them safe."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from hallq.webguard import html_file, no_icon

STATIC = Path(__file__).parent / "static"

# Scripts and styles only from the controller itself; WebSockets back to it. No page loads
# anything from the internet: a hall's network often has none.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self' ws: wss:; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def page(name: str) -> web.FileResponse:
    """An HTML page from static/, never cached (a new version shows after a reload)."""
    return html_file(STATIC / name, CSP, cache="no-cache")


async def index(request: web.Request) -> web.FileResponse:
    return page("index.html")


def add_routes(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", no_icon)
