"""A live controller on a port and a real Chromium to open its pages (Playwright).

Use the fixtures `live_hall` (the demo hall, all devices off, on a fake clock that starts on
Monday 2026-11-23 09:00 Shanghai time) and `browser` (Debian's /usr/bin/chromium, headless).
`shot(page, name)` saves a screenshot under test-artifacts/screenshots/ to look at.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hallq.controller.accounts import Accounts
from hallq.controller.api import accounts_key, writer_key
from hallq.controller.app import create_app
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DriverSet
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from tests.conftest import at

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("HALLQ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # CI and the tests run as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--font-render-hinting=none",
]


class Clock:
    """The controller's clock, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class LiveHall:
    """A running controller: its base URL, its writer and a way to send commands directly."""

    url: str
    app: web.Application
    clock: Clock
    config_path: Path
    _serial: list[int] = field(default_factory=lambda: [0])

    @property
    def writer(self) -> HallWriter:
        return self.app[writer_key]

    @property
    def accounts(self) -> Accounts:
        return self.app[accounts_key]

    async def do(self, kind: type[c.Command], **fields: Any) -> dict[str, Any]:
        """Run a command as a client would, and return its reply."""
        self._serial[0] += 1
        reply: dict[str, Any] = await self.writer.submit(
            kind(request_id=f"test-{self._serial[0]}", **fields)
        )
        return reply

    async def sign_in(self, *windows: int) -> None:
        cfg = self.writer.engine.config
        for w in windows:
            staff = next(s.id for s in cfg.staff if w in s.windows)
            await self.do(c.SignIn, window=w, staff=staff)


async def start_live_hall(config: HallConfig, tmp_path: Path, config_text: str) -> tuple[TestServer, LiveHall]:
    clock = Clock(at(2026, 11, 23, 9, 0))
    config_path = tmp_path / "hall.toml"
    config_path.write_text(config_text, encoding="utf-8")
    app = create_app(config, tmp_path / "data", clock=clock, drivers=DriverSet(), config_path=config_path)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, LiveHall(str(server.make_url("")).rstrip("/"), app, clock, config_path)


@pytest.fixture
async def live_hall(demo_config: HallConfig, tmp_path: Path) -> AsyncIterator[LiveHall]:
    from hallq.hall.config import demo_config_path

    server, hall = await start_live_hall(
        demo_config, tmp_path, demo_config_path().read_text(encoding="utf-8")
    )
    try:
        yield hall
    finally:
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: the set-up (scripts/debian-packages-dev.txt) installs it")
        pytest.skip(f"no Chromium at {CHROMIUM}: run `make test`, whose set-up installs it")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


async def open_page(
    browser: Any, url: str, width: int = 1920, height: int = 1080, **options: Any
) -> Any:
    """A new page at `url`, collecting its script errors in `page.errors` (assert it is empty).

    `bypass_csp`: Playwright's wait_for_function evaluates strings, which the pages' own
    Content-Security-Policy (no eval) would refuse; the policy is checked in its own test.
    """
    context = await browser.new_context(
        viewport={"width": width, "height": height}, bypass_csp=True, **options
    )
    page = await context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    await page.goto(url)
    return page


async def shot(page: Any, name: str) -> Path:
    """Save a screenshot as a test artifact (test-artifacts/screenshots/NAME.png)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


async def wait_for(predicate: Any, timeout: float = 5.0) -> None:
    """Wait until `predicate()` is true (polling), or fail."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


__all__ = ["ARTIFACTS", "CHROMIUM", "LiveHall", "browser", "live_hall", "open_page", "shot", "wait_for"]
