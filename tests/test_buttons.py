"""GPIO call buttons and evaluator keys: mock pins through the real controller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from hallq.controller.api import writer_key
from hallq.controller.app import create_app
from hallq.drivers.base import DriverSet
from hallq.drivers.buttons import ButtonSettings, EvaluatorKeys, GpioButtons, WindowButtons
from hallq.hall.config import HallConfig
from hallq.hall.state import HallState
from tests.conftest import at

LEVELS = ["very_satisfied", "satisfied", "basic", "dissatisfied", "very_dissatisfied"]
CALL, RECALL, NO_SHOW, PAUSE = 17, 27, 22, 23
EVALUATOR = {
    "very_satisfied": 5,
    "satisfied": 6,
    "basic": 13,
    "dissatisfied": 19,
    "very_dissatisfied": 26,
}


def settings(**kw: Any) -> ButtonSettings:
    window = WindowButtons(
        1, call_next=CALL, recall=RECALL, no_show=NO_SHOW, pause=PAUSE, hold_seconds=0.3
    )
    base: dict[str, Any] = {
        "pin_factory": "mock",
        "windows": [window],
        "evaluators": [EvaluatorKeys(1, dict(EVALUATOR))],
    }
    return ButtonSettings(**(base | kw))


@pytest.fixture(autouse=True)
def fresh_pins() -> Iterator[None]:
    """Each test starts and ends with gpiozero's global pin factory cleared."""
    Device.pin_factory = MockFactory()
    yield
    if Device.pin_factory is not None:
        Device.pin_factory.close()
    Device.pin_factory = None


async def until(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.01)


class Hall:
    """The controller with only the buttons as drivers, and an HTTP client."""

    def __init__(self, client: Any, buttons: GpioButtons) -> None:
        self.client, self.buttons = client, buttons

    async def post(self, path: str, **body: Any) -> dict[str, Any]:
        body.setdefault("request_id", f"t-{time.monotonic_ns()}")
        reply: dict[str, Any] = await (await self.client.post(path, json=body)).json()
        return reply

    async def events(self, kind: str) -> list[dict[str, Any]]:
        body = await (await self.client.get("/api/events?after=0")).json()
        return [e for e in body["events"] if e["type"] == kind]

    async def wait(self, kind: str, count: int = 1) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            found = await self.events(kind)
            if len(found) >= count:
                break
            await asyncio.sleep(0.02)
        return found

    async def quiet(self) -> None:
        """Let the driver's queue empty and the hall commit whatever it was given."""
        await until(lambda: self.buttons._actions.empty())
        await asyncio.sleep(0.1)
        await self.client.get("/api/state")


@pytest.fixture
async def hall(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path, request: Any
) -> AsyncIterator[Hall]:
    kw = getattr(request, "param", {})
    drivers = DriverSet()
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30), drivers=drivers)
    writer = app[writer_key]

    async def state() -> HallState:
        await writer.settled()
        return writer.engine.state

    buttons = GpioButtons("buttons", settings(**kw), writer.submit, state)
    drivers.drivers.append(buttons)
    client = await aiohttp_client(app)
    h = Hall(client, buttons)
    await h.post("/api/windows/1/sign-in", staff="1001")
    yield h


async def issue(hall: Hall, n: int) -> None:
    for _ in range(n):
        await hall.post("/api/tickets", service="police")


# ---------------------------------------------------------------- buttons


async def test_a_press_calls_next_and_the_pins_are_healthy(hall: Hall) -> None:
    assert hall.buttons.report.health.status == "ok"
    await issue(hall, 2)
    await hall.buttons.simulate_press(1, "call_next")
    (called,) = await hall.wait("ticket_called")
    assert (called["display"], called["window"]) == ("A001", 1)
    assert called["request"].startswith("buttons-") and "-w1-call_next-1" in called["request"]
    await hall.buttons.simulate_press(1, "call_next")
    calls = await hall.wait("ticket_called", 2)
    assert [c["display"] for c in calls] == ["A001", "A002"]
    assert hall.buttons.presses == 2


