"""The queue ticket (排队小票): what it says, how it is laid out, and its ESC/POS bytes.

The layout is built once as a list of printed lines and a QR block; `ticket_bytes` turns it
into printer bytes and `ticket_preview` draws the same list, so the simulator's picture is
the paper the citizen gets. Text is wrapped here by printer columns (a hanzi is two), so a
long service name or material never runs off the paper.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from hallq.drivers import escpos_bytes as eb

Language = Literal["zh", "en"]

# Characters a line must not start with (避头点): they are pulled back with the word before.
_NO_LINE_START = set("，。、；：？！」』）》】〉”’,.;:?!)]}%·…—")
# Characters a line must not end with (避尾点): they move down with the word after.
_NO_LINE_END = set("「『（《【〈“‘([{")
_TOKEN = re.compile(r"[!-~]+|\s+|.", re.S)


@dataclass
class TicketContent:
    """Everything printed on one ticket, already in the ticket's language."""

    hall_name: str
    service_name: str
    number: str
    ahead: int
    estimate_minutes: float | None
    issued_at: str
    windows: list[int] = field(default_factory=list)
    materials: list[str] = field(default_factory=list)
    status_url: str = ""
    footer: str = ""
    language: Language = "zh"


@dataclass(frozen=True)
class Line:
    """One printed line with its print modes; `text` already fits the paper at its scale."""

    text: str
    align: eb.Align = "left"
    scale_w: int = 1
    scale_h: int = 1
    bold: bool = False


@dataclass(frozen=True)
class QrBlock:
    """The status-page QR code, centred, `module_size` dots per module."""

    data: str
    module_size: int


Block = Line | QrBlock


_WORDS: dict[Language, dict[str, str]] = {
    "zh": {
        "ahead": "您前面还有 {n} 人",
        "estimate": "预计等候约 {m} 分钟",
        "no_estimate": "等候时间暂无法估计",
        "issued": "取号时间：{t}",
        "window": "请到 {w} 号窗口办理",
        "windows": "请到 {w} 号窗口办理",
        "window_sep": "、",
        "materials": "请准备以下材料：",
        "qr": "扫码查看排队进度",
    },
    "en": {
        "ahead": "{n} ahead of you",
        "estimate": "Estimated wait: about {m} min",
        "no_estimate": "Wait time cannot be estimated yet",
        "issued": "Issued: {t}",
        "window": "Please go to window {w}",
        "windows": "Please go to windows {w}",
        "window_sep": ", ",
        "materials": "Please have these ready:",
        "qr": "Scan to follow the queue",
    },
}


def wrap(text: str, columns: int, first_prefix: str = "", rest_prefix: str = "") -> list[str]:
    """Break `text` into lines of at most `columns` printer columns.

    ASCII words stay whole unless longer than a line (URLs); any other character may break,
    except that closing punctuation never starts a line. `rest_prefix` indents continuation
    lines (the hanging indent under "1. ").
    """
    if max(eb.text_columns(first_prefix), eb.text_columns(rest_prefix)) > columns - 2:
        raise ValueError("the indent leaves no room for text")
    lines: list[str] = []
    cur: list[str] = []
    prefix = first_prefix
    space = False

    def used() -> int:
        return eb.text_columns(prefix + "".join(cur))

    def flush() -> None:
        nonlocal cur, prefix
        lines.append((prefix + "".join(cur)).rstrip())
        cur, prefix = [], rest_prefix

    for tok in _TOKEN.findall(text):
        if tok.isspace():
            space = bool(cur)
            continue
        piece = [" ", tok] if space else [tok]
        space = False
        if used() + eb.text_columns("".join(piece)) <= columns:
            cur.extend(piece)
            continue
        carry: list[str] = []
        if tok in _NO_LINE_START and len(cur) > 1:
            carry.append(cur.pop())
        if len(cur) > 1 and cur[-1] in _NO_LINE_END:
            carry.insert(0, cur.pop())
        if eb.text_columns(rest_prefix + "".join([*carry, tok])) > columns:
            cur.extend(carry)  # no room to carry: break plainly
            carry = []
        if cur:
            flush()
        cur.extend(carry)
        while tok.isascii() and eb.text_columns(tok) > columns - used():
            room = columns - used()  # a word longer than a whole line (a URL): cut it
            cur.append(tok[:room])
            tok = tok[room:]
            flush()
        cur.append(tok)
    if cur or not lines:
        flush()
    return lines


