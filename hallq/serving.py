"""Running a server from the command line: the hall controller (`hallq`) and the central
server (`hallq central`) start the same way."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from hallq import sdnotify

DEMO_CENTRAL_PORT = 8090  # `hallq central run --demo`; the demo hall reports there

# What runs once every site of an app listens (aiohttp has no signal for it: its on_startup
# and cleanup_ctx run before the sites open).
listening_key: web.AppKey[list[Callable[[], None]]] = web.AppKey("listening", list)
systemd_key: web.AppKey[SystemdService] = web.AppKey("systemd")


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
        # run_app calls `print` once, after every site has started listening.
        print=lambda *_: now_listening(app),
        handle_signals=True,
        reuse_port=reuse_port,
        # One line per request costs about a tenth of a call's time; off unless asked.
        access_log=logging.getLogger("aiohttp.access") if access_log else None,
    )


def when_listening(app: web.Application, callback: Callable[[], None]) -> None:
    """Call `callback` once `serve` has `app` listening (its start-up, in cleanup_ctx, is done)."""
    app.setdefault(listening_key, []).append(callback)


def now_listening(app: web.Application) -> None:
    """`app` listens now: run what waits for it (`serve` does; so do tests running their own site)."""
    for callback in app.get(listening_key, []):
        callback()


class SystemdService:
    """systemd's view of a server run by `serve` (a unit with `Type=notify`, docs/DEPLOY.md).

    READY=1 once the server listens (its state is loaded by then), WATCHDOG=1 every half of
    `WatchdogSec=` while the event loop runs and `check` passes (hallq.sdnotify.Watchdog),
    STOPPING=1 as soon as it starts shutting down. Under no systemd nothing is sent.
    """

    def __init__(
        self, app: web.Application, status: Callable[[], str], check: sdnotify.Check | None = None
    ) -> None:
        self.status = status
        self.check = check
        self.watchdog: sdnotify.Watchdog | None = None
        app[systemd_key] = self
        when_listening(app, self.ready)
        app.on_shutdown.append(self._stopping)
        app.cleanup_ctx.append(self._lifecycle)

    def ready(self) -> None:
        status = self.status()
        told = sdnotify.notify("READY=1", f"STATUS={status}")
        timeout = sdnotify.watchdog_interval()
        if told and timeout is not None and self.watchdog is None:
            self.watchdog = sdnotify.Watchdog(timeout, self.check, healthy_status=status)
            self.watchdog.start()

    async def _stopping(self, app: web.Application) -> None:
        sdnotify.notify("STOPPING=1", "STATUS=正在停止 / stopping")

    async def _lifecycle(self, app: web.Application) -> AsyncIterator[None]:
        yield
        # Cleaned up before what was set up earlier (the writer): no false alarm on the way out.
        if self.watchdog is not None:
            await self.watchdog.stop()