async def test_a_bounce_calls_once(hall: Hall) -> None:
    now = [100.0]
    hall.buttons.clock = lambda: now[
        0
    ]  # every edge at one instant: a bounce however slow the machine
    await issue(hall, 3)
    call = hall.buttons._factory.pin(CALL)
    key = hall.buttons.key(1, "call_next")
    for _ in range(3):  # contacts chatter: down, up, down, up, down, up
        call.drive_low()
        call.drive_high()
    assert await until(lambda: key.edges == 6 and key.settle is None and not key.pressed)
    await hall.quiet()
    assert [c["display"] for c in await hall.events("ticket_called")] == ["A001"]
    assert hall.buttons.presses == 1 and hall.buttons.bounces == 5

    # A bounce on recall (which acts on the press) is one recall too.
    now[0] += 1
    recall = hall.buttons._factory.pin(RECALL)
    recall.drive_low()
    recall.drive_high()
    recall.drive_low()
    await until(lambda: hall.buttons.key(1, "recall").edges == 3)
    recall.drive_high()
    await hall.wait("ticket_recalled")
    await hall.quiet()
    assert len(await hall.events("ticket_recalled")) == 1


async def test_recall_then_no_show(hall: Hall) -> None:
    await issue(hall, 2)
    await hall.buttons.simulate_press(1, "call_next")
    await hall.wait("ticket_called")
    await hall.buttons.simulate_press(1, "no_show")  # the demo hall asks for one recall first
    await hall.quiet()
    assert await hall.events("ticket_no_show") == []
    await hall.buttons.simulate_press(1, "recall")
    (recalled,) = await hall.wait("ticket_recalled")
    assert (recalled["display"], recalled["recalls"]) == ("A001", 1)
    await hall.buttons.simulate_press(1, "no_show")
    (missed,) = await hall.wait("ticket_no_show")
    assert missed["display"] == "A001"


async def test_hold_pauses_and_resumes_without_calling(hall: Hall) -> None:
    await issue(hall, 1)  # a ticket waits: a stray call on release would show
    await hall.buttons.simulate_press(1, "call_next", hold=True)
    assert len(await hall.wait("window_paused")) == 1
    await hall.buttons.simulate_press(1, "call_next", hold=True)
    (resumed,) = await hall.wait("window_resumed")
    assert (resumed["window"], resumed["was"]) == (1, "paused")
    await hall.quiet()
    assert await hall.events("ticket_called") == []
    state = await (await hall.client.get("/api/state")).json()
    assert {w["number"]: w["status"] for w in state["windows"]}[1] == "idle"

    # The pause button toggles too; a plain press of call next still calls.
    await hall.buttons.simulate_press(1, "pause")
    assert len(await hall.wait("window_paused", 2)) == 2
    await hall.buttons.simulate_press(1, "call_next")  # calling resumes the window
    (called,) = await hall.wait("ticket_called")
    assert called["display"] == "A001"


# ---------------------------------------------------------------- the evaluator


async def test_evaluator_keys_rate_once_after_a_finish(hall: Hall) -> None:
    await issue(hall, 3)
    await hall.buttons.simulate_press(1, "very_satisfied")  # nothing finished yet: dark
    await hall.buttons.simulate_press(1, "call_next")
    await hall.wait("ticket_called")
    await hall.buttons.simulate_press(1, "satisfied")  # A001 is still being served
    await hall.quiet()
    assert hall.buttons.ignored == 2
    assert 1 not in hall.buttons.evaluating

    await hall.post("/api/windows/1/finish")
    assert await until(lambda: 1 in hall.buttons.evaluating)
    await hall.buttons.simulate_press(1, "basic")
    await hall.buttons.simulate_press(1, "very_dissatisfied")  # a second key: ignored
    (rated,) = await hall.wait("evaluation_submitted")
    assert (rated["window"], rated["level"]) == (1, "basic")
    await hall.quiet()
    assert len(await hall.events("evaluation_submitted")) == 1
    assert hall.buttons.ignored == 3
    state = await (await hall.client.get("/api/state?tickets=all")).json()
    tickets = {t["number"]: t for t in state["tickets"]}
    assert tickets["A001"]["evaluation"] == "basic"

    # Call next finishes A002 first: its citizen can still rate it as A003 is called.
    await hall.buttons.simulate_press(1, "call_next")
    await hall.buttons.simulate_press(1, "call_next")
    assert [c["display"] for c in await hall.wait("ticket_called", 3)][-1] == "A003"
    assert await until(lambda: hall.buttons.evaluating.get(1, (0, None))[0] == 2)
    await hall.buttons.simulate_press(1, "very_satisfied")
    rated_two = (await hall.wait("evaluation_submitted", 2))[-1]
    assert (rated_two["ticket"], rated_two["level"]) == (2, "very_satisfied")


