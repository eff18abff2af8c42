"""Wired keypads and evaluators: the simulator through the controller, and real frames on a pty."""

from __future__ import annotations

import asyncio
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hallq.controller.api import drivers_key
from hallq.controller.app import create_app
from hallq.drivers.frame68 import Frame68, Frame68Parser, encode
from hallq.drivers.keypad import KeypadBus, PressFilter
from hallq.drivers.keypad_bus import KeypadBusDriver, SimulatedKeypads
from hallq.errors import CommandRejected, ConfigError
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.state import HallState
from tests.conftest import SMALL_HALL_TOML, at

CALL, RECALL, FINISH, FUNCTION = 0x0C, 0x0D, 0x0B, 0x0F


async def until(check: Callable[[], Any], timeout: float = 3.0) -> Any:
    """Poll `check` until it returns something true (robust on a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.01)


def keypads_of(app: Any) -> tuple[KeypadBusDriver, SimulatedKeypads]:
    (driver,) = [d for d in app[drivers_key].drivers if isinstance(d, KeypadBusDriver)]
    assert driver.sim is not None
    return driver, driver.sim


async def events_of(client: Any) -> list[dict[str, Any]]:
    body = await (await client.get("/api/events?after=0")).json()
    events: list[dict[str, Any]] = body["events"]
    return events


async def wait_event(client: Any, kind: str, count: int = 1) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        found = [e for e in await events_of(client) if e["type"] == kind]
        if len(found) >= count:
            break
        await asyncio.sleep(0.02)
    return found


# ---------------------------------------------------------------- the simulator, end to end


async def test_a_day_at_the_keypad(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    client = await aiohttp_client(app)
    driver, sim = keypads_of(app)
    evaluator = 128 + 1
    for rid in ("t1", "t2"):
        await client.post("/api/tickets", json={"request_id": rid, "service": "police"})

    sim.press(1, "1001", FUNCTION)  # staff number + 功能: sign in
    (signed,) = await wait_event(client, "staff_signed_in")
    assert (signed["window"], signed["staff"]) == (1, "1001")
    assert signed["request"].startswith("keypads-01-")
    assert await until(lambda: sim.displays.get(1) == "002   ")  # two waiting, on the left

    sim.press(1, "", CALL)
    (called,) = await wait_event(client, "ticket_called")
    assert called["display"] == "A001"
    assert await until(lambda: sim.displays.get(1) == "   001")  # its last three digits

    sim.press(1, "", RECALL)
    assert len(await wait_event(client, "ticket_recalled")) == 1

    sim.press(1, "", FINISH)
    assert len(await wait_event(client, "service_finished")) == 1
    assert await until(lambda: sim.evaluators.get(evaluator) and sim.evaluators[evaluator].active)
    assert await until(lambda: sim.displays.get(1) == "001   ")  # back to the waiting count

    sim.rate(evaluator, 0x03)  # 很好
    (rated,) = await wait_event(client, "evaluation_submitted")
    assert (rated["window"], rated["level"]) == (1, "very_satisfied")
    assert await until(lambda: sim.evaluators[evaluator].acknowledged == 3)

    # Typed digits + 叫号 call that number; a number nobody holds gives a beep, not a call.
    sim.press(1, "2", CALL)
    assert [e["display"] for e in await wait_event(client, "ticket_called", 2)][-1] == "A002"
    sim.press(1, "77", CALL)
    assert await until(lambda: 1 in sim.beeps)

    # Every key frame was echoed, byte for byte.
    keys = [f for f in sim.sent if f.address == 1]
    assert await until(lambda: sim.echoes.count(keys[-1]) == 1)
    assert [f for f in sim.echoes if f.address == 1] == keys

    state = await (await client.get("/api/state")).json()
    assert {d["device"]: d["status"] for d in state["devices"]}["keypads"] == "ok"
    assert driver.presses == 7


async def test_a_refused_command_beeps_and_a_resend_is_one_press(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    client = await aiohttp_client(app)
    driver, sim = keypads_of(app)
    # A fixed clock for the resend filter: the copies below are "within 300 ms" however
    # slowly this machine runs; and an adapter that does not hear itself.
    now = [100.0]
    driver.filter = PressFilter(300.0, clock=lambda: now[0])
    driver.own_echo_window = 0.0

    sim.press(2, "", CALL)  # window 2 is closed: the hall refuses, the keypad beeps
    assert await until(lambda: 2 in sim.beeps)
    assert "ticket_called" not in [e["type"] for e in await events_of(client)]

    await client.post("/api/windows/2/sign-in", json={"request_id": "s", "staff": "1002"})
    for rid in ("t1", "t2"):
        await client.post("/api/tickets", json={"request_id": rid, "service": "police"})
    frame = Frame68(2, 0x00, bytes((RECALL,)))  # nothing called yet: refused, beeps again
    sim.send_frame(frame)
    assert await until(lambda: sim.beeps.count(2) == 2)

    now[0] += 10  # a new press, ten seconds after the refused one
    frame = Frame68(2, 0x00, bytes((CALL,)))
    sim.send_frame(frame)
    assert await until(lambda: sim.echoes.count(frame) == 2)
    sim.send_frame(frame)  # the keypad missed the echo and sends again
    assert await until(lambda: sim.echoes.count(frame) == 3)  # every copy is echoed …
    await asyncio.sleep(0.1)
    calls = await wait_event(client, "ticket_called")
    assert [e["display"] for e in calls] == ["A001"]  # … but only one is a press
    assert await until(lambda: sim.displays.get(2) == "   001")


def test_keypad_bus_settings_are_checked() -> None:
    text = (
        SMALL_HALL_TOML
        + """
