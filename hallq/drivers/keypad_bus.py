"""Wired caller keypads (呼叫器) and evaluators (评价器) on one RS-485 bus: the driver.

One worker thread owns the reading side of the port: it reads with a short timeout, feeds the
"68" parser (`frame68`), and answers every key frame from a known keypad with its echo (a
rating with the evaluator's acknowledgement) at once, from that thread, so the 100 ms the
devices allow does not depend on the event loop. Only then is the press (one per key, however
often the keypad resends: `PressFilter`) handed to the loop, where it becomes a command
(`keypad.command_for`) submitted with a request id made of the bus, the address, the frame and
the time of the press. A refused command makes the keypad beep; nothing raises.

Committed events come back through `handle`: a call shows the ticket's last three digits on
the window's keypad, an idle, paused or away window shows how many wait for its services, a
closed one goes dark, and a finished service asks the window's evaluator for a rating. Every
write, the thread's echoes and the loop's displays alike, goes under one lock.

The port is a pyserial URL (a device path, `socket://` for a gateway) or "sim": a
`SimulatedKeypads` that plays the keypads in memory, for tests and the web page.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from hallq.drivers.base import Driver, Health
from hallq.drivers.frame68 import (
    BLANK,
    DISPLAY_WIDTH,
    EVALUATION_START,
    FUNC_BEEP,
    FUNC_DISPLAY,
    FUNC_EVALUATOR_CONTROL,
    FUNC_RATING,
    Frame68,
    Frame68Parser,
    beep,
    blank_display,
    display_ticket,
    display_waiting,
    encode,
    evaluator_ack,
    evaluator_start,
)
from hallq.drivers.keypad import (
    EvaluatorRating,
    Ignored,
    KeypadAction,
    KeypadBus,
    PressFilter,
    classify,
    command_for,
    service_by_position,
    waiting_ticket_by_digits,
)
from hallq.errors import CommandRejected
from hallq.hall.commands import Command
from hallq.hall.config import HallConfig
from hallq.hall.events import Record, ServiceFinished, TicketCalled, TicketRecalled
from hallq.hall.state import HallState

log = logging.getLogger("hallq.drivers.keypad_bus")

SIMULATOR = "sim"

Submit = Callable[[Command], Awaitable[dict[str, Any]]]
StateReader = Callable[[], Awaitable[HallState]]  # committed state (waits for a settled writer)


class Port(Protocol):
    """What the driver needs of a serial port (pyserial's `Serial`, or the simulator)."""

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1) -> bytes: ...

    def write(self, data: bytes) -> int | None: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- the simulator


@dataclass(frozen=True)
class Evaluator:
    """What the host last told one evaluator."""

    active: bool = False  # lit, waiting for the citizen's key
    stars: int | None = None
    acknowledged: int | None = None  # the last rating the host acknowledged


