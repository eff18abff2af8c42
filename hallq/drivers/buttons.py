"""Call buttons (叫号按钮) and evaluator keys (评价键) on a Pi's GPIO pins, through gpiozero.

Each window may have four buttons: call next (顺呼), recall (重呼), no-show (过号) and pause
(暂停). Holding call next for `hold_seconds` pauses the window, or resumes it when paused;
call next therefore acts on release, and the release that ends a hold calls nobody. Each
window may also have an evaluator with up to five keys, one per level of the hall's 好差评
(非常满意 … 非常不满意), lit only once a service at that window has finished, for one key.

gpiozero calls us from its own threads; a callback only notes the time and hands the edge to
the loop (`call_soon_threadsafe`). On the loop a software debounce sits on top of gpiozero's
(mock pins do not debounce): an edge within `bounce_time` of the last accepted edge of that
key is ignored, and once the line has been quiet for `bounce_time` the pin is read again, so
a release hidden among the bounces is not lost. Each press that survives becomes one command
with a request id of the driver, the start, the window, the button and its press count, so a
press is one request and a bounce is none. A refused command is logged, never raised.

`pin_factory = "mock"` uses gpiozero's `MockFactory` (the demo and the tests drive it with
`simulate_press`); None uses gpiozero's default (lgpio on a Pi); another name picks one of
gpiozero's factories. The settings are plain dataclasses; the hall's config maps onto them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal

from hallq.drivers.base import Driver
from hallq.errors import CommandRejected
from hallq.hall.commands import (
    CallNext,
    Command,
    MarkNoShow,
    PauseWindow,
    Recall,
    ResumeWindow,
    SubmitEvaluation,
)
from hallq.hall.events import (
    DayStarted,
    EvaluationSubmitted,
    Record,
    ServiceFinished,
    TicketCalled,
)
from hallq.hall.state import HallState

log = logging.getLogger("hallq.drivers.buttons")

MOCK = "mock"
BUTTONS = ("call_next", "recall", "no_show", "pause")
GPIO_PINS = range(28)  # GPIO 0-27 on the 40-pin header (BCM numbers)

Submit = Callable[[Command], Awaitable[dict[str, Any]]]
StateReader = Callable[[], Awaitable[HallState]]
Edge = Literal["press", "release", "held"]


# ---------------------------------------------------------------- settings


@dataclass
class WindowButtons:
    """The buttons of one window: BCM pin numbers, None where a button is not fitted."""

    window: int
    call_next: int | None = None
    recall: int | None = None
    no_show: int | None = None
    pause: int | None = None
    hold_seconds: float = 2.0  # holding call next this long pauses or resumes the window

    def pins(self) -> dict[str, int]:
        """Button name → pin, for the buttons fitted."""
        fitted = {name: getattr(self, name) for name in BUTTONS}
        return {name: pin for name, pin in fitted.items() if pin is not None}


@dataclass
class EvaluatorKeys:
    """The evaluator (评价器) of one window: level code (very_satisfied …) → pin."""

    window: int
    pins: dict[str, int] = field(default_factory=dict)


@dataclass
class ButtonSettings:
    """Every window's buttons and evaluator keys, and how to reach the pins."""

    pin_factory: str | None = None  # "mock" for the demo and tests; None: gpiozero's default
    bounce_time: float = 0.05  # seconds
    windows: list[WindowButtons] = field(default_factory=list)
    evaluators: list[EvaluatorKeys] = field(default_factory=list)

    def problems(
        self, window_numbers: Iterable[int], level_codes: Iterable[str], at: str = "buttons"
    ) -> list[str]:
        """What is wrong with these settings for a hall, one line per problem, naming the field."""
        windows, levels = set(window_numbers), list(level_codes)
        out: list[str] = []
        used: dict[int, str] = {}

        def pin(path: str, value: object) -> None:
            if not isinstance(value, int) or isinstance(value, bool):
                out.append(f"{path}: {value!r} is not a GPIO pin number")
            elif value not in GPIO_PINS:
                out.append(f"{path}: GPIO {value} does not exist; a Pi's header has GPIO 0-27")
            elif value in used:
                out.append(f"{path}: GPIO {value} is already used by {used[value]}")
            else:
                used[value] = path

        def window(path: str, number: int, seen: set[int], what: str) -> None:
            if number not in windows:
                known = ", ".join(str(n) for n in sorted(windows))
                out.append(f"{path}: there is no window {number}; windows are {known}")
            elif number in seen:
                out.append(f"{path}: window {number} has {what} listed twice")
            seen.add(number)

        floor = self.bounce_time  # a hold shorter than a bounce could never be told apart
        if not 0 <= self.bounce_time <= 1:
            out.append(f"{at}.bounce_time: {self.bounce_time:g} s; give 0-1 s (0.05 is usual)")
            floor = 0.0
        seen: set[int] = set()
        for i, wb in enumerate(self.windows):
            here = f"{at}.windows[{i}]"
            window(f"{here}.window", wb.window, seen, "buttons")
            if not floor < wb.hold_seconds <= 10:
                out.append(
                    f"{here}.hold_seconds: {wb.hold_seconds:g} s; give more than bounce_time "
                    "and at most 10 s (2 is usual)"
                )
            for name, value in wb.pins().items():
                pin(f"{here}.{name}", value)
        seen = set()
        for i, ev in enumerate(self.evaluators):
            here = f"{at}.evaluators[{i}]"
            window(f"{here}.window", ev.window, seen, "an evaluator")
            for level, value in ev.pins.items():
                if level not in levels:
                    out.append(
                        f'{here}.pins: unknown level "{level}"; levels are {", ".join(levels)}'
                    )
                pin(f"{here}.pins.{level}", value)
        return out


