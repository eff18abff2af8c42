"""Wait estimates (hallq/hall/estimate.py, hallq/hall/pace.py): what they take into account,
and on seeded simulated days, how accurate they are and how well the P90 is calibrated.

Unit tests compare estimates of two halls that differ in one thing the estimate should see.
The statistical checks use seeded days and tolerances of four standard errors measured from
the days themselves (independent days), as tests/test_simulate.py does.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from hallq.controller.views import hall_view, ticket_view
from hallq.hall import commands as c
from hallq.hall import events as e
from hallq.hall.config import HallConfig, load_config, parse_config
from hallq.hall.engine import Engine
from hallq.hall.estimate import Estimator, minutes_per_call
from hallq.hall.state import HallState, ServicePace, Ticket, WindowState
from hallq.simulate import parse_scenario, simulate_day
from hallq.simulate.accuracy import accuracy_over_days
from hallq.simulate.report import SimulateOptions, load
from tests.conftest import SMALL_HALL_TOML, at

SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios"
MONDAY = (2026, 11, 23)


class Hall:
    """An engine with a clock and fresh request ids (the small hall of tests/conftest.py:
    alpha 10 min at window 1; window 3 takes gamma first, then alpha and beta)."""

    def __init__(self, config: HallConfig, hour: int = 9, minute: int = 0) -> None:
        self.engine = Engine(config)
        self.now = at(*MONDAY, hour, minute)
        self.serial = 0
        self.records: list[e.Record] = []

    def ok(self, kind: type[c.Command], **fields: Any) -> dict[str, Any]:
        self.serial += 1
        out = self.engine.execute(kind(request_id=f"r{self.serial}", **fields), self.now)
        self.records.extend(out.records)
        assert out.error is None, f"{kind.__name__}: {out.error}"
        assert out.reply is not None
        return out.reply

    def issue(self, service: str = "alpha", **fields: Any) -> dict[str, Any]:
        ticket: dict[str, Any] = self.ok(c.IssueTicket, service=service, **fields)["ticket"]
        return ticket

    def estimate(self, service: str = "alpha", **fields: Any) -> float:
        minutes = self.issue(service, **fields)["estimate_minutes"]
        assert minutes is not None
        return float(minutes)

    def later(self, minutes: float) -> None:
        self.now += minutes * 60

    def serve(self, window: int, minutes: float) -> None:
        """The window calls its next ticket and serves it for this long."""
        assert self.ok(c.CallNext, window=window).get("called") is not None
        self.ok(c.StartService, window=window)
        self.later(minutes)
        self.ok(c.FinishService, window=window)


@pytest.fixture(scope="module")
def small() -> HallConfig:
    return parse_config(SMALL_HALL_TOML, "small-hall.toml")


def busy_alpha(small: HallConfig, hour: int, minute: int = 0, queue: int = 0) -> Hall:
    """Window 1 busy with an alpha ticket, `queue` more alpha tickets waiting."""
    hall = Hall(small, hour, minute)
    hall.ok(c.SignIn, window=1, staff="s1")
    hall.issue()
    hall.ok(c.CallNext, window=1)
    for _ in range(queue):
        hall.issue()
    return hall


# ================================================================== what the estimate sees


def test_a_wait_that_runs_past_the_session_end_includes_the_break(small: HallConfig) -> None:
    # Seven calls of 10 minutes at one window: 70 minutes of open time. At 09:00 that is the
    # wait; at 11:00 the session ends at 11:50 and the next one starts at 13:10 (80 minutes).
    # Five calls fit before 11:50 and the window calls again when it opens at 13:10, so the
    # call is about 10 minutes into the afternoon, or before lunch if the calls go quickly:
    # the mean counts the break as far as the call may fall after it.
    morning = busy_alpha(small, 9, 0, queue=6).estimate()
    late = busy_alpha(small, 11, 0, queue=6).estimate()
    assert morning == pytest.approx(70, abs=1)
    assert morning + 30 < late < 50 + 80 + 20
    # Well inside the session the break does not count.
    assert busy_alpha(small, 9, 0, queue=1).estimate() == pytest.approx(20, abs=1)


def test_the_p90_is_on_the_ticket_its_event_and_the_views(small: HallConfig) -> None:
    hall = busy_alpha(small, 9, 0, queue=3)
    ticket = hall.issue()
    assert ticket["estimate_p90_minutes"] > ticket["estimate_minutes"] > 0
    issued = [r.event for r in hall.records if isinstance(r.event, e.TicketIssued)]
    assert issued[-1].estimate_p90_minutes == ticket["estimate_p90_minutes"]
    t = hall.engine.find_ticket(ticket["number"])
    assert t.estimate_p90_minutes == ticket["estimate_p90_minutes"]
    view = hall_view(hall.engine, hall.now)
    alpha = next(s for s in view["services"] if s["code"] == "alpha")
    assert alpha["estimate_p90_minutes"] >= alpha["estimate_minutes"] > 0
    mine = next(x for x in view["tickets"] if x["number"] == ticket["number"])
    assert mine["estimate_p90_minutes"] >= mine["estimate_minutes"] > 0
    assert mine["estimate_p90_at_issue_minutes"] == ticket["estimate_p90_minutes"]
    assert ticket_view(t)["estimate_p90_at_issue_minutes"] == ticket["estimate_p90_minutes"]
    # A ticket an idle window calls at once waits 0, surely.
    fresh = Hall(small)
    fresh.ok(c.SignIn, window=1, staff="s1")
    first = fresh.issue()
    assert first["estimate_minutes"] == first["estimate_p90_minutes"] == 0


def test_the_p90_learns_from_its_unrounded_margin_and_over_days(small: HallConfig) -> None:
    """The event keeps the P90's margin before calibration, unrounded, so that a ticket whose
    P90 is within a tenth of a minute of its estimate still teaches the scale; from the second
    day on, the scale follows about P90_MEMORY_DAYS days' worth of tickets."""
    from hallq.hall import pace

    hall = busy_alpha(small, 9, 0, queue=3)
    ticket = hall.issue()
    issued = [r.event for r in hall.records if isinstance(r.event, e.TicketIssued)][-1]
    scale = hall.engine.state.hall_pace.p90_scale
    margin = issued.estimate_margin_minutes
    assert margin is not None and margin > 0
    printed = ticket["estimate_p90_minutes"] - ticket["estimate_minutes"]
    assert margin * scale == pytest.approx(printed, abs=0.11)  # the printed two are rounded
    assert hall.engine.find_ticket(ticket["number"]).estimate_margin_minutes == margin
    # An old log without the margin: derived from the rounded estimate and P90 as before.
    state = hall.engine.state
    assert pace.p90_margin(state, 10.0, 10.05) is None  # too close to tell from rounded figures
    assert pace.model_margin(state, 10.0, 10.05) == pytest.approx(0.05 / scale)

    h = state.hall_pace
    assert h.p90_today == 0 and h.p90_per_day == 0.0
    hall.later(30)
    hall.ok(c.CallNext, window=1)  # a first call checks a P90
    checks = h.p90_checks
    assert checks >= 1 and h.p90_today == checks
    hall.now = at(2026, 11, 24, 0, 1)
    hall.ok(c.Tick)
    assert h.p90_today == 0 and h.p90_per_day == checks


