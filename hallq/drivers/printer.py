"""The kiosk's ticket printer (ESC/POS): one driver over USB, serial, TCP, a device file or a simulator.

The kiosk process (issue 5) owns one `TicketPrinter`. `print_ticket` asks the printer's
status (DLE EOT), refuses with a reason staff can act on when it is out of paper, has its
cover open or is offline, sends `ticket_bytes`, and asks again afterwards: a ticket that may
not have come out is reported as not printed, so the controller shows it for reprint.

Rules kept here:
- Every device operation runs in a worker thread (`asyncio.to_thread`) under
  `asyncio.wait_for`, and every backend has its own I/O timeouts too, so a dead printer (an
  open cover on USB blocks python-escpos forever by default) cannot hang the kiosk.
- A device fault is never raised to the caller: it becomes a failed `PrintResult` and an error
  `Health`. The faulty connection is dropped and the next call opens the device again, so a
  replugged printer works without restarting anything.
- A printer that does not answer a status request is "unknown", never "out of paper"
  (`printer_status`); python-escpos's `paper_status()` reads no answer as "plenty" and is not
  used.

python-escpos is the transport only: its classes open the device (the USB kernel driver is
detached as it does) and `_raw` writes; the bytes are ours (`escpos_bytes`, GB18030 text).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable
from urllib.parse import quote

from hallq.drivers.base import Health
from hallq.drivers.printer_status import (
    ERROR_CAUSE,
    OFFLINE_CAUSE,
    PAPER_SENSOR,
    PRINTER,
    PrinterStatus,
    can_print,
    parse_status,
    status_byte,
    status_request,
)
from hallq.drivers.ticket import TicketContent, ticket_bytes

log = logging.getLogger("hallq.drivers.printer")

T = TypeVar("T")

AddressKind = Literal["sim", "usb", "serial", "tcp", "file"]

ADDRESS_FORMS = (
    "sim, usb:VID:PID (hex, e.g. usb:0416:5011), serial:/dev/ttyUSB0[@9600], "
    "tcp:10.0.0.5[:9100], file:/dev/usb/lp0"
)
DEFAULT_BAUDRATE = 9600
DEFAULT_TCP_PORT = 9100

PRINT_TIMEOUT = 3.0
"""Seconds for one ticket to be written (or the device opened) before it counts as failed."""
STATUS_TIMEOUT = 0.5
"""Seconds to wait for the answer to one DLE EOT request."""
GRACE = 1.0
"""Extra seconds the worker thread gets beyond a backend's own timeout before it is abandoned."""
MAX_STUCK_THREADS = 3
"""Worker threads still blocked in a dead device; with this many, no new one is started."""


# ----------------------------------------------------------------------------- addresses


