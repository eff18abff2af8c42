"""Caller keypads (呼叫器) and evaluators (评价器): our digit+key convention, the address and
level mapping, the press filter, and a simulated keypad talking to the host over a pty."""

from __future__ import annotations

import logging
import os
import select
import threading
import time
import tty
from typing import Any

import msgspec
import pytest
import serial

from hallq.drivers import frame68 as f68
from hallq.drivers.frame68 import Frame68, Frame68Parser, encode
from hallq.drivers.keypad import (
    DEFAULT_EVALUATOR_LEVELS,
    EvaluatorRating,
    Ignored,
    KeypadAction,
    KeypadBus,
    PressFilter,
    classify,
    command_for,
    interpret,
    key_action,
    service_by_position,
    waiting_ticket_by_digits,
)
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine
from tests.conftest import at, run

BUS = KeypadBus(addresses={1: 1, 2: 2, 3: 3, 5: 5})
MONDAY_9 = at(2026, 11, 23, 9)


def key(address: int, *data: int, func: int = 0x00) -> Frame68:
    return Frame68(address, func, bytes(data))


def rating(address: int, value: int) -> Frame68:
    return Frame68(address, 0x11, bytes([value]))


# The convention (docs/KEYPAD.md), one row per line of its table


@pytest.mark.parametrize(
    ("data", "kind", "argument"),
    [
        ("0C", "call_next", None),
        ("00 01 02 0C", "call_ticket", "012"),
        ("07 0C", "call_ticket", "7"),
        ("0D", "recall", None),
        ("01 0D", "recall", None),  # digits before a key that takes none are ignored
        ("0B", "finish", None),
        ("0E", "cancel", None),
        ("04 05 0E", "cancel", None),
        ("00 0F", "pause", None),
        ("02 0F", "resume", None),
        ("04 0F", "sign_out", None),
        ("05 0F", "no_show", None),
        ("06 0F", "away", None),
        ("00 07 0F", "sign_in", "07"),
        ("01 02 03 04 0F", "sign_in", "1234"),
        ("03 0A", "transfer", "3"),
        ("01 02 0A", "transfer", "12"),
        ("12", "pause", None),
        ("02 13", "transfer", "2"),
    ],
)
def test_key_convention(data: str, kind: str, argument: str | None) -> None:
    action = interpret(Frame68(3, 0x00, bytes.fromhex(data)), BUS)
    assert action == KeypadAction(kind, 3, argument)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "data",
    [
        "",  # no key at all
        "10",  # a key we give no meaning
        "11",
        "01 FF",
        "0F",  # function without a digit
        "01 0F",  # functions 1, 3, 7, 8, 9 are unassigned
        "03 0F",
        "09 0F",
        "0A",  # transfer without a destination
        "13",
        "0C 0C",  # a key code where a digit belongs
        "01 1A 0C",
    ],
)
def test_unknown_keys_become_unknown_actions_and_are_logged(
    data: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="hallq.drivers.keypad"):
        action = interpret(Frame68(2, 0x00, bytes.fromhex(data)), BUS)
    assert isinstance(action, KeypadAction)
    assert action.kind == "unknown"
    assert action.window == 2
    assert action.argument == (data.upper() or "(empty)")
    assert "unknown key" in caplog.text
    assert command_for(action, "r") is None


def test_key_frames_func_is_not_checked() -> None:
    # PROTOCOLS: the FUNC of key frames is unknown and no host checks it.
    for func in (0x00, 0x01, 0x05, 0x21):
        assert key_action(1, b"\x0c") == interpret(key(1, 0x0C, func=func), BUS)


# Addresses


def test_frames_from_unknown_addresses_are_ignored_with_a_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="hallq.drivers.keypad"):
        assert interpret(key(9, 0x0C), BUS) is None
    assert "address 09" in caplog.text
    result = classify(key(9, 0x0C), BUS)
    assert isinstance(result, Ignored) and "no window's keypad" in result.reason


def test_address_maps_to_window() -> None:
    bus = KeypadBus(addresses={0x21: 7, 0x22: 12})
    assert interpret(key(0x22, 0x0C), bus) == KeypadAction("call_next", 12)
    assert bus.keypad_address(7) == 0x21
    assert bus.keypad_address(99) is None


def test_bus_loads_from_toml_style_tables() -> None:
    # TOML keys are strings; the hall's config loader converts them (msgspec, str_keys).
    raw = {
        "addresses": {"1": 1, "2": 2},
        "evaluator_levels": {"3": "very_satisfied", "0": "dissatisfied"},
        "evaluator_address_offset": None,
    }
    bus = msgspec.convert(raw, KeypadBus, str_keys=True)
    assert bus.addresses == {1: 1, 2: 2}
    assert bus.evaluator_levels == {3: "very_satisfied", 0: "dissatisfied"}
    assert bus.evaluator_address_offset is None


