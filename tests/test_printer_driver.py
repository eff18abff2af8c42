"""The ticket printer driver: addresses, the simulator, faults and reconnection, real transports.

No hardware: the serial backend talks to a thread playing the printer on a pseudo-terminal,
the TCP backend to one on a local socket, the USB backend to a fake pyusb device. Bytes are
compared exactly.
"""

from __future__ import annotations

import asyncio
import errno
import gc
import os
import select
import socket
import threading
import time
import tty
from pathlib import Path
from typing import Any

import msgspec
import pytest
from PIL import Image

from hallq.drivers.base import Health
from hallq.drivers.printer import (
    FileBackend,
    PrinterAddress,
    PrintResult,
    SimulatedPrinter,
    TicketPrinter,
    UsbBackend,
    open_printer,
    record,
)
from hallq.drivers.printer_status import status_request
from hallq.drivers.ticket import ticket_bytes
from hallq.hall import commands
from tests.test_ticket_printing import sample as ticket_sample

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
S1, S2, S3, S4 = (status_request(n) for n in (1, 2, 3, 4))
STATUS = S1 + S2 + S4
PAPER_OUT = "打印机缺纸，请更换纸卷"
# The same ticket as the layout tests print.
sample = ticket_sample


def sim_printer(sim: SimulatedPrinter, **kw: Any) -> TicketPrinter:
    return open_printer("kiosk-1-printer", "sim", simulator=sim, **kw)


# ----------------------------------------------------------------------------- addresses


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("sim", PrinterAddress("sim"), "sim"),
        ("usb:0416:5011", PrinterAddress("usb", vendor_id=0x0416, product_id=0x5011), None),
        ("USB:04b8:0E15", PrinterAddress("usb", vendor_id=0x04B8, product_id=0x0E15), None),
        ("serial:/dev/ttyUSB0", PrinterAddress("serial", path="/dev/ttyUSB0"), None),
        (
            "serial:/dev/ttyS1@115200",
            PrinterAddress("serial", path="/dev/ttyS1", baudrate=115200),
            None,
        ),
        ("tcp:10.0.0.5", PrinterAddress("tcp", host="10.0.0.5"), "tcp:10.0.0.5:9100"),
        ("tcp:printer.local:9101", PrinterAddress("tcp", host="printer.local", port=9101), None),
        ("tcp:[fe80::1]:9100", PrinterAddress("tcp", host="fe80::1"), None),
        ("file:/dev/usb/lp0", PrinterAddress("file", path="/dev/usb/lp0"), None),
        ("  sim  ", PrinterAddress("sim"), "sim"),
    ],
)
def test_address_parses(text: str, expected: PrinterAddress, canonical: str | None) -> None:
    addr = PrinterAddress.parse(text)
    assert addr == expected
    assert PrinterAddress.parse(str(addr)) == addr
    if canonical is not None:
        assert str(addr) == canonical


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "unknown kind"),
        ("lpt1", "unknown kind 'lpt1'"),
        ("bluetooth:00:11", "unknown kind 'bluetooth'"),
        ("usb:", "nothing after the kind"),
        ("usb:0416", "vendor and product id in hex"),
        ("usb:0416:50G1", "vendor and product id in hex"),
        ("usb:0000:5011", "must not be 0000"),
        ("serial:/dev/ttyUSB0@fast", "baud rate 'fast'"),
        ("serial:@9600", "needs a device path"),
        ("tcp:10.0.0.5:99999", "port '99999' is not 1-65535"),
        ("tcp:10.0.0.5:http", "port 'http'"),
        ("tcp:a b", "tcp needs a host"),
        ("file:", "nothing after the kind"),
    ],
)
def test_bad_address_says_what_is_allowed(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        PrinterAddress.parse(text)
    message = str(caught.value)
    assert problem in message
    assert repr(text) in message
    for form in ("sim", "usb:VID:PID", "serial:/dev/ttyUSB0[@9600]", "tcp:", "file:"):
        assert form in message


# ----------------------------------------------------------------------------- simulator


async def test_simulator_gets_exactly_the_ticket_and_status_requests() -> None:
    sim = SimulatedPrinter()
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert result.printed and result.reason == ""
    assert printer.health() == Health("ok")
    assert bytes(sim.written) == STATUS + ticket_bytes(sample()) + STATUS
    assert sim.tickets == [ticket_bytes(sample())]
    assert sim.last_ticket == sample()


async def test_paper_width_and_raster_qr_follow_the_printer_settings() -> None:
    sim = SimulatedPrinter()
    printer = sim_printer(sim, paper_columns=32, qr_native=False)
    assert (await printer.print_ticket(sample())).printed
    assert sim.tickets == [ticket_bytes(sample(), 32, qr_native=False)]


async def test_paper_out_before_printing_refuses_and_prints_nothing() -> None:
    sim = SimulatedPrinter(paper="out")
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert not result.printed
    assert result.reason == PAPER_OUT
    assert result.status.paper == "out"
    assert bytes(sim.written) == STATUS  # asked, and sent no ticket
    assert sim.tickets == []
    assert printer.health() == Health("error", PAPER_OUT, result.reason_en)


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        ({"cover_open": True}, "打印机盖未关好"),
        ({"offline": True}, "打印机离线，请检查打印机"),
    ],
)
async def test_cover_open_or_offline_refuses(state: dict[str, Any], reason: str) -> None:
    sim = SimulatedPrinter(**state)
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert (result.printed, result.reason) == (False, reason)
    assert bytes(sim.written) == STATUS
    assert printer.health().status == "error"