@dataclass(frozen=True)
class PrinterAddress:
    """Where the printer is, parsed from the one string a hall writes in its configuration."""

    kind: AddressKind
    vendor_id: int = 0
    product_id: int = 0
    path: str = ""
    baudrate: int = DEFAULT_BAUDRATE
    host: str = ""
    port: int = DEFAULT_TCP_PORT

    @classmethod
    def parse(cls, text: str) -> PrinterAddress:
        """`sim`, `usb:VID:PID`, `serial:PATH[@BAUD]`, `tcp:HOST[:PORT]` or `file:PATH`.

        Raises ValueError naming the address and the forms that are allowed.
        """
        s = text.strip()

        def bad(problem: str) -> ValueError:
            return ValueError(f"printer address {text!r}: {problem}; use one of: {ADDRESS_FORMS}")

        if s == "sim":
            return cls("sim")
        scheme, sep, rest = s.partition(":")
        scheme = scheme.lower()
        if not sep or scheme not in ("usb", "serial", "tcp", "file"):
            return_kind = scheme if sep else s
            raise bad(f"unknown kind {return_kind!r}")
        if not rest.strip() or rest != rest.strip():
            raise bad("nothing after the kind" if not rest.strip() else "spaces around the value")
        if scheme == "usb":
            m = re.fullmatch(r"(?:0x)?([0-9a-fA-F]{1,4}):(?:0x)?([0-9a-fA-F]{1,4})", rest)
            if m is None:
                raise bad("USB needs vendor and product id in hex, as usb:0416:5011")
            vid, pid = int(m[1], 16), int(m[2], 16)
            if vid == 0 or pid == 0:
                raise bad("USB vendor and product id must not be 0000")
            return cls("usb", vendor_id=vid, product_id=pid)
        if scheme == "serial":
            path, at, baud = rest.rpartition("@") if "@" in rest else (rest, "", "")
            if not path or any(c.isspace() for c in path):
                raise bad("serial needs a device path, as serial:/dev/ttyUSB0")
            if at and not (baud.isdigit() and 50 <= int(baud) <= 4_000_000):
                raise bad(f"baud rate {baud!r} is not a number of bits per second (e.g. 9600)")
            return cls("serial", path=path, baudrate=int(baud) if at else DEFAULT_BAUDRATE)
        if scheme == "tcp":
            m = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\w*))?|([^:\s\[\]]+)(?::(\w*))?", rest)
            if m is None:
                raise bad("tcp needs a host and an optional port, as tcp:10.0.0.5:9100")
            host = m[1] or m[3]
            port_text = m[2] if m[1] else m[4]
            if port_text is None:
                return cls("tcp", host=host)
            if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
                raise bad(f"port {port_text!r} is not 1-65535")
            return cls("tcp", host=host, port=int(port_text))
        if any(c.isspace() for c in rest):
            raise bad("file needs a device path without spaces, as file:/dev/usb/lp0")
        return cls("file", path=rest)

    def __str__(self) -> str:
        if self.kind == "usb":
            return f"usb:{self.vendor_id:04x}:{self.product_id:04x}"
        if self.kind == "serial":
            return f"serial:{self.path}@{self.baudrate}"
        if self.kind == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp:{host}:{self.port}"
        if self.kind == "file":
            return f"file:{self.path}"
        return "sim"


# ----------------------------------------------------------------------------- backends


