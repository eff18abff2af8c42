"""A CJK font from the system, found through fontconfig (no path written into the code).

Debian's fonts-wqy-microhei or fonts-noto-cjk is installed by the set-up; `fc-match` with
`lang=zh-cn` names the file fontconfig would use for Chinese text. When fontconfig is not
there, pygame's own `match_font` is asked for the usual CJK family names. A font that is
found is checked to really draw hanzi before it is used.
"""

from __future__ import annotations

import functools
import logging
import shutil
import subprocess
from pathlib import Path

import pygame

log = logging.getLogger("hallq.kiosk.fonts")

CJK_FAMILIES = (
    "wenquanyimicrohei",
    "wenquanyizenhei",
    "notosanscjksc",
    "notosanscjk",
    "sourcehansanssc",
    "droidsansfallback",
    "arplumingcn",
)
_PROBE = "取号"


def _fc_match() -> str | None:
    exe = shutil.which("fc-match")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "-f", "%{file}", "sans-serif:lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    path = out.stdout.strip()
    return path if path and Path(path).is_file() else None


def _draws_hanzi(path: str) -> bool:
    """Whether the font has glyphs for hanzi (a Latin font draws them as empty boxes)."""
    try:
        font = pygame.font.Font(path, 24)
    except (OSError, pygame.error):
        return False
    metrics = font.metrics(_PROBE)
    return bool(metrics) and all(m is not None and m[4] > 0 for m in metrics)


@functools.cache
def cjk_font_path() -> str | None:
    """The file of a font that draws Chinese, or None (then pygame's default, Latin only)."""
    if not pygame.font.get_init():
        pygame.font.init()
    candidates: list[str] = []
    fc = _fc_match()
    if fc:
        candidates.append(fc)
    for family in CJK_FAMILIES:
        found = pygame.font.match_font(family)
        if found:
            candidates.append(found)
    for path in candidates:
        if _draws_hanzi(path):
            return path
    log.warning("no CJK font found: install fonts-wqy-microhei or fonts-noto-cjk")
    return None


class Fonts:
    """Fonts by pixel size, made once each."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else cjk_font_path()
        self._cache: dict[tuple[int, bool], pygame.font.Font] = {}

    def get(self, size: int, bold: bool = False) -> pygame.font.Font:
        key = (max(8, size), bold)
        font = self._cache.get(key)
        if font is None:
            font = pygame.font.Font(self.path, key[0])
            font.set_bold(bold)
            self._cache[key] = font
        return font
