"""What the LED boards show: window texts by state, the hall board, hours, column widths."""

from __future__ import annotations

import pytest

from hallq.drivers.ledtext import (
    BLANK,
    BoardText,
    HallBoard,
    columns,
    fit_columns,
    hall_board,
    hall_board_for,
    window_boards,
    window_text,
    within_hours,
)


def win(status, ticket=None, number=5, label="社保业务", label_en="Social insurance"):
    """A window entry shaped as hall_view() builds it."""
    return {
        "number": number,
        "label": label,
        "label_en": label_en,
        "tiers": [["SB"]],
        "backup": [],
        "status": status,
        "since": 1.0,
        "reason": "",
        "staff": None,
        "staff_name": "",
        "ticket": None if ticket is None else {"id": 1, "number": ticket, "status": status},
        "served_today": 0,
        "away_minutes": 0.0,
        "away_thresholds_passed": [],
    }


@pytest.mark.parametrize(
    ("window", "zh", "en"),
    [
        (
            win("calling", "A012"),
            BoardText("A012 请到5号窗口", True),
            BoardText("A012 to window 5", True),
        ),
        (win("serving", "A012"), BoardText("A012 正在办理"), BoardText("Now serving A012")),
        (win("paused"), BoardText("暂停服务"), BoardText("Service paused")),
        (win("away"), BoardText("请稍候"), BoardText("Back soon")),
        (win("idle"), BoardText("社保业务"), BoardText("Social insurance")),
        (
            win("idle", label="", label_en=""),
            BoardText("热情为您服务"),
            BoardText("At your service"),
        ),
        (win("idle", label_en=""), BoardText("社保业务"), BoardText("社保业务")),
        (win("closed"), BLANK, BLANK),
        (win("calling"), BoardText("社保业务"), BoardText("Social insurance")),  # no ticket
        (win("on_fire"), BLANK, BLANK),
    ],
)
def test_window_text_by_state(window, zh, en):
    assert window_text(window) == zh
    assert window_text(window, language="en") == en


def test_window_text_fits_board_width():
    assert window_text(win("calling", "A012", number=15), width=16) == BoardText(
        "A012 请到15号窗", True
    )


def test_columns_count_hanzi_as_two():
    assert columns("") == 0
    assert columns("A012") == 4
    assert columns("A012 请到5号窗口") == 16
    assert columns("→号") == 4


def test_fit_columns_never_splits_a_glyph():
    assert fit_columns("请到5号", 3) == "请"
    assert fit_columns("请到5号", 5) == "请到5"
    assert fit_columns("请到5号", 6) == "请到5"
    assert fit_columns("abc", 10) == "abc"


CALLS = [
    {"number": "A012", "window": 5, "service": "SB", "called_at": 1000.0},
    {"number": "B003", "window": 3, "service": "GJ", "called_at": 990.0},
    {"number": "A011", "window": 12, "service": "SB", "called_at": 980.0},
]


def test_hall_board_newest_call_flashes_then_scroll():
    board = hall_board(CALLS, width=40, now=1002.0)
    assert board.first == BoardText("A012 请到5号窗口", flash=True)
    assert board.scroll == BoardText("A012→5号 B003→3号 A011→12号")
    assert columns(board.scroll.text) <= 40


def test_hall_board_stops_flashing_after_3_s():
    assert hall_board(CALLS, width=40, now=1003.5).first.flash is False


def test_hall_board_whole_entries_within_width():
    # "A012→5号" is 4 + 2 + 1 + 2 = 9 columns; two entries and a space are 19
    assert hall_board(CALLS, width=19, now=0).scroll.text == "A012→5号 B003→3号"
    assert hall_board(CALLS, width=18, now=0).scroll.text == "A012→5号"
    assert hall_board(CALLS, width=8, now=0).scroll.text == ""
    for width in range(1, 60):
        board = hall_board(CALLS, width=width, now=0)
        assert columns(board.scroll.text) <= width
        assert columns(board.first.text) <= width


def test_hall_board_english_and_empty():
    board = hall_board(CALLS[:1], width=40, now=0, language="en")
    assert board.scroll.text == "A012→W5"
    assert board.first.text == "A012 to window 5"
    assert hall_board([], width=40, now=0) == HallBoard(BoardText("热情为您服务"), BLANK)


def view(local_time, hours=("08:30-12:00", "13:30-17:00"), windows=(), calls=()):
    return {
        "now": 1002.0,
        "local_time": local_time,
        "hours": list(hours),
        "windows": list(windows),
        "recent_calls": list(calls),
    }


@pytest.mark.parametrize(
    ("local_time", "hours", "inside"),
    [
        ("2024-05-06T09:00:00+08:00", ("08:30-12:00", "13:30-17:00"), True),
        ("2024-05-06T08:30:00+08:00", ("08:30-12:00",), True),
        ("2024-05-06T12:00:00+08:00", ("08:30-12:00", "13:30-17:00"), False),
        ("2024-05-06T12:30:00+08:00", ("08:30-12:00", "13:30-17:00"), False),
        ("2024-05-06T20:00:00+08:00", ("08:30-12:00", "13:30-17:00"), False),
        ("2024-05-06T10:00:00+08:00", (), False),  # a holiday
    ],
)
def test_within_hours(local_time, hours, inside):
    assert within_hours(view(local_time, hours)) is inside


def test_boards_blank_outside_hours_unless_busy():
    windows = [win("idle", number=1), win("serving", "A009", number=2), win("paused", number=3)]
    after = view("2024-05-06T17:05:00+08:00", windows=windows, calls=CALLS)
    assert window_boards(after) == {1: BLANK, 2: BoardText("A009 正在办理"), 3: BLANK}
    assert hall_board_for(after, width=40).first.text == "A012 请到5号窗口"
    quiet = view("2024-05-06T20:00:00+08:00", windows=[win("idle", number=1)], calls=CALLS)
    assert window_boards(quiet) == {1: BLANK}
    assert hall_board_for(quiet, width=40) == HallBoard(BLANK, BLANK)


def test_boards_during_hours():
    windows = [win("idle", number=1), win("calling", "A012", number=5)]
    during = view("2024-05-06T09:00:00+08:00", windows=windows, calls=CALLS)
    assert window_boards(during, width=16) == {
        1: BoardText("社保业务"),
        5: BoardText("A012 请到5号窗口", True),
    }
    assert hall_board_for(during, width=40).first.flash is True
