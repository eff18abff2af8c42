"""LED board framings (条屏协议): text in, bytes out. Pure, no I/O.

A framing knows one board family's wire format: how to show a text at an address, what a good
reply looks like and how to tell the reply has ended. Boards differ from vendor to vendor, so a
hall whose board speaks something else writes one small class, decorates it with `@register`,
and names it in its configuration (or passes "package.module:Class" to `framing()`).

Only "a0-90" is confirmed by two independent sources (../shared/PROTOCOLS.md section 2); the
others come from one source each and are marked so.
"""

from __future__ import annotations

import importlib
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from hallq.drivers.ledtext import columns
from hallq.errors import HallqError

log = logging.getLogger(__name__)

RED = 0x00
"""Colour byte for red, the only verified colour of the A0 90 boards (01 and 02 are unverified)."""

REPLACEMENT = "\u3000"
"""What a character the board cannot show becomes: a GBK full-width space (A1 A1).

A blank keeps the text's layout and does not alarm a citizen the way a '?' would; the
replaced characters are reported (LedFrame.replaced and a log warning) so staff can fix a label.
"""


class LedFrameError(HallqError, ValueError):
    """A text or an argument cannot be made into a frame; the message says what to change."""


class LedTextTooLong(LedFrameError):
    """The text does not fit the frame's length field or the board's configured width."""


class UnknownFraming(HallqError, LookupError):
    """A configuration names a framing hallq does not know."""


@dataclass(frozen=True)
class LedFrame:
    """A built frame and the characters that had to be replaced to build it."""

    data: bytes
    replaced: tuple[str, ...] = ()


def board_safe(text: str) -> tuple[str, tuple[str, ...]]:
    """`text` with every character an LED board can show: printable ASCII or 2-byte GBK.

    Control characters become an ASCII space; characters outside GBK (emoji, rare hanzi only in
    GB18030) and any that would encode to a single non-ASCII byte become REPLACEMENT. Never
    raises, so one bad character in a window label cannot stop a call from being shown.
    """
    out: list[str] = []
    replaced: list[str] = []
    for ch in text:
        if ch.isascii():
            if ch.isprintable():
                out.append(ch)
            else:
                out.append(" ")
                replaced.append(ch)
            continue
        try:
            encoded = ch.encode("gbk")
        except UnicodeEncodeError:
            encoded = b""
        if len(encoded) == 2:
            out.append(ch)
        else:
            out.append(REPLACEMENT)
            replaced.append(ch)
    return "".join(out), tuple(replaced)


def xor(data: bytes) -> int:
    """XOR of all bytes, the A0 90 check byte."""
    check = 0
    for byte in data:
        check ^= byte
    return check


