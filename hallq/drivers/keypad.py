"""What a wired caller keypad (呼叫器) or evaluator (评价器) frame means to the hall.

Pure translation, no I/O: a `Frame68` from the bus becomes a `KeypadAction` or an
`EvaluatorRating`, and that becomes one of the engine's commands. The digit+key convention is
the host's choice (the devices only send "digits typed, then a key"); ours is in
docs/KEYPAD.md, and the table below is its single source.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from hallq.drivers.frame68 import FUNC_RATING, Frame68
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.state import HallState

log = logging.getLogger(__name__)

ActionKind = Literal[
    "call_next",
    "call_ticket",
    "recall",
    "finish",
    "pause",
    "resume",
    "away",
    "sign_in",
    "sign_out",
    "no_show",
    "transfer",
    "cancel",
    "unknown",
]

KEY_TRANSFER_TO = 0x0A  # with digits: transfer to the service numbered so in the hall's list
KEY_FINISH = 0x0B
KEY_CALL = 0x0C
KEY_RECALL = 0x0D
KEY_CANCEL = 0x0E
KEY_FUNCTION = 0x0F
KEY_PAUSE = 0x12
KEY_TRANSFER = 0x13

# 0F with one digit selects a function; two or more digits are a staff number signing in.
FUNCTIONS: dict[str, ActionKind] = {
    "0": "pause",
    "2": "resume",
    "4": "sign_out",
    "5": "no_show",
    "6": "away",
}

# The evaluator's four keys: 00 差, 01 一般, 02 好, 03 很好. A four-key evaluator has no key
# for "dissatisfied", so 差 (the worst it offers) is the hall's worst level: a citizen who
# presses the worst key means the worst, and a bad rating must stay visible as bad.
DEFAULT_EVALUATOR_LEVELS: dict[int, str] = {
    0x03: "very_satisfied",
    0x02: "satisfied",
    0x01: "basic",
    0x00: "very_dissatisfied",
}


@dataclass(frozen=True, slots=True)
class KeypadBus:
    """Which device on the RS-485 bus belongs to which window; part of the hall's config.

    `addresses` maps a keypad's address to its window. Evaluators are found, in this order,
    in `evaluator_addresses`; at `evaluator_address_offset` + the keypad's address (0x80 + n,
    as some models do); or, with the offset set to None, at the keypad's own address (models
    where keypad and evaluator are one device and ratings come as FUNC 11).
    """

    addresses: dict[int, int] = field(default_factory=dict)
    evaluator_addresses: dict[int, int] = field(default_factory=dict)
    evaluator_levels: dict[int, str] = field(default_factory=lambda: dict(DEFAULT_EVALUATOR_LEVELS))
    evaluator_address_offset: int | None = 0x80

    def keypad_window(self, address: int) -> int | None:
        return self.addresses.get(address)

    def evaluator_window(self, address: int) -> int | None:
        if address in self.evaluator_addresses:
            return self.evaluator_addresses[address]
        offset = self.evaluator_address_offset
        if offset is None:
            return self.addresses.get(address)
        return self.addresses.get(address - offset) if address >= offset else None

    def evaluator_address(self, window: int) -> int | None:
        """Where to send a window's evaluator its start and stars."""
        for address, w in self.evaluator_addresses.items():
            if w == window:
                return address
        for address, w in self.addresses.items():
            if w == window:
                offset = self.evaluator_address_offset
                return address if offset is None else address + offset
        return None

    def keypad_address(self, window: int) -> int | None:
        """Where to send a window's keypad its display and beep."""
        return next((a for a, w in self.addresses.items() if w == window), None)

    def problems(self, windows: Sequence[int], levels: Sequence[str]) -> list[str]:
        """Config mistakes a person can fix, e.g. a keypad mapped to a window the hall lacks."""
        out: list[str] = []
        for name, table in (
            ("addresses", self.addresses),
            ("evaluator_addresses", self.evaluator_addresses),
        ):
            for address, window in table.items():
                if not 0 <= address <= 0xFF:
                    out.append(f"{name}: address {address} is not one byte (0–255)")
                if window not in windows:
                    out.append(
                        f"{name}: address {address} maps to window {window}, which the hall does not have"
                    )
        for key, level in self.evaluator_levels.items():
            if level not in levels:
                out.append(
                    f"evaluator_levels: key {key:02X} maps to {level!r}; levels are {', '.join(levels)}"
                )
        if self.evaluator_address_offset is not None:
            clash = {a + self.evaluator_address_offset for a in self.addresses} & set(
                self.addresses
            )
            for address in sorted(clash):
                out.append(
                    f"addresses: {address} is both a keypad and an evaluator (offset {self.evaluator_address_offset}); change the offset or the address"
                )
        return out


