"""The ESC/POS bytes we send to the ticket printer ourselves.

python-escpos's `text()` picks a code page per string and only switches to GB18030 when the
string holds a common hanzi, so a punctuation-only line (「」、。) or a rare character in a
citizen-facing name comes out as '?'. Here every text line is encoded with GB18030 by us and
sent in the printer's Chinese mode; python-escpos is used only as the transport (`_raw`).

Each function returns bytes, so the ticket is one byte string that a test can compare and the
simulator can keep. Command layouts follow the Epson ESC/POS command reference.
"""

from __future__ import annotations

import math
from typing import Literal

import qrcode
from PIL import Image, ImageOps

ESC = b"\x1b"
GS = b"\x1d"
FS = b"\x1c"
DLE = b"\x10"
LF = b"\n"

INIT = ESC + b"@"
"""ESC @: forget every mode left over from the last ticket (size, bold, alignment)."""
CHINESE_MODE_ON = FS + b"&"
"""FS &: bytes >= 0x80 are read as GB18030 characters instead of a code-page table."""
CHINESE_MODE_OFF = FS + b"."
"""FS .: back to single-byte code pages (left on exit so the next user starts clean)."""

DOTS_PER_COLUMN = 12
"""An ASCII character of Font A is 12 dots wide; a hanzi is 24 (two columns)."""
PAPER_COLUMNS = (32, 48)
"""58 mm paper prints 32 ASCII columns (384 dots); 80 mm prints 48 (576 dots)."""

Align = Literal["left", "center", "right"]
_ALIGN_CODE: dict[Align, int] = {"left": 0, "center": 1, "right": 2}

QrLevel = Literal["L", "M", "Q", "H"]
_QR_LEVEL_CODE: dict[QrLevel, int] = {"L": 48, "M": 49, "Q": 50, "H": 51}
_QR_LEVEL_LIB: dict[QrLevel, int] = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
QR_MAX_BYTES = 7089
"""The largest QR symbol (version 40, level L) holds 7,089 digits; fewer bytes of a URL."""


def paper_dots(columns: int) -> int:
    """Printable width in dots for a paper width given in ASCII columns."""
    if columns not in PAPER_COLUMNS:
        raise ValueError(f"paper width must be one of {PAPER_COLUMNS} columns, not {columns}")
    return columns * DOTS_PER_COLUMN


def text_columns(text: str) -> int:
    """Columns a string takes on paper in Chinese mode: ASCII 1, every other character 2.

    In Chinese mode the printer draws every multi-byte GB18030 character as a full-width
    glyph, even ones (·, —) that Unicode calls "ambiguous", so this counts as the printer does.
    """
    return sum(1 if ord(ch) < 0x80 else 2 for ch in text)


def encode_text(text: str) -> bytes:
    """GB18030 bytes for a line of text; raises UnicodeEncodeError rather than printing '?'."""
    return text.encode("gb18030")


def line(text: str) -> bytes:
    """One printed line: the GB18030 text followed by LF (print and feed one line)."""
    return encode_text(text) + LF


def align(where: Align) -> bytes:
    """ESC a n: justification of the following lines (and of native QR codes)."""
    return ESC + b"a" + bytes([_ALIGN_CODE[where]])


def char_size(width: int = 1, height: int = 1) -> bytes:
    """GS ! n: magnify characters 1-8 times in each direction (used for the ticket number)."""
    if not (1 <= width <= 8 and 1 <= height <= 8):
        raise ValueError("character magnification must be 1-8")
    return GS + b"!" + bytes([(width - 1) << 4 | (height - 1)])


def bold(on: bool) -> bytes:
    """ESC E n: emphasized (bold) printing on or off."""
    return ESC + b"E" + (b"\x01" if on else b"\x00")


def feed(lines: int) -> bytes:
    """ESC d n: print the buffer and feed n lines (so the cut does not slice the footer)."""
    if not 0 <= lines <= 255:
        raise ValueError("feed is 0-255 lines")
    return ESC + b"d" + bytes([lines])


def partial_cut(feed_dots: int = 0) -> bytes:
    """GS V 66 n: feed n dots to the cutter, then cut leaving one point uncut (ticket hangs)."""
    if not 0 <= feed_dots <= 255:
        raise ValueError("cut feed is 0-255 dots")
    return GS + b"V" + bytes([66, feed_dots])


def _qr_function(fn: int, params: bytes) -> bytes:
    """GS ( k pL pH cn fn [params]: cn = 49 ('1') selects the QR code symbol."""
    size = len(params) + 2  # cn and fn count in the length
    return GS + b"(k" + size.to_bytes(2, "little") + bytes([49, fn]) + params


def qr_native(data: str, module_size: int = 6, level: QrLevel = "M") -> bytes:
    """The QR drawn by the printer itself (GS ( k), model 2: five functions in order.

    165 select model, 167 module size in dots, 169 error correction level, 180 store the
    data (pL pH = data length + 3), 181 print the stored symbol.
    """
    payload = data.encode("utf-8")
    if not payload:
        raise ValueError("a QR code needs data")
    if len(payload) > QR_MAX_BYTES:
        raise ValueError(f"QR data is {len(payload)} bytes; at most {QR_MAX_BYTES}")
    if not 1 <= module_size <= 16:
        raise ValueError("QR module size must be 1-16 dots")
    return b"".join(
        (
            _qr_function(65, bytes([50, 0])),  # fn 165: model 2
            _qr_function(67, bytes([module_size])),  # fn 167: module size
            _qr_function(69, bytes([_QR_LEVEL_CODE[level]])),  # fn 169: error correction
            _qr_function(80, b"0" + payload),  # fn 180: store data (m = 48)
            _qr_function(81, b"0"),  # fn 181: print
        )
    )


def qr_image(data: str, module_size: int = 6, level: QrLevel = "M") -> Image.Image:
    """A 1-bit Pillow image of the QR, one pixel per printer dot, with a 4-module quiet zone."""
    code = qrcode.QRCode(
        box_size=module_size, border=4, error_correction=_QR_LEVEL_LIB[level], version=None
    )
    code.add_data(data)
    code.make(fit=True)
    image: Image.Image = code.make_image(fill_color="black", back_color="white").get_image()
    return image.convert("1")


def raster_image(image: Image.Image, width_dots: int | None = None) -> bytes:
    """GS v 0 m xL xH yL yH d...: a 1-bit image, black dots printed, centred in `width_dots`.

    Centring is done by padding the image, because printers differ on whether ESC a applies
    to GS v 0.
    """
    bw = image.convert("1")
    if width_dots is not None:
        if bw.width > width_dots:
            raise ValueError(f"image is {bw.width} dots wide; the paper has {width_dots}")
        padded = Image.new("1", (width_dots, bw.height), 1)
        padded.paste(bw, ((width_dots - bw.width) // 2, 0))
        bw = padded
    row_bytes = math.ceil(bw.width / 8)
    if row_bytes > 0xFFFF or bw.height > 0xFFFF:
        raise ValueError("image too large for GS v 0")
    # Pillow's mode "1" packs white as 1; ESC/POS prints a dot for 1, so invert.
    data = ImageOps.invert(bw.convert("L")).convert("1").tobytes()
    header = (
        GS + b"v0" + b"\x00" + row_bytes.to_bytes(2, "little") + bw.height.to_bytes(2, "little")
    )
    return header + data


def qr_raster(
    data: str, module_size: int = 6, level: QrLevel = "M", width_dots: int | None = None
) -> bytes:
    """The QR as a raster image, for printers without GS ( k."""
    return raster_image(qr_image(data, module_size, level), width_dots)