def test_problems_name_what_to_fix(small_config: HallConfig) -> None:
    levels = [lv.code for lv in small_config.evaluation.levels]
    windows = [w.number for w in small_config.windows]
    assert BUS.problems(windows, levels) == [
        "addresses: address 5 maps to window 5, which the hall does not have"
    ]
    bad = KeypadBus(
        addresses={1: 1, 0x81: 2},
        evaluator_levels={3: "great"},
        evaluator_address_offset=0x80,
    )
    problems = bad.problems(windows, levels)
    assert any("key 03 maps to 'great'" in p for p in problems)
    assert any("129 is both a keypad and an evaluator" in p for p in problems)


# Evaluators


def test_default_evaluator_levels() -> None:
    # Four keys onto five levels: "dissatisfied" has no key, so 差 is the worst level.
    assert DEFAULT_EVALUATOR_LEVELS == {
        3: "very_satisfied",
        2: "satisfied",
        1: "basic",
        0: "very_dissatisfied",
    }
    got = [interpret(rating(0x83, v), BUS) for v in range(4)]
    assert got == [
        EvaluatorRating(window=3, level=lv, key=v, address=0x83)
        for v, lv in enumerate(["very_dissatisfied", "basic", "satisfied", "very_satisfied"])
    ]


def test_evaluator_at_offset_explicit_or_shared_address() -> None:
    assert BUS.evaluator_address(5) == 0x85
    explicit = KeypadBus(addresses={1: 1}, evaluator_addresses={0x40: 1})
    assert interpret(rating(0x40, 3), explicit) == EvaluatorRating(1, "very_satisfied", 3, 0x40)
    assert explicit.evaluator_address(1) == 0x40
    shared = KeypadBus(addresses={1: 1}, evaluator_address_offset=None)
    assert interpret(rating(1, 2), shared) == EvaluatorRating(1, "satisfied", 2, 1)
    assert shared.evaluator_address(1) == 1
    assert interpret(rating(0x81, 2), shared) is None
    other_offset = KeypadBus(addresses={1: 1}, evaluator_address_offset=0x40)
    assert interpret(rating(0x41, 0), other_offset) == EvaluatorRating(
        1, "very_dissatisfied", 0, 0x41
    )


def test_evaluator_levels_are_config() -> None:
    bus = KeypadBus(addresses={1: 1}, evaluator_levels={0: "dissatisfied", 3: "very_satisfied"})
    assert interpret(rating(0x81, 0), bus) == EvaluatorRating(1, "dissatisfied", 0, 0x81)
    result = classify(rating(0x81, 1), bus)
    assert isinstance(result, Ignored) and "key 01" in result.reason


def test_ratings_from_no_evaluator_are_ignored() -> None:
    assert interpret(rating(0x99, 3), BUS) is None
    assert interpret(rating(0x7F, 3), BUS) is None


def test_other_frames_from_an_evaluator_are_ignored() -> None:
    # e.g. our own stars frame heard back on an adapter that hears itself
    result = classify(f68.evaluator_stars(0x85, 4), BUS)
    assert isinstance(result, Ignored)
    assert "window 5's evaluator is not a rating" in result.reason


def test_func_11_with_a_key_code_is_a_key_not_a_rating() -> None:
    shared = KeypadBus(addresses={1: 1}, evaluator_address_offset=None)
    assert interpret(key(1, 0x0C, func=0x11), shared) == KeypadAction("call_next", 1)
    assert interpret(key(1, 0x03, func=0x11), BUS) == KeypadAction("unknown", 1, "03")


# Commands


def test_each_action_maps_to_its_command() -> None:
    def cmd(kind: str, argument: str | None = None) -> c.Command | None:
        return command_for(
            KeypadAction(kind, 4, argument),  # type: ignore[arg-type]
            "kp-4-1",
            resolve_ticket=lambda w, d: f"B{int(d):03d}" if w == 4 else None,
            resolve_service=service_by_position(["alpha", "beta", "gamma"]),
        )

    r, w = "kp-4-1", 4
    assert cmd("call_next") == c.CallNext(request_id=r, window=w)
    assert cmd("call_ticket", "12") == c.CallTicket(request_id=r, window=w, ticket="B012")
    assert cmd("recall") == c.Recall(request_id=r, window=w)
    assert cmd("finish") == c.FinishService(request_id=r, window=w)
    assert cmd("pause") == c.PauseWindow(request_id=r, window=w)
    assert cmd("resume") == c.ResumeWindow(request_id=r, window=w)
    assert cmd("away") == c.AwayWindow(request_id=r, window=w)
    assert cmd("sign_in", "0712") == c.SignIn(request_id=r, window=w, staff="0712")
    assert cmd("sign_out") == c.SignOut(request_id=r, window=w)
    assert cmd("no_show") == c.MarkNoShow(request_id=r, window=w)
    assert cmd("transfer", "3") == c.TransferTicket(request_id=r, window=w, service="gamma")
    assert cmd("transfer", "4") is None  # the hall has three services
    assert cmd("transfer", "0") is None
    assert cmd("cancel") is None
    assert cmd("unknown", "10") is None


