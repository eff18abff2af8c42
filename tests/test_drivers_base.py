"""The driver contract: never block the calling loop, report health, recover by itself."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hallq.controller.app import create_app
from hallq.drivers.base import Driver, DriverSet, Health
from hallq.hall.config import HallConfig
from hallq.hall.events import Record, TicketCalled
from tests.conftest import at


class FakeDevice(Driver):
    """A device whose behaviour the test sets: answers, hangs or fails."""

    kind = "fake"
    operation_timeout = 0.2

    def __init__(self, name: str, keeps_every_event: bool = True, queue_size: int = 8) -> None:
        super().__init__(name, queue_size)
        self.keeps_every_event = keeps_every_event
        self.mode = "ok"
        self.handled: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()

    async def handle(self, record: Record) -> None:
        await self.gate.wait()
        if self.mode == "hang":
            await asyncio.sleep(10)
        if self.mode == "fail":
            raise OSError("device unplugged")
        self.handled.append(record.seq)
        self.seen()


def called(seq: int) -> Record:
    event = TicketCalled(ticket=seq, display=f"A{seq:03d}", service="police", window=1)
    return Record(seq=seq, ts=0.0, event=event)


async def test_offer_never_waits_and_a_state_board_keeps_the_newest() -> None:
    board = FakeDevice("led-1", keeps_every_event=False, queue_size=3)
    board.gate.clear()  # the device is stuck
    await board.start()
    for seq in range(1, 11):
        board.offer(called(seq))  # returns at once even though nothing is taken
    board.gate.set()
    await asyncio.sleep(0.05)
    assert board.handled[-3:] == [8, 9, 10]
    assert len(board.handled) <= 4  # what it was holding when stuck, then the newest three
    await board.stop()


async def test_a_voice_that_falls_behind_reports_what_it_dropped() -> None:
    voice = FakeDevice("voice", keeps_every_event=True, queue_size=2)
    voice.gate.clear()
    reports: list[Health] = []
    voice.on_health(lambda r: reports.append(r.health))
    await voice.start()
    for seq in range(1, 6):
        voice.offer(called(seq))
    assert voice.report.dropped >= 2
    assert reports[-1].status == "error" and "丢弃" in reports[-1].reason
    voice.gate.set()
    await voice.stop()


async def test_a_hanging_device_times_out_reports_and_recovers() -> None:
    device = FakeDevice("printer-1")
    reports: list[Health] = []
    device.on_health(lambda r: reports.append(r.health))
    await device.start()
    device.mode = "hang"
    device.offer(called(1))
    await asyncio.sleep(0.35)
    assert reports[-1].status == "error" and "无响应" in reports[-1].reason
    device.mode = "fail"
    device.offer(called(2))
    await asyncio.sleep(0.05)
    assert "device unplugged" in reports[-1].reason_en
    device.mode = "ok"
    device.offer(called(3))
    await asyncio.sleep(0.05)
    assert reports[-1] == Health("ok")
    assert device.handled == [3]
    await device.stop()


async def test_health_reaches_the_hall_state_and_the_log(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    board = FakeDevice("led-5")
    app = create_app(
        demo_config,
        tmp_path,
        clock=lambda: at(2026, 11, 23, 9, 30),
        drivers=DriverSet([board]),
    )
    client = await aiohttp_client(app)
    await client.post("/api/windows/1/sign-in", json={"request_id": "s", "staff": "1001"})
    await client.post("/api/tickets", json={"request_id": "t", "service": "police"})
    board.mode = "fail"
    await client.post("/api/windows/1/call-next", json={"request_id": "c"})
    for _ in range(50):
        state = await (await client.get("/api/state")).json()
        if state["devices"]:
            break
        await asyncio.sleep(0.02)
    (device,) = state["devices"]
    assert (device["device"], device["kind"], device["status"]) == ("led-5", "fake", "error")
    assert "device unplugged" in device["reason"]
    events = await (await client.get("/api/events?after=0")).json()
    assert "device_health_changed" in [e["type"] for e in events["events"]]
    board.mode = "ok"
    await client.post("/api/windows/1/recall", json={"request_id": "r"})
    for _ in range(50):
        state = await (await client.get("/api/state")).json()
        if state["devices"][0]["status"] == "ok":
            break
        await asyncio.sleep(0.02)
    assert state["devices"][0]["status"] == "ok"
    assert state["devices"][0]["last_seen"] is not None


async def test_a_remote_device_reports_over_http(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    )
    body = {"request_id": "h1", "kind": "printer", "status": "error", "reason": "打印机缺纸"}
    r = await client.post("/api/devices/kiosk-1-printer/health", json=body)
    assert r.status == 200
    state = await (await client.get("/api/state")).json()
    reasons = {d["device"]: d["reason"] for d in state["devices"]}
    assert reasons["kiosk-1-printer"] == "打印机缺纸"
    bad = await client.post(
        "/api/devices/kiosk-1-printer/health",
        json={**body, "request_id": "h2", "status": "on fire"},
    )
    assert bad.status == 400
