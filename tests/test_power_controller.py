"""The power schedule on the controller: LED boards dark outside hours (LedBus.set_dark and the
controller's power task), and GET /api/screens/{id}/power for the screens' displays."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hallq.controller.api import drivers_key, writer_key
from hallq.controller.app import create_app
from hallq.controller.power import led_power
from hallq.drivers.base import DriverSet
from hallq.drivers.led import Board, LedBus, SimulatedBoards
from hallq.drivers.ledframe import A090Framing
from hallq.hall.commands import ChangeConfig
from hallq.hall.config import HallConfig, config_data, config_from_data, config_toml
from tests.conftest import at


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class DimmableFraming(A090Framing):
    """A made-up framing with a brightness command, to see boards dimmed and restored."""

    def set_brightness(self, address: int, level: int) -> bytes | None:
        return bytes([0xB0, address, level])


def window_view() -> tuple[dict[str, Any], Any]:
    """A boards view of window 1 calling A001, and its async reader (as the controller's)."""
    view: dict[str, Any] = {
        "now": 0.0,
        "local_time": "2026-11-23T09:30:00+08:00",
        "hours": ["08:40-11:50"],
        "windows": [
            {"number": 1, "label": "公安服务", "status": "calling", "ticket": {"number": "A001"}},
            {"number": 2, "label": "不动产", "status": "idle", "ticket": None},
        ],
        "recent_calls": [],
    }

    async def boards() -> dict[str, Any]:
        return view

    return view, boards


async def test_a_dark_bus_keeps_its_boards_blank_until_it_lights_up() -> None:
    view, boards = window_view()
    link = SimulatedBoards()
    framing = DimmableFraming()
    bus = LedBus(
        "led", [Board(1, window=1), Board(2, window=2)], framing, link, boards, brightness=60
    )
    await bus.start()
    try:
        assert link.shown == {1: "A001 请到1号窗口", 2: "不动产"}
        sent = len(link.frames)

        await bus.set_dark(True)
        assert link.shown == {1: "", 2: ""} and bus.shown == {1: "", 2: ""}
        dark_frames = [(address, frame) for _, address, frame in link.frames[sent:]]
        assert dark_frames == [
            (1, framing.blank(1)),
            (1, bytes([0xB0, 1, 0])),
            (2, framing.blank(2)),
            (2, bytes([0xB0, 2, 0])),
        ]
        assert bus.report.health.status == "ok"

        # A call while dark: nothing is sent, the boards stay blank.
        view["windows"][1] = {
            "number": 2,
            "label": "不动产",
            "status": "calling",
            "ticket": {"number": "B007"},
        }
        sent = len(link.frames)
        await bus.refresh()
        await bus.set_dark(True)  # asked again: already dark, nothing to do
        assert len(link.frames) == sent and link.shown == {1: "", 2: ""}

        # Lit again: brightness back, then every board shows what it should now.
        await bus.set_dark(False)
        lit_frames = [(address, frame) for _, address, frame in link.frames[sent:]]
        assert lit_frames[:2] == [(1, bytes([0xB0, 1, 60])), (2, bytes([0xB0, 2, 60]))]
        assert link.shown == {1: "A001 请到1号窗口", 2: "B007 请到2号窗口"}
        assert not bus.dark
    finally:
        await bus.stop()


async def test_a_switch_cut_short_by_a_dead_bus_is_tried_again() -> None:
    _, boards = window_view()
    link = SimulatedBoards()
    bus = LedBus("led", [Board(1, window=1)], A090Framing(), link, boards)
    await bus.start()
    try:
        link.answering = False
        await bus.set_dark(True)
        assert bus.dark and status(bus) == "error"
        assert link.shown[1] == "A001 请到1号窗口"  # still showing: the blank did not go out
        link.answering = True
        await bus.set_dark(True)  # the power task asks again: now it goes through
        assert link.shown[1] == "" and status(bus) == "ok"
    finally:
        await bus.stop()


def status(bus: LedBus) -> str:
    return bus.report.health.status


def demo_bus(app: Any) -> LedBus:
    (bus,) = [d for d in app[drivers_key].drivers if isinstance(d, LedBus)]
    return bus


async def eventually(check: Any) -> bool:
    for _ in range(200):
        if check():
            return True
        await asyncio.sleep(0.02)
    return bool(check())


async def test_the_controller_blanks_the_boards_outside_hours_and_lights_them_before_opening(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 30))  # Monday morning: lit
    app = create_app(demo_config, tmp_path, clock=clock)
    client = await aiohttp_client(app)
    bus = demo_bus(app)
    assert isinstance(bus.link, SimulatedBoards)
    link = bus.link
    await client.post("/api/windows/1/sign-in", json={"request_id": "s", "staff": "1001"})
    await client.post("/api/tickets", json={"request_id": "t", "service": "police"})
    await client.post("/api/windows/1/call-next", json={"request_id": "c"})
    assert await eventually(lambda: link.shown.get(1) == "A001 请到1号窗口")

    # The power task is run here with a short poll (the app's own looks every minute).
    task = asyncio.create_task(led_power(app[writer_key], [bus], poll_seconds=0.05))
    try:
        clock.now = at(2026, 11, 23, 17, 0)  # 10 minutes after the last session: dark
        assert await eventually(lambda: bus.dark)
        assert await eventually(lambda: all(link.shown[b.address] == "" for b in bus.boards))

        clock.now = at(2026, 11, 28, 10, 0)  # Saturday: still dark
        await asyncio.sleep(0.1)
        assert bus.dark

        sent = len(link.frames)
        clock.now = at(2026, 11, 30, 8, 10)  # Monday, the lead before 08:40: lit
        assert await eventually(lambda: not bus.dark)
        # Every board is sent its text at once (not only those whose text changed).
        assert await eventually(lambda: len(bus.shown) == len(bus.boards))
        written = {address for _, address, _ in link.frames[sent:]}
        assert written == {b.address for b in bus.boards}
        assert bus.report.health.status == "ok"
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_the_app_starts_dark_at_night(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=Clock(at(2026, 11, 23, 22, 0)))
    await aiohttp_client(app)
    bus = demo_bus(app)
    assert await eventually(lambda: bus.dark)
    assert isinstance(bus.link, SimulatedBoards)
    link = bus.link
    assert await eventually(lambda: all(link.shown.get(b.address) == "" for b in bus.boards))


