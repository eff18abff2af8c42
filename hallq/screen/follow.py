"""A hall screen's display follows its power schedule, as the controller tells it.

The controller is the clock of record (the screen may be another Pi, whose clock has no
battery): GET /api/screens/{id}/power says whether the screen is lit now and when that
changes. The follower asks at each change and at least every `poll_seconds` (the admin may
change the hours), switches the display when the answer flips, and reports the display's
health to the controller, where the admin page shows it with the other devices.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any
from urllib.parse import quote

import aiohttp

from hallq.drivers.base import Health
from hallq.drivers.displaypower import DisplayPower

log = logging.getLogger("hallq.screen")

POLL_SECONDS = 60.0
AFTER_SWITCH_SECONDS = 1.0  # ask this long after the switch, so the answer is past it


class PowerFollower:
    """Switches `display` as /api/screens/{id}/power says; `lit` is the state last applied."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        controller: str,
        screen_id: str,
        display: DisplayPower,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.http = http
        self.controller = controller.rstrip("/")
        self.screen_id = screen_id
        self.display = display
        self.poll_seconds = poll_seconds
        self.lit: bool | None = None  # None: not switched yet
        self.reported: Health | None = None
        self._trouble = ""  # logged once, not on every try

    @property
    def device(self) -> str:
        """The display's name in the hall's device health."""
        return f"screen-{self.screen_id}"

    async def run(self) -> None:
        while True:
            await asyncio.sleep(await self.check())

    async def check(self) -> float:
        """Ask the controller once, switch if the answer flipped; seconds until the next ask."""
        url = f"{self.controller}/api/screens/{quote(self.screen_id, safe='')}/power"
        try:
            async with self.http.get(url) as response:
                status = response.status
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError, OSError, UnicodeDecodeError) as e:
            self._note(
                f"cannot ask the controller for the screen's hours ({e or type(e).__name__}); "
                "the display stays as it is"
            )
            return self.poll_seconds
        try:
            body: Any = json.loads(text)
        except ValueError:
            body = None
        if status == 404:
            # An unconfigured screen shows the page's "not configured" notice: keep it lit.
            message = _error_message(body) or f"no screen {self.screen_id}"
            self._note(f"{message}; the display stays on")
            await self._apply(True)
            return self.poll_seconds
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("lit"), bool):
            self._note(f"the controller answered {status} for the screen's hours")
            return self.poll_seconds
        self._note("")
        await self._apply(body["lit"])
        try:
            wait = float(body["next_change"]) - float(body["now"]) + AFTER_SWITCH_SECONDS
        except (KeyError, TypeError, ValueError):
            wait = self.poll_seconds
        return max(AFTER_SWITCH_SECONDS, min(wait, self.poll_seconds))

    async def _apply(self, lit: bool) -> None:
        """Switch the display if the answer flipped, or again if the last switch failed."""
        if lit != self.lit or self.display.health.status != "ok":
            await self.display.set(lit)
            self.lit = lit
        await self._report(self.display.health)  # again until the controller has it

    async def restore(self) -> None:
        """On the way out: a display this follower turned off is turned on again."""
        if self.lit is False:
            await self.display.set(True)
            self.lit = True

    def _note(self, trouble: str) -> None:
        if trouble == self._trouble:
            return
        if trouble:
            log.warning("%s", trouble)
        else:
            log.info("the controller answers for the screen's hours again")
        self._trouble = trouble

    async def _report(self, health: Health) -> None:
        """The display's health to the controller (POST /api/devices/{device}/health), on change."""
        if health == self.reported or health.status == "unknown":
            return
        url = f"{self.controller}/api/devices/{quote(self.device, safe='')}/health"
        body = {
            "request_id": f"display-{uuid.uuid4()}",
            "kind": "display",
            "status": health.status,
            "reason": health.reason,
            "reason_en": health.reason_en,
        }
        try:
            async with self.http.post(url, json=body) as response:
                if response.status < 400:
                    self.reported = health
                else:
                    log.warning("display health not recorded: HTTP %d", response.status)
        except (aiohttp.ClientError, TimeoutError, OSError) as e:
            log.warning("display health not recorded: %s", e or type(e).__name__)


def _error_message(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", ""))
    return ""
