"""The "68" frame of caller keypads (呼叫器) and evaluators (评价器) on RS-485: a pure codec.

Layout (../shared/PROTOCOLS.md §1), both directions::

    [FF] 68 L L 68 ADDR FUNC DATA… CS 16      L = 2 + len(DATA), CS = (ADDR+FUNC+ΣDATA) mod 256

No I/O here, so the same code serves the real bus, the simulated keypad and the tests, and a
byte-exact test needs no hardware. The parser is written for a shared, noisy bus: devices talk
unprompted, reads split frames anywhere, and a corrupt frame must not cost the good one behind it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

LEAD = 0xFF
START = 0x68
END = 0x16
BLANK = 0x0A  # digit code for an unlit position on a keypad's display

FUNC_EVALUATOR_CONTROL = 0x01  # host → evaluator: start (DATA 0B) or acknowledge a rating
FUNC_DISPLAY = 0x02  # host → keypad digits; host → evaluator stars
FUNC_BEEP = 0x03
FUNC_RATING = 0x11  # evaluator → host
EVALUATION_START = 0x0B

MAX_DATA = 253  # L is one byte and counts ADDR and FUNC too
DISPLAY_WIDTH = 6
_HEADER = 4  # 68 L L 68
_TRAILER = 2  # CS 16


@dataclass(frozen=True, slots=True)
class Frame68:
    """One frame. `lead` records whether an FF came before it, so an echo can be byte-exact."""

    address: int
    func: int
    data: bytes = b""
    lead: bool = field(default=True, compare=False)

    def __post_init__(self) -> None:
        if not 0 <= self.address <= 0xFF or not 0 <= self.func <= 0xFF:
            raise ValueError(f"address and func are single bytes: {self.address}, {self.func}")
        if len(self.data) > MAX_DATA:
            raise ValueError(f"at most {MAX_DATA} data bytes fit a frame; got {len(self.data)}")

    @property
    def checksum(self) -> int:
        return (self.address + self.func + sum(self.data)) & 0xFF

    def __str__(self) -> str:
        return encode(self, lead=self.lead).hex(" ").upper()


def encode(frame: Frame68, lead: bool = True) -> bytes:
    """The frame's bytes on the wire; `lead=False` for devices that want no FF before 68."""
    length = 2 + len(frame.data)
    body = bytes((START, length, length, START, frame.address, frame.func)) + frame.data
    return (b"\xff" if lead else b"") + body + bytes((frame.checksum, END))


class Frame68Parser:
    """Streaming parser: feed it whatever a read returned, get back the whole frames in it.

    A rejected frame costs one byte: the parser skips the 68 it started at and searches for the
    next, so a good frame inside or right after the corrupt one is still found. Bytes outside
    frames are counted in `noise_bytes` (a lead FF is not noise); rejected frames are counted
    by reason in `errors`, for the device's health report.
    """

    def __init__(self, max_data: int = 64, max_buffer: int = 1024) -> None:
        # Keypads send a few digits and a key; a false 68 on a noisy line claiming 250 bytes
        # would otherwise hold back every good frame behind it until 250 bytes arrived.
        if not 0 <= max_data <= MAX_DATA:
            raise ValueError(f"max_data must be 0..{MAX_DATA}")
        self.max_frame = 1 + _HEADER + 2 + max_data + _TRAILER  # with the lead FF
        if max_buffer <= self.max_frame:
            raise ValueError(f"max_buffer must exceed one whole frame ({self.max_frame} bytes)")
        self.max_data = max_data
        self.max_buffer = max_buffer
        self.errors: Counter[str] = Counter()
        self.good_frames = 0
        self.noise_bytes = 0
        self._buf = bytearray()
        self._lead = False  # an FF came right before the 68 at the start of _buf
        self._pos = 0  # bytes consumed so far: where _buf starts in the stream
        self._quiet_until = 0  # the last rejected frame reaches this far; no recount inside

    @property
    def pending(self) -> int:
        """Bytes held for a frame not yet complete; never more than `max_frame`."""
        return len(self._buf)

    def feed(self, chunk: bytes) -> list[Frame68]:
        """Add bytes read from the bus; return the frames they complete, in order."""
        # Between scans the buffer holds at most one incomplete frame (`max_frame` bytes), so
        # taking a large read in steps keeps it within max_buffer whatever the bus sends.
        step = self.max_buffer - self.max_frame
        frames: list[Frame68] = []
        for i in range(0, len(chunk), step):
            self._buf += chunk[i : i + step]
            frames += self._scan()
        return frames

    def flush(self) -> list[Frame68]:
        """The line went quiet: give up the frame in progress and rescan what came after it.

        Call it when a read times out with bytes pending, so a false 68 from noise does not
        hold back a good frame waiting for bytes that will never come. Inside a frame bytes
        come about 1 ms apart at 9600 baud; a read timeout of 10–20 ms is a safe "quiet".
        """
        frames: list[Frame68] = []
        while self._buf:
            if self._buf[0] == START:
                self._reject("truncated", len(self._buf))
                frames += self._scan()
            else:  # only a kept FF: nothing followed it
                self._drop(len(self._buf))
        return frames

    def reset(self) -> None:
        """Forget any partial frame (after reopening the port); counters are kept."""
        self._consume(len(self._buf))
        self._lead = False

    def _scan(self) -> list[Frame68]:
        frames: list[Frame68] = []
        buf = self._buf
        while True:
            start = buf.find(START)
            if start < 0:
                # Keep a last FF: it may be the lead of a frame whose 68 is in the next read.
                self._drop(len(buf) - (1 if buf.endswith(b"\xff") else 0))
                return frames
            if start:
                self._drop(start)
            if len(buf) < _HEADER:
                return frames
            length = buf[1]
            if buf[2] != length:
                reason = "length_mismatch"
            elif not 2 <= length <= 2 + self.max_data:
                reason = "bad_length"
            elif buf[3] != START:
                reason = "no_second_start"
            else:
                total = _HEADER + length + _TRAILER
                if len(buf) < total:
                    return frames
                body = bytes(buf[_HEADER : _HEADER + length])
                if buf[total - 1] != END:
                    reason = "no_end"
                elif sum(body) & 0xFF != buf[total - 2]:
                    reason = "checksum"
                else:
                    frames.append(Frame68(body[0], body[1], body[2:], lead=self._lead))
                    self.good_frames += 1
                    self._consume(total)
                    self._lead = False
                    continue
                self._reject(reason, total)
                continue
            self._reject(reason, _HEADER)

    def _reject(self, reason: str, extent: int) -> None:
        """Skip the 68 a bad frame started at; the search resumes at the next byte.

        The 68s inside a rejected frame (its second 68 at least) start false frames that fail
        in turn; they are not counted again, so `errors` counts corrupt frames, not 68s.
        """
        if self._pos >= self._quiet_until:
            self.errors[reason] += 1
            self._quiet_until = self._pos + extent
        self._consume(1)
        self._lead = False

    def _consume(self, n: int) -> None:
        del self._buf[:n]
        self._pos += n

    def _drop(self, n: int) -> None:
        """Discard n bytes before the next 68, remembering whether the last was a lead FF."""
        if n <= 0:
            return
        buf = self._buf
        self._lead = n < len(buf) and buf[n] == START and buf[n - 1] == LEAD
        self.noise_bytes += n - (1 if self._lead else 0)
        self._consume(n)


