"""Staffing over the day (hallq/hall/staffing.py): learned from sign-ins and sign-outs, blended
day by day, replayed the same, and seen by the wait estimate (a window that usually goes to
lunch at noon is not counted on after noon)."""

from __future__ import annotations

from typing import Any

import pytest

from hallq.hall import commands as c
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.engine import Engine
from hallq.hall.events import Record
from hallq.hall.staffing import SLOT_SECONDS, SLOTS, open_slots, ratio_steps, slot_of
from hallq.hall.state import Staffing
from tests.conftest import at

HALL = """\
[hall]
id = "staffing-hall"
name = "轮岗午休大厅"
timezone = "Asia/Shanghai"

[hours]
workdays = ["mon", "tue", "wed", "thu", "fri"]
sessions = ["08:00-18:00"]
issue_cutoff_minutes = 0

[[services]]
code = "alpha"
name = "甲事项"
prefix = "A"
service_minutes = 10

[[windows]]
number = 1
label = "一号"
tiers = [["alpha"]]

[[windows]]
number = 2
label = "二号"
tiers = [["alpha"]]
"""
MONDAY, TUESDAY = (2026, 11, 23), (2026, 11, 24)
NOON_SLOT = 48  # 12:00-12:15


class Hall:
    def __init__(self, cfg: HallConfig) -> None:
        self.engine = Engine(cfg)
        self.records: list[Record] = []
        self.serial = 0

    def ok(self, now: float, kind: type[c.Command], **fields: Any) -> dict[str, Any]:
        self.serial += 1
        out = self.engine.execute(kind(request_id=f"r{self.serial}", **fields), now)
        assert out.error is None, f"{kind.__name__}: {out.error}"
        self.records.extend(out.records)
        assert out.reply is not None
        return out.reply

    def lunch_in_turns(self, day: tuple[int, int, int]) -> None:
        """Both windows staffed 08:30-17:30; window 2 goes to lunch 12:00-12:45."""
        self.ok(at(*day, 8, 30), c.SignIn, window=1, staff="s1")
        self.ok(at(*day, 8, 30), c.SignIn, window=2, staff="s2")
        self.ok(at(*day, 12, 0), c.SignOut, window=2)
        self.ok(at(*day, 12, 45), c.SignIn, window=2, staff="s2")
        self.ok(at(*day, 17, 30), c.SignOut, window=1)
        self.ok(at(*day, 17, 30), c.SignOut, window=2)


@pytest.fixture(scope="module")
def cfg() -> HallConfig:
    return parse_config(HALL, "staffing-hall.toml")


def learned_hall(cfg: HallConfig) -> Hall:
    hall = Hall(cfg)
    hall.lunch_in_turns(MONDAY)
    hall.ok(at(*TUESDAY, 0, 1), c.Tick)  # the next business day: Monday is learned
    return hall


def test_a_day_with_staff_in_is_learned_slot_by_slot(cfg: HallConfig) -> None:
    staffing = learned_hall(cfg).engine.state.staffing
    assert staffing.days == 1
    assert staffing.midnight == at(*TUESDAY, 0, 0)
    one, two = staffing.windows[1].usual, staffing.windows[2].usual
    assert len(one) == len(two) == SLOTS
    assert one[NOON_SLOT] == two[NOON_SLOT - 1] == 1.0  # staffed all that quarter
    assert two[NOON_SLOT : NOON_SLOT + 3] == [0.0, 0.0, 0.0]  # 12:00-12:45 at lunch
    assert two[NOON_SLOT + 3] == 1.0
    assert one[33] == 0.0 and one[34] == 1.0  # 08:15 not yet, 08:30 in
    assert one[70] == 0.0 and one[69] == 1.0  # 17:30 out


def test_a_half_staffed_slot_counts_half(cfg: HallConfig) -> None:
    hall = Hall(cfg)
    hall.ok(at(*MONDAY, 8, 30), c.SignIn, window=1, staff="s1")
    hall.ok(at(*MONDAY, 9, 7, 30), c.SignOut, window=1)
    hall.ok(at(*TUESDAY, 0, 1), c.Tick)
    assert hall.engine.state.staffing.windows[1].usual[36] == 0.5  # 09:00-09:15


def test_days_blend_and_empty_days_teach_nothing(cfg: HallConfig) -> None:
    hall = learned_hall(cfg)
    # Tuesday: window 2 is in all day, no lunch; Wednesday nobody comes (a closed day).
    hall.ok(at(*TUESDAY, 8, 30), c.SignIn, window=2, staff="s2")
    hall.ok(at(*TUESDAY, 17, 30), c.SignOut, window=2)
    hall.ok(at(2026, 11, 25, 0, 1), c.Tick)
    hall.ok(at(2026, 11, 26, 0, 1), c.Tick)
    staffing = hall.engine.state.staffing
    assert staffing.days == 2
    assert staffing.windows[2].usual[NOON_SLOT] == 0.5  # once at lunch, once not
    assert staffing.windows[1].usual[NOON_SLOT] == 0.5  # once in, once not there at all


