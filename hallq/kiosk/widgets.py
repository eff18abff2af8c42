"""Drawing helpers: text that wraps and shrinks to fit a box, and touch buttons.

Text wraps at any hanzi and between Latin words; a box's text is drawn at the largest size
(down to a floor) at which every line fits, so a long English service name never runs out of
its button.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import pygame

from hallq.kiosk.fonts import Fonts

Color = tuple[int, int, int]
Align = Literal["left", "center", "right"]
VAlign = Literal["top", "center", "bottom"]

_TOKEN = re.compile(r"[!-~]+|\s+|.", re.S)
_NO_LINE_START = set("，。、；：？！）》」』”’,.;:?!)]}%")


@dataclass(frozen=True)
class Hit:
    """A touch target: its rectangle, what touching it does, and whether it can be touched."""

    rect: pygame.Rect
    key: str
    enabled: bool = True


def wrap(font: pygame.font.Font, text: str, width: int) -> list[str]:
    """Lines of `text` no wider than `width` (a word wider than a line is cut)."""
    lines: list[str] = []
    for para in text.split("\n"):
        line = ""
        space = False
        for tok in _TOKEN.findall(para):
            if tok.isspace():
                space = bool(line)
                continue
            piece = (" " if space else "") + tok
            space = False
            if font.size(line + piece)[0] <= width:
                line += piece
                continue
            if line and tok in _NO_LINE_START and len(line) > 1:  # 避头点: carry one back
                lines.append(line[:-1])
                line = line[-1] + tok
            elif line:
                lines.append(line)
                line = tok
            else:
                line = tok
            while font.size(line)[0] > width and len(line) > 1:  # a word wider than a line
                cut = len(line) - 1
                while cut > 1 and font.size(line[:cut])[0] > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def fit(
    fonts: Fonts,
    text: str,
    width: int,
    height: int,
    size: int,
    min_size: int,
    bold: bool = False,
    spacing: float = 1.15,
) -> tuple[pygame.font.Font, list[str], int]:
    """The largest font (from `size` down to `min_size`) at which `text` fits the box."""
    size = max(min_size, size)
    while True:
        font = fonts.get(size, bold)
        lines = wrap(font, text, width)
        step = round(font.get_linesize() * spacing)
        if len(lines) * step - (step - font.get_linesize()) <= height or size <= min_size:
            if size <= min_size:  # at the floor: drop the lines that do not fit
                keep = max(1, (height + step - font.get_linesize()) // max(1, step))
                if len(lines) > keep:
                    lines = lines[:keep]
                    lines[-1] = lines[-1][: max(1, len(lines[-1]) - 1)] + "…"
            return font, lines, step
        size = max(min_size, int(size * 0.9))


def text_box(
    surface: pygame.Surface,
    fonts: Fonts,
    text: str,
    rect: pygame.Rect,
    color: Color,
    size: int,
    min_size: int | None = None,
    bold: bool = False,
    align: Align = "center",
    valign: VAlign = "center",
    spacing: float = 1.15,
) -> pygame.Rect:
    """Draw `text` inside `rect`, wrapped and shrunk to fit; the area it used."""
    if not text:
        return pygame.Rect(rect.x, rect.y, 0, 0)
    floor = min_size if min_size is not None else max(10, size // 2)
    font, lines, step = fit(fonts, text, rect.w, rect.h, size, floor, bold, spacing)
    total = len(lines) * step - (step - font.get_linesize())
    y = rect.y
    if valign == "center":
        y = rect.y + (rect.h - total) // 2
    elif valign == "bottom":
        y = rect.bottom - total
    used = pygame.Rect(rect.x, y, 0, total)
    for ln in lines:
        img = font.render(ln, True, color)
        x = rect.x
        if align == "center":
            x = rect.x + (rect.w - img.get_width()) // 2
        elif align == "right":
            x = rect.right - img.get_width()
        surface.blit(img, (x, y))
        used.w = max(used.w, img.get_width())
        y += step
    return used


def button(
    surface: pygame.Surface,
    fonts: Fonts,
    hits: list[Hit],
    rect: pygame.Rect,
    key: str,
    label: str,
    *,
    fill: Color,
    color: Color = (255, 255, 255),
    size: int = 24,
    enabled: bool = True,
    radius: int = 10,
    border: Color | None = None,
) -> None:
    """A filled, rounded button with its label; greyed (and still listed) when not enabled."""
    if not enabled:
        fill, color, border = (205, 210, 218), (105, 112, 122), None
    pygame.draw.rect(surface, fill, rect, border_radius=radius)
    if border is not None:
        pygame.draw.rect(surface, border, rect, width=max(2, radius // 4), border_radius=radius)
    pad = max(4, rect.h // 8)
    text_box(surface, fonts, label, rect.inflate(-2 * pad, -pad), color, size, bold=True)
    hits.append(Hit(rect, key, enabled))
