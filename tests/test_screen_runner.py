"""`hallq screen ID` (hallq/screen/): a fake controller on a real port, a fake Chromium and a
fake wlr-randr on a PATH of their own, each recording how it was called."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import textwrap
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hallq.cli import build_parser
from hallq.screen.browser import KIOSK_FLAGS, Relaunch
from hallq.screen.run import ScreenOptions, run_screen


@dataclass
class FakeController:
    """Serves /screen/{id} (503 for the first `unready` asks), the power route, device health."""

    unready: int = 2
    lit: bool = True
    page_asks: int = 0
    power_asks: int = 0
    known: set[str] = field(default_factory=lambda: {"hall"})
    health: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/screen/{id}", self.page)
        app.router.add_get("/api/screens/{id}/power", self.power)
        app.router.add_post("/api/devices/{device}/health", self.report)
        return app

    async def page(self, request: web.Request) -> web.Response:
        self.page_asks += 1
        if self.page_asks <= self.unready:
            return web.Response(status=503, text="starting")
        return web.Response(text="<!doctype html><title>screen</title>", content_type="text/html")

    async def power(self, request: web.Request) -> web.Response:
        self.power_asks += 1
        if request.match_info["id"] not in self.known:
            error = {"code": "screen_not_found", "message": "There is no screen lobby: add it"}
            return web.json_response({"error": error}, status=404)
        now = time.time()
        return web.json_response(
            {"screen": "hall", "lit": self.lit, "now": now, "next_change": now + 3600}
        )

    async def report(self, request: web.Request) -> web.Response:
        self.health.append((request.match_info["device"], await request.json()))
        return web.json_response({"ok": True})


@pytest.fixture
async def controller() -> AsyncIterator[tuple[FakeController, str]]:
    fake = FakeController()
    server = TestServer(fake.app(), host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


class Machine:
    """The screen Pi: a fake chromium (records its argv, keeps running or crashes) and a fake
    wlr-randr with one output, in a bin folder that is the whole PATH."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.bin = root / "bin"
        self.bin.mkdir()
        self.launches = root / "launches"
        self.launches.mkdir()
        self.wlr_log = root / "wlr.log"
        self.crash = root / "crash"  # present: chromium exits at once with status 1
        self.browser = self.bin / "chromium"
        self._script(
            self.browser,
            f"""
            printf '%s\\n' "$@" > "{self.launches}/$$"
            [ -e "{self.crash}" ] && exit 1
            exec sleep 300
            """,
        )
        self._script(
            self.bin / "wlr-randr",
            f"""
            echo "$*" >> "{self.wlr_log}"
            case "$1" in
              --json) echo '[{{"name": "HDMI-A-1", "enabled": true}}]' ;;
            esac
            """,
        )

    def _script(self, path: Path, body: str) -> None:
        path.write_text("#!/bin/sh\nexport PATH=/usr/bin:/bin\n" + textwrap.dedent(body))
        path.chmod(0o755)

    def env(self) -> dict[str, str]:
        return {"PATH": str(self.bin), "WAYLAND_DISPLAY": "wayland-1"}

    def argvs(self) -> dict[int, list[str]]:
        """Each launch's argv by pid, once it has written it."""
        out = {}
        for f in self.launches.iterdir():
            lines = f.read_text().splitlines()
            if lines and lines[-1].startswith("http"):
                out[int(f.name)] = lines
        return out

    def switches(self) -> list[str]:
        lines = self.wlr_log.read_text().splitlines() if self.wlr_log.exists() else []
        return [line for line in lines if line.startswith("--output")]

    def options(self, url: str, screen: str = "hall", **changes: Any) -> ScreenOptions:
        settings: dict[str, Any] = {
            "screen": screen,
            "controller": url,
            "browser": str(self.browser),
            "profile": self.root / "profile",
            "poll_seconds": 0.05,
            "relaunch": Relaunch(
                fast_seconds=0.0, max_fast_failures=3, first_delay=0.01, max_delay=0.05
            ),
            "first_wait": 0.01,
            "max_wait": 0.05,
            **changes,
        }
        return ScreenOptions(**settings)


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


async def eventually(check: Callable[[], Any]) -> Any:
    for _ in range(500):
        result = check()
        if result:
            return result
        await asyncio.sleep(0.02)
    return check()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with contextlib.suppress(FileNotFoundError):
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    return False