class SimulatedKeypads:
    """The keypads and evaluators of a bus, in memory, standing in for the serial port.

    `press` and `rate` put frames on the "bus" as a device would; the driver reads them as
    from a real port. What the host writes is decoded and kept: `displays` (what each
    keypad's six digits show, a space for a dark position), `beeps`, `evaluators`, `echoes`
    (frames sent back unchanged) and every frame in `written`. Thread-safe.
    """

    def __init__(self, read_timeout: float = 0.05) -> None:
        self.read_timeout = read_timeout
        self.displays: dict[int, str] = {}
        self.beeps: list[int] = []
        self.evaluators: dict[int, Evaluator] = {}
        self.echoes: list[Frame68] = []
        self.written: list[tuple[float, Frame68]] = []
        self.sent: list[Frame68] = []  # frames put on the bus by `press` / `rate`
        self._inbound = bytearray()
        self._cond = threading.Condition()
        self._parser = Frame68Parser()

    # the devices' side

    def press(self, address: int, digits: str = "", key: int = 0x0C, func: int = 0x00) -> Frame68:
        """A staff member types `digits` and presses `key` on the keypad at `address`."""
        if not digits.isdigit() and digits:
            raise ValueError(f"a keypad has digit keys only: {digits!r}")
        frame = Frame68(address, func, bytes(int(d) for d in digits) + bytes((key,)))
        self.send_frame(frame)
        return frame

    def rate(self, address: int, key: int) -> Frame68:
        """A citizen presses rating key `key` (00 差 … 03 很好) on the evaluator at `address`."""
        frame = Frame68(address, FUNC_RATING, bytes((key,)))
        self.send_frame(frame)
        return frame

    def send_frame(self, frame: Frame68) -> None:
        self.sent.append(frame)
        self.send(encode(frame, lead=frame.lead))

    def send(self, data: bytes) -> None:
        """Raw bytes on the bus (noise, a corrupt frame, a resend)."""
        with self._cond:
            self._inbound += data
            self._cond.notify_all()

    # the host's side (a pyserial-like port)

    @property
    def in_waiting(self) -> int:
        with self._cond:
            return len(self._inbound)

    def read(self, size: int = 1) -> bytes:
        with self._cond:
            if not self._inbound:
                self._cond.wait(self.read_timeout)
            out = bytes(self._inbound[:size])
            del self._inbound[:size]
            return out

    def write(self, data: bytes) -> int:
        now = time.time()
        with self._cond:
            for frame in self._parser.feed(data):
                self.written.append((now, frame))
                self._record(frame)
        return len(data)

    def close(self) -> None:
        return None

    def wake(self) -> None:
        """End a read that is waiting (the driver is stopping)."""
        with self._cond:
            self._cond.notify_all()

    def _record(self, frame: Frame68) -> None:
        if frame in self.sent[-32:]:
            self.echoes.append(frame)
        elif frame.func == FUNC_DISPLAY and len(frame.data) == DISPLAY_WIDTH:
            self.displays[frame.address] = "".join(
                " " if b == BLANK else str(b) if b <= 9 else "?" for b in frame.data
            )
        elif frame.func == FUNC_DISPLAY and len(frame.data) == 1:
            old = self.evaluators.get(frame.address, Evaluator())
            self.evaluators[frame.address] = Evaluator(old.active, frame.data[0], old.acknowledged)
        elif frame.func == FUNC_BEEP:
            self.beeps.append(frame.address)
        elif frame.func == FUNC_EVALUATOR_CONTROL and frame.data == bytes((EVALUATION_START,)):
            old = self.evaluators.get(frame.address, Evaluator())
            self.evaluators[frame.address] = Evaluator(True, old.stars, old.acknowledged)
        elif frame.func == FUNC_EVALUATOR_CONTROL and len(frame.data) == 1:
            old = self.evaluators.get(frame.address, Evaluator())
            self.evaluators[frame.address] = Evaluator(False, old.stars, frame.data[0])


# ---------------------------------------------------------------- the driver


