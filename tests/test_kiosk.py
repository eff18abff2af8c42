"""The touch kiosk against a real controller: the real UI under SDL's dummy video driver.

Touches are posted to pygame's queue at the centre of the button drawn for them; the
controller is the demo hall on a port (`live_hall`), the printer a `SimulatedPrinter` whose
bytes are checked. Every screen is saved as test-artifacts/screenshots/kiosk-*.png at
800×480 and 1920×1080.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import pygame
import pytest

from hallq.drivers.printer import SimulatedPrinter, open_printer
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, demo_config_path, parse_config
from hallq.kiosk import model as kiosk_model
from hallq.kiosk.app import Kiosk, KioskSettings
from hallq.kiosk.fonts import cjk_font_path
from hallq.kiosk.screens import Renderer
from tests.browser import ARTIFACTS, LiveHall, start_live_hall
from tests.conftest import at

SIZES = ((800, 480, 51), (1920, 1080, 61))  # width, height, px in 15 mm on that panel


@pytest.fixture
def display() -> Iterator[pygame.Surface]:
    pygame.display.init()
    pygame.font.init()
    surface = pygame.display.set_mode((800, 480))
    yield surface
    pygame.display.quit()


async def hall_from(text: str, tmp_path: Path) -> tuple[Any, LiveHall]:
    return await start_live_hall(parse_config(text), tmp_path, text)


@pytest.fixture
async def kiosks(
    display: pygame.Surface,
) -> AsyncIterator[Callable[..., Any]]:
    made: list[Kiosk] = []

    async def make(hall: LiveHall, sim: SimulatedPrinter | None = None, **settings: Any) -> Kiosk:
        sim = sim if sim is not None else SimulatedPrinter()
        printer = open_printer("kiosk-1-printer", "sim", simulator=sim)
        base: dict[str, Any] = {"printer_poll": 0.1, "idle_seconds": 60.0, "ticket_seconds": 60.0}
        base.update(settings)
        kiosk = Kiosk(KioskSettings("kiosk-1", hall.url, **base), printer, display)
        made.append(kiosk)
        await kiosk.start()
        await until(kiosk, lambda: kiosk.model.view is not None and kiosk.model.online)
        await until(kiosk, lambda: kiosk.model.printer is not None)
        return kiosk

    yield make
    for kiosk in made:
        await kiosk.stop()


async def until(kiosk: Kiosk, predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Run the kiosk's loop until `predicate()` holds (or fail)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        kiosk.pump()
        if predicate():
            return
        if loop.time() > deadline:
            raise AssertionError(
                f"not reached; kiosk on {kiosk.model.screen}, error {kiosk.model.error}, "
                f"online {kiosk.model.online}, blocker {kiosk.model.blocker()}"
            )
        await asyncio.sleep(0.02)


def hit(kiosk: Kiosk, key: str) -> pygame.Rect:
    kiosk.pump()
    found = [h for h in kiosk.hits if h.key == key]
    assert found, f"no {key!r} on the {kiosk.model.screen} screen: {[h.key for h in kiosk.hits]}"
    return found[0].rect


def tap(kiosk: Kiosk, key: str, finger: bool = False, pump: bool = True) -> None:
    """Touch the button `key` as a finger (FINGERDOWN) or a mouse click, through the queue."""
    rect = hit(kiosk, key)
    post_touch(kiosk, rect.center, finger)
    if pump:
        kiosk.pump()


def post_touch(kiosk: Kiosk, pos: tuple[int, int], finger: bool = False) -> None:
    if finger:
        w, h = kiosk.surface.get_size()
        pygame.event.post(
            pygame.event.Event(
                pygame.FINGERDOWN,
                x=pos[0] / w,
                y=pos[1] / h,
                dx=0.0,
                dy=0.0,
                touch_id=1,
                finger_id=0,
                pressure=1.0,
            )
        )
    else:
        pygame.event.post(
            pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1, touch=False)
        )


def snap(kiosk: Kiosk, name: str) -> None:
    """Save the screen at 800×480 (the display) and 1920×1080, and check the touch targets."""
    kiosk.dirty = True
    kiosk.pump()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    renderer = Renderer(kiosk.renderer.fonts)
    for w, h, min_px in SIZES:
        surface = pygame.Surface((w, h))
        hits = renderer.draw(kiosk.model, surface)
        pygame.image.save(surface, str(ARTIFACTS / f"kiosk-{name}-{w}x{h}.png"))
        for one in hits:
            assert one.rect.w >= min_px and one.rect.h >= min_px, (name, w, one)
            assert surface.get_rect().contains(one.rect), (name, w, one)
    pygame.image.save(kiosk.surface, str(ARTIFACTS / f"kiosk-{name}-display.png"))


def posts(kiosk: Kiosk, path: str) -> list[dict[str, Any]]:
    return [b or {} for m, p, b, _ in kiosk.client.calls if m == "POST" and p == path]


async def ticket_state(hall: LiveHall) -> list[dict[str, Any]]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(f"{hall.url}/api/state?tickets=all") as r:
        return list((await r.json())["tickets"])


async def devices(hall: LiveHall) -> dict[str, dict[str, Any]]:
    import aiohttp

    async with aiohttp.ClientSession() as s, s.get(f"{hall.url}/api/state?tickets=none") as r:
        return {d["device"]: d for d in (await r.json())["devices"]}


# ----------------------------------------------------------------------------- the font


def test_a_cjk_font_is_found_without_a_path_in_the_code() -> None:
    pygame.font.init()
    path = cjk_font_path()
    assert path is not None and Path(path).is_file()
    font = pygame.font.Font(path, 30)
    assert all(m is not None and m[4] > 0 for m in font.metrics("取号机"))


# ----------------------------------------------------------------------------- the path


async def test_issue_and_print_a_ticket(live_hall: LiveHall, kiosks: Any) -> None:
    await live_hall.sign_in(1)
    sim = SimulatedPrinter()
    kiosk = await kiosks(live_hall, sim)
    snap(kiosk, "home")
    tap(kiosk, "service:police", finger=True)
    assert kiosk.model.screen == "guide"
    snap(kiosk, "guide")
    tap(kiosk, "take")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    snap(kiosk, "ticket")
    assert kiosk.model.ticket is not None and kiosk.model.ticket["number"] == "A001"
    assert kiosk.model.print_result is not None and kiosk.model.print_result.printed
    issued = posts(kiosk, "/api/tickets")
    assert len(issued) == 1
    assert issued[0]["service"] == "police" and issued[0]["kiosk"] == "kiosk-1"
    # The paper: the number in GB18030, the Chinese text, and the status page's QR.
    assert len(sim.tickets) == 1
    paper = sim.tickets[0]
    assert b"A001" in paper and "公安服务".encode("gb18030") in paper
    status_path = kiosk.model.ticket["status_path"]
    assert re.fullmatch(r"/t/[A-Z2-7]{16}", status_path)
    assert f"{live_hall.url}{status_path}".encode() in paper
    assert b"\x1d(k" in paper  # the QR code, printed natively
    # The controller knows the ticket was printed, and the printer's health.
    tickets = await ticket_state(live_hall)
    assert [(t["number"], t.get("printed")) for t in tickets] == [("A001", True)]
    await until(kiosk, lambda: len(posts(kiosk, "/api/devices/kiosk-1-printer/health")) > 0)
    assert (await devices(live_hall))["kiosk-1-printer"]["status"] == "ok"
    # Done: home again, and the waiting count went up.
    tap(kiosk, "done")
    assert kiosk.model.screen == "home"
    await until(kiosk, lambda: (kiosk.model.service_view("police") or {}).get("waiting") == 1)


async def test_busy_screen_and_touch_during_printing_and_double_tap(
    live_hall: LiveHall, kiosks: Any
) -> None:
    gate = threading.Event()

    class SlowPrinter(SimulatedPrinter):
        def write(self, data: bytes) -> None:
            if b"\x1dV" in data:  # the ticket itself (not a status request) waits for the test
                gate.wait(10)
            super().write(data)

    sim = SlowPrinter()
    kiosk = await kiosks(live_hall, sim)
    tap(kiosk, "service:social")
    take = hit(kiosk, "take")
    # A double tap: both touches queued before the kiosk looks at them.
    post_touch(kiosk, take.center)
    post_touch(kiosk, take.center, finger=True)
    kiosk.pump()
    await until(kiosk, lambda: kiosk.model.busy_en.startswith("Printing"))
    snap(kiosk, "printing")
    assert kiosk.hits == []  # nothing on the busy screen takes a touch
    for _ in range(5):  # touches while printing, where the buttons were
        post_touch(kiosk, take.center)
        post_touch(kiosk, (60, 30))
        kiosk.pump()
    gate.set()
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    assert len(posts(kiosk, "/api/tickets")) == 1
    assert len(sim.tickets) == 1
    assert [t["number"] for t in await ticket_state(live_hall)] == ["D001"]
    # The same action sent again (a retry) is the same ticket, not a second one.
    body = posts(kiosk, "/api/tickets")[0]
    again = await kiosk.client.call("POST", "/api/tickets", body)
    assert again.ok and again.data["ticket"]["number"] == "D001" and again.data.get("repeated")
    assert len(await ticket_state(live_hall)) == 1


async def test_a_failed_print_is_recorded_and_the_number_shown(
    live_hall: LiveHall, kiosks: Any
) -> None:
    class CoverOpensWhilePrinting(SimulatedPrinter):
        def write(self, data: bytes) -> None:
            if b"\x1dV" in data:
                self.cover_open = True
                return
            super().write(data)

    sim = CoverOpensWhilePrinting()
    kiosk = await kiosks(live_hall, sim)
    tap(kiosk, "service:tax")
    tap(kiosk, "take")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    snap(kiosk, "ticket-print-failed")
    assert kiosk.model.print_result is not None and not kiosk.model.print_result.printed
    recorded = posts(kiosk, f"/api/tickets/{kiosk.model.ticket['id']}/print")
    assert len(recorded) == 1 and recorded[0]["printed"] is False
    assert "盖" in recorded[0]["reason"] and recorded[0]["device"] == "kiosk-1-printer"
    [ticket] = await ticket_state(live_hall)
    assert ticket["number"] == "F001" and ticket["printed"] is False
    assert "盖" in ticket["print_reason"]
    assert (await devices(live_hall))["kiosk-1-printer"]["status"] == "error"
    # Back home, the kiosk says it cannot print before anyone chooses.
    tap(kiosk, "done")
    await until(
        kiosk,
        lambda: (kiosk.model.blocker() or kiosk_model.Blocker("closed", "", "")).kind == "printer",
    )


async def test_paper_out_disables_printing_and_staff_see_it(
    live_hall: LiveHall, kiosks: Any
) -> None:
    sim = SimulatedPrinter(paper="out")
    kiosk = await kiosks(live_hall, sim)
    await until(kiosk, lambda: kiosk.model.printer_problem() is not None)
    snap(kiosk, "home-paper-out")
    assert all(not h.enabled for h in kiosk.hits if h.key.startswith("service:"))
    assert not next(h for h in kiosk.hits if h.key == "green").enabled
    assert not next(h for h in kiosk.hits if h.key == "appointment").enabled
    tap(kiosk, "service:police")
    assert kiosk.model.screen == "home"
    await until(kiosk, lambda: len(posts(kiosk, "/api/devices/kiosk-1-printer/health")) > 0)
    device = (await devices(live_hall))["kiosk-1-printer"]
    assert (
        device["status"] == "error" and "缺纸" in device["reason"] and device["kind"] == "printer"
    )
    kiosk.model.lang = "en"
    snap(kiosk, "home-paper-out-en")
    # A new roll: the kiosk takes tickets again and says so to the controller.
    sim.paper = "ok"
    await until(kiosk, lambda: kiosk.model.printer_problem() is None)
    await until(kiosk, lambda: kiosk._reported is not None and kiosk._reported[0] == "ok")
    assert (await devices(live_hall))["kiosk-1-printer"]["status"] == "ok"
    assert posts(kiosk, "/api/tickets") == []


async def test_outside_hours_says_ticketing_has_ended(live_hall: LiveHall, kiosks: Any) -> None:
    live_hall.clock.now = at(2026, 11, 23, 17, 30)
    kiosk = await kiosks(live_hall)
    blocker = kiosk.model.blocker()
    assert blocker is not None and blocker.kind == "closed"
    assert blocker.title == "今日取号已结束"
    assert any("08:40-11:50" in line for line in blocker.lines)
    assert any("下次取号时间" in line and "08:40" in line for line in blocker.lines)
    snap(kiosk, "closed")
    assert [h.key for h in kiosk.hits] == ["lang"]
    tap(kiosk, "lang")
    snap(kiosk, "closed-en")


async def test_issuing_cutoff_still_takes_appointments(live_hall: LiveHall, kiosks: Any) -> None:
    live_hall.clock.now = at(2026, 11, 23, 11, 40)
    kiosk = await kiosks(live_hall)
    blocker = kiosk.model.blocker()
    assert blocker is not None and blocker.appointments_allowed
    assert blocker.title == "本时段取号已结束"
    snap(kiosk, "cutoff")
    tap(kiosk, "appointment")
    assert kiosk.model.screen == "appointment"


async def test_quota_used_up_is_said_on_the_button(tmp_path: Path, kiosks: Any) -> None:
    text = demo_config_path().read_text(encoding="utf-8")
    text = text.replace(
        'prefix = "A"\nnumber_width = 3\ndaily_quota = 300',
        'prefix = "A"\nnumber_width = 3\ndaily_quota = 1',
    )
    server, hall = await hall_from(text, tmp_path)
    kiosk: Kiosk | None = None
    try:
        await hall.do(c.IssueTicket, service="police")
        kiosk = await kiosks(hall)
        tiles = {t.code: t for t in kiosk.model.tiles()}
        assert not tiles["police"].touchable and tiles["police"].note == "今日号已取完"
        assert tiles["tax"].touchable
        snap(kiosk, "quota-used-up")
        assert not next(h for h in kiosk.hits if h.key == "service:police").enabled
        tap(kiosk, "service:police")
        assert kiosk.model.screen == "home"
        # The green channel is not held by the quota.
        tap(kiosk, "green")
        assert next(h for h in kiosk.hits if h.key == "service:police").enabled
    finally:
        if kiosk is not None:
            await kiosk.stop()
        await server.close()


async def test_most_one_trip_warns_before_a_late_ticket(live_hall: LiveHall, kiosks: Any) -> None:
    live_hall.clock.now = at(2026, 11, 23, 16, 0)
    await live_hall.sign_in(5)
    for _ in range(8):
        await live_hall.do(c.IssueTicket, service="business")
    kiosk = await kiosks(live_hall)
    warning = kiosk.model.late_warning("business")
    assert warning is not None and warning.closes_at == "16:50"
    assert kiosk.model.late_warning("tax") is None
    tap(kiosk, "service:business")
    tap(kiosk, "take")
    assert kiosk.model.screen == "late"
    assert posts(kiosk, "/api/tickets") == []
    assert kiosk.model.view is not None and "12345" in kiosk.model.view["booking_advice"]
    snap(kiosk, "late-warning")
    kiosk.model.lang = "en"
    snap(kiosk, "late-warning-en")
    kiosk.model.lang = "zh"
    tap(kiosk, "take_anyway")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    assert kiosk.model.ticket is not None and kiosk.model.ticket["number"] == "C009"


async def test_appointment_check_in_by_code(live_hall: LiveHall, kiosks: Any) -> None:
    slot = at(2026, 11, 23, 9, 0)
    await live_hall.do(
        c.BookAppointment, code="428913", service="property", slot_start=slot, slot_end=slot + 1800
    )
    sim = SimulatedPrinter()
    kiosk = await kiosks(live_hall, sim)
    tap(kiosk, "appointment", finger=True)
    assert kiosk.model.screen == "appointment"
    snap(kiosk, "appointment-keypad")
    for digit in "4289":
        tap(kiosk, f"key:{digit}")
    tap(kiosk, "key:del")
    for digit in "99":
        tap(kiosk, f"key:{digit}")
    assert kiosk.model.code_entry == "42899"
    tap(kiosk, "key:ok")
    await until(
        kiosk, lambda: kiosk.model.screen == "appointment" and kiosk.model.error is not None
    )
    snap(kiosk, "appointment-not-found")
    assert "无效" in kiosk.model.error[0]
    for _ in range(5):
        tap(kiosk, "key:del")
    for digit in "428913":
        tap(kiosk, f"key:{digit}")
    snap(kiosk, "appointment-code")
    tap(kiosk, "key:ok")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    snap(kiosk, "appointment-ticket")
    assert kiosk.model.ticket is not None
    assert kiosk.model.ticket["number"] == "B001" and kiosk.model.ticket["appointment"] == "428913"
    assert len(sim.tickets) == 1
    [ticket] = await ticket_state(live_hall)
    assert ticket["appointment"] == "428913" and ticket["printed"] is True


async def test_green_channel(live_hall: LiveHall, kiosks: Any) -> None:
    kiosk = await kiosks(live_hall)
    tap(kiosk, "green")
    assert kiosk.model.screen == "green" and kiosk.model.category == "green"
    snap(kiosk, "green")
    tap(kiosk, "service:civil")
    snap(kiosk, "green-guide")
    tap(kiosk, "back")
    assert kiosk.model.screen == "green"
    tap(kiosk, "service:civil")
    tap(kiosk, "take")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    snap(kiosk, "green-ticket")
    assert posts(kiosk, "/api/tickets")[0]["category"] == "green"
    [ticket] = await ticket_state(live_hall)
    assert ticket["category"] == "green" and ticket["number"] == "G001"


class Proxy:
    """A TCP proxy between the kiosk and the controller that the test can cut and restore."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.server: asyncio.Server | None = None
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.links):
            w.close()
        await self.server.wait_closed()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links |= {writer, up_w}

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))