async def test_the_screen_waits_runs_chromium_relaunches_it_and_follows_the_hours(
    controller: tuple[FakeController, str], machine: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = controller
    caplog.set_level(logging.INFO, logger="hallq")
    runner = asyncio.create_task(run_screen(machine.options(url), env=machine.env()))
    try:
        launched = await eventually(machine.argvs)
        assert len(launched) == 1
        assert fake.page_asks == 3  # two 503s, then the page
        waits = [r for r in caplog.records if "waiting for the controller" in r.getMessage()]
        assert len(waits) == 1  # said once, not on every try

        (pid, argv) = next(iter(launched.items()))
        assert argv[-1] == f"{url}/screen/hall"
        assert set(KIOSK_FLAGS) <= set(argv)
        assert "--kiosk" in argv and "--hide-crash-restore-bubble" in argv
        assert f"--user-data-dir={machine.root / 'profile'}" in argv
        assert "--ozone-platform=wayland" in argv  # WAYLAND_DISPLAY is set (cage)
        assert (machine.root / "profile").is_dir()

        # Lit at first: the display is switched on, and its health reported to the controller.
        assert await eventually(lambda: machine.switches() == ["--output HDMI-A-1 --on"])
        assert await eventually(lambda: fake.health)
        device, body = fake.health[0]
        assert device == "screen-hall" and body["kind"] == "display" and body["status"] == "ok"

        fake.lit = False  # closing time
        assert await eventually(lambda: machine.switches()[-1:] == ["--output HDMI-A-1 --off"])
        fake.lit = True  # before opening
        assert await eventually(lambda: machine.switches()[-1:] == ["--output HDMI-A-1 --on"])
        assert len(machine.switches()) == 3  # no switch while the answer stays the same

        os.kill(pid, 9)  # Chromium crashes: started again
        relaunched = await eventually(lambda: len(machine.argvs()) == 2 and machine.argvs())
        assert relaunched
        (second,) = [p for p in relaunched if p != pid]
        assert relaunched[second] == argv
        assert alive(second)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert not alive(second)  # stopped with the screen


async def test_repeated_fast_failures_end_with_a_nonzero_status(
    controller: tuple[FakeController, str], machine: Machine
) -> None:
    fake, url = controller
    fake.unready = 0
    machine.crash.touch()
    relaunch = Relaunch(fast_seconds=3600, max_fast_failures=3, first_delay=0.01, max_delay=0.02)
    status = await asyncio.wait_for(
        run_screen(machine.options(url, relaunch=relaunch), env=machine.env()), 60
    )
    assert status == 1  # systemd's restart limit takes it from here
    assert len(list(machine.launches.iterdir())) == 3


async def test_a_display_turned_off_is_turned_on_when_the_screen_stops(
    controller: tuple[FakeController, str], machine: Machine
) -> None:
    fake, url = controller
    fake.unready, fake.lit = 0, False
    runner = asyncio.create_task(run_screen(machine.options(url), env=machine.env()))
    try:
        assert await eventually(lambda: machine.switches() == ["--output HDMI-A-1 --off"])
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert machine.switches() == ["--output HDMI-A-1 --off", "--output HDMI-A-1 --on"]


async def test_an_unknown_screen_keeps_its_display_on_and_says_so_once(
    controller: tuple[FakeController, str], machine: Machine, caplog: pytest.LogCaptureFixture
) -> None:
    fake, url = controller
    fake.unready = 0
    runner = asyncio.create_task(
        run_screen(machine.options(url, screen="lobby"), env=machine.env())
    )
    try:
        assert await eventually(lambda: fake.power_asks >= 3)
        assert machine.switches() == ["--output HDMI-A-1 --on"]
        notes = [r for r in caplog.records if "There is no screen lobby" in r.getMessage()]
        assert len(notes) == 1
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)


async def test_what_cannot_run_says_why(
    machine: Machine, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    url = "http://127.0.0.1:9"  # never reached: each case stops before
    no_browser = machine.options(url, browser=str(tmp_path / "no-chromium"))
    assert await run_screen(no_browser, env=machine.env()) == 2
    assert "apt install chromium" in caplog.text
    assert await run_screen(machine.options(url, screen="Hall Screen"), env=machine.env()) == 2
    assert "window-N" in caplog.text
    (tmp_path / "file").write_text("")
    blocked = machine.options(url, profile=tmp_path / "file" / "profile")
    assert await run_screen(blocked, env=machine.env()) == 2
    assert "--profile" in caplog.text


def test_the_command_line() -> None:
    args = build_parser().parse_args(
        [
            "screen",
            "window-3",
            "--controller",
            "http://10.0.0.2:8080",
            "--cec",
            "--output",
            "HDMI-A-1",
        ]
    )
    assert (args.id, args.controller, args.cec, args.output) == (
        "window-3",
        "http://10.0.0.2:8080",
        True,
        ["HDMI-A-1"],
    )
    assert args.display == "auto" and args.browser is None and args.profile is None