def test_digits_are_never_passed_on_unresolved() -> None:
    # The engine reads bare digits as a ticket id: "12" would call ticket #12, not A012.
    call = KeypadAction("call_ticket", 1, "12")
    assert command_for(call, "r") is None
    assert command_for(call, "r", resolve_ticket=lambda w, d: None) is None
    assert command_for(KeypadAction("transfer", 1, "2"), "r") is None


def test_rating_becomes_submit_evaluation() -> None:
    got = command_for(EvaluatorRating(3, "basic", 1, 0x83), "ev-1")
    assert got == c.SubmitEvaluation(request_id="ev-1", window=3, level="basic")


def test_keypad_drives_the_engine(small_config: HallConfig) -> None:
    engine = Engine(small_config)
    for i, service in enumerate(["alpha", "alpha", "beta", "gamma"]):
        run(engine, c.IssueTicket(request_id=f"k{i}", service=service), MONDAY_9)
    resolve = waiting_ticket_by_digits(small_config, engine.state)
    assert resolve(1, "2") == "A002"
    assert resolve(1, "002") == "A002"
    assert resolve(3, "1") is None  # A001, B001 and C01 all serve at window 3
    assert resolve(2, "2") is None  # no B002
    assert resolve(9, "1") is None  # no window 9
    assert resolve(1, "") is None

    bus = KeypadBus(addresses={0x11: 1})
    services = service_by_position([s.code for s in small_config.services])
    presses = [
        key(0x11, 0x01, 0x02, 0x03, 0x04, 0x0F),  # staff 1234 signs in
        key(0x11, 0x00, 0x00, 0x02, 0x0C),  # call A002 by its digits
        key(0x11, 0x02, 0x0A),  # transfer it to service 2 (beta)
        key(0x11, 0x0C),  # call next: A001
        key(0x11, 0x0B),  # finish
    ]
    for n, frame in enumerate(presses):
        action = interpret(frame, bus)
        assert isinstance(action, KeypadAction)
        cmd = command_for(action, f"kp-{n}", resolve_ticket=resolve, resolve_service=services)
        assert cmd is not None
        run(engine, cmd, MONDAY_9 + 60 * n)
    a002 = next(t for t in engine.state.tickets.values() if t.display == "A002")
    assert a002.service == "beta" and a002.status == "waiting"
    a001 = next(t for t in engine.state.tickets.values() if t.display == "A001")
    assert a001.status == "done"
    assert engine.state.windows[1].staff == "1234"

    rated = interpret(rating(0x91, 3), bus)
    assert isinstance(rated, EvaluatorRating)
    cmd = command_for(rated, "ev-1")
    assert cmd is not None
    run(engine, cmd, MONDAY_9 + 600)
    assert a001.evaluation == "very_satisfied"


# Press filter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_press_filter_counts_resends_once() -> None:
    clock = FakeClock()
    presses = PressFilter(clock=clock)
    call = key(1, 0x0C)
    assert presses.accept(call)
    clock.now += 0.2
    assert not presses.accept(call)  # resent: the keypad missed our echo
    clock.now += 0.25
    assert not presses.accept(call)  # each copy restarts the 300 ms
    clock.now += 0.31
    assert presses.accept(call)  # a new press


def test_press_filter_keeps_keys_and_keypads_apart() -> None:
    clock = FakeClock()
    presses = PressFilter(window_ms=300, clock=clock)
    assert presses.accept(key(1, 0x0C))
    assert presses.accept(key(2, 0x0C))  # another window's keypad
    assert presses.accept(key(1, 0x0D))  # another key
    assert presses.accept(key(1, 0x0C))  # back to call: a different press from the last
    assert presses.accept(key(1, 0x0C, func=0x01))  # FUNC differs: not the same frame


