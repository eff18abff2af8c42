"""What each LED board (条屏) shows: window boards by window state, the hall board's recent calls.

Pure text, no bytes and no I/O: the framings in `ledframe` turn these strings into frames. The
inputs are exactly the dict shapes of `hallq.controller.views.hall_view()` (its `windows`
entries and its `recent_calls` list), so a driver feeds a view straight in.

Widths are counted in board columns: an ASCII character is one 8-dot column, a Chinese
character (any GBK double-byte character) is a 16-dot glyph, two columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

FLASH_SECONDS = 3.0
"""A call flashes for about 3 s, as halls do it (PROTOCOLS.md, "Texts used in the field")."""

GREETING = "热情为您服务"
GREETING_EN = "At your service"

ENGLISH = "en"


@dataclass(frozen=True)
class BoardText:
    """One line for one board; `flash` asks the driver to flash it (a new call)."""

    text: str
    flash: bool = False


BLANK = BoardText("")


@dataclass(frozen=True)
class HallBoard:
    """The hall board (综合屏): the newest call first, then the recent calls scrolling."""

    first: BoardText
    scroll: BoardText


def columns(text: str) -> int:
    """Board columns `text` takes: ASCII 1, anything else 2 (a 16-dot glyph)."""
    return sum(1 if ord(ch) < 0x80 else 2 for ch in text)


def fit_columns(text: str, width: int) -> str:
    """The longest start of `text` within `width` columns, never splitting a Chinese glyph."""
    used = 0
    for i, ch in enumerate(text):
        used += columns(ch)
        if used > width:
            return text[:i]
    return text


def _english(language: str) -> bool:
    return language.lower().startswith(ENGLISH)


def calling_text(ticket: str, window: int, language: str = "zh") -> str:
    """「A012 请到5号窗口」, or "A012 to window 5" in an English hall."""
    if _english(language):
        return f"{ticket} to window {window}"
    return f"{ticket} 请到{window}号窗口"


def window_text(
    window: Mapping[str, Any], language: str = "zh", width: int | None = None
) -> BoardText:
    """The window board's line for one `hall_view()` window entry.

    A closed window's board is blank: nobody is at the window, and 「暂停服务」 would promise
    a service that is not coming back today. A status we do not know is blank too, so a
    new state added to the hall never puts a wrong text above a window.
    """
    english = _english(language)
    status = window.get("status")
    ticket = window.get("ticket") or {}
    number = ticket.get("number")
    if status == "calling" and number:
        line = BoardText(calling_text(number, window["number"], language), flash=True)
    elif status == "serving" and number:
        line = BoardText(f"Now serving {number}" if english else f"{number} 正在办理")
    elif status == "paused":
        line = BoardText("Service paused" if english else "暂停服务")
    elif status == "away":
        line = BoardText("Back soon" if english else "请稍候")
    elif status in ("idle", "calling", "serving"):
        # calling/serving without a ticket should not happen; show the idle line, not a hole.
        label = (window.get("label_en") or window.get("label")) if english else window.get("label")
        line = BoardText(label or (GREETING_EN if english else GREETING))
    else:
        line = BLANK
    if width is not None:
        line = BoardText(fit_columns(line.text, width), line.flash)
    return line


def call_entry(call: Mapping[str, Any], language: str = "zh") -> str:
    """One recent call on the hall board: 「A012→5号」 ("A012→W5" in English)."""
    if _english(language):
        return f"{call['number']}→W{call['window']}"
    return f"{call['number']}→{call['window']}号"


def hall_board(
    recent_calls: Iterable[Mapping[str, Any]],
    width: int,
    now: float,
    language: str = "zh",
) -> HallBoard:
    """The hall board from `hall_view()["recent_calls"]` (newest first) at time `now`.

    The first line is the newest call, flashing for FLASH_SECONDS after it was made; the
    scroll line lists calls, newest first, whole entries only, within `width` columns.
    """
    calls = [c for c in recent_calls if c.get("window") is not None and c.get("number")]
    if not calls:
        return HallBoard(
            BoardText(fit_columns(GREETING_EN if _english(language) else GREETING, width)), BLANK
        )
    newest = calls[0]
    called_at = newest.get("called_at")
    fresh = called_at is not None and 0.0 <= now - called_at <= FLASH_SECONDS
    first = BoardText(
        fit_columns(calling_text(newest["number"], newest["window"], language), width), fresh
    )
    scroll = ""
    for call in calls:
        candidate = (
            f"{scroll} {call_entry(call, language)}" if scroll else call_entry(call, language)
        )
        if columns(candidate) > width:
            break
        scroll = candidate
    return HallBoard(first, BoardText(scroll))


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def within_hours(view: Mapping[str, Any]) -> bool:
    """Whether the view's local time falls in one of today's sessions (`hours`: "08:30-12:00").

    A day with no sessions (a holiday) is outside hours all day.
    """
    local = datetime.fromisoformat(view["local_time"]).time().replace(tzinfo=None)
    for session in view.get("hours", []):
        start, end = session.split("-")
        if _clock(start) <= local < _clock(end):
            return True
    return False


def window_boards(
    view: Mapping[str, Any], language: str = "zh", width: int | None = None
) -> dict[int, BoardText]:
    """Every window board's line from a whole `hall_view()`, keyed by window number.

    Outside working hours the boards are blank, except a window still calling or serving
    (a late citizen is not left under a dark board).
    """
    open_now = within_hours(view)
    boards: dict[int, BoardText] = {}
    for window in view["windows"]:
        busy = window.get("status") in ("calling", "serving")
        boards[window["number"]] = (
            window_text(window, language, width) if open_now or busy else BLANK
        )
    return boards


def hall_board_for(view: Mapping[str, Any], width: int, language: str = "zh") -> HallBoard:
    """The hall board from a whole `hall_view()`; blank outside hours unless a window is busy."""
    busy = any(w.get("status") in ("calling", "serving") for w in view["windows"])
    if not (within_hours(view) or busy):
        return HallBoard(BLANK, BLANK)
    return hall_board(view["recent_calls"], width, view["now"], language)