class Backend(Protocol):
    """One connection to a printer. Blocking calls; the driver runs them in worker threads."""

    def open(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, n: int, timeout: float) -> bytes:
        """Up to n bytes the printer sent, waiting at most `timeout` s; b"" when none came."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class KeepsTickets(Protocol):
    """A backend that wants the ticket itself, not just its bytes (the simulator's preview)."""

    def ticket_printed(self, content: TicketContent, paper_columns: int) -> None: ...


def _forget(printer: Any) -> None:
    """Close a python-escpos printer and mark it closed, so its `__del__` does nothing more."""
    try:
        printer.close()
    finally:
        printer._device = False


class EscposBackend:
    """A python-escpos printer as a Backend: its `open`, `_raw` and `close`; reads per kind."""

    def __init__(self, printer: Any) -> None:
        self.printer = printer

    def open(self) -> None:
        self.printer.open(raise_not_found=True)

    def write(self, data: bytes) -> None:
        self.printer._raw(data)

    def read(self, n: int, timeout: float) -> bytes:
        return b""  # a write-only transport: the status stays "unknown"

    def close(self) -> None:
        _forget(self.printer)


class SerialBackend(EscposBackend):
    """escpos `Serial`; reads with pyserial's timeout, writes with `write_timeout`."""

    def __init__(self, path: str, baudrate: int, write_timeout: float) -> None:
        from escpos.printer import Serial

        super().__init__(Serial(devfile=path, baudrate=baudrate, timeout=STATUS_TIMEOUT))
        self.write_timeout = write_timeout

    def open(self) -> None:
        super().open()
        self.printer.device.write_timeout = self.write_timeout

    def read(self, n: int, timeout: float) -> bytes:
        dev = self.printer.device
        dev.timeout = max(0.0, timeout)
        return bytes(dev.read(n))


class NetworkBackend(EscposBackend):
    """escpos `Network` (raw TCP, port 9100); a closed connection is a fault, not silence."""

    def __init__(self, host: str, port: int, write_timeout: float) -> None:
        from escpos.printer import Network

        super().__init__(Network(host=host, port=port, timeout=write_timeout))
        self.write_timeout = write_timeout

    def read(self, n: int, timeout: float) -> bytes:
        sock: socket.socket = self.printer.device
        sock.settimeout(max(0.0, timeout))
        try:
            data = sock.recv(n)
        except (TimeoutError, BlockingIOError):
            return b""
        finally:
            sock.settimeout(self.write_timeout)
        if not data:
            raise ConnectionError("the printer closed the connection")
        return data


class FileBackend(EscposBackend):
    """escpos `File` (a device file such as /dev/usb/lp0): write-only, status "unknown"."""

    def __init__(self, path: str) -> None:
        from escpos.printer import File

        super().__init__(File(devfile=path))


def _is_usb_timeout(e: BaseException) -> bool:
    return (
        type(e).__name__ == "USBTimeoutError"
        or getattr(e, "errno", None) == errno.ETIMEDOUT
        or getattr(e, "backend_error_code", None) == -7  # LIBUSB_ERROR_TIMEOUT
    )


class UsbBackend(EscposBackend):
    """escpos `Usb` with a timeout (ms) on every transfer; its default waits forever.

    escpos opens the device, detaches the kernel's usblp driver and configures it. The bulk
    endpoints are then taken from the device's descriptors when it has them (many printers
    use 0x81/0x03, not escpos's default 0x82/0x01).
    """

    def __init__(self, vendor_id: int, product_id: int, write_timeout: float) -> None:
        from escpos.printer import Usb

        if not Usb.is_usable():  # checked first: escpos's Usb cannot even be closed without it
            raise RuntimeError("USB printing needs pyusb (install hallq[pi])")
        super().__init__(Usb(idVendor=vendor_id, idProduct=product_id, timeout=_ms(write_timeout)))

    def open(self) -> None:
        super().open()
        self._find_endpoints()

    def _find_endpoints(self) -> None:
        try:
            import usb.util

            intf = self.printer.device.get_active_configuration()[(0, 0)]
            for ep in intf:
                if usb.util.endpoint_type(ep.bmAttributes) != usb.util.ENDPOINT_TYPE_BULK:
                    continue
                if usb.util.endpoint_direction(ep.bEndpointAddress) == usb.util.ENDPOINT_IN:
                    self.printer.in_ep = ep.bEndpointAddress
                else:
                    self.printer.out_ep = ep.bEndpointAddress
        except Exception:  # no descriptors to read: keep escpos's defaults
            log.debug("USB printer endpoints not found; using 0x82/0x01", exc_info=True)

    def read(self, n: int, timeout: float) -> bytes:
        try:
            return bytes(self.printer.device.read(self.printer.in_ep, n, _ms(timeout)))
        except Exception as e:
            if _is_usb_timeout(e):
                return b""
            raise


def _ms(seconds: float) -> int:
    """pyusb timeouts are milliseconds, and 0 means "wait forever": at least 1."""
    return max(1, round(seconds * 1000))


# ----------------------------------------------------------------------------- simulator

SimPaper = Literal["ok", "near_end", "out"]


@dataclass
class SimulatedPrinter:
    """A printer in memory, like escpos `Dummy`: keeps every byte, answers DLE EOT from its state.

    `tickets_left` counts the tickets the roll still holds (None: endless); when a cut uses
    the last one the paper is "out", as when a roll runs out in the middle of a ticket. With a
    `preview_dir` each printed ticket is drawn to `<number>.png` and `last.png` there.
    """

    paper: SimPaper = "ok"
    cover_open: bool = False
    offline: bool = False
    silent: bool = False
    tickets_left: int | None = None
    preview_dir: Path | None = None
    written: bytearray = field(default_factory=bytearray)
    tickets: list[bytes] = field(default_factory=list)
    last_ticket: TicketContent | None = None
    last_columns: int = 48
    opened: int = 0
    is_open: bool = False
    _answers: bytearray = field(default_factory=bytearray)
    _since_cut: bytearray = field(default_factory=bytearray)

    def status_bytes(self, n: int) -> bytes:
        """The printer's answer to DLE EOT n in its current state (b"" when silent)."""
        if self.silent:
            return b""
        stopped = self.offline or self.cover_open or self.paper == "out"
        value = 0x12
        if n == PRINTER and stopped:
            value |= 0x08
        elif n == OFFLINE_CAUSE:
            value |= (0x04 if self.cover_open else 0) | (0x20 if self.paper == "out" else 0)
        elif n == PAPER_SENSOR:
            value |= {"ok": 0x00, "near_end": 0x0C, "out": 0x6C}[self.paper]
        return bytes([value])

    def open(self) -> None:
        self.opened += 1
        self.is_open = True

    def write(self, data: bytes) -> None:
        self.written += data
        if len(data) == 3 and data[:2] == b"\x10\x04":
            self._answers += self.status_bytes(data[2])
            return
        if self.offline or self.cover_open or self.paper == "out":
            return  # a stopped printer prints nothing
        self._since_cut += data
        if b"\x1dV" in data:  # the cut: one ticket came out
            self.tickets.append(bytes(self._since_cut))
            self._since_cut.clear()
            if self.tickets_left is not None:
                self.tickets_left -= 1
                if self.tickets_left <= 0:
                    self.paper = "out"
                elif self.tickets_left <= 3:
                    self.paper = "near_end"

    def read(self, n: int, timeout: float) -> bytes:
        out = bytes(self._answers[:n])
        del self._answers[:n]
        return out

    def close(self) -> None:
        self.is_open = False
        self._answers.clear()

    def clear(self) -> None:
        """Forget the bytes written so far (escpos `Dummy.clear`)."""
        self.written.clear()

    def ticket_printed(self, content: TicketContent, paper_columns: int) -> None:
        self.last_ticket = content
        self.last_columns = paper_columns
        if self.preview_dir is not None:
            self.save_preview(self.preview_dir)

    def save_preview(self, folder: str | Path) -> Path | None:
        """Draw the last ticket into `folder` as `<number>.png` and `last.png`; its path."""
        from hallq.drivers.ticket_preview import preview_png

        if self.last_ticket is None:
            return None
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        png = preview_png(self.last_ticket, self.last_columns)
        name = re.sub(r"[^0-9A-Za-z_-]", "_", self.last_ticket.number) or "ticket"
        (out / "last.png").write_bytes(png)
        path = out / f"{name}.png"
        path.write_bytes(png)
        return path


# ----------------------------------------------------------------------------- the driver


@dataclass(frozen=True)
class PrintResult:
    """Whether the ticket came out, and why not (or what to watch), for the recordPrint call.

    `id` is made once per attempt, so posting the same result again is the same request.
    """

    printed: bool
    reason: str = ""
    reason_en: str = ""
    status: PrinterStatus = field(default_factory=PrinterStatus)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)