def test_a_window_still_signed_in_at_the_day_change_is_counted(cfg: HallConfig) -> None:
    hall = Hall(cfg)
    hall.ok(at(*MONDAY, 16, 0), c.SignIn, window=1, staff="s1")
    hall.ok(at(*TUESDAY, 0, 1), c.Tick)  # never signed out: the day closes its span
    usual = hall.engine.state.staffing.windows[1].usual
    assert usual[64] == 1.0 and usual[SLOTS - 1] == 1.0


def test_replaying_the_log_learns_exactly_the_same(cfg: HallConfig) -> None:
    hall = learned_hall(cfg)
    hall.lunch_in_turns(TUESDAY)
    hall.ok(at(2026, 11, 25, 0, 1), c.Tick)
    replayed = Engine(cfg)
    for record in hall.records:
        replayed.apply_record(record)
    assert replayed.state.staffing == hall.engine.state.staffing
    assert replayed.state.staffing.days == 2


def test_steps_ahead_follow_the_usual_day_inside_the_sessions_only() -> None:
    usual = [1.0] * SLOTS
    usual[NOON_SLOT : NOON_SLOT + 3] = [0.0, 0.0, 0.0]
    from hallq.hall.state import WindowHours

    staffing = Staffing(days=3, midnight=at(*MONDAY, 0, 0), windows={2: WindowHours(usual=usual)})
    day = at(*MONDAY, 0, 0)
    everything = open_slots(day, [(day + 8 * 3600, day + 18 * 3600)])
    assert ratio_steps(staffing, 2, 46, everything) == ((48, -1.0), (51, 1.0))
    # With the hall itself closed 11:50-13:10, lunch is the timetable's business, not a step.
    sessions = [(day + 8 * 3600, day + 11 * 3600 + 50 * 60), (day + 13 * 3600 + 600, day + 64800)]
    assert ratio_steps(staffing, 2, 44, open_slots(day, sessions)) == ()
    assert ratio_steps(staffing, 1, 46, everything) == ()  # nothing learned about window 1
    assert slot_of(staffing, day + 46 * SLOT_SECONDS + 1) == 46


def test_the_estimate_knows_a_window_goes_to_lunch_at_noon(cfg: HallConfig) -> None:
    """Tuesday 11:30, both windows idle, 12 tickets taken: at 10 minutes a call, the 12th is
    called at the 12th call. Two windows make 2 calls at once and 6 more by 12:00 (8); then
    window 2 is usually at lunch until 12:45, so the other 4 take window 1 40 minutes: the
    12th waits 70 minutes, not the 50 a hall that did not know would say."""
    hall = learned_hall(cfg)
    morning = at(*TUESDAY, 8, 30)
    hall.ok(morning, c.SignIn, window=1, staff="s1")
    hall.ok(morning, c.SignIn, window=2, staff="s2")
    now = at(*TUESDAY, 11, 30)
    tickets = [hall.ok(now, c.IssueTicket, service="alpha")["ticket"] for _ in range(12)]
    assert tickets[-1]["estimate_minutes"] == pytest.approx(70.0, abs=0.1)
    assert tickets[7]["estimate_minutes"] == pytest.approx(30.0, abs=0.1)  # the 8th: by noon

    unaware = Engine(cfg, hall.engine.state)
    unaware.state.staffing = Staffing()
    assert unaware.outlook("alpha", now).wait_minutes(11) == pytest.approx(50.0, abs=0.1)


def test_a_window_gone_for_the_rest_of_the_day_is_counted_on_to_serve_the_queue() -> None:
    """Staff who sign out at the end of their shift serve those already waiting first (the
    simulated hall's overtime, a real hall's closing): only absences they come back from
    count, or a ticket issued just before would be told hours."""
    from hallq.hall.state import WindowHours

    usual = [1.0] * 92 + [0.0] * 4  # staffed until 23:00, the session runs to 23:59
    staffing = Staffing(days=3, midnight=at(*MONDAY, 0, 0), windows={1: WindowHours(usual=usual)})
    day = at(*MONDAY, 0, 0)
    allday = open_slots(day, [(day, day + 86_340)])
    assert ratio_steps(staffing, 1, 90, allday) == ()
    lunch = list(usual)
    lunch[NOON_SLOT : NOON_SLOT + 3] = [0.0, 0.0, 0.0]
    staffing.windows[2] = WindowHours(usual=lunch)
    assert ratio_steps(staffing, 2, 46, allday) == ((48, -1.0), (51, 1.0))
