"""The central server's aiohttp application: halls report here, managers read here.

One process is stateless apart from caches: several can run behind a reverse proxy on one
PostgreSQL (docs/CENTRAL.md). The parts:

- `hallq.central.uplink_api`: what halls send (/api/uplink/*) and the public JSON of waits.
- `hallq.central.web`: what people read: sign-in, the halls at a glance, a hall's page,
  charts, reports (CSV/XLSX), bad-review follow-up (回访), halls and tokens, users.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from hallq.central.db import Database, DatabaseError, connect
from hallq.central.schema import migrate
from hallq.errors import CommandRejected

log = logging.getLogger("hallq.central")

db_key = web.AppKey("db", Database)
Clock = Callable[[], float]
clock_key: web.AppKey[Clock] = web.AppKey("clock")

BODY_MAX = 20 * 1024 * 1024  # an uplink batch (compressed) or a configuration upload


def json_response(data: Any, status: int = 200) -> web.Response:
    import msgspec

    return web.Response(
        body=msgspec.json.encode(data), status=status, content_type="application/json"
    )


def error_response(code: str, message: str, status: int, **extra: Any) -> web.Response:
    return json_response({"error": {"code": code, "message": message}, **extra}, status=status)


@web.middleware
async def errors_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Every error as JSON {"error": {"code", "message"}}: a person's mistake never a 500."""
    try:
        return await handler(request)
    except CommandRejected as e:
        return error_response(e.code, e.message, e.status)
    except DatabaseError as e:
        log.error("database trouble on %s %s: %s", request.method, request.path, e)
        return error_response(
            "database_unavailable",
            "数据库暂不可用，请稍后再试 / Database unavailable, try again",
            503,
        )
    except web.HTTPException as e:
        if e.status >= 400 and e.content_type != "application/json":
            response = error_response(
                e.reason.lower().replace(" ", "_"), e.text or e.reason, e.status
            )
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in e.headers:
                    response.headers[header] = e.headers[header]
            return response
        raise
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("internal error on %s %s", request.method, request.path)
        return error_response("internal_error", "内部错误，已记录 / Internal error (logged)", 500)


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