async def test_paper_running_out_while_printing_is_a_failed_ticket() -> None:
    sim = SimulatedPrinter(tickets_left=1)
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert not result.printed
    assert result.reason == PAPER_OUT
    assert bytes(sim.written) == STATUS + ticket_bytes(sample()) + STATUS
    assert printer.health().status == "error"
    assert sim.last_ticket is None  # not shown as printed
    # The roll is replaced: the next ticket prints and health is ok again.
    sim.paper = "ok"
    sim.tickets_left = None
    assert (await printer.print_ticket(sample(number="A013"))).printed
    assert printer.health() == Health("ok")


async def test_near_end_prints_with_a_warning() -> None:
    sim = SimulatedPrinter(paper="near_end")
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert result.printed
    assert result.reason == "打印机纸将用尽"
    assert printer.health() == Health(
        "warning", "打印机纸将用尽", "The paper roll is nearly used up"
    )


async def test_silent_printer_is_unknown_not_out_of_paper() -> None:
    sim = SimulatedPrinter(silent=True)
    printer = sim_printer(sim, status_timeout=0.05)
    status = await printer.status()
    assert status.paper == "unknown" and status.online is None
    assert printer.health().status == "unknown"
    assert "缺纸" not in printer.health().reason
    # Printing is tried (a write-only printer still prints); one request each side, not three.
    sim.clear()
    result = await printer.print_ticket(sample())
    assert result.printed
    assert result.reason == "打印机未回复状态"
    assert bytes(sim.written) == S1 + ticket_bytes(sample()) + S1


async def test_error_cause_is_asked_when_the_printer_reports_an_error() -> None:
    class CutterJam(SimulatedPrinter):
        def status_bytes(self, n: int) -> bytes:
            return {1: b"\x1a", 2: b"\x52", 3: b"\x1a", 4: b"\x12"}[n]

    sim = CutterJam()
    printer = sim_printer(sim)
    result = await printer.print_ticket(sample())
    assert (result.printed, result.reason) == (False, "打印机切刀故障，请检查切刀")
    assert bytes(sim.written) == S1 + S2 + S3 + S4