def number_scale(number: str, columns: int) -> int:
    """The largest magnification that keeps the ticket number on one line (up to 6 on 80 mm)."""
    return max(1, min(8, columns // 8, columns // max(1, eb.text_columns(number))))


def _minutes(value: float) -> int:
    """Whole minutes for "约 M 分钟", never 0 (a citizen told 0 minutes will not sit down)."""
    return max(1, math.floor(value + 0.5))


def ticket_layout(content: TicketContent, paper_columns: int = 48) -> list[Block]:
    """The ticket as lines and a QR block, in print order, wrapped to the paper."""
    eb.paper_dots(paper_columns)  # rejects a paper width we do not know
    words = _WORDS[content.language]
    cols = paper_columns
    out: list[Block] = []

    def centred(text: str, scale: int = 1, bold: bool = False, height: int = 1) -> None:
        for part in wrap(text, cols // scale):
            out.append(Line(part, "center", scale, max(scale, height), bold))

    centred(content.hall_name, scale=2, bold=True)
    centred(content.service_name, bold=True, height=2)
    scale = number_scale(content.number, cols)
    out.append(Line(content.number, "center", scale, scale, True))
    centred(words["ahead"].format(n=content.ahead))
    if content.estimate_minutes is None:
        centred(words["no_estimate"])
    else:
        centred(words["estimate"].format(m=_minutes(content.estimate_minutes)))
    out.append(Line("-" * cols))
    left = [words["issued"].format(t=content.issued_at)]
    if content.windows:
        listed = words["window_sep"].join(str(w) for w in content.windows)
        template = words["windows" if len(content.windows) > 1 else "window"]
        left.append(template.format(w=listed))
    for text in left:
        out.extend(Line(part) for part in wrap(text, cols))
    if content.materials:
        out.append(Line(words["materials"], bold=True))
        for i, item in enumerate(content.materials, 1):
            head = f"{i}. "
            out.extend(Line(p) for p in wrap(item, cols, head, " " * len(head)))
    if content.status_url:
        out.append(Line("-" * cols))
        out.append(QrBlock(content.status_url, 6 if cols >= 48 else 5))
        centred(words["qr"])
    if content.footer:
        out.append(Line(""))
        centred(content.footer)
    return out


def _line_bytes(ln: Line) -> bytes:
    return b"".join(
        (
            eb.align(ln.align),
            eb.char_size(ln.scale_w, ln.scale_h),
            eb.bold(ln.bold),
            eb.line(ln.text),
        )
    )


def ticket_bytes(content: TicketContent, paper_columns: int = 48, qr_native: bool = True) -> bytes:
    """The whole ticket as ESC/POS bytes: init, Chinese mode, lines, QR, feed and partial cut.

    `qr_native=False` sends the QR as a raster image for printers without GS ( k.
    """
    blocks = ticket_layout(content, paper_columns)
    chinese = any(
        not ln.text.isascii() for ln in blocks if isinstance(ln, Line)
    )  # FS & only when needed: some non-Chinese printers print it as junk
    parts = [eb.INIT, eb.CHINESE_MODE_ON if chinese else b""]
    for block in blocks:
        if isinstance(block, Line):
            parts.append(_line_bytes(block))
        elif qr_native:
            parts += [eb.align("center"), eb.qr_native(block.data, block.module_size), eb.LF]
        else:
            dots = eb.paper_dots(paper_columns)
            parts += [
                eb.align("left"),
                eb.qr_raster(block.data, block.module_size, width_dots=dots),
            ]
    parts += [
        eb.align("left"),
        eb.char_size(1, 1),
        eb.bold(False),
        eb.feed(4),
        eb.partial_cut(),
        eb.CHINESE_MODE_OFF if chinese else b"",
    ]
    return b"".join(parts)


def _local_time(issued_at: Any, timezone: str) -> str:
    """The reply's issue time (epoch seconds) as the hall's local 'YYYY-MM-DD HH:MM'."""
    if isinstance(issued_at, str):
        return issued_at
    stamp = datetime.fromtimestamp(float(issued_at), ZoneInfo(timezone))
    return stamp.strftime("%Y-%m-%d %H:%M")


def _pick(zh: Any, en: Any, language: Language) -> Any:
    """The English text when asked for and present, else the Chinese (never a blank ticket)."""
    return en if language == "en" and en else zh


def content_from_reply(
    issue_reply_ticket: Mapping[str, Any],
    hall_view_service: Mapping[str, Any],
    hall_info: Mapping[str, Any],
    url: str,
    language: Language = "zh",
) -> TicketContent:
    """Build the ticket from the controller's shapes.

    `issue_reply_ticket` is the `ticket` of an issueTicket reply (number, ahead,
    estimate_minutes, issued_at as epoch seconds); `hall_view_service` is that service's entry
    in the hall state's `services` (name, windows, guide.materials); `hall_info` is the
    state's `hall` (name, timezone, footer); `url` is the citizen's status page.
    """
    guide: Mapping[str, Any] = hall_view_service.get("guide") or {}
    materials: Sequence[str] = _pick(
        guide.get("materials", []), guide.get("materials_en", []), language
    )
    return TicketContent(
        hall_name=_pick(hall_info.get("name", ""), hall_info.get("name_en"), language),
        service_name=_pick(hall_view_service["name"], hall_view_service.get("name_en"), language),
        number=str(issue_reply_ticket["number"]),
        ahead=int(issue_reply_ticket.get("ahead") or 0),
        estimate_minutes=issue_reply_ticket.get("estimate_minutes"),
        issued_at=_local_time(
            issue_reply_ticket["issued_at"], hall_info.get("timezone", "Asia/Shanghai")
        ),
        windows=[int(w) for w in hall_view_service.get("windows", [])],
        materials=list(materials),
        status_url=url,
        footer=_pick(hall_info.get("footer", ""), hall_info.get("footer_en"), language),
        language=language,
    )
