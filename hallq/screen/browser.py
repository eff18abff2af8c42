"""Chromium in kiosk mode for a hall screen: which binary, which flags, and keeping it running.

The flags keep it quiet on a hall network with no Internet: no first-run pages, no "restore
pages?" bubble after a power cut, no translate bar, no update checks or other background
requests, no keyring prompt. The screen page plays no sound (the caller voice is on the
controller), so no autoplay policy is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("hallq.screen")

DEFAULT_BROWSER = "/usr/bin/chromium"  # Debian's (and Raspberry Pi OS's) name
OTHER_BROWSERS = ("chromium-browser", "chromium")  # older Raspberry Pi OS, other systems
PROFILE_ROOT = Path("/var/lib/hallq")

KIOSK_FLAGS = (
    "--kiosk",
    "--noerrdialogs",
    "--disable-infobars",
    "--no-first-run",
    "--no-default-browser-check",
    # --disable-session-crashed-bubble is gone from current Chromium; this one replaced it.
    "--hide-crash-restore-bubble",
    "--disable-features=Translate,MediaRouter",
    "--disable-component-update",
    "--disable-background-networking",
    "--disable-sync",
    "--check-for-update-interval=31536000",
    "--password-store=basic",
    # The profile is usually in $XDG_RUNTIME_DIR, in memory: a small cache is plenty for one page.
    "--disk-cache-size=33554432",
)


def find_browser(given: str | None, env: Mapping[str, str]) -> str | None:
    """The browser to run: `given` if it exists, else Debian's chromium, else one on PATH."""
    if given:
        return given if Path(given).is_file() else shutil.which(given, path=env.get("PATH"))
    if Path(DEFAULT_BROWSER).is_file():
        return DEFAULT_BROWSER
    for name in OTHER_BROWSERS:
        found = shutil.which(name, path=env.get("PATH"))
        if found:
            return found
    return None


def default_profile(screen_id: str, env: Mapping[str, str]) -> Path:
    """Chromium's profile folder: in $XDG_RUNTIME_DIR (memory, fresh each boot, no SD card
    wear) when there is one, else /var/lib/hallq/screen-ID."""
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / f"hallq-screen-{screen_id}"
    return PROFILE_ROOT / f"screen-{screen_id}"


def browser_argv(browser: str, url: str, profile: Path, env: Mapping[str, str]) -> list[str]:
    """The command line: the kiosk flags, the profile, Wayland when there is a compositor."""
    argv = [browser, *KIOSK_FLAGS, f"--user-data-dir={profile}"]
    if env.get("WAYLAND_DISPLAY"):
        argv.append("--ozone-platform=wayland")
    argv.append(url)
    return argv


@dataclass(frozen=True)
class Relaunch:
    """How the browser is kept running: a run shorter than `fast_seconds` is a fast failure;
    after `max_fast_failures` in a row the supervisor gives up (exit status 1), so systemd's
    restart limit applies. Between runs it waits `first_delay`, doubling up to `max_delay`."""

    fast_seconds: float = 30.0
    max_fast_failures: int = 5
    first_delay: float = 1.0
    max_delay: float = 30.0
    stop_seconds: float = 5.0  # SIGTERM, then SIGKILL after this long


async def supervise(
    argv: Sequence[str],
    env: Mapping[str, str],
    policy: Relaunch = Relaunch(),
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Run the browser, again each time it exits; 1 after repeated fast failures.

    Cancelled (the screen is stopping): the browser is stopped, then the cancel goes on.
    """
    fast = 0
    delay = policy.first_delay
    while True:
        started = clock()
        code = await _run_once(argv, env, policy)
        if clock() - started < policy.fast_seconds:
            fast += 1
        else:
            fast, delay = 0, policy.first_delay
        if fast >= policy.max_fast_failures:
            log.error(
                "%s stopped %d times within %g s of starting (last: %s); giving up",
                argv[0],
                fast,
                policy.fast_seconds,
                code,
            )
            return 1
        log.warning("%s stopped (%s); starting it again in %g s", argv[0], code, delay)
        await asyncio.sleep(delay)
        delay = min(delay * 2, policy.max_delay)


async def _run_once(argv: Sequence[str], env: Mapping[str, str], policy: Relaunch) -> str:
    """One run of the browser; how it ended, for the log."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, env=dict(env), start_new_session=True
        )
    except OSError as e:
        return f"could not start: {e.strerror or e}"
    log.info("started %s (pid %d)", argv[0], proc.pid)
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        await _stop(proc, policy.stop_seconds)
        raise
    return f"exit status {code}" if code >= 0 else f"signal {-code}"


async def _stop(proc: asyncio.subprocess.Process, grace: float) -> None:
    """Stop the browser and every process it started (its own process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            async with asyncio.timeout(grace):
                await proc.wait()
            return
        except TimeoutError:
            continue