# ---------------------------------------------------------------- the driver


@dataclass(eq=False)
class _Key:
    """One button or evaluator key, as the loop sees it after debounce."""

    window: int
    name: str  # a button name, or a level code for an evaluator key
    pin: int
    evaluator: bool = False
    device: Any = None  # the gpiozero Button
    pressed: bool = False
    held: bool = False
    last_edge: float = -math.inf
    edges: int = 0  # edges that reached the loop, bounces included
    presses: int = 0  # presses after debounce: part of the request id
    settle: asyncio.TimerHandle | None = None


class GpioButtons(Driver):
    """The call buttons and evaluator keys of a hall, on GPIO pins (real or mock)."""

    kind = "buttons"

    def __init__(
        self,
        name: str,
        settings: ButtonSettings,
        submit: Submit,
        state: StateReader,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(name)
        self.settings = settings
        self.submit = submit
        self.state = state
        self.clock = clock  # for edge times; tests freeze it to make a bounce exact
        self.keys: list[_Key] = []
        for wb in settings.windows:
            self.keys += [_Key(wb.window, n, p) for n, p in wb.pins().items()]
        for ev in settings.evaluators:
            self.keys += [_Key(ev.window, lv, p, evaluator=True) for lv, p in ev.pins.items()]
        self._hold = {wb.window: wb.hold_seconds for wb in settings.windows}
        self._evaluator_windows = {ev.window for ev in settings.evaluators}
        # window → (ticket, request that finished it): the evaluator is lit for that ticket
        self.evaluating: dict[int, tuple[int, str | None]] = {}
        self.presses = 0  # actions handed to the hall (after debounce)
        self.bounces = 0  # edges ignored as bounces
        self.ignored = 0  # evaluator keys pressed while not lit
        self._factory: Any = None
        self._owns_factory = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._boot = ""
        self._actions: asyncio.Queue[tuple[_Key, bool, str]] = asyncio.Queue(64)
        self._worker: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._boot = f"{time.time_ns():x}"  # a restart must not reuse an earlier press's id
        self._worker = asyncio.create_task(self._work(), name=f"{self.name}-presses")
        try:
            await asyncio.to_thread(self._set_up)
        except Exception as e:  # no GPIO here, a pin taken, a bad factory name
            await asyncio.to_thread(self._release)
            log.warning("%s: cannot use GPIO: %s", self.name, e)
            if self.settings.pin_factory is None:
                hint = '不是树莓派？演示或模拟请设 pin_factory = "mock"'
                hint_en = 'not a Raspberry Pi? For the demo set pin_factory = "mock"'
            else:
                hint = f"请检查 pin_factory（{self.settings.pin_factory}）和接线"
                hint_en = f"check pin_factory ({self.settings.pin_factory}) and the wiring"
            self.failed(f"无法访问GPIO：{e}；{hint}", f"cannot use GPIO: {e}; {hint_en}")
            return
        self.seen()

    async def close(self) -> None:
        for key in self.keys:
            if key.settle is not None:
                key.settle.cancel()
                key.settle = None
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await asyncio.to_thread(self._release)

    def _make_factory(self) -> tuple[Any, bool]:
        """The pin factory, and whether it is ours to close (gpiozero's global one is not)."""
        from gpiozero import Device
        from gpiozero.exc import BadPinFactory

        name = self.settings.pin_factory
        if name is None:
            Device.ensure_pin_factory()
            return Device.pin_factory, False
        if name.lower() == MOCK:
            from gpiozero.pins.mock import MockFactory

            return MockFactory(), True
        for ep in entry_points(group="gpiozero_pin_factories"):
            if ep.name == name.lower():
                return ep.load()(), True
        raise BadPinFactory(f"unknown pin factory {name!r}")

    def _set_up(self) -> None:
        """Create the factory and one Button per key (in a thread: real pins take a moment)."""
        from gpiozero import Button

        self._factory, self._owns_factory = self._make_factory()
        bounce = self.settings.bounce_time or None
        for key in self.keys:
            hold = self._hold.get(key.window, 2.0) if key.name == "call_next" else 1.0
            key.device = Button(
                key.pin,
                pull_up=True,
                bounce_time=bounce,
                hold_time=hold,
                pin_factory=self._factory,
            )
            key.device.when_pressed = self._callback(key, "press")
            key.device.when_released = self._callback(key, "release")
            if key.name == "call_next" and not key.evaluator:
                key.device.when_held = self._callback(key, "held")

    def _release(self) -> None:
        devices = [key.device for key in self.keys if key.device is not None]
        for key in self.keys:
            key.device = None
        # Each Button stops its hold thread on close, which takes up to 0.1 s: all at once.
        closers = [threading.Thread(target=_close, args=(d,), daemon=True) for d in devices]
        for t in closers:
            t.start()
        for t in closers:
            t.join(2.0)
        factory, self._factory = self._factory, None
        if factory is not None and self._owns_factory:
            with contextlib.suppress(Exception):
                factory.close()

    # ------------------------------------------------------------ gpiozero's threads

    def _callback(self, key: _Key, edge: Edge) -> Callable[[], None]:
        def on_edge() -> None:
            self._from_thread(key, edge, self.clock())

        return on_edge

    def _from_thread(self, key: _Key, edge: Edge, at: float) -> None:
        """Only hand the edge to the loop: nothing else is safe from gpiozero's thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._edge, key, edge, at)

    # ------------------------------------------------------------ debounce (on the loop)

    def _edge(self, key: _Key, edge: Edge, at: float) -> None:
        key.edges += 1
        if edge == "held":
            if key.pressed and not key.held:  # a hold that ended before we saw it is no hold
                key.held = True
                self._act(key, hold=True)
            return
        if at - key.last_edge < self.settings.bounce_time:
            self.bounces += 1
        elif key.pressed != (edge == "press"):
            self._settled(key, edge == "press", at)
        self._settle_later(key)

    def _settle_later(self, key: _Key) -> None:
        """Read the pin once the line has been quiet for bounce_time."""
        if key.settle is not None:
            key.settle.cancel()
        assert self._loop is not None
        key.settle = self._loop.call_later(self.settings.bounce_time, self._read_pin, key)

    def _read_pin(self, key: _Key) -> None:
        key.settle = None
        if key.device is None:
            return
        try:
            pressed = bool(key.device.is_pressed)
        except Exception:  # closed meanwhile
            return
        if pressed != key.pressed:
            self._settled(key, pressed, self.clock())

    def _settled(self, key: _Key, pressed: bool, at: float) -> None:
        key.pressed, key.last_edge = pressed, at
        if pressed:
            key.held = False
            if key.name != "call_next" or key.evaluator:
                self._act(key)
        elif key.name == "call_next" and not key.evaluator and not key.held:
            self._act(key)  # on release: a hold has already paused instead

    def _act(self, key: _Key, hold: bool = False) -> None:
        key.presses += 1
        self.presses += 1
        what = f"{key.name}-hold" if hold else key.name
        rid = f"{self.name[:40]}-{self._boot}-w{key.window}-{what}-{key.presses}"
        try:
            self._actions.put_nowait((key, hold, rid))
        except asyncio.QueueFull:
            log.warning(
                "%s: presses come faster than the hall takes them; %s dropped", self.name, rid
            )

    # ------------------------------------------------------------ commands (on the loop)

    async def _work(self) -> None:
        while True:
            key, hold, rid = await self._actions.get()
            try:
                cmd = await self._command(key, hold, rid)
                if cmd is not None:
                    await self.submit(cmd)
            except asyncio.CancelledError:
                raise
            except CommandRejected as e:
                log.info("%s: window %d %s refused: %s", self.name, key.window, key.name, e.message)
            except Exception:  # a bug must not stop the buttons
                log.exception("%s: press %s failed", self.name, rid)

    async def _command(self, key: _Key, hold: bool, rid: str) -> Command | None:
        window = key.window
        if key.evaluator:
            lit = self.evaluating.pop(window, None)
            if lit is None:
                self.ignored += 1
                log.info(
                    "%s: evaluator at window %d: %s ignored, no finished service to rate",
                    self.name,
                    window,
                    key.name,
                )
                return None
            return SubmitEvaluation(
                request_id=rid, window=window, ticket=str(lit[0]), level=key.name
            )
        if key.name == "pause" or hold:
            ws = (await self.state()).windows.get(window)
            if ws is not None and ws.status in ("paused", "away"):
                return ResumeWindow(request_id=rid, window=window)
            return PauseWindow(request_id=rid, window=window)
        if key.name == "recall":
            return Recall(request_id=rid, window=window)
        if key.name == "no_show":
            return MarkNoShow(request_id=rid, window=window)
        return CallNext(request_id=rid, window=window)

    # ------------------------------------------------------------ committed events

    async def handle(self, record: Record) -> None:
        """Light a window's evaluator when a service there finishes; put it out when rated.

        A call in the same command as the finish (call next finishes the current citizen
        first) leaves it lit: that citizen rates on the way out, by ticket, so the key cannot
        land on the next one. A later call at the window puts it out.
        """
        event = record.event
        if isinstance(event, ServiceFinished) and event.window in self._evaluator_windows:
            self.evaluating[event.window] = (event.ticket, record.request)
        elif isinstance(event, TicketCalled):
            lit = self.evaluating.get(event.window)
            if lit is not None and (lit[1] is None or lit[1] != record.request):
                del self.evaluating[event.window]
        elif isinstance(event, EvaluationSubmitted):  # rated elsewhere (the web page, a keypad)
            for window, (ticket, _) in list(self.evaluating.items()):
                if ticket == event.ticket:
                    del self.evaluating[window]
        elif isinstance(event, DayStarted):
            self.evaluating.clear()

    # ------------------------------------------------------------ the simulator

    def key(self, window: int, name: str) -> _Key:
        """The key `name` (a button or a level code) of `window`."""
        for key in self.keys:
            if key.window == window and key.name == name:
                return key
        raise ValueError(f"window {window} has no {name!r} button or evaluator key")

    async def simulate_press(self, window: int, name: str, hold: bool = False) -> None:
        """Press a key on the mock pins (the demo, tests) and wait until the driver has seen it.

        `hold`: keep call next down until the hold is seen (pause or resume), then let go.
        """
        from gpiozero.pins.mock import MockFactory

        key = self.key(window, name)
        if not isinstance(self._factory, MockFactory) or key.device is None:
            raise RuntimeError(f'{self.name}: simulate_press needs pin_factory = "{MOCK}"')
        if hold and key.name != "call_next":
            raise ValueError("only call next can be held (hold for pause)")
        pin = self._factory.pin(key.pin)
        before = key.edges
        pin.drive_low()  # pulled up: pressed connects the pin to ground
        if hold:
            await self._until(  # the press and the hold both seen, not a hold from before
                lambda: key.edges >= before + 2 and key.pressed and key.held,
                self._hold.get(window, 2.0) + 5.0,
            )
        pin.drive_high()
        await self._until(
            lambda: (
                key.edges >= before + (3 if hold else 2)
                and not key.pressed
                and key.settle is None
                and self.clock() - key.last_edge >= self.settings.bounce_time
            ),
            5.0,
        )

    @staticmethod
    async def _until(check: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError("the button press was not seen")
            await asyncio.sleep(0.005)


def _close(device: Any) -> None:
    try:
        device.close()
    except Exception:  # closing must release the other pins too
        log.exception("closing %r failed", device)