def test_press_filter_window_is_a_setting() -> None:
    clock = FakeClock()
    presses = PressFilter(window_ms=50, clock=clock)
    assert presses.accept(key(1, 0x0C))
    clock.now += 0.06
    assert presses.accept(key(1, 0x0C))


# End to end: a simulated keypad on one side of a pty, the host with pyserial on the other


class Host(threading.Thread):
    """The host loop as the driver will run it: read, parse, echo at once, then act once."""

    def __init__(self, port: serial.Serial, bus: KeypadBus) -> None:
        super().__init__(daemon=True)
        self.port, self.bus = port, bus
        self.parser = Frame68Parser()
        self.presses = PressFilter()
        self.actions: list[KeypadAction | EvaluatorRating] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            chunk = self.port.read(self.port.in_waiting or 1)
            frames = self.parser.feed(chunk) if chunk else self.parser.flush()
            for frame in frames:
                result = interpret(frame, self.bus)
                if result is None:
                    continue
                if isinstance(result, EvaluatorRating):
                    self.port.write(encode(f68.evaluator_ack(frame.address, frame.data[0])))
                else:
                    self.port.write(f68.echo(frame))
                if self.presses.accept(frame):
                    self.actions.append(result)


class SimulatedKeypad:
    """The device end: writes frames in pieces with noise, and reads what the host answers."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.parser = Frame68Parser()

    def write(self, *pieces: bytes, gap: float = 0.003) -> None:
        for piece in pieces:
            os.write(self.fd, piece)
            time.sleep(gap)

    def answer(self, within: float = 0.1) -> tuple[Frame68, bytes, float]:
        """The first frame the host sends back, its bytes, and how long it took."""
        start = time.monotonic()
        raw = b""
        while (left := start + within - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                break
            chunk = os.read(self.fd, 256)
            raw += chunk
            frames = self.parser.feed(chunk)
            if frames:
                return frames[0], raw, time.monotonic() - start
        raise AssertionError(f"no answer within {within * 1000:.0f} ms (got {raw.hex(' ')})")


@pytest.fixture
def pty_bus() -> Any:
    """(simulated keypad, host) joined by a pseudo-terminal, as a USB-RS485 adapter would be."""
    master, slave = os.openpty()
    tty.setraw(master)
    port = serial.Serial(os.ttyname(slave), baudrate=9600, timeout=0.01, write_timeout=0.5)
    host = Host(port, KeypadBus(addresses={5: 5, 6: 6}))
    host.start()
    try:
        yield SimulatedKeypad(master), host
    finally:
        host.stop.set()
        host.join(timeout=1)
        port.close()
        os.close(slave)
        os.close(master)


def test_keypad_over_a_pty_split_noisy_and_resent(pty_bus: Any) -> None:
    keypad, host = pty_bus
    call_012 = key(5, 0x00, 0x01, 0x02, 0x0C)
    wire = encode(call_012)

    # 1. A press split across writes, with noise on the line before it.
    keypad.write(b"\x00\x13\xfe", wire[:3], wire[3:4], wire[4:9], wire[9:])
    echoed, raw, took = keypad.answer()
    assert raw == wire  # the echo is the key frame, byte for byte
    assert echoed == call_012
    assert took < 0.1

    # 2. The keypad missed the echo and resends: echoed again, acted on once.
    keypad.write(wire)
    assert keypad.answer()[1] == wire

    # 3. A corrupt frame, then a recall without lead FF, one byte per write.
    recall = encode(key(6, 0x0D), lead=False)
    keypad.write(bytes.fromhex("FF 68 03 03 68 06 00 0D 00 16"), b"\x55\xaa")
    keypad.write(*[recall[i : i + 1] for i in range(len(recall))], gap=0.001)
    _, raw, _ = keypad.answer()
    assert raw == recall  # unchanged: no FF added to a frame that had none

    # 4. A rating from window 5's evaluator (0x85) gets the evaluator's acknowledgement.
    keypad.write(encode(rating(0x85, 3)))
    _, raw, _ = keypad.answer()
    assert raw == bytes.fromhex("FF 68 03 03 68 85 01 03 89 16")

    # 5. A key from an address no window has: no echo, no action.
    keypad.write(encode(key(9, 0x0C)))
    with pytest.raises(AssertionError, match="no answer"):
        keypad.answer(within=0.05)

    deadline = time.monotonic() + 1
    while len(host.actions) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert host.actions == [
        KeypadAction("call_ticket", 5, "012"),
        KeypadAction("recall", 6),
        EvaluatorRating(5, "very_satisfied", 3, 0x85),
    ]
    assert host.parser.errors["checksum"] == 1
    assert host.parser.noise_bytes >= 5