class KeypadBusDriver(Driver):
    """The keypads and evaluators of one bus, real (pyserial) or simulated."""

    kind = "keypad"

    def __init__(
        self,
        name: str,
        bus: KeypadBus,
        config: HallConfig,
        submit: Submit,
        state: StateReader,
        port: str = SIMULATOR,
        baudrate: int = 9600,
        *,
        read_timeout: float = 0.05,
        retry_first: float = 1.0,
        retry_max: float = 30.0,
        error_window: float = 60.0,
        own_echo_window: float = 0.1,
        own_write_window: float = 1.0,
    ) -> None:
        super().__init__(name)
        self.bus = bus
        self.config = config
        self.submit = submit
        self.state = state
        self.port = port  # may be changed while running: the next reopen uses it
        self.baudrate = baudrate
        self.read_timeout = read_timeout
        self.retry_first, self.retry_max = retry_first, retry_max
        self.error_window = error_window
        # An adapter that hears its own transmissions gives back what we wrote: our echo of a
        # key frame comes back at once (a keypad's own resend comes 200 ms or more later);
        # displays, beeps and acknowledgements come from no device, so a copy is always ours.
        self.own_echo_window = own_echo_window
        self.own_write_window = own_write_window
        self.sim = SimulatedKeypads(read_timeout) if port == SIMULATOR else None
        self.parser = Frame68Parser()
        self.filter = PressFilter(300.0)
        self.shown: dict[int, Frame68] = {}  # what each keypad's display shows, as far as we know
        self.presses = 0  # presses handed to the hall (after the resend filter)
        self._services = [s.code for s in config.services]
        self._lock = threading.Lock()  # every write, from the reader thread or the loop
        self._port: Port | None = None
        self._broken = False
        self._recent: collections.deque[tuple[float, Frame68, bool]] = collections.deque(maxlen=64)
        self._errors_seen = 0
        self._error_times: collections.deque[tuple[float, int]] = collections.deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._press_queue: asyncio.Queue[tuple[Frame68, KeypadAction | EvaluatorRating, int]] = (
            asyncio.Queue(64)
        )
        self._press_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh_lock = asyncio.Lock()

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop.clear()
        self._press_task = asyncio.create_task(self._act_on_presses(), name=f"{self.name}-presses")
        self._thread = threading.Thread(
            target=self._read_forever, name=f"hallq-{self.name}", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        self._stop.set()
        if self.sim is not None:
            self.sim.wake()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 2.0)
            self._thread = None
        for task in [self._press_task, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._press_task = None

    def _open_port(self) -> Port:
        if self.sim is not None:
            return self.sim
        port: Port = serial.serial_for_url(
            self.port,
            baudrate=self.baudrate,
            timeout=self.read_timeout,
            write_timeout=0.5,
        )
        return port

    # ------------------------------------------------------------ the reader thread

    def _read_forever(self) -> None:
        delay = self.retry_first
        while not self._stop.is_set():
            try:
                port = self._open_port()
            except (serial.SerialException, OSError, ValueError) as e:
                log.warning(
                    "%s: cannot open %s: %s; retrying in %g s", self.name, self.port, e, delay
                )
                self._post(self._cannot_open, str(e))
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max)
                continue
            delay = self.retry_first
            with self._lock:
                self._port, self._broken = port, False
            self.parser.reset()
            self._post(self._opened)
            try:
                self._read_port(port)
            except (serial.SerialException, OSError) as e:
                log.warning("%s: serial fault on %s: %s", self.name, self.port, e)
                self._post(self._fault, str(e))
                self._stop.wait(self.retry_first)
            finally:
                with self._lock:
                    self._port = None
                with contextlib.suppress(serial.SerialException, OSError):
                    port.close()

    def _read_port(self, port: Port) -> None:
        while not self._stop.is_set():
            if self._broken:  # a write failed: reopen
                raise OSError("write failed")
            data = port.read(1)
            if data:
                waiting = port.in_waiting
                if waiting:
                    data += port.read(waiting)
                frames = self.parser.feed(data)
            elif self.parser.pending:
                frames = self.parser.flush()  # the line went quiet inside a frame
            else:
                frames = []
            for frame in frames:
                self._on_frame(frame)
            errors = sum(self.parser.errors.values())
            if errors > self._errors_seen:
                self._error_times.append((time.monotonic(), errors - self._errors_seen))
                self._errors_seen = errors
                self._post(self._bus_health, *self._recent_errors())

    def _on_frame(self, frame: Frame68) -> None:
        """Answer a frame at once (this thread), then hand a new press to the loop."""
        if self._is_own_write(frame):
            return
        result = classify(frame, self.bus)
        if isinstance(result, Ignored):
            log.info("%s: ignored %s", self.name, result.reason)
            return
        if isinstance(result, EvaluatorRating):
            self._write([evaluator_ack(frame.address, result.key)], echo=False)
        else:
            self._write([frame], echo=True)  # the echo: the same bytes, FF only if it had one
        self._post(self._bus_health, *self._recent_errors())
        if not self.filter.accept(frame):
            log.debug("%s: resend of %s", self.name, frame)
            return
        self._post(self._pressed, frame, result, time.time_ns())

    def _recent_errors(self) -> tuple[int, str]:
        """Corrupt frames within `error_window`, and the parser's totals by reason."""
        limit = time.monotonic() - self.error_window
        while self._error_times and self._error_times[0][0] < limit:
            self._error_times.popleft()
        reasons = "、".join(f"{k} {v}" for k, v in sorted(self.parser.errors.items()))
        return sum(n for _, n in self._error_times), reasons

    def _is_own_write(self, frame: Frame68) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = self._recent
            while recent and now - recent[0][0] > self.own_write_window:
                recent.popleft()
            for i, (at, written, is_echo) in enumerate(recent):
                window = self.own_echo_window if is_echo else self.own_write_window
                if written == frame and now - at <= window:
                    del recent[i]
                    return True
        return False

    def _write(self, frames: Iterable[Frame68], echo: bool = False, pace: bool = False) -> bool:
        """Write frames (any thread); False when the port is not open or the write failed.

        `pace`: leave the line time of each frame before the next, lock released, so an echo
        due from the reader thread is not queued behind a dozen displays.
        """
        for frame in frames:
            data = encode(frame, lead=frame.lead)
            with self._lock:
                port = self._port
                if port is None or self._broken:
                    return False
                try:
                    port.write(data)
                except (serial.SerialException, OSError) as e:
                    log.warning("%s: write failed: %s", self.name, e)
                    self._broken = True
                    return False
                self._recent.append((time.monotonic(), frame, echo))
            if pace and self.sim is None:
                time.sleep(len(data) * 10 / self.baudrate)
        return True

    def _post(self, fn: Callable[..., None], *args: Any) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(fn, *args)

    # ------------------------------------------------------------ health (on the loop)

    def _cannot_open(self, error: str) -> None:
        self.failed(
            f"呼叫器总线串口打不开：{self.port}（{error}），请检查RS-485转换器和USB连接",
            f"{self.name}: cannot open {self.port} ({error}); check the RS-485 adapter",
        )

    def _fault(self, error: str) -> None:
        self.failed(
            f"呼叫器总线串口故障：{error}，正在重新打开；请检查RS-485转换器",
            f"{self.name}: serial fault ({error}), reopening; check the RS-485 adapter",
        )

    def _opened(self) -> None:
        if self.report.health.status in ("error", "warning"):
            self._bus_health(*self._recent_errors())
        elif self.sim is None:
            self.seen()  # a real port opened; the simulator waits for its first frame
        self.shown.clear()  # a keypad may have been restarted: show everything again
        self._spawn(self.refresh())

    def _bus_health(self, errors: int, reasons: str) -> None:
        if errors:
            self.report.last_seen = time.time()
            self.failed(
                f"总线干扰：最近 {errors} 个错误帧（累计 {reasons}），请检查接线、屏蔽和终端电阻",
                f"{self.name}: bus noise: {errors} bad frames lately ({reasons}); "
                "check wiring, shielding and termination",
                status="warning",
            )
        else:
            self.seen(Health("ok"))

    # ------------------------------------------------------------ presses (on the loop)

    def _pressed(self, frame: Frame68, result: KeypadAction | EvaluatorRating, at_ns: int) -> None:
        try:
            self._press_queue.put_nowait((frame, result, at_ns))
        except asyncio.QueueFull:
            log.warning(
                "%s: presses arrive faster than the hall takes them; %s dropped", self.name, frame
            )

    async def _act_on_presses(self) -> None:
        while True:
            frame, result, at_ns = await self._press_queue.get()
            try:
                await self._act(frame, result, at_ns)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop the keypads
                log.exception("%s: press %s failed", self.name, frame)

    def request_id(self, frame: Frame68, at_ns: int) -> str:
        """One id per press: a resend of the frame is filtered out before it gets one."""
        digest = hashlib.sha1(encode(frame, lead=False)).hexdigest()[:10]
        return f"{self.name[:40]}-{frame.address:02x}-{digest}-{at_ns}"

    async def _act(
        self, frame: Frame68, result: KeypadAction | EvaluatorRating, at_ns: int
    ) -> None:
        self.presses += 1
        state = await self.state()
        cmd = command_for(
            result,
            self.request_id(frame, at_ns),
            resolve_ticket=waiting_ticket_by_digits(self.config, state),
            resolve_service=service_by_position(self._services),
        )
        if cmd is None:
            if isinstance(result, KeypadAction) and result.kind != "cancel":
                log.info(
                    "%s: window %d: %s %s gives no command",
                    self.name,
                    result.window,
                    result.kind,
                    result.argument or "",
                )
                await self._beep(frame.address)
            return
        try:
            await self.submit(cmd)
        except CommandRejected as e:
            log.info("%s: %s refused: %s", self.name, type(cmd).__name__, e.message)
            if isinstance(result, KeypadAction):
                await self._beep(frame.address)

    async def _beep(self, address: int) -> None:
        await asyncio.to_thread(self._write, [beep(address)])

    # ------------------------------------------------------------ committed events

    async def handle(self, record: Record) -> None:
        event = record.event
        force: set[int] = set()
        if isinstance(event, TicketCalled | TicketRecalled):
            force.add(event.window)  # show it again, even if the digits are the same
        await self.refresh(force)
        if isinstance(event, ServiceFinished):
            address = self.bus.evaluator_address(event.window)
            if address is not None:
                await asyncio.to_thread(self._write, [evaluator_start(address)])

    async def refresh(self, force: set[int] | None = None) -> None:
        """Send each keypad whose display should change its new digits."""
        async with self._refresh_lock:
            state = await self.state()
            waiting = collections.Counter(
                t.service for t in state.tickets.values() if t.status == "waiting"
            )
            due: list[Frame68] = []
            for address, window in self.bus.addresses.items():
                frame = self._display(address, window, state, waiting)
                if frame != self.shown.get(address) or (force and window in force):
                    due.append(frame)
            if not due:
                return
            if await asyncio.to_thread(self._write, due, False, True):
                for frame in due:
                    self.shown[frame.address] = frame

    def _display(
        self, address: int, window: int, state: HallState, waiting: collections.Counter[str]
    ) -> Frame68:
        ws = state.windows.get(window)
        if ws is None or ws.status == "closed":
            return blank_display(address)
        ticket = state.tickets.get(ws.ticket) if ws.ticket is not None else None
        if ticket is not None and ws.status in ("calling", "serving"):
            return display_ticket(address, ticket.display)
        w = self.config.window(window)
        services = {s for tier in w.tiers for s in tier} if w is not None else set()
        return display_waiting(address, sum(waiting[s] for s in services))

    def _spawn(self, coro: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: refresh failed", self.name)

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
