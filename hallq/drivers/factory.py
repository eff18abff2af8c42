"""Builds the hall's drivers from its configuration: a simulator or the real part for each."""

from __future__ import annotations

from hallq.drivers.base import DriverSet
from hallq.drivers.led import Board, BoardLink, BoardsView, LedBus, SerialBoards, SimulatedBoards
from hallq.drivers.ledframe import UnknownFraming, framing
from hallq.errors import ConfigError
from hallq.hall.config import HallConfig

SIMULATOR = "sim"


def build_drivers(cfg: HallConfig, boards_view: BoardsView) -> DriverSet:
    """The drivers the configuration asks for; a bad setting is a ConfigError naming it."""
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
    return drivers