def crc16_xmodem(data: bytes) -> int:
    """CRC16/XMODEM: polynomial 0x1021, initial 0, no reflection, no final XOR."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def _byte(value: int, what: str) -> int:
    if not 0 <= value <= 0xFF:
        raise LedFrameError(f"{what} must be 0..255 (one byte), got {value}")
    return value


class LedFraming(ABC):
    """One board family's wire format.

    A transport writes `show_text(...)`; if `reply_terminator` is set it reads with pyserial's
    `read_until(reply_terminator, reply_max_bytes)` under its own timeout and passes the bytes
    to `reply_ok`. A framing without a known reply has `reply_terminator = None`: write only.
    `width` (board columns, see `ledtext.columns`) makes an over-long text an error instead of
    a board that silently shows half a call.
    """

    name: ClassVar[str]
    confidence: ClassVar[str] = "one source"
    reply_terminator: ClassVar[bytes | None] = None
    reply_max_bytes: ClassVar[int] = 0

    def __init__(self, width: int | None = None) -> None:
        self.width = width

    def show_text(self, address: int, text: str, colour: int = RED) -> bytes:
        """The frame that shows `text` on the board at `address`."""
        return self.frame_text(address, text, colour).data

    def frame_text(self, address: int, text: str, colour: int = RED) -> LedFrame:
        """Like `show_text`, also telling which characters were replaced."""
        _byte(address, "board address")
        _byte(colour, "colour")
        safe, replaced = board_safe(text)
        if replaced:
            log.warning(
                "LED board %d cannot show %r in %r; sent a blank instead", address, replaced, text
            )
        if self.width is not None and columns(safe) > self.width:
            raise LedTextTooLong(
                f"{text!r} is {columns(safe)} columns, the board at address {address} is "
                f"{self.width} wide: shorten the text or the label (ledtext.fit_columns)"
            )
        return LedFrame(self._build(address, safe, colour), replaced)

    @abstractmethod
    def _build(self, address: int, text: str, colour: int) -> bytes:
        """The frame for a board-safe `text` (every character ASCII or 2-byte GBK)."""

    def blank(self, address: int) -> bytes:
        """A frame that clears the board: one space, the shape every framing is known to take."""
        return self.show_text(address, " ")

    def reply_ok(self, reply: bytes) -> bool | None:
        """Whether the board acknowledged; None when this framing has no known reply."""
        return None

    def set_brightness(self, address: int, level: int) -> bytes | None:
        """A frame setting brightness `level` (0-100 %), or None if the framing has no such command."""
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} width={self.width}>"


FRAMINGS: dict[str, type[LedFraming]] = {}


def register(cls: type[LedFraming]) -> type[LedFraming]:
    """Class decorator: make a framing known by its `name`."""
    FRAMINGS[cls.name] = cls
    return cls


def framing(name: str, width: int | None = None) -> LedFraming:
    """The framing called `name` ("a0-90", …) or "package.module:Class" for a hall's own."""
    if ":" in name:
        module_name, _, class_name = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError) as exc:
            raise UnknownFraming(f"LED framing {name!r} could not be loaded: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, LedFraming)):
            raise UnknownFraming(f"LED framing {name!r} is not a LedFraming subclass")
        return cls(width)
    try:
        return FRAMINGS[name](width)
    except KeyError:
        known = ", ".join(sorted(FRAMINGS))
        raise UnknownFraming(
            f"unknown LED framing {name!r}; known framings: {known} "
            f"(or give 'package.module:Class' for a hall's own)"
        ) from None


@register
class A090Framing(LedFraming):
    """The "A0 90" strip screen (条屏): `A0 90 ADDR CMD LEN_H LEN_L DATA… XOR`.

    Two independent sources agree. DATA is, per character, [ASCII, colour] or
    [GBK high, GBK low, colour]; LEN counts DATA bytes, big-endian; XOR covers ADDR … last
    DATA byte. A good reply starts A0 90 and ends A5 AA; its length is not documented, so the
    transport reads up to the terminator (an RS-485 adapter that echoes our own frame is fine:
    the echo also starts A0 90).
    """

    name = "a0-90"
    confidence = "two sources"
    HEADER: ClassVar[bytes] = b"\xa0\x90"
    SHOW_TEXT: ClassVar[int] = 0xA5
    SHOW_STORED: ClassVar[int] = 0xA1
    GOOD_END: ClassVar[bytes] = b"\xa5\xaa"
    MAX_DATA = 0xFFFF
    reply_terminator = GOOD_END
    reply_max_bytes = 64

    def _frame(self, address: int, command: int, data: bytes) -> bytes:
        if len(data) > self.MAX_DATA:
            raise LedTextTooLong(
                f"an A0 90 frame holds at most {self.MAX_DATA} data bytes, this text needs "
                f"{len(data)}: shorten it"
            )
        body = bytes([address, command, len(data) >> 8, len(data) & 0xFF]) + data
        return self.HEADER + body + bytes([xor(body)])

    def _build(self, address: int, text: str, colour: int) -> bytes:
        data = bytearray()
        for ch in text:
            data += ch.encode("gbk")
            data.append(colour)
        return self._frame(address, self.SHOW_TEXT, bytes(data))

    def show_stored(self, address: int) -> bytes:
        """Command A1: show the message stored in the board itself (LEN 0)."""
        return self._frame(_byte(address, "board address"), self.SHOW_STORED, b"")

    def reply_ok(self, reply: bytes) -> bool:
        return (
            len(reply) >= len(self.HEADER) + len(self.GOOD_END)
            and reply.startswith(self.HEADER)
            and reply.endswith(self.GOOD_END)
        )


@register
class AABBFraming(LedFraming):
    """Lower confidence, one source: `AA ADDR BB 51 54 CS 01 00 99 00 63 <GBK text> FF`.

    CS is the sum, mod 256, of the bytes from index 6 (the 01) "to the end": we read that
    literally and include the closing FF (`SUM_INCLUDES_END`; a board that disagrees needs a
    subclass flipping it). No colour byte (`colour` is ignored) and no documented reply.
    9600 8N1.
    """

    name = "aa-bb"
    SUM_INCLUDES_END: ClassVar[bool] = True

    def _build(self, address: int, text: str, colour: int) -> bytes:
        tail = b"\x01\x00\x99\x00\x63" + text.encode("gbk")
        summed = tail + b"\xff" if self.SUM_INCLUDES_END else tail
        checksum = sum(summed) & 0xFF
        return bytes([0xAA, address, 0xBB, 0x51, 0x54, checksum]) + tail + b"\xff"


@register
class XmodemFraming(LedFraming):
    """Lower confidence, one source: `ADDR FE LEN SEQ 86 3C 00 05 00 <GBK text> 00 CRC_H CRC_L`.

    LEN is the whole frame, CRC and all, in one byte (so at most 243 text bytes); the CRC16/XMODEM
    covers every byte before it (the source does not say; this is the usual reading). SEQ
    counts frames per framing instance, wrapping at 256, so a board that drops repeats still
    takes a recall. No colour byte (`colour` is ignored) and no documented reply.
    """

    name = "fe-crc16"
    OVERHEAD: ClassVar[int] = 12  # 9 header bytes, the 00 after the text, 2 CRC bytes

    def __init__(self, width: int | None = None, seq: int = 0) -> None:
        super().__init__(width)
        self.seq = seq & 0xFF

    def _build(self, address: int, text: str, colour: int) -> bytes:
        encoded = text.encode("gbk")
        length = len(encoded) + self.OVERHEAD
        if length > 0xFF:
            raise LedTextTooLong(
                f"a fe-crc16 frame is at most 255 bytes, this text needs {length}: "
                f"keep it within {0xFF - self.OVERHEAD} GBK bytes"
            )
        head = bytes([address, 0xFE, length, self.seq, 0x86, 0x3C, 0x00, 0x05, 0x00])
        self.seq = (self.seq + 1) & 0xFF
        body = head + encoded + b"\x00"
        return body + crc16_xmodem(body).to_bytes(2, "big")