[[keypad_buses]]
name = "keypads"
addresses = { 1 = 1, 2 = 9, x = 3, 129 = 4 }
evaluator_levels = { 3 = "great" }
"""
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hall.toml")
    problems = "\n".join(info.value.problems)
    assert "keypad_buses[0].addresses: address 2 maps to window 9" in problems
    assert 'keypad_buses[0].addresses: "x" is not an address' in problems
    assert "address 129 is used twice on this bus" in problems  # window 1's evaluator (128+1)
    assert 'keypad_buses[0].evaluator_levels: unknown level "great"' in problems
    good = parse_config(SMALL_HALL_TOML + '\n[[keypad_buses]]\naddresses = { 1 = 1, "0x02" = 2 }\n')
    (bus,) = good.keypad_buses
    assert bus.keypad_addresses() == {1: 1, 2: 2}
    assert bus.evaluator_level_table()[0] == "very_dissatisfied"


# ---------------------------------------------------------------- real frames on a pty


KEEP_OPEN: list[int] = []


def pty_pair() -> tuple[int, str]:
    """The keypads' end (master) and the port's path (slave), kept open for the test's life."""
    master, slave = os.openpty()
    KEEP_OPEN.append(slave)
    return master, os.ttyname(slave)


class FakeKeypads(threading.Thread):
    """The bus on the far end of a pty: collects what the host writes, with arrival times.

    `hears_host`: write everything the host sends straight back, as an adapter that hears
    its own transmissions would present it.
    """

    def __init__(self, fd: int, hears_host: bool = False) -> None:
        super().__init__(daemon=True)
        self.fd, self.hears_host = fd, hears_host
        self.received: list[tuple[float, Frame68]] = []
        self.parser = Frame68Parser()
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                chunk = os.read(self.fd, 256)
            except OSError:
                return
            now = time.monotonic()
            if self.hears_host:
                os.write(self.fd, chunk)
            for frame in self.parser.feed(chunk):
                self.received.append((now, frame))

    def send(self, data: bytes) -> float:
        sent = time.monotonic()
        os.write(self.fd, data)
        return sent

    def arrivals(self, frame: Frame68) -> list[float]:
        return [t for t, f in self.received if f == frame]


class Hall:
    """A stand-in controller: records commands, refuses those the test says."""

    def __init__(self) -> None:
        self.commands: list[c.Command] = []
        self.refuse = False

    async def submit(self, cmd: c.Command) -> dict[str, Any]:
        self.commands.append(cmd)
        if self.refuse:
            raise CommandRejected("window_closed", "窗口未开放")
        return {"seq": len(self.commands)}

    async def state(self) -> HallState:
        return HallState()


def serial_driver(config: HallConfig, port: str, hall: Hall, **kw: Any) -> KeypadBusDriver:
    bus = KeypadBus(addresses={1: 1, 2: 2})
    return KeypadBusDriver("kp-usb", bus, config, hall.submit, hall.state, port, 9600, **kw)


def health(driver: KeypadBusDriver) -> str:
    return driver.report.health.status


