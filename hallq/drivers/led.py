"""LED boards (条屏) on an RS-485 bus: window boards and hall boards, real or simulated.

One driver per bus. On every committed event it works out what each of its boards should
show now (`ledtext`, from the controller's boards view) and sends a frame (`ledframe`) only to
the boards whose text changed. A board shows state, not history, so a backlog is dropped for
the newest event (`keeps_every_event = False`). The serial backend uses pyserial's
`serial_for_url` (a device path, `socket://host:port` for an RS-485 gateway, `loop://` in
tests) with timeouts on every read and write, and reopens the port by itself after a fault.

Outside the bus's hours the controller's power task makes it dark (`set_dark`): every board
blank, and its brightness 0 where the framing has a command for it; the calls are not shown
until it lights up again, and then every board gets its text at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import serial

from hallq.drivers.base import Driver, Health
from hallq.drivers.ledframe import LedFraming
from hallq.drivers.ledtext import BLANK, BoardText, hall_board, hall_board_for, window_boards
from hallq.hall.events import Record

# Returns the controller's boards view of committed state (it waits for a settled writer).
BoardsView = Callable[[], Awaitable[Mapping[str, Any]]]


@dataclass(frozen=True)
class Board:
    """One board on the bus: above a window, or a hall board listing recent calls."""

    address: int
    window: int | None = None
    width: int = 16  # in columns: an ASCII character is 1, a Chinese character 2

    @property
    def is_hall_board(self) -> bool:
        return self.window is None


class BoardLink(Protocol):
    """How frames reach the boards: a serial bus, or the simulator."""

    async def send(self, address: int, frame: bytes, framing: LedFraming) -> bool | None:
        """Write one frame; True/False when the board answered well/badly, None for no reply."""
        ...

    async def close(self) -> None: ...


@dataclass
class SimulatedBoards:
    """Keeps what each board shows (for the web page's LED view) and every frame written."""

    shown: dict[int, str] = field(default_factory=dict)
    frames: list[tuple[float, int, bytes]] = field(default_factory=list)
    answering: bool = True  # set False in tests to play a dead bus

    async def send(self, address: int, frame: bytes, framing: LedFraming) -> bool | None:
        if not self.answering:
            raise OSError("no answer from the simulated bus")
        self.frames.append((time.time(), address, frame))
        return True

    def remember(self, address: int, text: str) -> None:
        self.shown[address] = text

    async def close(self) -> None:
        return None


class SerialBoards:
    """A real RS-485 bus through pyserial; every I/O in a worker thread with timeouts."""

    def __init__(self, url: str, baudrate: int = 9600, timeout: float = 0.3) -> None:
        self.url, self.baudrate, self.timeout = url, baudrate, timeout
        self._port: Any = None
        self._lock = asyncio.Lock()

    def _open(self) -> Any:
        if self._port is None:
            self._port = serial.serial_for_url(
                self.url, baudrate=self.baudrate, timeout=self.timeout, write_timeout=self.timeout
            )
        return self._port

    def _exchange(self, frame: bytes, framing: LedFraming) -> bool | None:
        try:
            port = self._open()
            port.reset_input_buffer()
            port.write(frame)
            port.flush()
            if framing.reply_terminator is None:
                return None
            reply = port.read_until(framing.reply_terminator, framing.reply_max_bytes)
            return framing.reply_ok(bytes(reply)) if reply else False
        except (serial.SerialException, OSError):
            self._drop()
            raise

    def _drop(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):
                port.close()

    async def send(self, address: int, frame: bytes, framing: LedFraming) -> bool | None:
        async with self._lock:
            return await asyncio.to_thread(self._exchange, frame, framing)

    async def close(self) -> None:
        async with self._lock:
            await asyncio.to_thread(self._drop)


class LedBus(Driver):
    """The boards of one bus. `view` returns the controller's boards view (committed state)."""

    kind = "led"
    keeps_every_event = False

    def __init__(
        self,
        name: str,
        boards: list[Board],
        framing: LedFraming,
        link: BoardLink,
        view: BoardsView,
        language: str = "zh",
        brightness: int | None = None,
    ) -> None:
        super().__init__(name, queue_size=4)
        self.brightness = brightness  # 0-100 %, None: leave the boards as they are
        # Set when a brightness is asked for that the framing cannot set: a standing warning.
        self.unsupported: tuple[str, str] | None = None
        self.boards = boards
        self.framing = framing
        self.link = link
        self.view = view
        self.language = language
        self.shown: dict[int, str] = {}  # what each board shows, as far as we know
        self.dark = False  # outside the power schedule: the boards are kept blank
        self._switched = True  # the last set_dark went through on every board
        # One writer of the boards at a time: the calls (refresh) or the power task (set_dark).
        self._writing = asyncio.Lock()

    async def open(self) -> None:
        await self.apply_brightness()
        await self.refresh()

    async def apply_brightness(self) -> None:
        """Set every board's brightness, where the framing has a command for it."""
        if self.brightness is None:
            return
        frames = [
            (b.address, self.framing.set_brightness(b.address, self.brightness))
            for b in self.boards
        ]
        if any(frame is None for _, frame in frames):
            self.unsupported = (
                f"{self.name}：{self.framing.name} 协议没有亮度命令，亮度请在屏上调节",
                f"{self.name}: the {self.framing.name} framing has no brightness command; "
                "set brightness on the boards",
            )
            return
        for address, frame in frames:
            if frame is not None:
                try:
                    await self.link.send(address, frame, self.framing)
                except (OSError, serial.SerialException):
                    return  # refresh() reports the bus fault

    async def close(self) -> None:
        await self.link.close()

    async def handle(self, record: Record) -> None:
        await self.refresh()

    async def texts(self) -> dict[int, BoardText]:
        """What each board of this bus should show now, by address."""
        view = await self.view()
        per_window = window_boards(view, self.language)
        out: dict[int, BoardText] = {}
        for board in self.boards:
            if board.is_hall_board:
                out[board.address] = self._hall_line(view, board)
            else:
                line = per_window.get(board.window or 0, BLANK)
                out[board.address] = line
        return out

    def _hall_line(self, view: Mapping[str, Any], board: Board) -> BoardText:
        """The newest call, then the calls before it: one line the strip scrolls by itself.

        Strip screens scroll a text longer than they are wide, so the recent calls go on the
        same line after the newest (「A012 请到5号窗口　A011→2号 B003→3号」).
        """
        newest = hall_board_for(view, board.width, self.language).first
        if not newest.text or not view["recent_calls"]:
            return newest
        older = hall_board(view["recent_calls"][1:], board.width, view["now"], self.language)
        if not older.scroll.text:
            return newest
        return BoardText(f"{newest.text}\u3000{older.scroll.text}", newest.flash)

    async def set_dark(self, dark: bool) -> None:
        """Go dark (blank every board, brightness 0 where the framing can) or light up again
        (brightness back, every board's text at once). Asking again for the state the bus is
        in does nothing, unless the last switch was cut short by a bus fault: then it is tried
        again."""
        async with self._writing:
            if dark == self.dark and self._switched:
                return
            self.dark = dark
            if dark:
                self._switched = await self._blank_all()
                return
            await self.apply_brightness()
            self.shown.clear()  # a board may have lost its text overnight: send every one
            self._switched = await self._send_texts()

    async def _blank_all(self) -> bool:
        """Blank every board (and dim it, where the framing can); False if any did not take it."""
        failures: list[str] = []
        for board in self.boards:
            frames = [self.framing.blank(board.address)]
            if self.brightness is not None:
                # Only dimmed when a brightness is configured: it is what lighting up restores.
                dim = self.framing.set_brightness(board.address, 0)
                if dim is not None:
                    frames.append(dim)
            for frame in frames:
                try:
                    answer = await self.link.send(board.address, frame, self.framing)
                except (OSError, serial.SerialException) as e:
                    self._serial_fault(e)
                    return False
                if answer is False:
                    failures.append(str(board.address))
                    break
            else:
                self.shown[board.address] = ""
                if isinstance(self.link, SimulatedBoards):
                    self.link.remember(board.address, "")
        self._report(failures)
        return not failures

    async def refresh(self) -> None:
        """Send each board whose text changed its new text; report the bus's health.

        While the bus is dark the boards stay blank: the texts are sent when it lights up.
        """
        async with self._writing:
            if not self.dark:
                await self._send_texts()

    async def _send_texts(self) -> bool:
        """Send the boards their changed texts; False if a board or the bus failed."""
        failures: list[str] = []
        for address, line in (await self.texts()).items():
            text = line.text
            if self.shown.get(address) == text:
                continue
            frame = self.framing.show_text(address, text) if text else self.framing.blank(address)
            try:
                answer = await self.link.send(address, frame, self.framing)
            except (OSError, serial.SerialException) as e:
                self._serial_fault(e)
                return False
            if answer is False:
                failures.append(str(address))
                continue
            self.shown[address] = text
            if isinstance(self.link, SimulatedBoards):
                self.link.remember(address, text)
        self._report(failures)
        return not failures

    def _serial_fault(self, e: Exception) -> None:
        self.failed(
            f"{self.name} 串口故障：{e}；请检查RS-485转换器和接线",
            f"{self.name}: serial fault: {e}; check the RS-485 adapter and wiring",
        )

    def _report(self, failures: list[str]) -> None:
        """The bus's health after a pass over its boards: `failures` are the silent addresses."""
        if failures:
            self.failed(
                f"{self.name} 屏地址 {'、'.join(failures)} 无应答，请检查屏幕电源和地址设置",
                f"{self.name}: boards {', '.join(failures)} did not answer; check power and addresses",
                status="warning",
            )
        elif self.unsupported is not None:
            self.seen(Health("warning", *self.unsupported))
        else:
            self.seen(Health("ok"))