async def test_the_screen_power_route(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 0))
    app = create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    client = await aiohttp_client(app)

    reply = await client.get("/api/screens/hall/power")
    assert reply.status == 200 and reply.content_type == "application/json"
    body = await reply.json()
    assert body == {
        "screen": "hall",
        "lit": True,
        "now": clock.now,
        "next_change": at(2026, 11, 23, 17, 0),
        "next_change_local": "2026-11-23T17:00:00+08:00",
    }

    clock.now = at(2026, 11, 27, 20, 0)  # Friday evening: dark until Monday's lead
    body = await (await client.get("/api/screens/hall/power")).json()
    assert body["lit"] is False and body["next_change_local"] == "2026-11-30T08:10:00+08:00"

    # A window screen that is not configured works as the page does: window-N of a window.
    assert (await client.get("/api/screens/window-3/power")).status == 200

    reply = await client.get("/api/screens/lobby/power")
    assert reply.status == 404
    error = (await reply.json())["error"]
    assert error["code"] == "screen_not_found"
    assert "lobby" in error["message"] and "admin page" in error["message"]
    assert (await client.get("/api/screens/window-999/power")).status == 404

    # The admin changes the screen's hours: the next answer follows.
    data = config_data(demo_config)
    next(s for s in data["screens"] if s["id"] == "hall")["on_hours"] = ["19:00-21:00"]
    text = config_toml(config_from_data(data))
    await app[writer_key].submit(ChangeConfig(request_id="cfg", text=text, by="test"))
    body = await (await client.get("/api/screens/hall/power")).json()
    assert body["lit"] is True and body["next_change_local"] == "2026-11-27T21:00:00+08:00"

    doc = await (await client.get("/api/openapi.json")).json()
    assert "/api/screens/{id}/power" in doc["paths"]