@dataclass(frozen=True, slots=True)
class KeypadAction:
    """What a staff member asked for at the window's keypad (呼叫器).

    `argument` carries the typed digits where the action needs them (ticket digits, staff
    number, service position); for "unknown" it is the frame's data in hex, for the log.
    """

    kind: ActionKind
    window: int
    argument: str | None = None


@dataclass(frozen=True, slots=True)
class EvaluatorRating:
    """A citizen pressed a key on the window's evaluator (评价器)."""

    window: int
    level: str
    key: int
    address: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed frame that means nothing to the hall, and why (for the log)."""

    reason: str


def classify(frame: Frame68, bus: KeypadBus) -> KeypadAction | EvaluatorRating | Ignored:
    """Like `interpret`, but says why a frame was ignored instead of logging it.

    A rating is FUNC 11 with one byte below 0A; key codes start at 0A, so a keypad model that
    happens to use FUNC 11 for its keys is still read as a keypad.
    """
    evaluator = bus.evaluator_window(frame.address)
    if (
        frame.func == FUNC_RATING
        and len(frame.data) == 1
        and frame.data[0] < 0x0A
        and evaluator is not None
    ):
        key = frame.data[0]
        level = bus.evaluator_levels.get(key)
        if level is None:
            return Ignored(
                f"rating key {key:02X} from address {frame.address:02X} is not mapped to a level"
            )
        return EvaluatorRating(window=evaluator, level=level, key=key, address=frame.address)
    window = bus.keypad_window(frame.address)
    if window is None and evaluator is not None:
        return Ignored(f"frame {frame} from window {evaluator}'s evaluator is not a rating")
    if window is None:
        return Ignored(
            f"frame {frame} from address {frame.address:02X}, which no window's keypad or evaluator has"
        )
    return key_action(window, frame.data)


def interpret(frame: Frame68, bus: KeypadBus) -> KeypadAction | EvaluatorRating | None:
    """The action or rating a frame carries; None (and a log line) for a frame from no known device."""
    result = classify(frame, bus)
    if isinstance(result, Ignored):
        log.info("keypad bus: ignored %s", result.reason)
        return None
    if isinstance(result, KeypadAction) and result.kind == "unknown":
        log.info("keypad at window %d sent an unknown key: data %s", result.window, result.argument)
    return result


def key_action(window: int, data: bytes) -> KeypadAction:
    """Digits 00–09 then a key code, as our convention reads them (docs/KEYPAD.md)."""
    if not data or any(b > 9 for b in data[:-1]):
        return KeypadAction("unknown", window, data.hex(" ").upper() or "(empty)")
    digits = "".join(str(b) for b in data[:-1])
    key = data[-1]
    kind: ActionKind | None = None
    argument: str | None = None
    if key == KEY_CALL:
        kind, argument = ("call_ticket", digits) if digits else ("call_next", None)
    elif key == KEY_RECALL:
        kind = "recall"
    elif key == KEY_FINISH:
        kind = "finish"
    elif key == KEY_CANCEL:
        kind = "cancel"
    elif key == KEY_PAUSE:
        kind = "pause"
    elif key in (KEY_TRANSFER_TO, KEY_TRANSFER) and digits:
        kind, argument = "transfer", digits
    elif key == KEY_FUNCTION and len(digits) >= 2:
        kind, argument = "sign_in", digits
    elif key == KEY_FUNCTION:
        kind = FUNCTIONS.get(digits)
    if kind is None:
        return KeypadAction("unknown", window, data.hex(" ").upper())
    return KeypadAction(kind, window, argument)


TicketResolver = Callable[[int, str], str | None]
ServiceResolver = Callable[[str], str | None]


def command_for(
    action: KeypadAction | EvaluatorRating,
    request_id: str,
    *,
    resolve_ticket: TicketResolver | None = None,
    resolve_service: ServiceResolver | None = None,
) -> c.Command | None:
    """The engine command for an action; None when there is nothing to ask of the hall.

    A keypad knows only digits: `resolve_ticket(window, digits)` turns them into a ticket
    reference ("A012"), and `resolve_service(digits)` turns a position in the hall's list of
    services into a service code. Without a resolver, or when it finds nothing, the action
    gives no command: guessing would call or move the wrong citizen. (The engine reads bare
    digits as a ticket id, so they must never be passed through.)
    """
    rid = request_id
    if isinstance(action, EvaluatorRating):
        return c.SubmitEvaluation(request_id=rid, window=action.window, level=action.level)
    w = action.window
    arg = action.argument or ""
    match action.kind:
        case "call_next":
            return c.CallNext(request_id=rid, window=w)
        case "call_ticket":
            ticket = resolve_ticket(w, arg) if resolve_ticket else None
            return c.CallTicket(request_id=rid, window=w, ticket=ticket) if ticket else None
        case "recall":
            return c.Recall(request_id=rid, window=w)
        case "finish":
            return c.FinishService(request_id=rid, window=w)
        case "pause":
            return c.PauseWindow(request_id=rid, window=w)
        case "resume":
            return c.ResumeWindow(request_id=rid, window=w)
        case "away":
            return c.AwayWindow(request_id=rid, window=w)
        case "sign_in":
            return c.SignIn(request_id=rid, window=w, staff=arg)
        case "sign_out":
            return c.SignOut(request_id=rid, window=w)
        case "no_show":
            return c.MarkNoShow(request_id=rid, window=w)
        case "transfer":
            service = resolve_service(arg) if resolve_service else None
            return c.TransferTicket(request_id=rid, window=w, service=service) if service else None
        case "cancel" | "unknown":
            return None


def service_by_position(services: Sequence[str]) -> ServiceResolver:
    """Digits → the service at that position (1 = first) of the hall's list, as a code."""

    def resolve(digits: str) -> str | None:
        n = int(digits) if digits.isdigit() and len(digits) <= 3 else 0
        return services[n - 1] if 1 <= n <= len(services) else None

    return resolve