def test_priority_tickets_that_will_arrive_go_ahead_of_normal_ones(small: HallConfig) -> None:
    hall = busy_alpha(small, 9, 0)
    for i in range(12):  # a quarter of the tickets lately were in the green channel
        hall.issue(category="green" if i % 4 == 3 else None)
        hall.later(5)
    view = hall.engine.outlook("alpha", hall.now)
    normal, green = view.forecast(5, "normal"), view.forecast(5, "priority")
    assert normal.minutes is not None and green.minutes is not None
    assert normal.minutes > green.minutes * 1.2
    # Nobody arrives who would go ahead of a green ticket: its wait is the calls before it.
    per_call = minutes_per_call(small, hall.engine.state, "alpha")
    assert 5 * per_call < green.minutes <= 6 * per_call


def test_a_composite_window_gives_what_its_first_tier_leaves_over(small: HallConfig) -> None:
    def alpha_estimate(gamma_waiting: int) -> float:
        hall = busy_alpha(small, 9, 0, queue=4)
        hall.ok(c.SignIn, window=3, staff="s3")  # composite: gamma first, then alpha, beta
        hall.issue("gamma")
        hall.ok(c.CallNext, window=3)  # busy with gamma
        for _ in range(gamma_waiting):
            hall.issue("gamma")
        return hall.estimate()

    alone = busy_alpha(small, 9, 0, queue=4).estimate()  # window 1 only: 50 minutes
    helped = alpha_estimate(0)
    behind_gamma = alpha_estimate(3)  # gamma keeps coming: window 3 has no time for alpha
    assert helped < 0.8 * alone
    assert helped < behind_gamma <= alone


