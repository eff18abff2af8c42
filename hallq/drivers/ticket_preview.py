"""The simulator's picture of a printed ticket (PNG), for the admin page and for people.

It draws the same layout `ticket_bytes` prints (`ticket.ticket_layout`), on the printer's
grid: one pixel per dot, 12 dots per ASCII column and 24 per hanzi, magnified lines scaled
the way the printer scales them, and the QR as a real, scannable code. The CJK font is found
on the system (fontconfig, else a scan of the font folders) and checked to draw 号, because
fontconfig happily answers a Chinese query with a Latin-only font.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import warnings
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from hallq.drivers import escpos_bytes as eb
from hallq.drivers.ticket import Line, QrBlock, TicketContent, ticket_layout

CELL = 24
"""Height of a character cell in dots (Font A and the 24×24 Chinese font)."""
LINE_SPACING = 30
"""Default line feed in dots (ESC 2): taller lines take their own height plus a little."""
FEED_LINES = 4
_PROBES = "号A0"
_NOT_A_CHARACTER = "\U000effff"  # never assigned: every font draws its "missing" box for it
_FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", "~/.local/share/fonts", "~/.fonts")
_NAME_HINTS = ("cjk", "wqy", "hei", "song", "kai", "ming", "han", "fallback", "zh", "sc")

AnyFont = ImageFont.FreeTypeFont | ImageFont.ImageFont
FontSpec = tuple[str, int]  # file and face index (a .ttc holds several faces)


def _draws(font: AnyFont, text: str) -> bytes:
    img = Image.new("L", (CELL * 2, CELL * 2))
    ImageDraw.Draw(img).text((2, 2), text, font=font, fill=255)
    return img.tobytes()


def covers_hanzi(spec: FontSpec) -> bool:
    """The font draws 号 and the number's Latin letters and digits, not its missing-glyph box.

    Latin is checked too: Droid Sans Fallback answers fontconfig's :lang=zh but has no "A".
    """
    try:
        font = ImageFont.truetype(spec[0], CELL, index=spec[1])
    except OSError:
        return False
    missing = _draws(font, _NOT_A_CHARACTER)
    for ch in _PROBES:
        drawn = _draws(font, ch)
        if not any(drawn) or drawn == missing:
            return False
    return True


def _fontconfig(*args: str) -> list[FontSpec]:
    """Font files fontconfig names for a query, as (file, index); empty without fontconfig."""
    if shutil.which(args[0]) is None:
        return []
    try:
        out = subprocess.run(
            [*args], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    specs: list[FontSpec] = []
    for row in out.splitlines():
        file, _, index = row.partition("|")
        if file.strip():
            specs.append((file.strip(), int(index) if index.strip().isdigit() else 0))
    return specs


def _scanned() -> list[FontSpec]:
    """Font files under the usual folders, likely-CJK names first."""
    files: list[Path] = []
    for folder in _FONT_DIRS:
        root = Path(folder).expanduser()
        if root.is_dir():
            files += [p for p in root.rglob("*") if p.suffix.lower() in (".ttc", ".ttf", ".otf")]
    files.sort(key=lambda p: (not any(h in p.name.lower() for h in _NAME_HINTS), str(p)))
    return [(str(p), 0) for p in files]


@lru_cache(maxsize=1)
def find_cjk_font() -> FontSpec | None:
    """A system font that draws Chinese: fontconfig's choice, its :lang=zh list, then a scan."""
    candidates = [
        *_fontconfig("fc-match", "-f", "%{file}|%{index}", "Noto Sans CJK SC:lang=zh"),
        *sorted(_fontconfig("fc-list", "-f", "%{file}|%{index}\n", ":lang=zh")),
    ]
    seen: set[FontSpec] = set()
    for spec in [*candidates, *_scanned()]:
        if spec not in seen:
            seen.add(spec)
            if covers_hanzi(spec):
                return spec
    return None


