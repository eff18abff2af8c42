"""The kiosk process: the feed, the printer and the screen, in one asyncio loop.

`Kiosk` owns a `KioskModel`, draws it with the `Renderer` and turns touches into actions.
Nothing is redrawn unless something changed (a touch, a new hall view, the printer's status,
a timer, the minute of the clock): the loop reads pygame's queue every 50 ms when idle
(16 ms for a second after a touch), which keeps an idle kiosk near 1 % of one core.

One citizen action is one issueTicket request id, made when the citizen opens a service's
guide (or confirms an appointment code): a double tap or a retry after a lost reply gives the
same ticket, and touches while issuing and printing reach no button at all (the busy screen
has none).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pygame

from hallq.drivers.base import Health
from hallq.drivers.printer import TicketPrinter, record
from hallq.drivers.printer_status import PrinterStatus
from hallq.drivers.ticket import content_from_reply
from hallq.kiosk.client import ApiResult, FeedFollower, KioskClient, new_request_id
from hallq.kiosk.model import APPOINTMENT_CODE_MAX, KioskModel
from hallq.kiosk.screens import Renderer
from hallq.kiosk.widgets import Hit

log = logging.getLogger("hallq.kiosk")

IDLE_SECONDS = 45.0
"""An untouched guide, keypad or warning goes back home after this long."""
TICKET_SECONDS = 20.0
"""The ticket screen goes back home after this long."""
PRINTER_POLL = 5.0
"""Seconds between two printer status checks while nobody is printing."""
HEALTH_REPEAT = 300.0
"""The printer's health is sent again this often even if unchanged (staff pages show it live)."""
IDLE_TICK = 0.05
BUSY_TICK = 0.016


@dataclass(frozen=True)
class KioskSettings:
    name: str
    controller: str
    public_url: str = ""  # the hall's public URL for the QR; empty: the controller URL
    idle_seconds: float = IDLE_SECONDS
    ticket_seconds: float = TICKET_SECONDS
    printer_poll: float = PRINTER_POLL


