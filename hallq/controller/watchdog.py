"""The controller under systemd: ready once it serves, pinging the watchdog while it works.

`hallq.service` is `Type=notify` with `WatchdogSec=30`. READY=1 goes out once the state is
rebuilt from the log and the server listens. WATCHDOG=1 is sent by a task on the event loop,
so a loop stuck in a blocking call stops the pings, and only while the single writer (every
command passes through it) is alive and finishes its batch in hand within the check's
bound: a dead or wedged writer stops them too, and systemd restarts the controller, which
rebuilds its state from the log.
"""

from __future__ import annotations

from aiohttp import web

from hallq.controller.writer import HallWriter
from hallq.serving import SystemdService


def watch(app: web.Application, writer: HallWriter) -> SystemdService:
    """Tell systemd about the controller of `app` (nothing is sent when not run by systemd)."""

    def status() -> str:
        hall = writer.engine.config.hall
        return (
            f"运行中：{hall.name} / running: hall {hall.id}, "
            f"event log at {writer.committed_seq}, business day {writer.engine.state.day}"
        )

    async def check() -> str | None:
        if not writer.running:
            return "事件写入任务已停止 / the event log writer has stopped"
        await writer.settled()  # the batch in hand is committed (bounded by the watchdog)
        return None

    return SystemdService(app, status, check)