def _font() -> AnyFont:
    spec = find_cjk_font()
    if spec is None:
        warnings.warn(
            "no CJK font found (install fonts-noto-cjk or fonts-wqy-microhei); "
            "the ticket preview shows boxes for Chinese",
            RuntimeWarning,
            stacklevel=3,
        )
        return ImageFont.load_default(size=CELL)
    return ImageFont.truetype(spec[0], CELL, index=spec[1])


class _Glyphs:
    """Each character drawn once into its printer cell (12 or 24 dots wide, 24 high)."""

    def __init__(self, font: AnyFont) -> None:
        self.font = font
        self.cache: dict[str, Image.Image] = {}

    def cell(self, ch: str) -> Image.Image:
        if ch not in self.cache:
            width = eb.text_columns(ch) * eb.DOTS_PER_COLUMN
            drawn = max(width, int(self.font.getlength(ch)) + 1)
            img = Image.new("L", (drawn, CELL), 0)
            draw = ImageDraw.Draw(img)
            if isinstance(self.font, ImageFont.FreeTypeFont):
                draw.text((drawn / 2, CELL - 4), ch, font=self.font, fill=255, anchor="ms")
            else:
                draw.text((0, 0), ch, font=self.font, fill=255)
            # A proportional Latin glyph wider than its 12-dot cell is narrowed, as on paper.
            self.cache[ch] = img if drawn == width else img.resize((width, CELL))
        return self.cache[ch]

    def line(self, ln: Line) -> Image.Image:
        """The line's ink (white on black) at the printer's magnification."""
        width = eb.text_columns(ln.text) * eb.DOTS_PER_COLUMN
        ink = Image.new("L", (max(1, width), CELL), 0)
        x = 0
        for ch in ln.text:
            glyph = self.cell(ch)
            ink.paste(glyph, (x, 0))
            if ln.bold:  # ESC E: the printer strikes each dot row twice, one dot apart
                ink.paste(glyph, (x + 1, 0), glyph)
            x += glyph.width
        ink = ink.point(lambda v: 255 if v >= 96 else 0)  # thermal dots are on or off
        if (ln.scale_w, ln.scale_h) != (1, 1):
            ink = ink.resize((ink.width * ln.scale_w, CELL * ln.scale_h), Image.Resampling.NEAREST)
        return ink


def render_preview(content: TicketContent, paper_columns: int = 48) -> Image.Image:
    """The ticket as it comes out of the printer: white paper `paper_dots` wide, black ink."""
    width = eb.paper_dots(paper_columns)
    glyphs = _Glyphs(_font())
    pieces: list[tuple[Image.Image, int, int, bool]] = []  # image, x, height taken, is ink
    for block in ticket_layout(content, paper_columns):
        if isinstance(block, QrBlock):
            qr = eb.qr_image(block.data, block.module_size).convert("L")
            pieces.append((qr, (width - qr.width) // 2, qr.height, False))
            continue
        ink = glyphs.line(block)
        xs = {"left": 0, "center": (width - ink.width) // 2, "right": width - ink.width}
        taken = max(LINE_SPACING, ink.height + LINE_SPACING - CELL)
        pieces.append((ink, xs[block.align], taken, True))
    height = LINE_SPACING + sum(p[2] for p in pieces) + FEED_LINES * LINE_SPACING
    paper = Image.new("L", (width, height), 255)
    y = LINE_SPACING
    for img, x, taken, is_ink in pieces:
        if is_ink:
            paper.paste(0, (x, y), img)  # black through the ink mask
        else:
            paper.paste(img, (x, y))  # the QR image is already black on white
        y += taken
    return paper


def preview_png(content: TicketContent, paper_columns: int = 48) -> bytes:
    """The preview as PNG bytes, for the admin page."""
    buf = io.BytesIO()
    render_preview(content, paper_columns).save(buf, format="PNG")
    return buf.getvalue()


def save_preview(content: TicketContent, path: str | Path, paper_columns: int = 48) -> Path:
    """Write the preview PNG (the simulator keeps one per printed ticket)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(preview_png(content, paper_columns))
    return out