class Kiosk:
    """One kiosk: its model, screen, printer and connection to the controller."""

    def __init__(
        self,
        settings: KioskSettings,
        printer: TicketPrinter,
        surface: pygame.Surface,
        client: KioskClient | None = None,
        renderer: Renderer | None = None,
    ) -> None:
        self.settings = settings
        self.printer = printer
        self.surface = surface
        self.client = client or KioskClient(settings.controller)
        self.renderer = renderer or Renderer()
        self.model = KioskModel(kiosk=settings.name)
        self.feed = FeedFollower(self.client, self._feed_changed)
        self.hits: list[Hit] = []
        self.dirty = True
        self.frames = 0
        self._shown: tuple[Any, ...] = ()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = False
        self._last_touch_at = 0.0
        self._reported: tuple[str, str] | None = None
        self._reported_at = 0.0
        self._pending: list[tuple[str, str, dict[str, Any]]] = []
        self._stopping = False

    @property
    def device(self) -> str:
        """The printer's device name on staff pages."""
        return f"{self.settings.name}-printer"

    # ------------------------------------------------------------ running

    async def start(self) -> None:
        self.feed.start()
        self._spawn(self._watch_printer(), "kiosk-printer")

    async def stop(self) -> None:
        self._stopping = True
        await self.feed.stop()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.printer.close()
        await self.client.close()

    async def run(self) -> None:
        """Until the window is closed (or Escape on a keyboard)."""
        await self.start()
        try:
            while not self._stopping:
                if not self.pump():
                    break
                recent = time.monotonic() - self._last_touch_at < 1.0
                await asyncio.sleep(BUSY_TICK if recent or self._busy else IDLE_TICK)
        finally:
            await self.stop()

    def pump(self) -> bool:
        """Handle what is queued, run the timers, redraw if needed; False when asked to quit."""
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                return False
            if event.type == pygame.KEYDOWN and event.key == pygame.K_ESCAPE:
                return False
            self.handle_event(event)
        self._timers()
        self.redraw_if_needed()
        return True

    def redraw_if_needed(self) -> bool:
        blocker = self.model.blocker()
        minute = int(self.model.server_now() // 60)
        shown = (self.model.screen, blocker, minute, self.model.lang)
        if not self.dirty and shown == self._shown:
            return False
        self._shown = shown
        self.dirty = False
        self.hits = self.renderer.draw(self.model, self.surface)
        self.frames += 1
        with contextlib.suppress(pygame.error):  # an offscreen surface has no display
            if pygame.display.get_init() and pygame.display.get_surface() is self.surface:
                pygame.display.flip()
        return True

    def _timers(self) -> None:
        limit = self.model.idle_limit(self.settings.idle_seconds, self.settings.ticket_seconds)
        if limit is not None and time.monotonic() - self.model.last_touch >= limit:
            log.info("kiosk: %s screen untouched for %.0f s: home", self.model.screen, limit)
            self.model.go_home()
            self.dirty = True

    def _spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _feed_changed(self) -> None:
        was_online = self.model.online
        if self.feed.view is not None and self.feed.view is not self.model.view:
            self.model.set_view(self.feed.view)
        self.model.set_online(self.feed.online)
        if self.feed.online and not was_online:
            self._reported = None  # the controller may have restarted: say it again
            self._spawn(self._after_reconnect(), "kiosk-reconnected")
        self.dirty = True

    async def _after_reconnect(self) -> None:
        await self._report_health(self.printer.health())
        pending, self._pending = self._pending, []
        for method, path, body in pending:
            result = await self.client.call(method, path, body)
            if result.offline:
                self._pending.append((method, path, body))

    # ------------------------------------------------------------ touches

    def handle_event(self, event: pygame.event.Event) -> None:
        """A touch (FINGERDOWN) or a click; SDL's mouse copies of touches are skipped."""
        if event.type == pygame.FINGERDOWN:
            w, h = self.surface.get_size()
            self.touch(round(event.x * w), round(event.y * h))
        elif event.type == pygame.MOUSEBUTTONDOWN and event.button == 1:
            if getattr(event, "touch", False):
                return
            self.touch(*event.pos)
        elif event.type in (pygame.VIDEOEXPOSE, pygame.WINDOWEXPOSED, pygame.WINDOWSIZECHANGED):
            self.dirty = True

    def touch(self, x: int, y: int) -> str | None:
        """The key of the button touched at (x, y), after acting on it; None if none."""
        self.model.last_touch = self._last_touch_at = time.monotonic()
        if self._busy:
            return None  # issuing or printing: nothing on screen takes a touch
        for hit in self.hits:
            if hit.rect.collidepoint(x, y):
                if hit.enabled:
                    self.act(hit.key)
                    return hit.key
                return None
        return None

    def act(self, key: str) -> None:
        m = self.model
        self.dirty = True
        if key == "lang":
            m.lang = "en" if m.lang == "zh" else "zh"
        elif key in ("back", "home", "done"):
            if key == "back" and m.screen in ("guide", "late") and m.category is not None:
                category = m.category
                m.go_home()
                m.screen, m.category = "green", category
            else:
                m.go_home()
        elif key == "green":
            m.go_home()
            green = m.green_category()
            if green is not None:
                m.screen, m.category = "green", str(green["code"])
        elif key == "appointment":
            m.go_home()
            m.screen = "appointment"
        elif key.startswith("service:"):
            m.service = key.split(":", 1)[1]
            m.screen = "guide"
            m.error = None
            m.action_id = new_request_id(m.kiosk)
        elif key in ("take", "take_anyway"):
            if key == "take" and m.late_warning(m.service) is not None:
                m.screen = "late"
                return
            if m.service is not None:
                self._begin(self._issue_and_print(m.service))
        elif key.startswith("key:"):
            self._key(key[4:])

    def _key(self, k: str) -> None:
        m = self.model
        m.error = None
        if k == "del":
            m.code_entry = m.code_entry[:-1]
        elif k == "ok":
            if len(m.code_entry) >= 4:
                m.action_id = new_request_id(m.kiosk)
                self._begin(self._check_in(m.code_entry))
        elif len(m.code_entry) < APPOINTMENT_CODE_MAX:
            m.code_entry += k

    def _begin(self, coro: Any) -> None:
        self._busy = True
        self.model.screen = "busy"
        self.model.busy_zh, self.model.busy_en = "正在取号…", "Taking your number…"
        self._spawn(self._guarded(coro), "kiosk-issue")

    async def _guarded(self, coro: Any) -> None:
        try:
            await coro
        except Exception:
            log.exception("kiosk: issuing failed")
            self.model.go_home()
            self.model.error = (
                "出现故障，请重试或到服务台咨询",
                "Something went wrong; retry or ask at the desk",
            )
        finally:
            self._busy = False
            self.model.last_touch = time.monotonic()
            self.dirty = True

    # ------------------------------------------------------------ issuing and printing

    async def _issue_and_print(self, service: str) -> None:
        m = self.model
        if m.action_id is None:
            m.action_id = new_request_id(m.kiosk)
        result = await self.client.issue(
            m.action_id, service, kiosk=m.kiosk, language=m.lang, category=m.category
        )
        if not result.ok:
            self._refused(result, back_to="guide")
            return
        await self._print(result)

    async def _check_in(self, code: str) -> None:
        """预约签到: the appointment's service is looked up by its code, then its ticket issued
        (one request id per citizen action, so a retry or a double tap issues it once)."""
        m = self.model
        action = m.action_id or new_request_id(m.kiosk)
        found = await self.client.appointment(code)
        if not found.ok:
            self._refused(found, back_to="appointment")
            return
        result = await self.client.issue(
            action,
            str(found.data["service"]),
            kiosk=m.kiosk,
            language=m.lang,
            appointment=code,
        )
        if result.ok:
            await self._print(result)
            return
        self._refused(result, back_to="appointment")

    def _refused(self, result: ApiResult, back_to: str) -> None:
        m = self.model
        if result.offline:
            zh, en = (
                "无法连接服务器，请稍后重试或到服务台咨询",
                "Cannot reach the server; retry or ask at the desk",
            )
        else:
            zh, _, en = result.message.partition(" / ")
            en = en or zh
        m.screen = "appointment" if back_to == "appointment" else "guide"
        m.error = (zh, en)
        m.action_id = new_request_id(m.kiosk)  # the next touch is a new action
        self.feed.schedule_refresh(0.0)

    async def _print(self, issued: ApiResult) -> None:
        m = self.model
        ticket = dict(issued.data["ticket"])
        m.busy_zh, m.busy_en = "正在打印号票…", "Printing your ticket…"
        self.dirty = True
        self.redraw_if_needed()
        svc = m.service_view(str(ticket.get("service"))) or {"name": ticket.get("service", "")}
        hall = (m.view or {}).get("hall", {})
        path = ticket.get("status_path") or ""
        url = (
            urljoin(
                (self.settings.public_url or self.settings.controller).rstrip("/") + "/",
                str(path).lstrip("/"),
            )
            if path
            else ""
        )
        content = content_from_reply(ticket, svc, hall, url, m.lang)
        result = await self.printer.print_ticket(content)
        if not result.printed:
            log.warning("kiosk: ticket %s not printed: %s", ticket.get("number"), result.reason_en)
        m.ticket, m.print_result = ticket, result
        m.screen = "ticket"
        m.action_id = None
        self.dirty = True
        printed, health = record(str(ticket["id"]), result, self.printer.health(), self.device)
        answer = await self.client.call(printed.method, printed.path, printed.body)
        if answer.offline:  # sent again once the controller is back
            self._pending.append((printed.method, printed.path, printed.body))
        await self._report_health(self.printer.health(), str(health.body["request_id"]))
        if result.status != PrinterStatus():  # the check after printing said something
            m.printer = result.status
        self.feed.schedule_refresh(0.0)

    # ------------------------------------------------------------ the printer's health

    async def _watch_printer(self) -> None:
        # The flag, not only the cancel: Python 3.11's wait_for (in the printer driver) can
        # swallow a cancellation that arrives as the device answers.
        while not self._stopping:
            if not self._busy:
                status = await self.printer.status()
                if status != self.model.printer:
                    self.model.printer = status
                    self.dirty = True
                await self._report_health(self.printer.health())
            await asyncio.sleep(self.settings.printer_poll)

    async def _report_health(self, health: Health, request_id: str | None = None) -> None:
        key = (health.status, health.reason)
        fresh = time.monotonic() - self._reported_at < HEALTH_REPEAT
        if key == self._reported and fresh:
            return
        if not self.feed.online and self.model.view is None:
            return
        result = await self.client.call(
            "POST",
            f"/api/devices/{self.device}/health",
            {
                "request_id": request_id or new_request_id("health"),
                "kind": "printer",
                "status": health.status,
                "reason": health.reason,
                "reason_en": health.reason_en,
            },
            tries=1,
        )
        if result.ok:
            self._reported, self._reported_at = key, time.monotonic()
        else:
            log.info("kiosk: printer health not reported: %s", result.error_code)


# ----------------------------------------------------------------------------- the display


def open_display(windowed: bool, size: tuple[int, int] | None) -> pygame.Surface:
    """Full screen on KMS/DRM (a Pi without a desktop) or a window on a desktop."""
    desktop = os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    if not windowed and not os.environ.get("SDL_VIDEODRIVER") and not desktop:
        os.environ["SDL_VIDEODRIVER"] = "kmsdrm"
    pygame.display.init()
    pygame.font.init()
    pygame.display.set_caption("hallq 取号机")
    if windowed:
        surface = pygame.display.set_mode(size or (800, 480))
    else:
        surface = pygame.display.set_mode(size or (0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
    # Only what the kiosk handles wakes it; motion events would only cost time.
    pygame.event.set_blocked(None)
    pygame.event.set_allowed(
        [
            pygame.QUIT,
            pygame.KEYDOWN,
            pygame.MOUSEBUTTONDOWN,
            pygame.FINGERDOWN,
            pygame.VIDEOEXPOSE,
            pygame.WINDOWEXPOSED,
            pygame.WINDOWSIZECHANGED,
        ]
    )
    return surface