class DeviceFault(Exception):
    """The device failed (could not be opened, an I/O error, or no answer in time)."""

    def __init__(
        self, reason: str, reason_en: str, not_connected: bool = False, timed_out: bool = False
    ) -> None:
        super().__init__(reason_en)
        self.reason = reason
        self.reason_en = reason_en
        self.not_connected = not_connected
        self.timed_out = timed_out


_NOT_CONNECTED = PrinterStatus.not_connected()


def _health_of(status: PrinterStatus) -> Health:
    ok, _ = can_print(status)
    if not ok:
        return Health("error", status.summary_zh, status.summary_en)
    if status.paper == "near_end":
        return Health("warning", status.summary_zh, status.summary_en)
    if status.online is None and status.paper == "unknown":
        return Health("unknown", status.summary_zh, status.summary_en)
    return Health("ok")


class TicketPrinter:
    """The kiosk's printer: status, print, health; reconnects by itself after a fault.

    `connect` makes a fresh, unopened backend; it is called again after every fault (a
    replugged USB printer is a new device). Calls are serialised by an asyncio lock.
    """

    kind = "printer"

    def __init__(
        self,
        name: str,
        connect: Callable[[], Backend],
        *,
        paper_columns: int = 48,
        qr_native: bool = True,
        print_timeout: float = PRINT_TIMEOUT,
        status_timeout: float = STATUS_TIMEOUT,
        grace: float = GRACE,
    ) -> None:
        self.name = name
        self._connect = connect
        self.paper_columns = paper_columns
        self.qr_native = qr_native
        self.print_timeout = print_timeout
        self.status_timeout = status_timeout
        self.grace = grace
        self.last_seen: float | None = None
        self._backend: Backend | None = None
        self._health = Health("unknown", "打印机尚未检查", "The printer has not been checked yet")
        self._lock = asyncio.Lock()
        self._threads = 0
        self._threads_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<TicketPrinter {self.name!r} {self._health.status}>"

    # ------------------------------------------------------------ for the kiosk

    def health(self) -> Health:
        return self._health

    async def status(self) -> PrinterStatus:
        """DLE EOT 1, 2 (3 when it reports an error) and 4; unknown where it did not answer."""
        async with self._lock:
            try:
                status = await self._status()
            except DeviceFault as e:
                self._health = Health("error", e.reason, e.reason_en)
                return _NOT_CONNECTED if e.not_connected else PrinterStatus()
            self._health = _health_of(status)
            return status

    async def print_ticket(self, content: TicketContent) -> PrintResult:
        """Check, print, check again. Never raises for a device fault; see PrintResult."""
        data = ticket_bytes(content, self.paper_columns, self.qr_native)
        async with self._lock:
            try:
                before = await self._status()
            except DeviceFault as e:
                return self._failed(e)
            ok, _ = can_print(before)
            if not ok:
                self._health = _health_of(before)
                return PrintResult(False, before.summary_zh, before.summary_en, before)
            try:
                await self._call(lambda b: b.write(data), self.print_timeout)
                after = await self._status()
            except DeviceFault as e:
                return self._failed(e)
            self._health = _health_of(after)
            printed, _ = can_print(after)
            if printed:
                await self._tell_simulator(content)
            reason = self._health.reason if self._health.status != "ok" else ""
            reason_en = self._health.reason_en if reason else ""
            return PrintResult(printed, reason, reason_en, after)

    async def close(self) -> None:
        """Release the device (the kiosk is stopping)."""
        async with self._lock:
            await self._drop()

    # ------------------------------------------------------------ internals

    def _failed(self, e: DeviceFault) -> PrintResult:
        self._health = Health("error", e.reason, e.reason_en)
        status = _NOT_CONNECTED if e.not_connected else PrinterStatus()
        return PrintResult(False, e.reason, e.reason_en, status)

    async def _tell_simulator(self, content: TicketContent) -> None:
        backend: object = self._backend
        if isinstance(backend, KeepsTickets):
            try:
                await asyncio.to_thread(backend.ticket_printed, content, self.paper_columns)
            except Exception:  # the preview is for people; the ticket is printed anyway
                log.exception("printer %s: could not draw the ticket preview", self.name)

    async def _status(self) -> PrinterStatus:
        """Ask the printer; a stale connection (replugged, closed) is reopened once."""
        fresh = self._backend is None
        try:
            return await self._ask_status()
        except DeviceFault as e:
            if fresh or e.not_connected or e.timed_out:
                raise  # a hung device is not asked twice: the kiosk would wait twice as long
        return await self._ask_status()  # the old connection broke: try a new one

    async def _ask_status(self) -> PrinterStatus:
        wait = self.status_timeout

        def ask(n: int) -> Callable[[Backend], bytes]:
            def run(b: Backend) -> bytes:
                b.write(status_request(n))
                return b.read(1, wait)

            return run

        # A late answer to an earlier request would be read as this one's: drop it first.
        await self._call(lambda b: b.read(64, 0.0), wait)
        printer = await self._call(ask(PRINTER), wait)
        if status_byte(printer) is None:
            return parse_status(printer)  # no answer: do not spend 0.5 s on each other one
        offline = await self._call(ask(OFFLINE_CAUSE), wait)
        error = None
        cause = status_byte(offline)
        if cause is not None and cause & 0x40:  # "error occurred": ask which
            error = await self._call(ask(ERROR_CAUSE), wait)
        paper = await self._call(ask(PAPER_SENSOR), wait)
        self.last_seen = time.time()
        return parse_status(printer, offline, error, paper)

    async def _open(self) -> Backend:
        if self._backend is not None:
            return self._backend
        try:
            backend = self._connect()
        except Exception as e:
            log.warning("printer %s: cannot make its connection: %s", self.name, e)
            raise DeviceFault("打印机未连接", "The printer is not connected", True) from e
        try:
            await self._in_thread(backend.open, self.print_timeout)
        except DeviceFault as e:
            await self._close_quietly(backend)
            if e.timed_out:
                raise
            raise DeviceFault("打印机未连接", "The printer is not connected", True) from e
        self._backend = backend
        return backend

    async def _call(self, op: Callable[[Backend], T], timeout: float) -> T:
        """Run one operation on the open device; on a fault drop the connection and raise."""
        backend = await self._open()
        try:
            return await self._in_thread(lambda: op(backend), timeout)
        except DeviceFault:
            await self._drop()
            raise

    async def _in_thread(self, fn: Callable[[], T], timeout: float) -> T:
        with self._threads_lock:
            if self._threads >= MAX_STUCK_THREADS:
                raise DeviceFault(
                    "打印机无响应，请检查打印机或重新插拔连线",
                    "The printer does not respond; check it or replug its cable",
                    timed_out=True,
                )
            self._threads += 1

        def counted() -> T:
            try:
                return fn()
            finally:
                with self._threads_lock:
                    self._threads -= 1

        try:
            return await asyncio.wait_for(asyncio.to_thread(counted), timeout + self.grace)
        except TimeoutError:
            log.warning("printer %s: no answer within %.1f s", self.name, timeout + self.grace)
            raise DeviceFault(
                "打印机无响应（超时），请检查打印机是否开盖、缺纸或连线松动",
                "The printer did not answer in time; check its cover, paper and cable",
                timed_out=True,
            ) from None
        except Exception as e:
            log.warning("printer %s: device error: %s", self.name, e)
            raise DeviceFault(
                "打印机连接出错，请检查连线或重新插拔",
                f"The printer connection failed ({e}); check or replug the cable",
                not_connected=_is_not_found(e),
            ) from e

    async def _drop(self) -> None:
        backend, self._backend = self._backend, None
        if backend is not None:
            await self._close_quietly(backend)

    async def _close_quietly(self, backend: Backend) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.to_thread(backend.close), self.status_timeout)


