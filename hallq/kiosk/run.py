"""`hallq kiosk`: which kiosk this is, its printer, the display, and the loop.

The kiosk reads its own `[[kiosks]]` entry (name, printer, paper width, QR mode) and the
hall's `public_url` from the hall configuration file given with `--config` (the demo hall
without one): the controller's API does not publish printer addresses. Services, hours,
queues and everything else come live from the controller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from hallq.drivers.printer import SimulatedPrinter, open_printer
from hallq.errors import ConfigError
from hallq.hall.config import HallConfig
from hallq.hall.config import Kiosk as KioskConfig

log = logging.getLogger("hallq.kiosk")


@dataclass(frozen=True)
class KioskOptions:
    controller: str
    kiosk: str | None = None
    printer: str | None = None  # overrides the configured address
    windowed: bool = False
    size: tuple[int, int] | None = None
    preview_dir: Path | None = None  # the simulator draws each ticket here


def kiosk_entry(cfg: HallConfig, name: str | None) -> KioskConfig:
    """This kiosk's `[[kiosks]]` entry: the one named, or the only/first one."""
    if name is None:
        if not cfg.kiosks:
            return KioskConfig(name="kiosk")
        return cfg.kiosks[0]
    for k in cfg.kiosks:
        if k.name == name:
            return k
    known = ", ".join(k.name for k in cfg.kiosks) or "none"
    raise ConfigError([f"no kiosk named {name!r} in [[kiosks]]; configured: {known}"])


def parse_size(text: str) -> tuple[int, int]:
    """'800x480' → (800, 480); ValueError says the form."""
    w, sep, h = text.lower().partition("x")
    if (
        not sep
        or not w.isdigit()
        or not h.isdigit()
        or not (200 <= int(w) <= 8000 and 200 <= int(h) <= 8000)
    ):
        raise ValueError(f"size {text!r}: write it as WIDTHxHEIGHT, e.g. 800x480")
    return int(w), int(h)


async def run_kiosk(cfg: HallConfig, options: KioskOptions) -> None:
    import pygame

    from hallq.kiosk.app import Kiosk, KioskSettings, open_display

    started = time.monotonic()
    entry = kiosk_entry(cfg, options.kiosk)
    address = options.printer or entry.printer
    sim = SimulatedPrinter(preview_dir=options.preview_dir) if address == "sim" else None
    printer = open_printer(
        f"{entry.name}-printer",
        address,
        simulator=sim,
        paper_columns=entry.paper_columns,
        qr_native=entry.qr_native,
    )
    surface = open_display(options.windowed, options.size)
    settings = KioskSettings(entry.name, options.controller, public_url=cfg.hall.public_url)
    kiosk = Kiosk(settings, printer, surface)
    kiosk.redraw_if_needed()
    log.info(
        "kiosk %s: %dx%d, printer %s, controller %s; first frame after %.2f s",
        entry.name,
        *surface.get_size(),
        address,
        options.controller,
        time.monotonic() - started,
    )

    async def say_ready() -> None:
        while kiosk.model.view is None:
            await asyncio.sleep(0.05)
        log.info(
            "kiosk %s: ready, the hall shown %.2f s after start",
            entry.name,
            time.monotonic() - started,
        )

    ready = asyncio.create_task(say_ready())
    try:
        await kiosk.run()
    finally:
        ready.cancel()
        pygame.quit()


def main(cfg: HallConfig, options: KioskOptions) -> int:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_kiosk(cfg, options))
    return 0