async def test_a_later_call_puts_the_evaluator_out(hall: Hall) -> None:
    await issue(hall, 2)
    await hall.buttons.simulate_press(1, "call_next")
    await hall.post("/api/windows/1/finish")
    assert await until(lambda: 1 in hall.buttons.evaluating)
    await hall.post("/api/windows/1/call-next")  # the next citizen stands at the window
    assert await until(lambda: 1 not in hall.buttons.evaluating)
    await hall.buttons.simulate_press(1, "satisfied")
    await hall.quiet()
    assert await hall.events("evaluation_submitted") == []


# ---------------------------------------------------------------- health and settings


@pytest.mark.parametrize("hall", [{"pin_factory": "no-such-factory"}], indirect=True)
async def test_a_bad_pin_factory_is_an_error_with_a_reason(hall: Hall) -> None:
    health = hall.buttons.report.health
    assert health.status == "error"
    assert health.reason.startswith("无法访问GPIO：") and "no-such-factory" in health.reason
    assert "pin_factory" in health.reason_en
    for _ in range(50):
        state = await (await hall.client.get("/api/state")).json()
        if state["devices"]:
            break
        await asyncio.sleep(0.02)
    assert {d["device"]: d["status"] for d in state["devices"]}["buttons"] == "error"
    with pytest.raises(RuntimeError, match="mock"):
        await hall.buttons.simulate_press(1, "call_next")


async def test_no_pi_and_no_mock_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    from gpiozero.exc import BadPinFactory

    def no_factory() -> None:
        raise BadPinFactory("Unable to load any default pin factory!")

    Device.pin_factory.close()
    Device.pin_factory = None
    monkeypatch.setattr(Device, "_default_pin_factory", staticmethod(no_factory))

    async def never(cmd: Any) -> dict[str, Any]:
        raise AssertionError("nothing should be submitted")

    async def no_state() -> HallState:
        raise AssertionError("no state is read")

    buttons = GpioButtons("buttons", settings(pin_factory=None), never, no_state)
    await buttons.start()
    health = buttons.report.health
    assert health.status == "error"
    assert "无法访问GPIO：Unable to load any default pin factory!" in health.reason
    assert 'pin_factory = "mock"' in health.reason
    await buttons.stop()
    Device.pin_factory = MockFactory()


async def test_close_releases_the_pins() -> None:
    async def submit(cmd: Any) -> dict[str, Any]:
        return {}

    async def state() -> HallState:
        return HallState()

    for _ in range(2):  # the same pins again: the first driver gave them back
        buttons = GpioButtons("buttons", settings(pin_factory=None), submit, state)
        await buttons.start()
        assert buttons.report.health.status == "ok"
        assert all(k.device is not None for k in buttons.keys)
        await buttons.stop()
        assert all(k.device is None for k in buttons.keys)
    assert Device.pin_factory.pin(CALL).when_changed is None


def test_problems() -> None:
    good = settings()
    assert good.problems([1, 2, 3], LEVELS) == []
    bad = ButtonSettings(
        bounce_time=2.0,
        windows=[
            WindowButtons(1, call_next=17, recall=17, hold_seconds=30),
            WindowButtons(9, call_next=30),
            WindowButtons(1, pause=4),
        ],
        evaluators=[EvaluatorKeys(1, {"great": 5, "basic": 4}), EvaluatorKeys(8, {})],
    )
    problems = bad.problems([1, 2, 3], LEVELS)
    assert "buttons.bounce_time: 2 s; give 0-1 s (0.05 is usual)" in problems
    assert (
        "buttons.windows[0].recall: GPIO 17 is already used by buttons.windows[0].call_next"
        in problems
    )
    assert any(p.startswith("buttons.windows[0].hold_seconds: 30 s") for p in problems)
    assert "buttons.windows[1].window: there is no window 9; windows are 1, 2, 3" in problems
    assert (
        "buttons.windows[1].call_next: GPIO 30 does not exist; a Pi's header has GPIO 0-27"
        in problems
    )
    assert "buttons.windows[2].window: window 1 has buttons listed twice" in problems
    assert any(p.startswith('buttons.evaluators[0].pins: unknown level "great"') for p in problems)
    assert (
        "buttons.evaluators[0].pins.basic: GPIO 4 is already used by buttons.windows[2].pause"
        in problems
    )
    assert "buttons.evaluators[1].window: there is no window 8; windows are 1, 2, 3" in problems
    assert len(problems) == 9
    short = ButtonSettings(windows=[WindowButtons(2, call_next=17, hold_seconds=0.02)])
    assert short.problems([1, 2], LEVELS) == [
        "buttons.windows[0].hold_seconds: 0.02 s; give more than bounce_time and at most 10 s "
        "(2 is usual)"
    ]