def _is_not_found(e: BaseException) -> bool:
    return type(e).__name__ in ("DeviceNotFoundError", "USBNotFoundError") or isinstance(
        e, FileNotFoundError | ConnectionRefusedError
    )


# ----------------------------------------------------------------------------- building


def backend_factory(
    address: PrinterAddress | str,
    *,
    write_timeout: float = PRINT_TIMEOUT,
    simulator: SimulatedPrinter | None = None,
) -> Callable[[], Backend]:
    """A function making a fresh backend for `address` (the simulator is one, kept)."""
    addr = PrinterAddress.parse(address) if isinstance(address, str) else address
    if addr.kind == "sim":
        sim = simulator if simulator is not None else SimulatedPrinter()
        return lambda: sim
    if addr.kind == "usb":
        return lambda: UsbBackend(addr.vendor_id, addr.product_id, write_timeout)
    if addr.kind == "serial":
        return lambda: SerialBackend(addr.path, addr.baudrate, write_timeout)
    if addr.kind == "tcp":
        return lambda: NetworkBackend(addr.host, addr.port, write_timeout)
    return lambda: FileBackend(addr.path)


def open_printer(
    name: str,
    address: PrinterAddress | str,
    *,
    simulator: SimulatedPrinter | None = None,
    paper_columns: int = 48,
    qr_native: bool = True,
    print_timeout: float = PRINT_TIMEOUT,
    status_timeout: float = STATUS_TIMEOUT,
) -> TicketPrinter:
    """The kiosk's printer for a configured address (nothing is opened until first used)."""
    return TicketPrinter(
        name,
        backend_factory(address, write_timeout=print_timeout, simulator=simulator),
        paper_columns=paper_columns,
        qr_native=qr_native,
        print_timeout=print_timeout,
        status_timeout=status_timeout,
    )


# ----------------------------------------------------------------------------- recording


@dataclass(frozen=True)
class ApiCall:
    """One controller request for the kiosk to send (this module does no HTTP)."""

    operation_id: str
    method: str
    path: str
    body: dict[str, Any]


def record(
    ticket: str, result: PrintResult, health: Health, device: str, kind: str = "printer"
) -> tuple[ApiCall, ApiCall]:
    """The recordPrint and reportDeviceHealth requests for one print attempt.

    Request ids come from the result's id, so resending after a lost reply is idempotent.
    """
    printed = ApiCall(
        "recordPrint",
        "POST",
        f"/api/tickets/{quote(ticket, safe='')}/print",
        {
            "request_id": f"print-{result.id}",
            "printed": result.printed,
            "reason": result.reason,
            "device": device,
        },
    )
    reported = ApiCall(
        "reportDeviceHealth",
        "POST",
        f"/api/devices/{quote(device, safe='')}/health",
        {
            "request_id": f"health-{result.id}",
            "kind": kind,
            "status": health.status,
            "reason": health.reason,
            "reason_en": health.reason_en,
        },
    )
    return printed, reported