def test_no_shows_ahead_cost_only_their_recalls(small: HallConfig) -> None:
    def hall_after(no_shows: int) -> Hall:
        hall = Hall(small)
        hall.ok(c.SignIn, window=1, staff="s1")
        for i in range(8):
            hall.issue()
            if i < no_shows:  # called, nobody comes: a recall after a minute, then 过号
                hall.ok(c.CallNext, window=1)
                hall.later(1)
                hall.ok(c.Recall, window=1)
                hall.later(1)
                hall.ok(c.MarkNoShow, window=1)
            else:
                hall.serve(1, 10)
        return hall

    served, missed = hall_after(0), hall_after(4)
    per_served = minutes_per_call(small, served.engine.state, "alpha")
    per_missed = minutes_per_call(small, missed.engine.state, "alpha")
    assert per_served == pytest.approx(10, abs=0.01)
    assert per_missed < 0.75 * per_served  # half the calls took 2 minutes, not 10
    for hall in (served, missed):
        hall.issue()
        hall.ok(c.CallNext, window=1)
        for _ in range(4):
            hall.issue()
    assert missed.estimate() < 0.75 * served.estimate()


def test_an_away_window_is_counted_on_after_an_away_episode(small: HallConfig) -> None:
    def with_window_3(status: str) -> float:
        hall = busy_alpha(small, 9, 0, queue=6)
        if status != "closed":
            hall.ok(c.SignIn, window=3, staff="s3")
            hall.issue("gamma")
            hall.ok(c.CallNext, window=3)
            hall.ok(c.StartService, window=3)
            hall.later(0.5)
            hall.ok(c.FinishService, window=3)
        if status == "away":
            hall.ok(c.AwayWindow, window=3, reason="请稍候")
        return hall.estimate()

    idle, away, closed = with_window_3("idle"), with_window_3("away"), with_window_3("closed")
    assert idle < away < closed


def test_a_window_on_a_break_in_the_session_is_expected_back(small: HallConfig) -> None:
    def hall_with(window_3: str) -> Hall:
        hall = busy_alpha(small, 9, 0)
        if window_3 == "on a break":
            hall.ok(c.SignIn, window=3, staff="s3")
            hall.issue()
            hall.serve(3, 5)
            hall.ok(c.SignOut, window=3)  # lunch in turns (轮岗午休): back later
        for _ in range(8):
            hall.issue()
        return hall

    never, on_break = hall_with("never opened"), hall_with("on a break")
    assert on_break.estimate() < never.estimate()
    # When it comes back, the engine notes how long the break was, and the hall learns it.
    on_break.later(40)
    reply = on_break.ok(c.SignIn, window=3, staff="s3")
    signed = next(ev for ev in reply["events"] if ev["type"] == "staff_signed_in")
    assert signed["break_seconds"] == pytest.approx(40 * 60, abs=1)
    assert on_break.engine.state.hall_pace.breaks == 1


def test_a_checked_in_appointment_is_called_soon_after_its_slot(small: HallConfig) -> None:
    hall = busy_alpha(small, 9, 0, queue=6)  # 70 minutes of walk-ins ahead
    slot = at(*MONDAY, 9, 20)
    hall.ok(
        c.BookAppointment, code="APPT0001", service="alpha", slot_start=slot, slot_end=slot + 1800
    )
    early = hall.issue(appointment="APPT0001")  # checked in 20 minutes early
    assert 20 <= early["estimate_minutes"] < 40  # the slot, then the next call
    assert hall.estimate() > 70  # a walk-in now waits behind it too


def test_on_an_m_m_s_hall_it_is_the_queue_length_estimator() -> None:
    cfg = load_config(SCENARIOS / "mms-hall.toml")
    state = HallState(day="2026-11-23")
    # Learned from many calls: 5 minutes, exponential (cv² = 1: time in hand tells nothing).
    state.pace["single"] = ServicePace(
        calls=1000, window_seconds=300.0, window_seconds_sq=2 * 300.0**2
    )
    now = at(*MONDAY, 12, 0)
    for n in range(1, 11):  # every window busy, for 1 to 10 minutes so far
        state.tickets[n] = Ticket(
            id=n, day="2026-11-23", service="single", number=n, display=f"A{n:04d}",
            status="serving", issued_at=now - 3600, order=float(n), window=n,
        )  # fmt: skip
        state.windows[n] = WindowState(
            number=n, status="serving", ticket=n, busy_since=now - 60 * n
        )
    view = Estimator(cfg).outlook(state, {"single": {}}, "single", now)
    for ahead in (0, 3, 12, 40):
        minutes, p90 = view.forecast(ahead)
        # (within the pull of the prior cv² of 0.5, which still counts as three calls)
        assert minutes == pytest.approx((ahead + 1) * 5 / 10, rel=0.005)
        assert minutes is not None and p90 is not None and p90 > minutes


