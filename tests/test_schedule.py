"""Business days and opening hours (作息时间), always in the hall's own time zone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from hallq.hall.config import HallConfig, parse_config
from hallq.hall.schedule import Timetable, business_day, local_now
from tests.conftest import SHANGHAI, SMALL_HALL_TOML, at


def spans(table: Timetable, day: date) -> list[str]:
    return [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in table.sessions(day)]


@pytest.fixture
def machine_in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run as a Pi whose clock zone is UTC (the usual default of a fresh image)."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_business_day_follows_the_hall_zone_not_the_machines(
    demo_config: HallConfig, machine_in_utc: None
) -> None:
    # 23:30 UTC on Monday is 07:30 on Tuesday in Shanghai.
    now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC).timestamp()
    assert datetime.fromtimestamp(now).date() == date(2026, 11, 23)  # the machine's idea
    assert business_day(demo_config, now) == date(2026, 11, 24)
    assert local_now(demo_config, now).hour == 7
    # 15:59 UTC is 23:59 Shanghai, still the same day; 16:00 UTC is the next day.
    assert business_day(demo_config, datetime(2026, 11, 23, 15, 59, tzinfo=UTC).timestamp()) == (
        date(2026, 11, 23)
    )
    assert business_day(demo_config, datetime(2026, 11, 23, 16, 0, tzinfo=UTC).timestamp()) == (
        date(2026, 11, 24)
    )


def test_opening_hours_follow_the_hall_zone(demo_config: HallConfig, machine_in_utc: None) -> None:
    table = Timetable(demo_config)
    # 00:40 UTC is 08:40 in Shanghai: the hall has just opened.
    opening = datetime(2026, 11, 23, 0, 40, tzinfo=UTC).timestamp()
    assert opening == at(2026, 11, 23, 8, 40)
    assert table.issue_status(opening).open
    assert not table.issue_status(opening - 1).open


def test_a_workday_has_the_two_sessions(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    monday = date(2026, 11, 23)
    assert spans(table, monday) == ["08:40-11:50", "13:10-16:50"]
    first, second = table.sessions(monday)
    assert first.start.tzinfo == SHANGHAI and first.start.timestamp() == at(2026, 11, 23, 8, 40)
    assert second.end.timestamp() == at(2026, 11, 23, 16, 50)
    assert table.is_workday(monday)
    assert table.closing(monday) == second.end
    assert table.session_at(at(2026, 11, 23, 10, 0)) == first
    assert table.session_at(at(2026, 11, 23, 12, 0)) is None
    assert table.session_at(at(2026, 11, 23, 13, 10)) == second


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 11, 28), "Saturday"),
        (date(2026, 11, 29), "Sunday"),
        (date(2026, 10, 1), "National Day, a Thursday"),
        (date(2026, 10, 7), "last day of the National Day range"),
        (date(2026, 1, 1), "New Year's Day"),
    ],
)
def test_closed_at_weekends_and_holidays(demo_config: HallConfig, day: date, why: str) -> None:
    table = Timetable(demo_config)
    assert table.sessions(day) == (), why
    assert not table.is_workday(day)
    status = table.issue_status(at(day.year, day.month, day.day, 10, 0))
    assert not status.open and status.code == "closed_day"


def test_the_day_after_a_holiday_range_is_open(demo_config: HallConfig) -> None:
    assert spans(Timetable(demo_config), date(2026, 10, 8)) == ["08:40-11:50", "13:10-16:50"]


def test_makeup_workday_on_a_saturday_is_open(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    assert date(2026, 10, 10).weekday() == 5
    assert spans(table, date(2026, 10, 10)) == ["08:40-11:50", "13:10-16:50"]
    assert table.issue_status(at(2026, 10, 10, 9, 0)).open
    # The Saturday after it is an ordinary weekend day.
    assert spans(table, date(2026, 10, 17)) == []


def test_summer_timetable_applies_in_july(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    assert spans(table, date(2026, 7, 15)) == ["08:40-11:50", "13:40-17:20"]
    assert spans(table, date(2026, 6, 1)) == ["08:40-11:50", "13:40-17:20"]
    assert spans(table, date(2026, 9, 30)) == ["08:40-11:50", "13:40-17:20"]
    assert spans(table, date(2026, 5, 29)) == ["08:40-11:50", "13:10-16:50"]
    assert spans(table, date(2026, 10, 9)) == ["08:40-11:50", "13:10-16:50"]
    # 13:20 in July is between sessions; 17:00 is still open for tickets (cutoff 17:00).
    assert table.issue_status(at(2026, 7, 15, 13, 20)).code == "between_sessions"
    assert table.issue_status(at(2026, 7, 15, 16, 59)).open
    assert table.issue_status(at(2026, 7, 15, 17, 0)).code == "cutoff"


def test_makeup_workday_in_summer_keeps_the_summer_sessions(demo_config: HallConfig) -> None:
    # 2026-09-20 is a Sunday worked in exchange for the Mid-Autumn holiday.
    assert spans(Timetable(demo_config), date(2026, 9, 20)) == ["08:40-11:50", "13:40-17:20"]


def test_issue_cutoff_before_closing(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    assert table.issue_status(at(2026, 11, 23, 16, 29, 59)).open
    for minute in (30, 35, 49):
        status = table.issue_status(at(2026, 11, 23, 16, minute))
        assert not status.open
        assert status.code == "cutoff"
        assert status.session is not None and status.session.index == 1
        assert "16:50" in status.message
    assert table.issue_status(at(2026, 11, 23, 16, 50)).code == "after_closing"


def test_the_morning_session_has_its_own_cutoff(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    assert table.issue_status(at(2026, 11, 23, 11, 29)).open
    assert table.issue_status(at(2026, 11, 23, 11, 30)).code == "cutoff"


def test_between_sessions(demo_config: HallConfig) -> None:
    table = Timetable(demo_config)
    for hour, minute in ((11, 50), (12, 30), (13, 9)):
        status = table.issue_status(at(2026, 11, 23, hour, minute))
        assert (status.open, status.code) == (False, "between_sessions")
        assert status.next_opening is not None
        assert status.next_opening.timestamp() == at(2026, 11, 23, 13, 10)
    status = table.issue_status(at(2026, 11, 23, 13, 10))
    assert status.open and status.session is not None and status.session.index == 1


def test_before_opening(demo_config: HallConfig) -> None:
    status = Timetable(demo_config).issue_status(at(2026, 11, 23, 8, 39))
    assert (status.open, status.code) == (False, "before_opening")
    assert status.next_opening is not None
    assert status.next_opening.timestamp() == at(2026, 11, 23, 8, 40)
    opened = Timetable(demo_config).issue_status(at(2026, 11, 23, 8, 40))
    assert opened.open and opened.session is not None and opened.session.index == 0


def test_after_closing_the_next_opening_skips_the_weekend(demo_config: HallConfig) -> None:
    status = Timetable(demo_config).issue_status(at(2026, 11, 27, 17, 0))  # a Friday
    assert (status.open, status.code) == (False, "after_closing")
    assert status.next_opening is not None
    assert status.next_opening.timestamp() == at(2026, 11, 30, 8, 40)


def test_next_opening_skips_a_holiday_week(demo_config: HallConfig) -> None:
    nxt = Timetable(demo_config).next_opening(at(2026, 9, 30, 18, 0))
    assert nxt is not None and nxt.timestamp() == at(2026, 10, 8, 8, 40)


def test_a_weekday_timetable_closes_friday_afternoon() -> None:
    text = SMALL_HALL_TOML.replace(
        "issue_cutoff_minutes = 20",
        'issue_cutoff_minutes = 20\nweekdays = { fri = ["09:00-12:00"] }',
    )
    table = Timetable(parse_config(text, "friday.toml"))
    assert spans(table, date(2026, 11, 26)) == ["08:40-11:50", "13:10-16:50"]
    assert spans(table, date(2026, 11, 27)) == ["09:00-12:00"]
    assert table.issue_status(at(2026, 11, 27, 14, 0)).code == "after_closing"


def test_a_season_may_run_across_the_new_year() -> None:
    text = SMALL_HALL_TOML.replace(
        "issue_cutoff_minutes = 20",
        "issue_cutoff_minutes = 20\n\n[[hours.seasons]]\n"
        'name = "冬季作息"\nfrom = "11-15"\nto = "02-28"\nsessions = ["09:00-12:00", "13:30-17:00"]',
    )
    table = Timetable(parse_config(text, "winter.toml"))
    assert spans(table, date(2026, 11, 13)) == ["08:40-11:50", "13:10-16:50"]
    assert spans(table, date(2026, 11, 16)) == ["09:00-12:00", "13:30-17:00"]
    assert spans(table, date(2027, 1, 4)) == ["09:00-12:00", "13:30-17:00"]
    assert spans(table, date(2027, 3, 1)) == ["08:40-11:50", "13:10-16:50"]
