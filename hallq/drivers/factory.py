"""Builds the hall's drivers from its configuration: a simulator or the real part for each."""

from __future__ import annotations

from hallq.drivers.base import DriverSet
from hallq.drivers.keypad import KeypadBus
from hallq.drivers.keypad_bus import KeypadBusDriver, StateReader, Submit
from hallq.drivers.led import Board, BoardLink, BoardsView, LedBus, SerialBoards, SimulatedBoards
from hallq.drivers.ledframe import UnknownFraming, framing
from hallq.errors import ConfigError
from hallq.hall.config import HallConfig

SIMULATOR = "sim"


def build_drivers(
    cfg: HallConfig,
    boards_view: BoardsView,
    submit: Submit | None = None,
    state: StateReader | None = None,
) -> DriverSet:
    """The drivers the configuration asks for; a bad setting is a ConfigError naming it.

    Keypad buses send commands and read the state: without `submit` and `state` (a caller
    that has no controller) they are left out.
    """
    drivers = DriverSet()
    for i, bus in enumerate(cfg.led_buses):
        try:
            frames = framing(bus.framing)
        except UnknownFraming as e:
            raise ConfigError([f"led_buses[{i}].framing: {e}"]) from None
        link: BoardLink = (
            SimulatedBoards() if bus.port == SIMULATOR else SerialBoards(bus.port, bus.baudrate)
        )
        boards = [Board(b.address, b.window, b.width) for b in bus.boards]
        drivers.drivers.append(LedBus(bus.name, boards, frames, link, boards_view, bus.language))
    if submit is None or state is None:
        return drivers
    for kb in cfg.keypad_buses:
        table = KeypadBus(
            addresses=kb.keypad_addresses(),
            evaluator_addresses=kb.evaluator_address_table(),
            evaluator_levels=kb.evaluator_level_table(),
            evaluator_address_offset=kb.evaluator_address_offset,
        )
        drivers.drivers.append(
            KeypadBusDriver(kb.name, table, cfg, submit, state, kb.port, kb.baudrate)
        )
    return drivers
