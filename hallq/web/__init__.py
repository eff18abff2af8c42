"""The hall's web pages, served by the controller: screens, window terminals, the
evaluator, the citizen's status page and the facilities admin. Every page is a client of
the controller's API and feed; none keeps state the controller does not have."""

from __future__ import annotations

from aiohttp import web


def add_web_routes(app: web.Application) -> None:
    from hallq.web import admin, pages, screens, status, terminal

    pages.add_routes(app)
    screens.add_routes(app)
    terminal.add_routes(app)
    status.add_routes(app)
    admin.add_routes(app)
