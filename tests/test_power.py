"""The power schedule (hallq/hall/power.py): when screens and LED boards are lit."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from hallq.errors import ConfigError
from hallq.hall.config import HallConfig, LedBus, Screen, parse_config
from hallq.hall.power import LOOKAHEAD_DAYS, PowerTarget, lit, next_change
from tests.conftest import SMALL_HALL_TOML, at

# 2026-11-23 is a Monday; the small hall opens 08:40-11:50 and 13:10-16:50, Monday to Friday.
HALL = Screen(id="hall")  # no on_hours, lead 30: 08:10 to 17:00


def hall(hours: str, zone: str = "Asia/Shanghai") -> HallConfig:
    """The small hall with another [hours] table (and time zone)."""
    head, rest = SMALL_HALL_TOML.split("[hours]\n", 1)
    rest = rest[rest.index("\n[[services]]") :]
    head = head.replace('timezone = "Asia/Shanghai"', f'timezone = "{zone}"')
    return parse_config(f"{head}[hours]\n{hours}\n{rest}")


def local(when: float, zone: str = "Asia/Shanghai") -> str:
    return datetime.fromtimestamp(when, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def test_a_weekday_from_the_lead_before_opening_to_ten_minutes_after_closing(
    small_config: HallConfig,
) -> None:
    cfg = small_config
    assert not lit(cfg, HALL, at(2026, 11, 23, 8, 9, 59))
    assert lit(cfg, HALL, at(2026, 11, 23, 8, 10))
    assert lit(cfg, HALL, at(2026, 11, 23, 12, 30))  # lunch: still lit (one span)
    assert lit(cfg, HALL, at(2026, 11, 23, 16, 59, 59))
    assert not lit(cfg, HALL, at(2026, 11, 23, 17, 0))
    assert not lit(cfg, HALL, at(2026, 11, 23, 23, 0))
    assert local(next_change(cfg, HALL, at(2026, 11, 23, 6, 0))) == "2026-11-23 08:10"
    assert local(next_change(cfg, HALL, at(2026, 11, 23, 9, 0))) == "2026-11-23 17:00"
    # At the switch itself the next one is the following switch, not the same instant.
    assert local(next_change(cfg, HALL, at(2026, 11, 23, 8, 10))) == "2026-11-23 17:00"


def test_lead_minutes_and_led_buses_follow_the_same_rule(small_config: HallConfig) -> None:
    no_lead = Screen(id="x", lead_minutes=0)
    assert not lit(small_config, no_lead, at(2026, 11, 23, 8, 39))
    assert lit(small_config, no_lead, at(2026, 11, 23, 8, 40))
    bus = LedBus(lead_minutes=60)
    assert lit(small_config, bus, at(2026, 11, 23, 7, 40))
    assert not lit(small_config, bus, at(2026, 11, 23, 7, 39))
    assert local(next_change(small_config, bus, at(2026, 11, 23, 12, 0))) == "2026-11-23 17:00"


def test_weekends_and_holidays_are_dark_all_day_make_up_days_are_lit() -> None:
    cfg = hall(
        'workdays = ["mon", "tue", "wed", "thu", "fri"]\n'
        'sessions = ["08:40-11:50", "13:10-16:50"]\n'
        'holidays = ["2026-11-25"]\n'
        'makeup_workdays = ["2026-11-29"]'
    )
    with_hours = Screen(id="x", on_hours=["00:00-23:59"])
    for day in (28, 25):  # Saturday; a holiday on a Wednesday
        for hour in (0, 8, 10, 12, 16, 23):
            assert not lit(cfg, HALL, at(2026, 11, day, hour, 30))
            assert not lit(cfg, with_hours, at(2026, 11, day, hour, 30))
    assert lit(cfg, HALL, at(2026, 11, 29, 10, 0))  # a Sunday worked in exchange (调休)
    # Wednesday's holiday: Tuesday evening's next switch is Thursday morning.
    assert local(next_change(cfg, HALL, at(2026, 11, 24, 18, 0))) == "2026-11-26 08:10"


def test_on_hours_replace_the_sessions_on_open_days(small_config: HallConfig) -> None:
    screen = Screen(id="x", on_hours=["08:00-12:00", "13:00-17:30"], lead_minutes=120)
    assert not lit(small_config, screen, at(2026, 11, 23, 7, 59))  # the lead does not apply
    assert lit(small_config, screen, at(2026, 11, 23, 8, 0))
    assert not lit(small_config, screen, at(2026, 11, 23, 12, 30))
    assert lit(small_config, screen, at(2026, 11, 23, 17, 29))
    assert not lit(small_config, screen, at(2026, 11, 23, 17, 30))
    assert local(next_change(small_config, screen, at(2026, 11, 23, 12, 0))) == "2026-11-23 13:00"
    assert not lit(small_config, screen, at(2026, 11, 28, 9, 0))  # Saturday: closed


def test_next_change_over_a_weekend(small_config: HallConfig) -> None:
    friday_evening = at(2026, 11, 27, 17, 0)
    assert not lit(small_config, HALL, friday_evening)
    assert local(next_change(small_config, HALL, friday_evening)) == "2026-11-30 08:10"
    saturday = at(2026, 11, 28, 12, 0)
    assert local(next_change(small_config, HALL, saturday)) == "2026-11-30 08:10"


def test_a_lead_or_closing_minutes_across_midnight() -> None:
    late = hall('workdays = ["mon", "tue", "wed", "thu", "fri"]\nsessions = ["22:00-23:55"]')
    assert lit(late, HALL, at(2026, 11, 24, 0, 4))  # Monday's session, 10 minutes after
    assert not lit(late, HALL, at(2026, 11, 24, 0, 5))
    assert local(next_change(late, HALL, at(2026, 11, 23, 23, 58))) == "2026-11-24 00:05"
    # Friday's night ends early on Saturday; the next is Monday's lead.
    assert local(next_change(late, HALL, at(2026, 11, 28, 0, 1))) == "2026-11-28 00:05"
    assert local(next_change(late, HALL, at(2026, 11, 28, 0, 6))) == "2026-11-30 21:30"

    early = hall('workdays = ["tue"]\nsessions = ["00:10-02:00"]')
    assert not lit(early, HALL, at(2026, 11, 23, 23, 39))  # Monday evening
    assert lit(early, HALL, at(2026, 11, 23, 23, 40))  # Tuesday's lead, begun on Monday
    assert local(next_change(early, HALL, at(2026, 11, 23, 12, 0))) == "2026-11-23 23:40"


def test_days_that_run_into_each_other_are_one_lit_span() -> None:
    cfg = hall('workdays = ["mon", "tue", "wed", "thu", "fri"]\nsessions = ["00:00-23:55"]')
    # Each day's lead starts before the previous day's closing minutes end: no switch all week.
    monday = at(2026, 11, 23, 12, 0)
    assert lit(cfg, HALL, at(2026, 11, 24, 0, 0))
    assert local(next_change(cfg, HALL, monday)) == "2026-11-28 00:05"


def test_a_target_never_lit_is_asked_about_again_after_the_look_ahead() -> None:
    cfg = hall('workdays = []\nsessions = ["08:40-11:50"]')
    now = at(2026, 11, 23, 9, 0)
    assert not lit(cfg, HALL, now)
    assert next_change(cfg, HALL, now) == now + LOOKAHEAD_DAYS * 86400


@pytest.fixture
def machine_zone_far_away() -> Iterator[None]:
    """The machine's own zone is Pacific/Kiritimati (UTC+14), far from the hall's."""
    mp = pytest.MonkeyPatch()
    mp.setenv("TZ", "Pacific/Kiritimati")
    time.tzset()
    try:
        yield
    finally:
        mp.undo()
        time.tzset()


@pytest.mark.usefixtures("machine_zone_far_away")
def test_the_halls_zone_counts_not_the_machines() -> None:
    urumqi = hall(
        'workdays = ["mon", "tue", "wed", "thu", "fri"]\nsessions = ["09:00-12:00"]',
        zone="Asia/Urumqi",  # UTC+6
    )

    def there(hour: int, minute: int) -> float:
        return datetime(2026, 11, 23, hour, minute, tzinfo=ZoneInfo("Asia/Urumqi")).timestamp()

    assert not lit(urumqi, HALL, there(8, 29))
    assert lit(urumqi, HALL, there(8, 30))
    assert lit(urumqi, HALL, there(12, 9))
    assert not lit(urumqi, HALL, there(12, 10))
    assert next_change(urumqi, HALL, there(10, 0)) == there(12, 10)


def test_next_change_is_the_first_switch() -> None:
    """Between an instant and its next_change nothing switches, and at next_change it does."""
    cfg = hall(
        'workdays = ["mon", "tue", "wed", "thu", "fri"]\n'
        'sessions = ["08:40-11:50", "13:10-16:50"]\n'
        'weekdays = { wed = ["00:05-11:50"], fri = ["13:10-23:58"] }\n'
        'holidays = ["2026-11-26"]'
    )
    targets: list[PowerTarget] = [
        HALL,
        Screen(id="x", on_hours=["07:00-09:00", "12:00-20:00"]),
        LedBus(),
    ]
    start = at(2026, 11, 22, 0, 0)
    step = 23 * 60.0
    for target in targets:
        t = start
        while t < start + 9 * 86400:
            state = lit(cfg, target, t)
            change = next_change(cfg, target, t)
            assert change > t
            assert lit(cfg, target, change) != state, (target, local(t), local(change))
            assert lit(cfg, target, change - 1) == state
            probe = t + 41 * 60.0
            while probe < change:
                assert lit(cfg, target, probe) == state, (target, local(t), local(probe))
                probe += 41 * 60.0
            t += step


def test_led_bus_hours_are_checked_like_a_screens() -> None:
    text = SMALL_HALL_TOML + (
        '\n[[led_buses]]\nname = "led"\non_hours = ["17:00-08:00"]\nlead_minutes = 300\n'
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "hall.toml")
    problems = "\n".join(info.value.problems)
    assert "led_buses[0].on_hours[0]" in problems and "ends before it starts" in problems
    assert "led_buses[0].lead_minutes: must be between 0 and 240 minutes" in problems
    good = parse_config(SMALL_HALL_TOML + '\n[[led_buses]]\non_hours = ["08:00-18:00"]\n')
    assert good.led_buses[0].on_hours == ["08:00-18:00"] and good.led_buses[0].lead_minutes == 30