async def test_controller_down_then_back(
    live_hall: LiveHall, kiosks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kiosk_model, "OFFLINE_GRACE", 0.2)
    proxy = Proxy(int(live_hall.url.rsplit(":", 1)[1]))
    await proxy.start()

    class ViaProxy(LiveHall):
        pass

    via = ViaProxy(
        f"http://127.0.0.1:{proxy.port}", live_hall.app, live_hall.clock, live_hall.config_path
    )
    kiosk = await kiosks(via)
    await proxy.cut()
    await until(
        kiosk,
        lambda: (kiosk.model.blocker() or kiosk_model.Blocker("closed", "", "")).kind == "offline",
    )
    snap(kiosk, "out-of-service")
    assert [h.key for h in kiosk.hits] == ["lang"]
    await proxy.start()  # the same port again
    await until(kiosk, lambda: kiosk.model.blocker() is None and kiosk.model.online, timeout=30)
    snap(kiosk, "recovered")
    tap(kiosk, "service:fund")
    assert kiosk.model.screen == "guide"
    await proxy.cut()


async def test_english(live_hall: LiveHall, kiosks: Any) -> None:
    await live_hall.sign_in(1, 3)
    sim = SimulatedPrinter()
    kiosk = await kiosks(live_hall, sim)
    tap(kiosk, "lang")
    assert kiosk.model.lang == "en"
    snap(kiosk, "home-en")
    tap(kiosk, "service:property")
    snap(kiosk, "guide-en")
    tap(kiosk, "take")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    snap(kiosk, "ticket-en")
    assert posts(kiosk, "/api/tickets")[0]["language"] == "en"
    assert b"Real Estate Registration" in sim.tickets[0] and b"ahead of you" in sim.tickets[0]
    tap(kiosk, "lang")
    assert kiosk.model.lang == "zh"


