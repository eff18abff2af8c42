"""The ticket printer's real-time status (DLE EOT n), read before issuing and after printing.

A kiosk must tell a citizen "缺纸" only when the paper sensor says so: a printer that did not
answer (timeout, write-only transport) or answered with a byte that is not a status byte is
"unknown", never "out of paper". Bits follow the Epson ESC/POS reference for DLE EOT:
every reply byte has bit 1 = 1 and bit 4 = 1 and bits 0 and 7 = 0 (so 0x12 means "all clear").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DLE_EOT = b"\x10\x04"
PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER_SENSOR = 1, 2, 3, 4

Paper = Literal["ok", "near_end", "out", "unknown"]

_FIXED_MASK = 0b1001_0011  # bits 7, 4, 1, 0
_FIXED_VALUE = 0b0001_0010  # bit 4 and bit 1 set, bits 7 and 0 clear

# Error codes (PrinterStatus.error) with what a person can do about each.
_REASONS: dict[str, tuple[str, str]] = {
    "not_connected": ("打印机未连接", "The printer is not connected"),
    "offline": ("打印机离线，请检查打印机", "The printer is offline; please check it"),
    "cutter": ("打印机切刀故障，请检查切刀", "The printer's cutter has failed; please check it"),
    "mechanical": (
        "打印机机械故障，请联系维护",
        "The printer has a mechanical fault; call maintenance",
    ),
    "unrecoverable": ("打印机故障，请重启打印机", "The printer has failed; please restart it"),
    "auto_recoverable": (
        "打印机暂时故障（如过热），稍候自动恢复",
        "The printer has a passing fault (e.g. too hot); it recovers by itself",
    ),
    "error": ("打印机出错，请检查打印机", "The printer reports an error; please check it"),
}


def status_request(n: int) -> bytes:
    """DLE EOT n: ask for one status byte (1 printer, 2 offline cause, 3 error cause, 4 paper)."""
    if n not in (PRINTER, OFFLINE_CAUSE, ERROR_CAUSE, PAPER_SENSOR):
        raise ValueError("DLE EOT n is 1-4")
    return DLE_EOT + bytes([n])


def status_byte(reply: bytes | None) -> int | None:
    """The status byte of a reply, or None when nothing usable came back.

    Empty (timeout) or None (not asked) is None; a byte whose fixed bits are wrong is not a
    status reply (noise, a stray ASB packet) and is None too. With several bytes the last is
    taken: earlier ones are leftovers of a previous request.
    """
    if not reply:
        return None
    value = reply[-1]
    return value if value & _FIXED_MASK == _FIXED_VALUE else None


def _bit(value: int | None, n: int) -> bool | None:
    return None if value is None else bool(value >> n & 1)


@dataclass(frozen=True)
class PrinterStatus:
    """What the printer said, with None/"unknown" where it said nothing usable."""

    online: bool | None = None
    paper: Paper = "unknown"
    cover_open: bool | None = None
    error: str | None = None

    @classmethod
    def not_connected(cls) -> PrinterStatus:
        """The transport could not be opened (no USB device, connection refused)."""
        return cls(online=False, error="not_connected")

    def _reasons(self, index: int) -> list[str]:
        out: list[str] = []
        if self.paper == "out":
            out.append(
                ("打印机缺纸，请更换纸卷", "The printer is out of paper; replace the roll")[index]
            )
        if self.cover_open:
            out.append(("打印机盖未关好", "The printer cover is open")[index])
        if self.error is not None:
            out.append(
                _REASONS.get(
                    self.error, (f"打印机故障：{self.error}", f"Printer fault: {self.error}")
                )[index]
            )
        if self.online is False and not out:
            out.append(_REASONS["offline"][index])
        if self.paper == "near_end":
            out.append(("打印机纸将用尽", "The paper roll is nearly used up")[index])
        if not out and self.online is None and self.paper == "unknown":
            out.append(("打印机未回复状态", "The printer did not report its status")[index])
        return out

    @property
    def summary_zh(self) -> str:
        """The reasons for staff in Chinese, most urgent first; 「打印机正常」 when all is well."""
        return "；".join(self._reasons(0)) or "打印机正常"

    @property
    def summary_en(self) -> str:
        return "; ".join(self._reasons(1)) or "Printer ready"


def parse_status(
    printer: bytes | None = None,
    offline_cause: bytes | None = None,
    error_cause: bytes | None = None,
    paper_sensor: bytes | None = None,
) -> PrinterStatus:
    """Combine the replies to DLE EOT 1, 2, 3 and 4 (each may be empty or None) into a status.

    n=1 bit 3: offline. n=2 bit 2: cover open, bit 5: stopped at paper end, bit 6: error.
    n=3 bit 2: mechanical, bit 3: autocutter, bit 5: unrecoverable, bit 6: auto-recoverable.
    n=4 bits 2,3: roll near end, bits 5,6: paper end.
    """
    p1, p2, p3, p4 = (status_byte(r) for r in (printer, offline_cause, error_cause, paper_sensor))
    offline = _bit(p1, 3)
    online = None if offline is None else not offline

    paper: Paper = "unknown"
    if p4 is not None:
        paper = "out" if p4 & 0x60 else "near_end" if p4 & 0x0C else "ok"
    if _bit(p2, 5):
        paper = "out"  # the printer stopped because the paper ran out

    error: str | None = None
    if p3 is not None:
        for bit, code in (
            (5, "unrecoverable"),
            (3, "cutter"),
            (2, "mechanical"),
            (6, "auto_recoverable"),
        ):
            if _bit(p3, bit):
                error = code
                break
    if error is None and _bit(p2, 6):
        error = "error"  # the offline cause says "error"; DLE EOT 3 did not say which
    return PrinterStatus(online=online, paper=paper, cover_open=_bit(p2, 2), error=error)


def can_print(status: PrinterStatus) -> tuple[bool, str]:
    """Whether to print a ticket now, and the reason to show staff (Chinese).

    A known fault stops printing. A printer that did not answer is tried anyway: some
    transports cannot read, and the check after printing records a failed ticket for reprint.
    """
    blocked = (
        status.online is False
        or status.paper == "out"
        or bool(status.cover_open)
        or status.error is not None
    )
    return (not blocked, status.summary_zh)
