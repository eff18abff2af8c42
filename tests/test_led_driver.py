"""LED boards through the controller: the simulator, and real frames over a pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hallq.controller.api import drivers_key
from hallq.controller.app import create_app
from hallq.drivers.led import Board, LedBus, SerialBoards, SimulatedBoards
from hallq.drivers.ledframe import A090Framing, framing, xor
from hallq.hall.config import HallConfig
from tests.conftest import at


def demo_bus(app: Any) -> LedBus:
    (bus,) = [d for d in app[drivers_key].drivers if isinstance(d, LedBus)]
    return bus


async def shown_soon(bus: LedBus, address: int, text: str) -> str | None:
    for _ in range(100):
        if bus.shown.get(address) == text:
            break
        await asyncio.sleep(0.01)
    return bus.shown.get(address)


async def test_boards_follow_the_windows(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    client = await aiohttp_client(app)
    bus = demo_bus(app)
    assert isinstance(bus.link, SimulatedBoards)
    assert await shown_soon(bus, 1, "") == ""  # closed window: blank
    await client.post("/api/windows/1/sign-in", json={"request_id": "s", "staff": "1001"})
    assert await shown_soon(bus, 1, "公安服务") == "公安服务"  # idle: its function label
    await client.post("/api/tickets", json={"request_id": "t", "service": "police"})
    await client.post("/api/windows/1/call-next", json={"request_id": "c"})
    assert await shown_soon(bus, 1, "A001 请到1号窗口") == "A001 请到1号窗口"
    assert await shown_soon(bus, 20, "A001 请到1号窗口") == "A001 请到1号窗口"  # hall board
    await client.post("/api/tickets", json={"request_id": "t2", "service": "police"})
    await client.post("/api/windows/2/sign-in", json={"request_id": "s2", "staff": "1002"})
    await client.post("/api/windows/2/call-next", json={"request_id": "c2"})
    hall_line = "A002 请到2号窗口\u3000A001→1号"  # the newest, then the calls before it
    assert await shown_soon(bus, 20, hall_line) == hall_line
    await client.post("/api/windows/1/start", json={"request_id": "st"})
    assert await shown_soon(bus, 1, "A001 正在办理") == "A001 正在办理"
    await client.post("/api/windows/1/finish", json={"request_id": "f"})
    await client.post("/api/windows/1/pause", json={"request_id": "p"})
    assert await shown_soon(bus, 1, "暂停服务") == "暂停服务"
    await client.post("/api/windows/1/resume", json={"request_id": "r"})
    await client.post("/api/windows/1/away", json={"request_id": "a"})
    assert await shown_soon(bus, 1, "请稍候") == "请稍候"
    # What went over the (simulated) wire are real A0 90 frames for address 1.
    last = [f for _, address, f in bus.link.frames if address == 1][-1]
    assert last == A090Framing().show_text(1, "请稍候")
    state = await (await client.get("/api/state")).json()
    assert {d["device"]: d["status"] for d in state["devices"]}["led"] == "ok"


async def test_a_dead_bus_is_reported_and_the_calls_go_on(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    client = await aiohttp_client(app)
    bus = demo_bus(app)
    assert isinstance(bus.link, SimulatedBoards)
    bus.link.answering = False
    await client.post("/api/windows/1/sign-in", json={"request_id": "s", "staff": "1001"})
    await client.post("/api/tickets", json={"request_id": "t", "service": "police"})
    reply = await (await client.post("/api/windows/1/call-next", json={"request_id": "c"})).json()
    assert reply["called"]["number"] == "A001"  # the call does not wait for the boards
    for _ in range(100):
        state = await (await client.get("/api/state")).json()
        led = {d["device"]: d for d in state["devices"]}.get("led")
        if led is not None and led["status"] == "error":
            break
        await asyncio.sleep(0.01)
    assert led is not None and led["status"] == "error"
    assert "RS-485" in led["reason"]
    bus.link.answering = True  # the bus is back: the next event repairs the boards
    await client.post("/api/windows/1/recall", json={"request_id": "r"})
    assert await shown_soon(bus, 1, "A001 请到1号窗口") == "A001 请到1号窗口"


class FakeBoard(threading.Thread):
    """An A0 90 board on the far end of a pseudo-terminal: reads frames, answers A0 90 … A5 AA."""

    def __init__(self, fd: int, answer: bool = True) -> None:
        super().__init__(daemon=True)
        self.fd, self.answer = fd, answer
        self.frames: list[bytes] = []
        self.stop = threading.Event()

    def run(self) -> None:
        buffer = b""
        while not self.stop.is_set():
            try:
                chunk = os.read(self.fd, 256)
            except OSError:
                return
            buffer += chunk
            while len(buffer) >= 6 and buffer[:2] == b"\xa0\x90":
                length = 7 + (buffer[4] << 8 | buffer[5])
                if len(buffer) < length:
                    break
                frame, buffer = buffer[:length], buffer[length:]
                assert frame[-1] == xor(frame[2:-1])
                self.frames.append(frame)
                if self.answer:
                    os.write(self.fd, b"\xa0\x90" + frame[2:3] + b"\xa5\xaa")


def one_window(window: dict[str, Any]) -> tuple[dict[str, Any], Callable[[], Awaitable[Any]]]:
    """A boards view with one window at 09:30 on a working Monday, and its async reader."""
    view: dict[str, Any] = {
        "now": 0.0,
        "local_time": "2026-11-23T09:30:00+08:00",
        "hours": ["08:40-11:50"],
        "windows": [window],
        "recent_calls": [],
    }

    async def boards() -> dict[str, Any]:
        return view

    return view, boards


def health(bus: LedBus) -> str:
    return bus.report.health.status


def pty_pair() -> tuple[int, str]:
    """A pseudo-terminal: the board's end (master) and the port's path (slave).

    The slave stays open for the test's life: with no slave open, reads on the master fail.
    """
    master, slave = os.openpty()
    KEEP_OPEN.append(slave)
    return master, os.ttyname(slave)


KEEP_OPEN: list[int] = []


async def test_serial_boards_write_frames_and_check_replies() -> None:
    master, name = pty_pair()
    board = FakeBoard(master)
    board.start()
    link = SerialBoards(name, 9600, timeout=0.3)
    view, boards = one_window(
        {"number": 5, "label": "商事登记", "status": "calling", "ticket": {"number": "C012"}}
    )

    bus = LedBus("led-test", [Board(5, window=5)], framing("a0-90"), link, boards)
    await bus.start()
    try:
        assert bus.shown == {5: "C012 请到5号窗口"}
        assert board.frames == [A090Framing().show_text(5, "C012 请到5号窗口")]
        assert health(bus) == "ok"
        board.answer = False  # the board stops answering: a warning naming its address
        view["windows"][0]["status"] = "paused"
        await bus.refresh()
        assert health(bus) == "warning" and "5" in bus.report.health.reason
        board.answer = True
        await bus.refresh()  # not shown yet, so it is sent again
        assert bus.shown[5] == "暂停服务" and health(bus) == "ok"
    finally:
        board.stop.set()
        await bus.stop()
        os.close(master)


async def test_a_missing_port_is_an_error_that_clears_when_it_appears(tmp_path: Path) -> None:
    link = SerialBoards(str(tmp_path / "ttyUSB9"), 9600, timeout=0.2)
    _, boards = one_window({"number": 1, "label": "公安服务", "status": "idle", "ticket": None})

    bus = LedBus("led-usb", [Board(1, window=1)], framing("a0-90"), link, boards)
    await bus.start()
    try:
        assert health(bus) == "error"
        assert "RS-485" in bus.report.health.reason
        master, name = pty_pair()
        board = FakeBoard(master)
        board.start()
        link.url = name  # the adapter is plugged in (as a udev symlink would appear)
        await bus.refresh()
        assert health(bus) == "ok" and bus.shown[1] == "公安服务"
        board.stop.set()
        os.close(master)
    finally:
        await bus.stop()


class DimmableFraming(A090Framing):
    """A board whose framing (made up for the test) can set brightness."""

    def set_brightness(self, address: int, level: int) -> bytes | None:
        return bytes([0xB0, address, level])


async def test_brightness_is_set_where_the_framing_can_and_said_where_it_cannot() -> None:
    _, boards = one_window({"number": 1, "label": "公安服务", "status": "idle", "ticket": None})

    link = SimulatedBoards()
    dimmable = LedBus("led-a", [Board(1, window=1)], DimmableFraming(), link, boards, brightness=40)
    await dimmable.start()
    assert link.frames[0][1:] == (1, bytes([0xB0, 1, 40]))
    assert health(dimmable) == "ok"
    await dimmable.stop()

    plain = LedBus(
        "led-b", [Board(1, window=1)], A090Framing(), SimulatedBoards(), boards, brightness=40
    )
    await plain.start()
    assert health(plain) == "warning"
    assert "亮度" in plain.report.health.reason
    assert plain.shown[1] == "公安服务"  # the text is shown all the same
    await plain.stop()
