"""`hallq screen ID`: a hall screen on a Pi (the hallq-screen@ID unit runs it inside cage).

Waits until the controller serves /screen/ID, then runs Chromium in kiosk mode on it (again
whenever it exits; giving up after repeated fast failures, so systemd's restart limit
applies), while the display follows the screen's power schedule (hallq/screen/follow.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import signal
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import aiohttp

from hallq.drivers.displaypower import DisplayPower
from hallq.screen.browser import (
    DEFAULT_BROWSER,
    Relaunch,
    browser_argv,
    default_profile,
    find_browser,
    supervise,
)
from hallq.screen.follow import POLL_SECONDS, PowerFollower

log = logging.getLogger("hallq.screen")

SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")  # as [[screens]] ids (config.py)
REQUEST_SECONDS = 10.0


@dataclass(frozen=True)
class ScreenOptions:
    screen: str
    controller: str = "http://127.0.0.1:8080"
    browser: str | None = None  # None: /usr/bin/chromium, else chromium-browser on PATH
    profile: Path | None = None  # None: default_profile()
    display: str = "auto"  # a DisplayPower method
    cec: bool = False
    cec_device: str = "/dev/cec0"
    outputs: tuple[str, ...] = ()
    poll_seconds: float = POLL_SECONDS
    relaunch: Relaunch = field(default_factory=Relaunch)
    first_wait: float = 1.0  # waiting for the controller: first pause, doubling to max_wait
    max_wait: float = 30.0


def page_url(controller: str, screen_id: str) -> str:
    return f"{controller.rstrip('/')}/screen/{quote(screen_id, safe='')}"


async def wait_for_page(
    http: aiohttp.ClientSession, url: str, first_wait: float = 1.0, max_wait: float = 30.0
) -> None:
    """Return once `url` answers 200; until then try again, the pause doubling to `max_wait`.

    Logged once when it starts waiting and once when the page answers, not on every try.
    """
    delay = first_wait
    waiting = False
    while True:
        try:
            async with http.get(url) as response:
                await response.read()
                problem = "" if response.status == 200 else f"HTTP {response.status}"
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            problem = str(e) or type(e).__name__
        if not problem:
            if waiting:
                log.info("%s answers", url)
            return
        if not waiting:
            log.warning(
                "waiting for the controller: %s (%s); trying again until it answers", url, problem
            )
            waiting = True
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_wait)


async def run_screen(options: ScreenOptions, env: Mapping[str, str] | None = None) -> int:
    """Run screen `options.screen` until cancelled; the process's exit status otherwise."""
    environ = dict(os.environ if env is None else env)
    if not SCREEN_ID.match(options.screen):
        log.error(
            'screen id "%s": use the id of a [[screens]] entry (lower-case letters, digits, "-"), '
            "or window-N",
            options.screen,
        )
        return 2
    browser = find_browser(options.browser, environ)
    if browser is None:
        wanted = options.browser or DEFAULT_BROWSER
        log.error("no browser at %s: install Chromium (sudo apt install chromium)", wanted)
        return 2
    profile = options.profile or default_profile(options.screen, environ)
    try:
        profile.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        log.error(
            "cannot make Chromium's profile folder %s: %s; give --profile a folder this user can write",
            profile,
            e.strerror or e,
        )
        return 2
    url = page_url(options.controller, options.screen)
    display = DisplayPower(
        options.display,
        cec=options.cec,
        cec_device=options.cec_device,
        outputs=options.outputs,
        env=environ,
    )
    timeout = aiohttp.ClientTimeout(total=REQUEST_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        await wait_for_page(http, url, options.first_wait, options.max_wait)
        follower = PowerFollower(
            http, options.controller, options.screen, display, options.poll_seconds
        )
        following = asyncio.create_task(follower.run(), name="hallq-screen-power")
        try:
            return await supervise(
                browser_argv(browser, url, profile, environ), environ, options.relaunch
            )
        finally:
            following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await following
            await follower.restore()


def main(options: ScreenOptions) -> int:
    """Run the screen until SIGTERM or Ctrl-C (status 0), or until the browser keeps failing."""

    async def until_stopped() -> int:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            return await run_screen(options)
        except asyncio.CancelledError:
            log.info("stopped")
            return 0

    return asyncio.run(until_stopped())