async def test_idle_timeout_goes_home(live_hall: LiveHall, kiosks: Any) -> None:
    kiosk = await kiosks(live_hall, idle_seconds=0.3, ticket_seconds=0.3)
    tap(kiosk, "service:consult")
    assert kiosk.model.screen == "guide"
    await until(kiosk, lambda: kiosk.model.screen == "home")
    tap(kiosk, "appointment")
    tap(kiosk, "key:1")
    await until(kiosk, lambda: kiosk.model.screen == "home" and kiosk.model.code_entry == "")
    tap(kiosk, "service:consult")
    tap(kiosk, "take")
    await until(kiosk, lambda: kiosk.model.screen == "ticket")
    await until(kiosk, lambda: kiosk.model.screen == "home" and kiosk.model.ticket is None)


# ----------------------------------------------------------------------------- the model


def test_the_model_without_a_controller_is_out_of_service() -> None:
    m = kiosk_model.KioskModel(kiosk="k")
    blocker = m.blocker()
    assert blocker is not None and blocker.kind == "offline"


def test_tiles_and_late_warning_from_a_view(demo_config: HallConfig) -> None:
    now = at(2026, 11, 23, 16, 30)
    view: dict[str, Any] = {
        "now": now,
        "utc_offset_minutes": 480,
        "hours": ["08:40-11:50", "13:10-16:50"],
        "issuing": {"open": True},
        "services": [
            {
                "code": "a",
                "name": "甲",
                "enabled": True,
                "waiting": 3,
                "estimate_minutes": 30.0,
                "quota_left": 5,
            },
            {
                "code": "b",
                "name": "乙",
                "enabled": True,
                "waiting": 0,
                "estimate_minutes": 0.0,
                "quota_left": 0,
            },
            {"code": "c", "name": "丙", "enabled": False, "waiting": 0, "estimate_minutes": None},
        ],
        "priority": [],
    }
    m = kiosk_model.KioskModel(kiosk="k", online=True)
    m.set_view(view, received_at=now)
    tiles = m.tiles()
    assert [t.code for t in tiles] == ["a", "b"]
    assert tiles[0].touchable and tiles[0].estimate == "约 30 分钟"
    assert not tiles[1].touchable and tiles[1].note == "今日号已取完"
    warn = m.late_warning("a", now=now)
    assert warn is not None and warn.ends_at == "17:00" and warn.closes_at == "16:50"
    assert m.late_warning("b", now=now) is None
    assert m.green_category() is None