def test_a_replay_learns_the_pace_the_hall_learned(small: HallConfig) -> None:
    hall = busy_alpha(small, 9, 0, queue=3)
    hall.later(3)
    hall.ok(c.FinishService, window=1)
    hall.serve(1, 8)
    hall.ok(c.SignIn, window=3, staff="s3")
    hall.ok(c.AwayWindow, window=3, reason="请稍候")
    hall.later(4)
    hall.ok(c.ResumeWindow, window=3)
    hall.issue(category="green")
    hall.later(2)
    hall.ok(c.CancelTicket, ticket="A004")
    state = hall.engine.state
    assert state.pace["alpha"].calls == 2 and state.hall_pace.away_episodes == 1
    assert state.hall_pace.gave_up == 1 and state.hall_pace.priority_share > 0
    replayed = Engine(small)
    for record in hall.records:
        replayed.apply_record(record)
    assert replayed.state.pace == state.pace
    assert replayed.state.hall_pace == state.hall_pace
    assert replayed.state.windows == state.windows


# ================================================================== on simulated days


def _days(name: str, seeds: range) -> dict[str, Any]:
    cfg, scenario = load(SimulateOptions(scenario=SCENARIOS / f"{name}.toml"))
    return accuracy_over_days([simulate_day(cfg, scenario, s).measured for s in seeds])


def test_district_day_estimates_beat_the_baselines_and_the_p90_is_calibrated() -> None:
    acc = _days("district-two-peaks", range(201, 213))
    hallq, best = acc["hallq"], min(acc["ql"]["rrmse"], acc["les"]["rrmse"])
    assert hallq["rrmse"] + 4 * hallq["rrmse_se"] < best, (hallq, best)
    assert hallq["rrmse"] < 0.8 * best
    p90 = acc["p90"]
    assert abs(p90["exceeded"] - 0.1) < max(0.02, 4 * p90["exceeded_se"]), p90


def test_composite_hall_estimates_beat_the_baselines() -> None:
    acc = _days("county-composite", range(201, 211))
    best = min(acc["ql"]["rrmse"], acc["les"]["rrmse"])
    assert acc["hallq"]["rrmse"] < 0.8 * best, acc
    assert abs(acc["p90"]["exceeded"] - 0.1) < 0.03, acc["p90"]


MMS = """
name = "M/M/4 at 0.8"
date = "2026-11-23"
warm_up_minutes = 60
[arrivals]
profile = [{ from = "00:00", to = "16:00", per_hour = 38.4 }]
[services.single]
share = 1
minutes = { distribution = "exponential", mean = 5 }
[citizens]
walk_up_seconds = { distribution = "deterministic", mean = 0 }
evaluation_share = 0
[staffing]
shifts = ["00:00-16:00"]
overtime_minutes = 120
[[staffing.windows]]
windows = [5, 6, 7, 8, 9, 10]
shifts = []
"""


def test_mms_rrmse_of_delayed_tickets_is_the_theory() -> None:
    """M/M/4 at ρ = 0.8: over the tickets that wait, (n + 1)/(sμ) has RRMSE √(1 − ρ)."""
    cfg = load_config(SCENARIOS / "mms-hall.toml")
    scenario = parse_scenario(MMS)
    days = [simulate_day(cfg, scenario, seed).measured for seed in range(1, 41)]
    acc = accuracy_over_days(days)
    hallq = acc["hallq"]
    theory = math.sqrt(1 - 0.8)
    assert hallq["rrmse_delayed_se"] < 0.05 * theory, "too few days to test anything"
    assert abs(hallq["rrmse_delayed"] - theory) < 4 * hallq["rrmse_delayed_se"], (hallq, theory)
    # Against the same estimator told the true μ, on the same tickets: the learned μ costs
    # little.
    squared = waits = 0.0
    count = 0
    for day in days:
        for r in day:
            if r.wait_minutes is not None and r.ahead >= r.windows_idle:
                squared += ((r.ahead + 1) * 5 / 4 - r.wait_minutes) ** 2
                waits += r.wait_minutes
                count += 1
    exact = math.sqrt(squared / count) / (waits / count)
    assert hallq["rrmse_delayed"] < 1.05 * exact, (hallq["rrmse_delayed"], exact)
    assert abs(acc["p90"]["exceeded_delayed"] - 0.1) < 0.02, acc["p90"]