# Host → device builders. They return frames; `encode` turns them into bytes.


def display_digits(address: int, digits: str) -> Frame68:
    """Show `digits` on a keypad's display, one position per character; a space is blank."""
    codes = bytearray()
    for ch in digits:
        if ch == " ":
            codes.append(BLANK)
        elif ch.isascii() and ch.isdigit():
            codes.append(int(ch))
        else:
            raise ValueError(f"a keypad shows digits and blanks only; got {digits!r}")
    return Frame68(address, FUNC_DISPLAY, bytes(codes))


def display_ticket(address: int, ticket: str) -> Frame68:
    """The last three digits of the called ticket ("A012" → blank blank blank 0 1 2).

    The keypad has no letters, so the prefix is dropped; the number sits on the right.
    """
    digits = "".join(ch for ch in ticket if ch.isascii() and ch.isdigit())[-3:]
    return display_digits(address, digits.rjust(DISPLAY_WIDTH))


def display_waiting(address: int, waiting: int) -> Frame68:
    """Tickets waiting, on the left, three digits with zeros (12 → 0 1 2 blank blank blank).

    More than 999 shows 999: the display has three positions for it.
    """
    if waiting < 0:
        raise ValueError(f"a waiting count cannot be negative: {waiting}")
    return display_digits(address, f"{min(waiting, 999):03d}".ljust(DISPLAY_WIDTH))


def blank_display(address: int) -> Frame68:
    """Turn all six positions off (window closed or signed out)."""
    return display_digits(address, " " * DISPLAY_WIDTH)


def beep(address: int) -> Frame68:
    """Make a keypad beep (L = 2, no data)."""
    return Frame68(address, FUNC_BEEP)


def evaluator_start(address: int) -> Frame68:
    """Ask the citizen to rate the service just finished: the evaluator lights its keys."""
    return Frame68(address, FUNC_EVALUATOR_CONTROL, bytes((EVALUATION_START,)))


def evaluator_stars(address: int, stars: int) -> Frame68:
    """Set the stars an evaluator shows, 0 to 5."""
    if not 0 <= stars <= 5:
        raise ValueError(f"an evaluator shows 0 to 5 stars; got {stars}")
    return Frame68(address, FUNC_DISPLAY, bytes((stars,)))


def evaluator_ack(address: int, value: int) -> Frame68:
    """Acknowledge a rating: `68 03 03 68 ADDR 01 v CS 16`, v the rating received."""
    if not 0 <= value <= 0xFF:
        raise ValueError(f"a rating is one byte; got {value}")
    return Frame68(address, FUNC_EVALUATOR_CONTROL, bytes((value,)))


def echo(frame: Frame68) -> bytes:
    """The acknowledgement of a key frame: the same bytes back, with an FF only if it had one."""
    return encode(frame, lead=frame.lead)
