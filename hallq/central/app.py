"""The central server's aiohttp application: halls report here, managers read here.

One process is stateless apart from caches: several can run behind a reverse proxy on one
PostgreSQL (docs/CENTRAL.md). The parts:

- `hallq.central.uplink_api`: what halls send (/api/uplink/*) and the public JSON of waits.
- `hallq.central.web`: what people read: sign-in, the halls at a glance, a hall's page,
  charts, reports (CSV/XLSX), bad-review follow-up (回访), halls and tokens, users.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from hallq import webguard
from hallq.central.db import Database, DatabaseError, connect
from hallq.central.schema import migrate

# JSON in and out as on the hall controller; named here for the central server's routes.
from hallq.webguard import error_response as error_response
from hallq.webguard import json_response as json_response

log = logging.getLogger("hallq.central")

db_key = web.AppKey("db", Database)
Clock = Callable[[], float]
clock_key: web.AppKey[Clock] = web.AppKey("clock")

BODY_MAX = 20 * 1024 * 1024  # an uplink batch (compressed) or a configuration upload


def _database_trouble(request: web.Request, e: Exception) -> web.StreamResponse | None:
    if not isinstance(e, DatabaseError):
        return None
    log.error("database trouble on %s %s: %s", request.method, request.path, e)
    return error_response(
        "database_unavailable",
        "数据库暂不可用，请稍后再试 / Database unavailable, try again",
        503,
    )


# Every error as JSON; a database that cannot be reached is a 503 a client may retry.
errors_middleware = webguard.errors_middleware(
    log, keep_headers=("Allow", "Retry-After", "WWW-Authenticate"), answer=_database_trouble
)


def create_central_app(
    db_url: str,
    clock: Callable[[], float] = time.time,
    pool_size: int = 10,
) -> web.Application:
    """The central server on the database at `db_url` (migrated at start)."""
    from hallq.central.uplink_api import add_uplink_routes
    from hallq.central.web import add_central_web

    app = web.Application(middlewares=[errors_middleware], client_max_size=BODY_MAX)
    app[clock_key] = clock

    async def database(app: web.Application) -> AsyncIterator[None]:
        db = await connect(db_url, pool_size=pool_size)
        try:
            applied = await migrate(db)
        except BaseException:
            await db.close()
            raise
        if applied:
            log.info("database %s: migrations %s applied", db.describe(), applied)
        app[db_key] = db
        yield
        await db.close()

    app.cleanup_ctx.append(database)
    add_uplink_routes(app)
    add_central_web(app)
    return app
