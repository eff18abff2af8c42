"""systemd's service notifications (sd_notify(3)): ready, status, watchdog pings, stopping.

A unit with `Type=notify` gives the service a datagram socket in NOTIFY_SOCKET (a path, or
"@name" in Linux's abstract namespace); the service sends it newline-separated KEY=VALUE
fields: READY=1 once it serves, STATUS=… for `systemctl status`, WATCHDOG=1 at least once
every WATCHDOG_USEC microseconds (`WatchdogSec=`, or systemd kills and restarts it), and
STOPPING=1 as it shuts down. Outside systemd NOTIFY_SOCKET is unset and nothing is sent.

Not python-systemd: it binds libsystemd, so installing it in the Pi's venv needs the
libsystemd-dev headers and a C build, for a protocol that is one datagram on a Unix socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping

log = logging.getLogger("hallq.sdnotify")

# What a health check answers: None when all is well, otherwise what is wrong (the STATUS).
Check = Callable[[], Awaitable[str | None]]
Send = Callable[..., bool]


def notify(*fields: str) -> bool:
    """Send `fields` ("READY=1", "STATUS=…") to systemd as one datagram.

    False when not run by systemd (no NOTIFY_SOCKET) or the message could not be sent; never
    raises and never blocks (a full socket drops the message rather than stall the loop).
    """
    address = os.environ.get("NOTIFY_SOCKET", "")
    if address.startswith("@"):
        address = "\0" + address[1:]  # Linux's abstract namespace: no file on disk
    elif not address.startswith("/"):
        return False  # unset, or a kind of socket (vsock:…) that only VMs are given
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto("\n".join(fields).encode(), address)
    except OSError as e:
        log.warning("systemd notification %s not sent to %s: %s", fields[:1], address, e)
        return False
    return True


def watchdog_interval(environ: Mapping[str, str] = os.environ) -> float | None:
    """The watchdog's timeout in seconds that systemd asks of this process; None: no watchdog.

    WATCHDOG_PID, when set, names the process meant (a child that inherited the environment
    must not ping for its parent).
    """
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    try:
        if pid and int(pid) != os.getpid():
            return None
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Watchdog:
    """Pings systemd's watchdog from a task on the event loop, only while `check` passes.

    The ping comes from the loop itself, never a thread: a loop stalled by a blocking call
    sends nothing, and systemd restarts the service when `WatchdogSec=` passes without one.
    Pinged every half of the timeout; `check` (the service's own vital parts) has a quarter.
    """

    def __init__(
        self,
        timeout: float,
        check: Check | None = None,
        send: Send = notify,
        healthy_status: str = "",
    ) -> None:
        self.timeout = timeout
        self.check = check
        self.send = send
        self.healthy_status = healthy_status  # the STATUS shown again when a problem clears
        self.checks = 0  # rounds done: tests wait on these instead of on the clock
        self.pings = 0
        self.problem: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="hallq-watchdog")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.timeout / 2)
            problem = await self._problem()
            self.checks += 1
            if problem != self.problem:
                if problem is not None:
                    log.error("watchdog: not pinging systemd: %s", problem)
                    self.send(f"STATUS={problem}")
                else:
                    log.info("watchdog: pinging systemd again")
                    self.send(f"STATUS={self.healthy_status}")
                self.problem = problem
            if problem is None and self.send("WATCHDOG=1"):
                self.pings += 1

    async def _problem(self) -> str | None:
        if self.check is None:
            return None
        limit = self.timeout / 4
        try:
            async with asyncio.timeout(limit):
                return await self.check()
        except TimeoutError:
            return f"健康检查超过 {limit:g} 秒未完成 / health check took over {limit:g} s"
        except Exception as e:  # a bug in the check: no ping, so systemd restarts us
            log.exception("watchdog: health check failed")
            return f"健康检查出错 / health check failed: {e}"
