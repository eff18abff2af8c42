"""Builds the hall's drivers from its configuration: a simulator or the real part for each."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from hallq.drivers.base import DriverSet
from hallq.drivers.buttons import ButtonSettings, EvaluatorKeys, GpioButtons, WindowButtons
from hallq.drivers.keypad import KeypadBus
from hallq.drivers.keypad_bus import KeypadBusDriver, StateReader, Submit
from hallq.drivers.led import Board, BoardLink, BoardsView, LedBus, SerialBoards, SimulatedBoards
from hallq.drivers.ledframe import UnknownFraming, framing
from hallq.drivers.pi_health import PiHealth
from hallq.drivers.printer import PrinterAddress
from hallq.drivers.voice import (
    AplayOutput,
    AudioOutput,
    CallerVoice,
    SdlOutput,
    SimulatedOutput,
    TemplateError,
)
from hallq.drivers.voicepack import MANIFEST, VoicePackError, build_pack, load_pack
from hallq.errors import ConfigError
from hallq.hall.config import HallConfig
from hallq.hall.config import Voice as VoiceSettings

SIMULATOR = "sim"


def build_drivers(
    cfg: HallConfig,
    boards_view: BoardsView,
    submit: Submit | None = None,
    state: StateReader | None = None,
    data_dir: Path | None = None,
    clock: Callable[[], float] = time.time,
) -> DriverSet:
    """The drivers the configuration asks for; a bad setting is a ConfigError naming it.

    Keypad buses send commands and read the state: without `submit` and `state` (a caller
    that has no controller) they are left out, as is the Pi's own health (hallq.drivers.pi_health).
    """
    drivers = DriverSet()
    if cfg.voice is not None and data_dir is not None:
        drivers.drivers.append(_voice(cfg, cfg.voice, data_dir, clock))
    for i, bus in enumerate(cfg.led_buses):
        try:
            frames = framing(bus.framing)
        except UnknownFraming as e:
            raise ConfigError([f"led_buses[{i}].framing: {e}"]) from None
        link: BoardLink = (
            SimulatedBoards() if bus.port == SIMULATOR else SerialBoards(bus.port, bus.baudrate)
        )
        boards = [Board(b.address, b.window, b.width) for b in bus.boards]
        drivers.drivers.append(
            LedBus(bus.name, boards, frames, link, boards_view, bus.language, bus.brightness)
        )
    if submit is None or state is None:
        return drivers
    if cfg.buttons is not None:
        drivers.drivers.append(GpioButtons("buttons", _button_settings(cfg), submit, state))
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
    # The Pi's own health; "pi-clock" (which holds the day) only on this machine's own clock.
    drivers.drivers.extend(PiHealth(cfg.system, data_dir, with_clock=clock is time.time).drivers)
    return drivers


def voice_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hallq"


def ready_pack(language: str, speed: int) -> Path:
    """The espeak-ng voice pack for `language`, made once per machine (about a second)."""
    folder = voice_cache() / f"voicepack-{language}-{speed}"
    if (folder / MANIFEST).exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=folder.parent, prefix=".building-")
    try:
        build_pack(tmp, language, speed)
        os.rename(tmp, folder)  # atomic: a reader sees no pack or a whole one
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if not (folder / MANIFEST).exists():  # unless another process just made it
            raise
    return folder


def _voice(
    cfg: HallConfig, v: VoiceSettings, data_dir: Path, clock: Callable[[], float]
) -> CallerVoice:
    try:
        pack = load_pack(v.pack) if v.pack else load_pack(ready_pack(v.language, v.speed))
    except VoicePackError as e:
        raise ConfigError([f"voice.pack: {e}"]) from None
    output: AudioOutput
    if v.output == "sim":
        output = SimulatedOutput(data_dir / "voice", zone=cfg.zone, clock=clock)
    elif v.output == "sdl":
        output = SdlOutput()
    else:
        output = AplayOutput(v.output.partition(":")[2] or None)
    try:
        return CallerVoice(
            "voice",
            pack,
            output,
            language=v.language,
            template=v.template or None,
            repeats=v.repeats,
            volume=v.volume,
            quiet_hours=v.quiet_hours,
            quiet_mode=v.quiet_mode,
            zone=cfg.zone,
            clock=clock,
        )
    except TemplateError as e:
        raise ConfigError([f"voice.template: {e}"]) from None


def _button_settings(cfg: HallConfig) -> ButtonSettings:
    b = cfg.buttons
    assert b is not None
    settings = ButtonSettings(
        pin_factory=b.pin_factory,
        bounce_time=b.bounce_time,
        windows=[
            WindowButtons(w.window, w.call_next, w.recall, w.no_show, w.pause, w.hold_seconds)
            for w in b.windows
        ],
        evaluators=[EvaluatorKeys(e.window, dict(e.pins)) for e in b.evaluators],
    )
    problems = settings.problems(
        [w.number for w in cfg.windows], [lv.code for lv in cfg.evaluation.levels]
    )
    if problems:
        raise ConfigError(problems)
    return settings


def check_devices(cfg: HallConfig) -> list[str]:
    """What the device settings get wrong beyond their types: the checks that need the drivers.

    `hallq check-config` and `hallq run` report these with the configuration's other errors.
    """
    problems: list[str] = []
    for i, kiosk in enumerate(cfg.kiosks):
        try:
            PrinterAddress.parse(kiosk.printer)
        except ValueError as e:
            problems.append(f"kiosks[{i}].printer: {e}")
    for i, bus in enumerate(cfg.led_buses):
        try:
            framing(bus.framing)
        except UnknownFraming as e:
            problems.append(f"led_buses[{i}].framing: {e}")
    if cfg.buttons is not None:
        try:
            _button_settings(cfg)
        except ConfigError as e:
            problems.extend(e.problems)
    return problems