async def test_frames_over_a_pty_split_noisy_and_corrupt(demo_config: HallConfig) -> None:
    master, name = pty_pair()
    fake = FakeKeypads(master)
    fake.start()
    hall = Hall()
    driver = serial_driver(demo_config, name, hall)
    await driver.start()
    try:
        assert await until(lambda: health(driver) == "ok")
        # A frame split over two reads.
        call = Frame68(1, 0x00, bytes((CALL,)))
        data = encode(call)
        fake.send(data[:3])
        await asyncio.sleep(0.03)
        fake.send(data[3:])
        assert await until(lambda: hall.commands)
        assert isinstance(hall.commands[0], c.CallNext) and hall.commands[0].window == 1
        assert await until(lambda: fake.arrivals(call))

        # Noise with a stray 68, a frame with a bad checksum, then a good one right behind.
        recall = Frame68(2, 0x00, bytes((RECALL,)))
        corrupt = bytearray(encode(Frame68(2, 0x00, bytes((CALL,)))))
        corrupt[-2] ^= 0x5A
        fake.send(b"\x00\x13\x68\x99\xfe" + bytes(corrupt) + encode(recall, lead=False))
        assert await until(lambda: len(hall.commands) == 2)
        assert isinstance(hall.commands[1], c.Recall) and hall.commands[1].window == 2
        assert await until(lambda: fake.arrivals(recall))
        assert encode(recall, lead=False) in b"".join(
            encode(f, lead=f.lead) for _, f in fake.received
        )
        assert await until(lambda: health(driver) == "warning")
        assert "总线干扰：最近" in driver.report.health.reason
        assert "个错误帧" in driver.report.health.reason
        assert driver.parser.errors["checksum"] == 1

        # The echo comes back within 100 ms (the median of five presses, for a loaded machine).
        delays = []
        for digit in range(5):
            frame = Frame68(1, 0x00, bytes((digit, CALL)))
            sent = fake.send(encode(frame))
            assert await until(lambda f=frame: fake.arrivals(f))  # type: ignore[misc]
            delays.append(fake.arrivals(frame)[0] - sent)
        assert statistics.median(delays) < 0.1, delays
        assert max(delays) < 1.0, delays

        # A refused command: the keypad beeps.
        hall.refuse = True
        fake.send(encode(Frame68(1, 0x00, bytes((RECALL,)))))
        assert await until(lambda: fake.arrivals(Frame68(1, 0x03)))
    finally:
        fake.stop.set()
        await driver.stop()
        os.close(master)


async def test_an_adapter_that_hears_itself_gets_no_echo_of_its_echo(
    demo_config: HallConfig,
) -> None:
    master, name = pty_pair()
    fake = FakeKeypads(master, hears_host=True)
    fake.start()
    hall = Hall()
    driver = serial_driver(demo_config, name, hall)
    await driver.start()
    try:
        assert await until(lambda: health(driver) == "ok")
        call = Frame68(1, 0x00, bytes((CALL,)))
        fake.send(encode(call))
        assert await until(lambda: fake.arrivals(call))
        await asyncio.sleep(0.3)  # time for any echo of the echo to come round
        assert len(fake.arrivals(call)) == 1
        assert len(hall.commands) == 1 and driver.presses == 1
    finally:
        fake.stop.set()
        await driver.stop()
        os.close(master)


async def test_a_missing_port_is_an_error_that_clears_when_it_appears(
    demo_config: HallConfig, tmp_path: Path
) -> None:
    hall = Hall()
    driver = serial_driver(
        demo_config, str(tmp_path / "ttyUSB9"), hall, retry_first=0.05, retry_max=0.2
    )
    await driver.start()
    master = -1
    try:
        assert await until(lambda: health(driver) == "error")
        assert "呼叫器总线串口打不开" in driver.report.health.reason
        assert "请检查RS-485转换器" in driver.report.health.reason
        master, name = pty_pair()
        fake = FakeKeypads(master)
        fake.start()
        driver.port = name  # the adapter is plugged in (as a udev symlink would appear)
        assert await until(lambda: health(driver) == "ok")
        call = Frame68(2, 0x00, bytes((CALL,)))
        fake.send(encode(call))
        assert await until(lambda: fake.arrivals(call))
        assert await until(lambda: hall.commands)
        fake.stop.set()
    finally:
        await driver.stop()
        if master >= 0:
            os.close(master)