async def test_preview_png_of_the_last_ticket(tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    sim = SimulatedPrinter(preview_dir=ARTIFACTS / "printer-sim")
    printer = sim_printer(sim)
    assert (await printer.print_ticket(sample())).printed
    shown = ARTIFACTS / "printer-sim" / "A012.png"
    with Image.open(shown) as img:
        assert img.format == "PNG"
        assert img.width == 576 and img.height > 400
    assert (ARTIFACTS / "printer-sim" / "last.png").read_bytes() == shown.read_bytes()
    # Also on request, into any folder.
    path = sim.save_preview(tmp_path)
    assert path == tmp_path / "A012.png" and path.stat().st_size > 1000
    assert SimulatedPrinter().save_preview(tmp_path / "none") is None


# ----------------------------------------------------------------------------- faults


class HangingPrinter(SimulatedPrinter):
    """Answers status, but a ticket write blocks (10 s) until the connection is closed."""

    def __init__(self, hang: bool) -> None:
        super().__init__()
        self.hang = hang
        self.unplugged = threading.Event()

    def write(self, data: bytes) -> None:
        if self.hang and len(data) > 3 and self.unplugged.wait(10):
            raise OSError(errno.EIO, "device gone")  # closing the connection ends the wait
        super().write(data)

    def close(self) -> None:
        self.unplugged.set()
        super().close()


async def test_hung_printer_returns_in_time_and_next_call_reopens() -> None:
    plugs = [HangingPrinter(hang=True), HangingPrinter(hang=False)]
    made: list[HangingPrinter] = []

    def connect() -> HangingPrinter:
        made.append(plugs[len(made)] if len(made) < len(plugs) else plugs[-1])
        return made[-1]

    printer = TicketPrinter("p", connect, print_timeout=0.3, status_timeout=0.2, grace=0.2)
    try:
        started = time.monotonic()
        result = await printer.print_ticket(sample())
        elapsed = time.monotonic() - started
        assert not result.printed
        assert "无响应" in result.reason
        assert elapsed < 3.0  # 0.5 s timeout and a close, not the 10 s write
        assert printer.health().status == "error"
        assert plugs[0].unplugged.is_set()  # the stuck connection was closed

        # The printer is "replugged": the next call opens a new device and prints.
        result = await printer.print_ticket(sample())
        assert result.printed, result.reason
        assert printer.health() == Health("ok")
        assert len(made) == 2
        assert plugs[1].tickets == [ticket_bytes(sample())]
    finally:
        for p in plugs:
            p.unplugged.set()


async def test_missing_printer_is_not_connected_then_found() -> None:
    present = False
    sim = SimulatedPrinter()

    class Plug(SimulatedPrinter):
        def open(self) -> None:
            if not present:
                raise FileNotFoundError(2, "No such device", "/dev/usb/lp0")

    def connect() -> SimulatedPrinter:
        return sim if present else Plug()

    printer = TicketPrinter("p", connect)
    result = await printer.print_ticket(sample())
    assert (result.printed, result.reason) == (False, "打印机未连接")
    assert result.status.error == "not_connected"
    assert printer.health() == Health("error", "打印机未连接", "The printer is not connected")
    assert (await printer.status()).error == "not_connected"

    present = True
    assert (await printer.print_ticket(sample())).printed
    assert printer.health() == Health("ok")


async def test_an_io_error_never_raises_and_the_device_is_reopened() -> None:
    class Broken(SimulatedPrinter):
        def write(self, data: bytes) -> None:
            if len(data) > 3:
                raise OSError(errno.EIO, "Input/output error")
            super().write(data)

    devices: list[SimulatedPrinter] = [Broken(), SimulatedPrinter()]
    printer = TicketPrinter("p", lambda: devices.pop(0))
    result = await printer.print_ticket(sample())
    assert not result.printed
    assert result.reason == "打印机连接出错，请检查连线或重新插拔"
    assert printer.health().status == "error"
    assert (await printer.print_ticket(sample())).printed
    assert devices == []


# ----------------------------------------------------------------------------- real transports


class PrinterPlayer:
    """The far end: keeps every byte and answers each DLE EOT n with its status byte."""

    def __init__(self) -> None:
        self.answers = {1: 0x12, 2: 0x12, 3: 0x12, 4: 0x12}  # all clear
        self.received = bytearray()
        self._scan = 0

    def feed(self, data: bytes) -> bytes:
        self.received += data
        reply = bytearray()
        while True:
            i = self.received.find(b"\x10\x04", self._scan)
            if i < 0:
                self._scan = max(self._scan, len(self.received) - 1)
                return bytes(reply)
            if i + 2 >= len(self.received):
                self._scan = i
                return bytes(reply)
            reply.append(self.answers[self.received[i + 2]])
            self._scan = i + 3


async def test_serial_backend_over_a_pseudo_terminal() -> None:
    master, slave = os.openpty()
    tty.setraw(slave)
    player = PrinterPlayer()
    stop = threading.Event()

    def play() -> None:
        while not stop.is_set():
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    return
                reply = player.feed(data)
                if reply:
                    os.write(master, reply)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    printer = open_printer("p", f"serial:{os.ttyname(slave)}@19200")
    try:
        status = await printer.status()
        assert (status.online, status.paper, status.cover_open) == (True, "ok", False)
        result = await printer.print_ticket(sample())
        assert result.printed, result.reason
        assert bytes(player.received) == STATUS + STATUS + ticket_bytes(sample()) + STATUS
        assert printer.health() == Health("ok")
    finally:
        await printer.close()
        stop.set()
        thread.join(5)
        os.close(master)
        os.close(slave)


class TcpPrinter:
    """A printer on 127.0.0.1 (port 0): one connection at a time, each with a fresh player."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.05)
        self.port = self.server.getsockname()[1]
        self.players: list[PrinterPlayer] = []
        self.stop = threading.Event()
        self.drop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            player = PrinterPlayer()
            self.players.append(player)
            with conn:
                conn.settimeout(0.05)
                while not self.stop.is_set() and not self.drop.is_set():
                    try:
                        data = conn.recv(4096)
                    except TimeoutError:
                        continue
                    if not data:
                        break
                    reply = player.feed(data)
                    if reply:
                        conn.sendall(reply)
            self.drop.clear()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.server.close()


async def test_tcp_backend_against_a_local_server_and_reconnects() -> None:
    server = TcpPrinter()
    printer = open_printer("p", f"tcp:127.0.0.1:{server.port}")
    try:
        result = await printer.print_ticket(sample())
        assert result.printed, result.reason
        assert bytes(server.players[0].received) == STATUS + ticket_bytes(sample()) + STATUS

        # The printer restarts (the connection drops): the next ticket still prints, over a
        # new connection, and the caller never sees the fault.
        server.drop.set()
        for _ in range(200):
            if not server.drop.is_set():
                break
            await asyncio.sleep(0.01)
        result = await printer.print_ticket(sample(number="A013"))
        assert result.printed, result.reason
        assert len(server.players) == 2
        assert bytes(server.players[1].received) == (
            STATUS + ticket_bytes(sample(number="A013")) + STATUS
        )
    finally:
        await printer.close()
        server.close()


async def test_tcp_nobody_listening_is_not_connected() -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]  # closed again: nothing listens there
    printer = open_printer("p", f"tcp:127.0.0.1:{port}", print_timeout=1.0)
    result = await printer.print_ticket(sample())
    assert (result.printed, result.reason) == (False, "打印机未连接")
    assert printer.health().status == "error"


async def test_file_backend_writes_the_ticket_and_status_is_unknown(tmp_path: Path) -> None:
    out = tmp_path / "lp0"
    printer = open_printer("p", f"file:{out}", status_timeout=0.05)
    result = await printer.print_ticket(sample())
    await printer.close()
    assert result.printed
    assert printer.health().status == "unknown"
    assert out.read_bytes() == S1 + ticket_bytes(sample()) + S1
    assert isinstance(FileBackend(str(out)), FileBackend)


class FakeUsbDevice:
    """Enough of a pyusb device for escpos `Usb._raw` and our read."""

    class USBTimeoutError(Exception):
        pass

    def __init__(self) -> None:
        self.writes: list[tuple[int, bytes, int]] = []
        self.reads: list[tuple[int, int, int]] = []
        self.answer = b""

    def write(self, ep: int, data: bytes, timeout: int) -> int:
        self.writes.append((ep, bytes(data), timeout))
        return len(data)

    def read(self, ep: int, n: int, timeout: int) -> bytes:
        self.reads.append((ep, n, timeout))
        if not self.answer:
            raise self.USBTimeoutError("Operation timed out")
        return self.answer


def test_usb_backend_passes_timeouts_in_milliseconds(monkeypatch: pytest.MonkeyPatch) -> None:
    import escpos.printer.usb

    monkeypatch.setattr(escpos.printer.usb, "is_usable", lambda: True)  # pyusb may be absent
    backend = UsbBackend(0x0416, 0x5011, write_timeout=3.0)
    dev = FakeUsbDevice()
    backend.printer._device = dev  # as escpos's open would, without a USB bus
    try:
        backend.write(b"\x1b@")
        assert dev.writes == [(0x01, b"\x1b@", 3000)]  # never escpos's default 0 (forever)
        assert backend.read(1, 0.5) == b""  # a timeout is silence, not an error
        dev.answer = b"\x12"
        assert backend.read(1, 0.0) == b"\x12"
        assert dev.reads == [(0x82, 1, 500), (0x82, 1, 1)]  # 0 ms would mean "forever"
    finally:
        backend.printer._device = False  # unplug the fake before escpos's close sees it
        backend.close()
        del backend
        gc.collect()  # its __del__ runs while the patch still stands


def test_usb_without_pyusb_is_a_clear_not_connected(monkeypatch: pytest.MonkeyPatch) -> None:
    import escpos.printer.usb

    monkeypatch.setattr(escpos.printer.usb, "is_usable", lambda: False)
    with pytest.raises(RuntimeError, match="pyusb"):
        UsbBackend(0x0416, 0x5011, write_timeout=3.0)


@pytest.mark.skipif(
    not os.environ.get("HALLQ_USB_PRINTER"),
    reason="needs a real USB printer: set HALLQ_USB_PRINTER=usb:VID:PID",
)
async def test_real_usb_printer() -> None:
    printer = open_printer("usb", os.environ["HALLQ_USB_PRINTER"])
    try:
        result = await printer.print_ticket(sample())
        assert result.printed, result.reason
    finally:
        await printer.close()


# ----------------------------------------------------------------------------- recording


def test_record_builds_the_two_controller_bodies() -> None:
    result = PrintResult(False, PAPER_OUT, "The printer is out of paper; replace the roll")
    health = Health("error", PAPER_OUT, "The printer is out of paper; replace the roll")
    printed, reported = record("A012", result, health, "kiosk-1-printer")
    assert (printed.method, printed.path) == ("POST", "/api/tickets/A012/print")
    assert printed.body == {
        "request_id": f"print-{result.id}",
        "printed": False,
        "reason": PAPER_OUT,
        "device": "kiosk-1-printer",
    }
    assert (reported.method, reported.path) == ("POST", "/api/devices/kiosk-1-printer/health")
    assert reported.body["status"] == "error" and reported.body["kind"] == "printer"
    # The controller accepts them as it does an HTTP body: path values and the tag added.
    cmd = msgspec.convert(
        {**printed.body, "ticket": "A012", "command": printed.operation_id},
        commands.RecordPrint,
        strict=True,
    )
    assert isinstance(cmd, commands.RecordPrint) and cmd.printed is False
    dev = msgspec.convert(
        {**reported.body, "device": "kiosk-1-printer", "command": reported.operation_id},
        commands.ReportDeviceHealth,
        strict=True,
    )
    assert isinstance(dev, commands.ReportDeviceHealth) and dev.reason == PAPER_OUT
    # The same result posted again is the same request; another attempt is a new one.
    assert (
        record("A012", result, health, "kiosk-1-printer")[0].body["request_id"]
        == (printed.body["request_id"])
    )
    assert PrintResult(True).id != result.id
    assert record("A/1", result, health, "k 1")[1].path == "/api/devices/k%201/health"


def test_check_config_names_the_line_of_a_bad_kiosk_printer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from hallq.cli import main
    from hallq.hall.config import demo_config_path

    text = demo_config_path().read_text(encoding="utf-8")
    assert 'printer = "sim"' in text
    bad = tmp_path / "hall.toml"
    bad.write_text(text.replace('printer = "sim"', 'printer = "usb:zz"'), encoding="utf-8")
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "usb:zz" in t)
    assert main(["check-config", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:{line}: kiosks[0].printer: printer address 'usb:zz'" in err
    assert main(["check-config", str(demo_config_path())]) == 0