def waiting_ticket_by_digits(config: HallConfig, state: HallState) -> TicketResolver:
    """(window, digits) → the one waiting ticket with that number among the window's services.

    Two services of the window may both have a waiting ticket 12 (A012, B012); then the
    keypad cannot say which, and nothing is called: the staff uses the screen instead.
    """

    def resolve(window: int, digits: str) -> str | None:
        w = config.window(window)
        if w is None or not digits.isdigit() or len(digits) > 6:
            return None
        services = {s for tier in w.tiers for s in tier}
        number = int(digits)
        found = [
            t.display
            for t in state.tickets.values()
            if t.status == "waiting" and t.number == number and t.service in services
        ]
        return found[0] if len(found) == 1 else None

    return resolve


class PressFilter:
    """One press per key, however often the keypad resends it.

    A keypad resends its frame when it misses the echo; the same frame from the same address
    within `window_ms` of the previous copy is the same press. Each copy restarts the window,
    so a keypad resending every 200 ms for a second is still one press. The host still echoes
    every copy (that is what stops the resending); only the action is taken once.
    """

    def __init__(
        self, window_ms: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window = window_ms / 1000.0
        self._clock = clock
        self._last: dict[int, tuple[int, bytes, float]] = {}  # address → func, data, seen at

    def accept(self, frame: Frame68) -> bool:
        """True for a new press, False for a repeat of the one just seen."""
        now = self._clock()
        last = self._last.get(frame.address)
        self._last[frame.address] = (frame.func, frame.data, now)
        if last is None:
            return True
        func, data, seen = last
        return not (func == frame.func and data == frame.data and now - seen <= self.window)
