"""Serving the pages' files: static HTML, JS and CSS, with headers that keep them safe."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

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
    response = web.FileResponse(STATIC / name)
    response.headers.update(
        {
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        }
    )
    response.content_type = "text/html"
    response.charset = "utf-8"
    return response


async def index(request: web.Request) -> web.FileResponse:
    return page("index.html")


async def favicon(request: web.Request) -> web.Response:
    """No icon: an empty answer, so that browsers stop asking and log no error."""
    return web.Response(status=204, headers={"Cache-Control": "max-age=86400"})


def add_routes(app: web.Application) -> None:
    app.router.add_static("/static/", STATIC, append_version=False)
    app.router.add_get("/", index)
    app.router.add_get("/favicon.ico", favicon)
