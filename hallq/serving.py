"""Running a server from the command line: the hall controller (`hallq`) and the central
server (`hallq central`) start the same way."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from aiohttp import web

DEMO_CENTRAL_PORT = 8090  # `hallq central run --demo`; the demo hall reports there


def state_dir() -> Path:
    """Where hallq keeps its data by default: $XDG_STATE_HOME/hallq (~/.local/state/hallq)."""
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "hallq"


def log_to_stderr() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def base_url(host: str, port: int) -> tuple[str, str]:
    """(host as a person can open it, the server's http:// address) for the start banner."""
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    return shown, f"http://{shown}:{port}"


def fast_event_loop() -> None:
    """Use uvloop where it is installed: the same asyncio, with HTTP handled in about half the time."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; this is for odd platforms
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def serve(
    app: web.Application,
    host: str,
    port: int,
    access_log: bool,
    reuse_port: bool | None = None,
) -> None:
    """Run `app` until stopped (Ctrl-C, SIGTERM); OSError when it cannot listen."""
    fast_event_loop()
    web.run_app(
        app,
        host=host,
        port=port,
        print=None,
        handle_signals=True,
        reuse_port=reuse_port,
        # One line per request costs about a tenth of a call's time; off unless asked.
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
    )
