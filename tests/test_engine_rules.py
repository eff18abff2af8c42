"""Every rule of the queue engine, one behaviour per test.

Most tests use the small hall of conftest.py (windows 1: alpha, 2: beta, 3: composite
[gamma] then [alpha, beta], 4: [beta, gamma]); sign-in and AB岗 use the demo hall's staff.
The clock starts on Monday 2026-11-23 at 09:00 in Shanghai.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import msgspec
import pytest

from hallq.errors import NotFound
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, config_toml, parse_config
from hallq.hall.engine import PRIOR_SAMPLES, RATE_WEIGHT, Engine, Outcome
from hallq.hall.estimate import minutes_per_call
from hallq.hall.events import AnyEvent, DayStarted, Record, TicketIssued, event_type
from hallq.hall.state import HallState, Ticket, WindowState, snapshot_decoder, snapshot_encoder
from tests.conftest import SMALL_HALL_TOML, at, rejected, run

MONDAY_9 = at(2026, 11, 23, 9, 0)


class Hall:
    """An engine with a clock, fresh request ids and the log of every record it emitted."""

    def __init__(self, config: HallConfig, now: float = MONDAY_9) -> None:
        self.engine = Engine(config)
        self.now = now
        self.records: list[Record] = []
        self._serial = 0

    def rid(self) -> str:
        self._serial += 1
        return f"req-{self._serial}"

    def execute(self, cmd: c.Command) -> Outcome:
        out = self.engine.execute(cmd, self.now)
        self.records.extend(out.records)
        return out

    def ok(self, kind: type[c.Command], **fields: Any) -> dict[str, Any]:
        out = self.execute(kind(request_id=self.rid(), **fields))
        assert out.error is None, f"{kind.__name__} rejected: {out.error}"
        assert out.reply is not None
        return out.reply

    def refuse(self, kind: type[c.Command], **fields: Any) -> str:
        out = self.execute(kind(request_id=self.rid(), **fields))
        assert out.error is not None, f"{kind.__name__} was accepted: {out.reply}"
        return out.error.code

    def refuse_cmd(self, cmd: c.Command) -> str:
        out = self.execute(cmd)
        assert out.error is not None, f"{cmd} was accepted: {out.reply}"
        return out.error.code

    def issue(self, service: str, **fields: Any) -> str:
        number: str = self.ok(c.IssueTicket, service=service, **fields)["ticket"]["number"]
        return number

    def call(self, window: int) -> str | None:
        called = self.ok(c.CallNext, window=window).get("called")
        return None if called is None else str(called["number"])

    def calls(self, window: int, count: int) -> list[str | None]:
        return [self.call(window) for _ in range(count)]

    def sign_in(self, *windows: int) -> None:
        for w in windows:
            self.ok(c.SignIn, window=w, staff=f"s{w}")

    def ticket(self, ref: str) -> Ticket:
        return self.engine.find_ticket(ref)

    def window(self, number: int) -> WindowState:
        return self.engine.window_state(number)

    def later(self, minutes: float) -> None:
        self.now += minutes * 60


def types(reply: dict[str, Any]) -> list[str]:
    return [ev["type"] for ev in reply["events"]]


def variant(*edits: tuple[str, str]) -> HallConfig:
    text = SMALL_HALL_TOML
    for old, new in edits:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return parse_config(text, "variant.toml")


@pytest.fixture
def hall(small_config: HallConfig) -> Hall:
    return Hall(small_config)


@pytest.fixture
def demo(demo_config: HallConfig) -> Hall:
    return Hall(demo_config)


# ================================================================== issuing


def test_a_fresh_engine_issues_and_refuses(make_engine: Any, small_config: HallConfig) -> None:
    engine = make_engine(small_config)
    reply = run(engine, c.IssueTicket(request_id="k1", service="alpha"), MONDAY_9)
    assert reply["ok"] is True and reply["ticket"]["number"] == "A001"
    assert rejected(engine, c.CallNext(request_id="w1", window=1), MONDAY_9) == "window_closed"


def test_numbers_count_per_service_and_day(hall: Hall) -> None:
    issued = [hall.issue(s) for s in ("alpha", "alpha", "beta", "alpha", "gamma", "beta")]
    assert issued == ["A001", "A002", "B001", "A003", "C01", "B002"]
    tickets = hall.engine.state.tickets.values()
    assert len({t.display for t in tickets}) == len(issued)
    assert [t.id for t in tickets] == sorted(t.id for t in tickets)


def test_issue_reply_says_what_the_citizen_needs(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    reply = hall.ok(c.IssueTicket, service="alpha", kiosk="k1")
    ticket = reply["ticket"]
    assert ticket["number"] == "A002" and ticket["service"] == "alpha"
    assert ticket["ahead"] == 1
    assert ticket["issued_at"] == hall.now
    assert types(reply) == ["ticket_issued"]
    assert hall.ticket("A002").kiosk == "k1" and hall.ticket("A002").status == "waiting"


def test_daily_and_session_quotas(hall: Hall) -> None:
    # beta: 25 a session, 40 a day; the green channel bypasses quotas, vip does not.
    for _ in range(25):
        hall.issue("beta")
    assert hall.refuse(c.IssueTicket, service="beta") == "session_quota_reached"
    assert hall.refuse(c.IssueTicket, service="beta", category="vip") == "session_quota_reached"
    assert hall.issue("beta", category="green") == "B026"
    assert hall.issue("alpha") == "A001", "another service's quota is untouched"
    hall.now = at(2026, 11, 23, 13, 30)
    for _ in range(15):  # 25 count against the quota: the green ticket is outside it
        hall.issue("beta")
    assert hall.refuse(c.IssueTicket, service="beta") == "quota_reached"
    assert hall.issue("beta", category="green") == "B042"
    assert sum(hall.engine.state.issued_by_session["beta"]) == 42
    assert sum(hall.engine.state.quota_used["beta"]) == 40


def test_quota_counts_restart_the_next_day(hall: Hall) -> None:
    for _ in range(25):
        hall.issue("beta")
    assert hall.refuse(c.IssueTicket, service="beta") == "session_quota_reached"
    hall.now = at(2026, 11, 24, 9, 0)
    assert hall.issue("beta") == "B001"


def test_green_channel_respects_quota_when_configured_not_to_bypass() -> None:
    cfg = variant(("bypass_quota = true", "bypass_quota = false"))
    h = Hall(cfg)
    for _ in range(25):
        h.issue("beta")
    assert h.refuse(c.IssueTicket, service="beta", category="green") == "session_quota_reached"


def test_numbers_run_out_at_the_number_width(hall: Hall) -> None:
    numbers = [hall.issue("gamma") for _ in range(99)]
    assert numbers[0] == "C01" and numbers[-1] == "C99"
    assert hall.refuse(c.IssueTicket, service="gamma") == "numbers_exhausted"


@pytest.mark.parametrize(
    ("when", "code"),
    [
        (at(2026, 11, 23, 8, 0), "before_opening"),
        (at(2026, 11, 23, 12, 0), "between_sessions"),
        (at(2026, 11, 23, 11, 35), "cutoff"),
        (at(2026, 11, 23, 16, 35), "cutoff"),
        (at(2026, 11, 23, 17, 0), "after_closing"),
        (at(2026, 11, 28, 10, 0), "closed_day"),
    ],
)
def test_no_tickets_outside_hours(small_config: HallConfig, when: float, code: str) -> None:
    h = Hall(small_config, when)
    assert h.refuse(c.IssueTicket, service="alpha") == code
    assert h.engine.state.tickets == {}


def test_unknown_and_disabled_services_and_categories() -> None:
    cfg = variant(("service_minutes = 15", "service_minutes = 15\nenabled = false"))
    h = Hall(cfg)
    assert h.refuse(c.IssueTicket, service="gamma") == "service_disabled"
    assert h.refuse(c.IssueTicket, service="delta") == "service_not_found"
    assert h.refuse(c.IssueTicket, service="alpha", category="vvip") == "category_not_found"
    assert h.issue("alpha") == "A001"


# ================================================================== call-next


def test_composite_window_takes_its_first_tier_first(hall: Hall) -> None:
    hall.sign_in(3)
    hall.issue("alpha")
    hall.issue("beta")
    hall.later(1)
    hall.issue("gamma")  # the newest ticket, but in window 3's first tier
    assert hall.call(3) == "C01"
    hall.ok(c.FinishService, window=3)
    assert hall.call(3) == "A001", "tier 2 only when tier 1 is empty; within it, issue order"
    assert hall.call(3) == "B001"
    reply = hall.ok(c.CallNext, window=3)
    assert "called" not in reply and hall.window(3).status == "idle"


def test_a_new_first_tier_ticket_jumps_the_second_tier(hall: Hall) -> None:
    hall.sign_in(3)
    for _ in range(3):
        hall.issue("alpha")
    assert hall.call(3) == "A001"
    hall.issue("gamma")
    assert hall.call(3) == "C01"
    assert hall.call(3) == "A002"


def test_a_window_calls_only_its_own_services(hall: Hall) -> None:
    hall.sign_in(1, 2)
    hall.issue("beta")
    hall.issue("gamma")
    assert hall.call(1) is None
    assert hall.call(2) == "B001"


def test_priority_classes_come_first_by_rank(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.issue("alpha", category="vip")
    hall.issue("alpha", category="green")
    assert hall.calls(1, 3) == ["A003", "A002", "A001"]


def test_anti_starvation_after_max_priority_in_a_row(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")  # A001, normal
    for _ in range(5):
        hall.issue("alpha", category="green")  # A002..A006
    hall.issue("alpha")  # A007, normal
    assert hall.calls(1, 7) == ["A002", "A003", "A004", "A001", "A005", "A006", "A007"]


def test_anti_starvation_streak_is_per_window(hall: Hall) -> None:
    hall.sign_in(2, 4)
    hall.issue("beta")  # B001
    for _ in range(4):
        hall.issue("beta", category="green")  # B002..B005
    assert hall.calls(2, 2) == ["B002", "B003"]
    assert hall.call(4) == "B004"  # window 4's own first priority call
    assert hall.window(2).priority_streak == 2 and hall.window(4).priority_streak == 1
    assert hall.call(2) == "B005"
    assert hall.call(2) == "B001"


def test_priority_calls_continue_when_no_normal_ticket_waits(hall: Hall) -> None:
    hall.sign_in(1)
    for _ in range(5):
        hall.issue("alpha", category="green")
    assert hall.calls(1, 5) == ["A001", "A002", "A003", "A004", "A005"]
    hall.issue("alpha", category="green")
    hall.issue("alpha")
    assert hall.call(1) == "A007", "a waiting normal ticket goes first after the streak"


def test_fifo_by_issue_time_across_the_services_of_a_tier(hall: Hall) -> None:
    hall.sign_in(3)
    order = [hall.issue(s) for s in ("beta", "alpha", "alpha", "beta", "alpha")]
    assert hall.calls(3, 5) == order


def book(h: Hall, code: str, service: str, start: float, minutes: int = 30) -> dict[str, Any]:
    return h.ok(
        c.BookAppointment,
        code=code,
        service=service,
        slot_start=start,
        slot_end=start + minutes * 60,
    )


def test_appointment_check_in_tolerance_and_due_slot_goes_first(hall: Hall) -> None:
    hall.sign_in(1)
    ten = at(2026, 11, 23, 10, 0)
    book(hall, "APPT01", "alpha", ten)
    hall.issue("alpha")  # A001 at 09:00
    hall.now = at(2026, 11, 23, 9, 29)
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="APPT01") == (
        "appointment_too_early"
    )
    hall.now = at(2026, 11, 23, 9, 30)
    assert hall.issue("alpha", appointment="APPT01") == "A002"
    assert hall.ticket("A002").slot_start == ten
    assert hall.engine.state.appointments["APPT01"].ticket == hall.ticket("A002").id
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="APPT01") == "appointment_used"
    hall.issue("alpha")  # A003, a walk-in
    hall.now = at(2026, 11, 23, 9, 50)
    assert hall.call(1) == "A001", "the slot has not begun: the appointment waits its turn"
    hall.issue("alpha")  # A004
    hall.now = ten
    assert hall.call(1) == "A002", "a due appointment is called before walk-ins"
    assert hall.calls(1, 2) == ["A003", "A004"]


def test_due_appointment_still_yields_to_the_green_channel(hall: Hall) -> None:
    hall.sign_in(1)
    book(hall, "APPT02", "alpha", at(2026, 11, 23, 9, 10))
    hall.issue("alpha", appointment="APPT02")
    hall.issue("alpha", category="green")
    hall.now = at(2026, 11, 23, 9, 10)
    assert hall.calls(1, 2) == ["A002", "A001"]


def test_late_appointment_becomes_a_walk_in(hall: Hall) -> None:
    hall.sign_in(1)
    book(hall, "APPT03", "alpha", at(2026, 11, 23, 9, 0))
    hall.issue("alpha")
    hall.now = at(2026, 11, 23, 9, 16)  # late_minutes = 15
    assert hall.issue("alpha", appointment="APPT03") == "A002"
    assert hall.ticket("A002").slot_start is None
    assert hall.calls(1, 2) == ["A001", "A002"]


def test_late_appointment_refused_when_configured() -> None:
    h = Hall(variant(("late_minutes = 15", 'late_minutes = 15\nlate_arrival = "refuse"')))
    book(h, "APPT04", "alpha", at(2026, 11, 23, 9, 0))
    h.now = at(2026, 11, 23, 9, 16)
    assert h.refuse(c.IssueTicket, service="alpha", appointment="APPT04") == (
        "appointment_too_late"
    )


def test_appointment_refusals(hall: Hall) -> None:
    book(hall, "TOMORROW1", "alpha", at(2026, 11, 24, 10, 0))
    book(hall, "BETA0001", "beta", at(2026, 11, 23, 9, 15))
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="NOPE1") == (
        "appointment_not_found"
    )
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="TOMORROW1") == (
        "appointment_not_found"
    )
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="BETA0001") == (
        "appointment_service"
    )
    slot = at(2026, 11, 23, 12, 0)
    assert (
        hall.refuse(
            c.BookAppointment, code="NOON1", service="alpha", slot_start=slot, slot_end=slot + 600
        )
        == "slot_outside_hours"
    )
    assert (
        hall.refuse(
            c.BookAppointment, code="BETA0001", service="beta", slot_start=slot, slot_end=slot + 600
        )
        == "appointment_exists"
    )
    hall.ok(c.CancelAppointment, code="beta0001")
    assert "BETA0001" not in hall.engine.state.appointments


@pytest.mark.parametrize("slot", [1e20, -1e20, 1e300, 2.0**63, float("nan"), float("inf")])
def test_impossible_appointment_times_are_refused(hall: Hall, slot: float) -> None:
    code = hall.refuse(
        c.BookAppointment, code="WILD0001", service="alpha", slot_start=slot, slot_end=abs(slot) * 2
    )
    assert code in ("bad_slot", "slot_in_past")
    assert hall.engine.state.appointments == {}


def test_tomorrows_appointment_survives_the_day_change(hall: Hall) -> None:
    hall.sign_in(1)
    book(hall, "NEXTDAY1", "alpha", at(2026, 11, 24, 9, 0))
    hall.now = at(2026, 11, 24, 8, 45)
    assert hall.issue("alpha", appointment="NEXTDAY1") == "A001"


# ================================================================== recall, no-show, reinstate


def test_recall_is_counted(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    assert hall.refuse(c.Recall, window=1) == "no_current_ticket"
    hall.call(1)
    for n in (1, 2):
        reply = hall.ok(c.Recall, window=1)
        assert types(reply) == ["ticket_recalled"]
        assert reply["events"][0]["recalls"] == n
    assert hall.ticket("A001").recalls == 2
    hall.ok(c.StartService, window=1)
    assert hall.refuse(c.Recall, window=1) == "not_calling"


def test_no_show_needs_the_configured_recalls_first(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    assert hall.refuse(c.MarkNoShow, window=1) == "recall_first"
    hall.ok(c.Recall, window=1)
    assert types(hall.ok(c.MarkNoShow, window=1)) == ["ticket_no_show"]
    assert hall.ticket("A001").status == "no_show"
    assert hall.window(1).status == "idle" and hall.window(1).ticket is None


def test_no_show_without_recalls_when_configured() -> None:
    h = Hall(variant(("recalls_before_no_show = 1", "recalls_before_no_show = 0")))
    h.sign_in(1)
    h.issue("alpha")
    h.call(1)
    h.ok(c.MarkNoShow, window=1)
    assert h.ticket("A001").status == "no_show"


def test_no_show_refused_while_serving(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.Recall, window=1)
    hall.ok(c.StartService, window=1)
    assert hall.refuse(c.MarkNoShow, window=1) == "not_calling"


def miss(h: Hall, window: int) -> str:
    """Call the next ticket and mark it a no-show after the configured recall."""
    number = h.call(window)
    assert number is not None
    h.ok(c.Recall, window=window)
    h.ok(c.MarkNoShow, window=window)
    return number


def test_reinstate_within_grace_goes_three_places_back(hall: Hall) -> None:
    hall.sign_in(1)
    for _ in range(6):
        hall.issue("alpha")
    assert miss(hall, 1) == "A001"
    hall.later(29)
    reply = hall.ok(c.ReinstateTicket, ticket="a001")
    assert types(reply) == ["ticket_reinstated"]
    assert hall.ticket("A001").status == "waiting" and hall.ticket("A001").reinstatements == 1
    assert hall.calls(1, 5) == ["A002", "A003", "A004", "A001", "A005"]


def test_reinstate_with_a_short_queue_goes_to_its_end(hall: Hall) -> None:
    hall.sign_in(1)
    for _ in range(3):
        hall.issue("alpha")
    miss(hall, 1)
    hall.ok(c.ReinstateTicket, ticket="A001")
    hall.issue("alpha")  # A004, issued after the reinstatement
    assert hall.calls(1, 4) == ["A002", "A003", "A001", "A004"]


def test_reinstate_refused_after_grace(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    miss(hall, 1)
    hall.later(30.5)
    assert hall.refuse(c.ReinstateTicket, ticket="A001") == "grace_expired"
    assert hall.ticket("A001").status == "no_show"


def test_reinstate_refused_beyond_max_reinstatements(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    miss(hall, 1)
    hall.ok(c.ReinstateTicket, ticket="A001")
    assert miss(hall, 1) == "A001"
    assert hall.refuse(c.ReinstateTicket, ticket="A001") == "reinstate_limit"


def test_a_reinstated_ticket_called_again_needs_its_recalls_again(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    miss(hall, 1)
    hall.ok(c.ReinstateTicket, ticket="A001")
    assert hall.call(1) == "A001"
    assert hall.refuse(c.MarkNoShow, window=1) == "recall_first"
    hall.ok(c.Recall, window=1)
    hall.ok(c.MarkNoShow, window=1)
    assert hall.ticket("A001").calls == 2


def test_reinstate_refused_for_a_ticket_that_was_not_missed(hall: Hall) -> None:
    hall.issue("alpha")
    assert hall.refuse(c.ReinstateTicket, ticket="A001") == "ticket_not_no_show"
    assert hall.refuse(c.ReinstateTicket, ticket="A999") == "ticket_not_found"


def test_a_reinstated_priority_ticket_queues_as_normal(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha", category="green")  # A001
    hall.issue("alpha")  # A002
    assert miss(hall, 1) == "A001"
    hall.ok(c.ReinstateTicket, ticket="A001")
    assert hall.calls(1, 2) == ["A002", "A001"]


# ================================================================== transfer, specific call


def test_transfer_keeps_the_original_issue_order(hall: Hall) -> None:
    hall.sign_in(1, 2)
    for s in ("beta", "alpha", "beta", "beta"):  # B001, A001, B002, B003
        hall.issue(s)
    assert hall.call(1) == "A001"
    reply = hall.ok(c.TransferTicket, window=1, service="beta", reason="需先办理乙事项")
    assert types(reply) == ["ticket_transferred"]
    t = hall.ticket("A001")
    assert (t.service, t.status, t.window, t.transferred_from) == (
        "beta",
        "waiting",
        None,
        ("alpha",),
    )
    assert hall.window(1).status == "idle" and hall.window(1).ticket is None
    assert hall.calls(2, 4) == ["B001", "A001", "B002", "B003"]


def test_transfer_to_front_when_configured() -> None:
    h = Hall(variant(("transfer_to_front = false", "transfer_to_front = true")))
    h.sign_in(1, 2)
    for s in ("beta", "alpha", "beta"):
        h.issue(s)
    h.call(1)
    h.ok(c.TransferTicket, window=1, service="beta")
    assert h.calls(2, 3) == ["A001", "B001", "B002"]


def test_transfer_of_a_ticket_being_served(hall: Hall) -> None:
    hall.sign_in(1, 3)
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.StartService, window=1)
    hall.ok(c.TransferTicket, window=1, service="gamma")
    assert hall.ticket("A001").started_at is None
    assert hall.call(3) == "A001"


def test_transfer_refusals(hall: Hall) -> None:
    hall.sign_in(1)
    assert hall.refuse(c.TransferTicket, window=1, service="beta") == "no_current_ticket"
    hall.issue("alpha")
    hall.call(1)
    assert hall.refuse(c.TransferTicket, window=1, service="alpha") == "same_service"
    assert hall.refuse(c.TransferTicket, window=1, service="delta") == "service_not_found"


def test_call_a_specific_ticket(hall: Hall) -> None:
    hall.sign_in(1, 2, 3)
    for _ in range(3):
        hall.issue("alpha")
    hall.issue("beta")
    reply = hall.ok(c.CallTicket, window=1, ticket="A003")
    assert reply["called"]["number"] == "A003"
    assert reply["events"][-1]["chosen"] == "specific"
    assert hall.refuse(c.CallTicket, window=1, ticket="B001") == "service_not_served"
    assert hall.refuse(c.CallTicket, window=1, ticket="A003") == "already_called"
    assert hall.refuse(c.CallTicket, window=3, ticket="A003") == "ticket_not_waiting"
    assert hall.refuse(c.CallTicket, window=1, ticket="Z123") == "ticket_not_found"
    assert hall.ticket("B001").status == "waiting"
    # Calling another ticket finishes the one at the window, like call-next.
    assert types(hall.ok(c.CallTicket, window=1, ticket=str(hall.ticket("A001").id)))[-2:] == [
        "service_finished",
        "ticket_called",
    ]
    assert hall.ticket("A003").status == "done"
    assert hall.call(1) == "A002"


@pytest.mark.parametrize("ref", ["²", "١٢", "A 001", "", "-1", "99999999999999999999"])
def test_odd_ticket_references_are_not_found(hall: Hall, ref: str) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    assert hall.refuse(c.CallTicket, window=1, ticket=ref) == "ticket_not_found"
    assert hall.refuse(c.CancelTicket, ticket=ref) == "ticket_not_found"


def test_calling_a_missed_ticket_reinstates_it(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.issue("alpha")
    miss(hall, 1)
    reply = hall.ok(c.CallTicket, window=1, ticket="A001")
    assert types(reply) == ["ticket_reinstated", "ticket_called"]
    assert hall.ticket("A001").status == "called" and hall.ticket("A001").reinstatements == 1


# ================================================================== serving


def test_start_and_finish(hall: Hall) -> None:
    hall.sign_in(1)
    assert hall.refuse(c.StartService, window=1) == "no_current_ticket"
    assert hall.refuse(c.FinishService, window=1) == "no_current_ticket"
    hall.issue("alpha")
    hall.call(1)
    assert hall.window(1).status == "calling"
    hall.later(1)
    hall.ok(c.StartService, window=1)
    assert hall.ticket("A001").status == "serving" and hall.window(1).status == "serving"
    assert hall.refuse(c.StartService, window=1) == "already_serving"
    hall.later(5)
    reply = hall.ok(c.FinishService, window=1)
    assert reply["events"][0]["seconds"] == 300
    t, w = hall.ticket("A001"), hall.window(1)
    assert t.status == "done" and t.finished_at == hall.now
    assert (w.status, w.ticket, w.last_finished, w.served_today) == ("idle", None, t.id, 1)


def test_call_next_while_serving_finishes_the_current_ticket(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.issue("alpha")
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.StartService, window=1)
    hall.later(3)
    reply = hall.ok(c.CallNext, window=1)
    assert types(reply) == ["service_finished", "ticket_called"]
    assert hall.ticket("A001").status == "done"
    assert hall.ticket("A002").status == "called"
    # Not started: the call-next still finishes it, counting from the call.
    hall.later(2)
    reply = hall.ok(c.CallNext, window=1)
    assert reply["events"][0]["implicit_start"] is True
    assert reply["events"][0]["seconds"] == 120
    assert hall.ticket("A002").status == "done"


def test_pause_away_resume(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    assert hall.refuse(c.PauseWindow, window=1) == "window_busy"
    assert hall.refuse(c.AwayWindow, window=1) == "window_busy"
    assert hall.refuse(c.SignOut, window=1) == "window_busy"
    hall.ok(c.FinishService, window=1)
    hall.ok(c.PauseWindow, window=1, reason="系统维护")
    assert (hall.window(1).status, hall.window(1).reason) == ("paused", "系统维护")
    assert hall.ok(c.PauseWindow, window=1)["events"] == []
    hall.ok(c.AwayWindow, window=1)
    assert hall.window(1).status == "away"
    hall.later(20)
    reply = hall.ok(c.ResumeWindow, window=1)
    assert reply["events"][0]["was"] == "away" and reply["events"][0]["seconds"] == 1200
    assert hall.window(1).status == "idle" and hall.window(1).away_seconds_today == 1200
    assert hall.ok(c.ResumeWindow, window=1)["events"] == []


def test_call_next_resumes_a_paused_window(hall: Hall) -> None:
    hall.sign_in(1)
    hall.ok(c.PauseWindow, window=1)
    hall.issue("alpha")
    reply = hall.ok(c.CallNext, window=1)
    assert types(reply) == ["window_resumed", "ticket_called"]
    assert hall.window(1).status == "calling"


def test_closed_and_unknown_windows(hall: Hall) -> None:
    hall.issue("alpha")
    assert hall.refuse(c.CallNext, window=1) == "window_closed"
    assert hall.refuse(c.PauseWindow, window=1) == "window_closed"
    assert hall.refuse(c.CallNext, window=42) == "window_not_found"
    assert hall.refuse(c.SignIn, window=42, staff="x") == "window_not_found"


def test_cancel(hall: Hall) -> None:
    hall.sign_in(1)
    for _ in range(3):
        hall.issue("alpha")
    hall.ok(c.CancelTicket, ticket="A002", reason="群众放弃")
    assert hall.ticket("A002").status == "cancelled"
    hall.call(1)
    hall.ok(c.CancelTicket, ticket="A001", window=1)
    assert hall.window(1).ticket is None and hall.window(1).status == "idle"
    assert hall.call(1) == "A003"
    hall.ok(c.FinishService, window=1)
    assert hall.refuse(c.CancelTicket, ticket="A003") == "ticket_not_cancellable"
    assert hall.refuse(c.CancelTicket, ticket="A002") == "ticket_not_cancellable"


# ================================================================== staff, AB岗


def test_sign_in_and_out(demo: Hall) -> None:
    reply = demo.ok(c.SignIn, window=1, staff="1001")
    assert reply["events"][0]["name"] == "张敏"
    w = demo.window(1)
    assert (w.status, w.staff, w.staff_name) == ("idle", "1001", "张敏")
    assert demo.ok(c.SignIn, window=1, staff="1001")["events"] == []
    demo.ok(c.SignOut, window=1)
    assert (demo.window(1).status, demo.window(1).staff) == ("closed", None)


def test_sign_in_refusals(demo: Hall) -> None:
    assert demo.refuse(c.SignIn, window=1, staff="9999") == "staff_not_found"
    assert demo.refuse(c.SignIn, window=5, staff="1001") == "staff_not_assigned"
    assert demo.refuse(c.SignIn, window=1, staff="  ") == "staff_required"
    demo.ok(c.SignIn, window=1, staff="1001")
    assert demo.refuse(c.SignIn, window=2, staff="1001") == "signed_in_elsewhere"


def test_ab_backup_takes_over(demo: Hall) -> None:
    demo.ok(c.SignIn, window=1, staff="1001")
    demo.ok(c.SignIn, window=2, staff="1002")
    assert demo.refuse(c.SignIn, window=1, staff="1002") == "signed_in_elsewhere"
    demo.ok(c.SignOut, window=2)
    demo.ok(c.IssueTicket, service="police")
    demo.call(1)
    assert demo.refuse(c.SignIn, window=1, staff="1002") == "window_busy"
    demo.ok(c.FinishService, window=1)
    reply = demo.ok(c.SignIn, window=1, staff="1002")
    assert reply["events"][0]["replaced"] == "1001"
    assert (demo.window(1).staff, demo.window(1).staff_name) == ("1002", "李强")
    # 1001 is free again and may cover window 2 in turn.
    demo.ok(c.SignIn, window=2, staff="1001")


def test_away_time_is_counted_when_the_backup_takes_over(demo: Hall) -> None:
    demo.ok(c.SignIn, window=1, staff="1001")
    demo.ok(c.AwayWindow, window=1, reason="临时离岗")
    demo.later(20)  # more than 15 minutes away: the B post covers
    reply = demo.ok(c.SignIn, window=1, staff="1002")
    assert types(reply) == ["window_resumed", "staff_signed_in"]
    assert reply["events"][0]["seconds"] == 1200
    assert demo.window(1).away_seconds_today == 1200
    assert (demo.window(1).status, demo.window(1).staff) == ("idle", "1002")


def test_ab_backup_pairing_is_not_transitive() -> None:
    # Window 3's backup is window 2, whose backup is window 1: staff of window 1 may take
    # window 2 (their pair) but not window 3.
    cfg = variant(
        ("backup = 4", "backup = 2"),
        ("[appointments]", '[[staff]]\nid = "s1"\nname = "甲"\nwindows = [1]\n\n[appointments]'),
    )
    h = Hall(cfg)
    assert h.refuse(c.SignIn, window=3, staff="s1") == "staff_not_assigned"
    assert h.refuse(c.SignIn, window=4, staff="s1") == "staff_not_assigned"
    h.ok(c.SignIn, window=2, staff="s1")


def test_any_staff_may_sign_in_without_a_staff_list(hall: Hall) -> None:
    hall.ok(c.SignIn, window=3, staff="anyone")
    assert hall.window(3).staff == "anyone"


# ================================================================== evaluation


def serve_one(h: Hall, window: int, service: str) -> str:
    number = h.issue(service)
    h.call(window)
    h.ok(c.StartService, window=window)
    h.later(5)
    h.ok(c.FinishService, window=window)
    return number


def test_one_evaluation_per_served_ticket(hall: Hall) -> None:
    hall.sign_in(1)
    number = serve_one(hall, 1, "alpha")
    reply = hall.ok(c.SubmitEvaluation, window=1, level="satisfied")
    ev = reply["events"][0]
    assert (ev["level"], ev["window"], ev["staff"]) == ("satisfied", 1, "s1")
    assert "bad" not in ev  # omitted when false
    assert hall.ticket(number).evaluation == "satisfied"
    assert hall.refuse(c.SubmitEvaluation, window=1, level="satisfied") == "already_evaluated"
    assert hall.refuse(c.SubmitEvaluation, ticket=number, level="basic") == "already_evaluated"


def test_bad_reviews_are_flagged(hall: Hall) -> None:
    hall.sign_in(1)
    number = serve_one(hall, 1, "alpha")
    reply = hall.ok(
        c.SubmitEvaluation, ticket=number, level="very_dissatisfied", reason="等候时间长"
    )
    assert reply["events"][0]["bad"] is True


def test_evaluation_refusals(hall: Hall) -> None:
    hall.sign_in(1)
    assert hall.refuse(c.SubmitEvaluation, window=1, level="satisfied") == "nothing_to_evaluate"
    hall.issue("alpha")
    hall.call(1)
    assert hall.refuse(c.SubmitEvaluation, ticket="A001", level="satisfied") == "not_served"
    hall.ok(c.FinishService, window=1)
    assert hall.refuse(c.SubmitEvaluation, window=1, level="great") == "level_not_found"
    assert hall.refuse(c.SubmitEvaluation, level="satisfied") == "ticket_or_window"


# ================================================================== the business day


def test_day_rollover(hall: Hall) -> None:
    log = Hall(hall.engine.config)
    log.sign_in(1)
    log.issue("alpha")
    log.issue("alpha")
    log.issue("beta")
    log.call(1)
    yesterday = dict(log.engine.state.tickets)
    before = list(log.records)
    log.now = at(2026, 11, 24, 9, 0)
    reply = log.ok(c.IssueTicket, service="alpha")
    assert reply["ticket"]["number"] == "A001"
    day_records = [r for r in log.records if isinstance(r.event, DayStarted)]
    started = day_records[-1].event
    assert isinstance(started, DayStarted)
    assert (started.day, started.previous_day) == ("2026-11-24", "2026-11-23")
    assert sorted(started.expired) == sorted(yesterday)
    assert started.closed_windows == [1]
    assert day_records[-1].request is None, "the day change belongs to no request"
    assert log.window(1).status == "closed"
    assert [t.display for t in log.engine.state.tickets.values()] == ["A001"]
    assert log.issue("beta") == "B001"
    # Nothing is deleted: the earlier records are all still there, in order.
    assert log.records[: len(before)] == before
    assert [r.seq for r in log.records] == list(range(1, len(log.records) + 1))
    issued = [r.event.display for r in log.records if isinstance(r.event, TicketIssued)]
    assert issued == ["A001", "A002", "B001", "A001", "B001"]


def test_day_rollover_after_the_device_was_off_over_a_weekend(hall: Hall) -> None:
    hall.now = at(2026, 11, 27, 16, 0)  # Friday
    hall.issue("alpha")
    hall.now = at(2026, 11, 30, 8, 45)  # Monday
    out = hall.execute(c.IssueTicket(request_id="monday-1", service="alpha"))
    assert out.error is None
    started = out.records[0].event
    assert isinstance(started, DayStarted)
    assert (started.day, started.previous_day) == ("2026-11-30", "2026-11-27")
    assert [event_type(r.event) for r in out.records] == ["day_started", "ticket_issued"]


def test_a_rejected_command_still_starts_the_day(hall: Hall) -> None:
    hall.issue("alpha")
    hall.now = at(2026, 11, 28, 10, 0)  # Saturday: closed
    out = hall.execute(c.IssueTicket(request_id="sat-1", service="alpha"))
    assert out.error is not None and out.error.code == "closed_day"
    assert [event_type(r.event) for r in out.records] == ["day_started"]
    assert hall.engine.state.day == "2026-11-28" and hall.engine.state.tickets == {}


def test_the_clock_tick_starts_the_day_at_midnight(hall: Hall) -> None:
    hall.issue("alpha")
    out = hall.execute(c.Tick(request_id="tick"))
    assert out.records == []
    hall.now = at(2026, 11, 24, 0, 0, 1)
    out = hall.execute(c.Tick(request_id="tick"))
    assert [event_type(r.event) for r in out.records] == ["day_started"]
    assert hall.engine.state.day == "2026-11-24"


def test_a_clock_stepping_back_does_not_restart_the_day(hall: Hall) -> None:
    # A Pi has no battery clock: after a power cut it may boot with yesterday's time until
    # NTP corrects it. That must neither expire today's queue nor restart its numbers.
    hall.sign_in(1)
    hall.issue("alpha")
    hall.issue("alpha")
    hall.now = at(2026, 11, 22, 23, 0)  # the clock is a day behind
    hall.execute(c.CallNext(request_id="early", window=1))
    hall.now = at(2026, 11, 23, 9, 30)  # corrected
    assert hall.issue("alpha") == "A003"
    assert hall.engine.state.day == "2026-11-23"
    assert {t.display for t in hall.engine.state.tickets.values()} == {"A001", "A002", "A003"}


# ================================================================== idempotency


def test_a_repeated_request_returns_the_first_result_and_changes_nothing(hall: Hall) -> None:
    hall.sign_in(1)
    first = hall.execute(c.IssueTicket(request_id="kiosk-1-0001", service="alpha"))
    assert first.error is None and first.reply is not None
    state = msgspec.json.encode(hall.engine.state)
    again = hall.execute(c.IssueTicket(request_id="kiosk-1-0001", service="alpha"))
    assert again.records == [] and again.error is None
    assert again.reply == first.reply
    assert again.duplicate is not None
    assert (again.duplicate.first, again.duplicate.last) == (
        first.records[0].seq,
        first.records[-1].seq,
    )
    assert msgspec.json.encode(hall.engine.state) == state
    # A double tap on the call button calls once.
    one = hall.execute(c.CallNext(request_id="btn-1", window=1))
    two = hall.execute(c.CallNext(request_id="btn-1", window=1))
    assert two.records == [] and two.reply == one.reply
    assert hall.ticket("A001").calls == 1


def test_a_request_id_reused_for_another_command_is_refused(hall: Hall) -> None:
    hall.sign_in(1)
    hall.execute(c.IssueTicket(request_id="same", service="alpha"))
    out = hall.execute(c.CallNext(request_id="same", window=1))
    assert out.error is not None and out.error.code == "request_id_reused"
    assert out.records == []
    assert hall.ticket("A001").status == "waiting"
    # Also for a request that produced no events.
    hall.execute(c.ResumeWindow(request_id="quiet", window=1))
    out = hall.execute(c.IssueTicket(request_id="quiet", service="alpha"))
    assert out.error is not None and out.error.code == "request_id_reused"


def test_a_rejected_request_repeated_gives_the_same_rejection(hall: Hall) -> None:
    first = hall.execute(c.CallNext(request_id="r1", window=1))
    assert first.error is not None and first.error.code == "window_closed"
    hall.sign_in(1)
    hall.issue("alpha")
    again = hall.execute(c.CallNext(request_id="r1", window=1))
    assert again.error is not None and again.error.code == "window_closed"
    assert again.records == []
    assert hall.ticket("A001").status == "waiting"


def test_a_repeat_after_a_restart_is_still_recognised(hall: Hall) -> None:
    log = Hall(hall.engine.config)
    log.ok(c.IssueTicket, service="alpha")
    rid = f"req-{log._serial}"
    fresh = Engine(log.engine.config)
    for record in log.records:
        fresh.apply_record(record)
    out = fresh.execute(c.IssueTicket(request_id=rid, service="alpha"), log.now)
    assert out.records == [] and out.duplicate is not None
    assert len(fresh.state.tickets) == 1


def test_a_reused_request_id_is_refused_after_a_restart_too(hall: Hall) -> None:
    hall.sign_in(1)
    hall.execute(c.IssueTicket(request_id="X-1", service="alpha"))
    hall.execute(c.CallNext(request_id="X-2", window=1))
    fresh = Engine(hall.engine.config)
    for record in hall.records:
        fresh.apply_record(record)
    snapshot = Engine(hall.engine.config)
    snapshot.restore(snapshot_decoder.decode(snapshot_encoder.encode(hall.engine.state)))
    for engine in (fresh, snapshot):
        out = engine.execute(c.SignIn(request_id="X-1", window=2, staff="s9"), hall.now)
        assert out.error is not None and out.error.code == "request_id_reused"
        out = engine.execute(c.IssueTicket(request_id="X-2", service="alpha"), hall.now)
        assert out.error is not None and out.error.code == "request_id_reused"
        out = engine.execute(c.CallNext(request_id="X-2", window=1), hall.now)
        assert out.error is None and out.duplicate is not None and out.records == []
    assert fresh.window_state(2).status == "closed"


def test_the_log_names_each_request_s_command(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    finished = hall.execute(c.CallNext(request_id="next-1", window=1))
    assert [r.command for r in finished.records] == ["callNext"]
    fresh = Engine(hall.engine.config)
    for record in hall.records:
        fresh.apply_record(record)
    # Same events as a finishService would make, but the id was a callNext's.
    out = fresh.execute(c.FinishService(request_id="next-1", window=1), hall.now)
    assert out.error is not None and out.error.code == "request_id_reused"


def test_a_call_next_that_called_nobody_is_still_a_repeat_after_a_restart(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    finished = hall.execute(c.CallNext(request_id="finish-only", window=1))
    assert [event_type(r.event) for r in finished.records] == ["service_finished"]
    hall.ok(c.PauseWindow, window=1)
    resumed = hall.execute(c.CallNext(request_id="resume-only", window=1))
    assert [event_type(r.event) for r in resumed.records] == ["window_resumed"]
    fresh = Engine(hall.engine.config)
    for record in hall.records:
        fresh.apply_record(record)
    for rid in ("finish-only", "resume-only"):
        out = fresh.execute(c.CallNext(request_id=rid, window=1), hall.now)
        assert out.error is None and out.duplicate is not None and out.records == []


# ================================================================== replay


def scripted_run(config: HallConfig) -> Hall:
    """A long run across two business days touching every kind of event."""
    h = Hall(config)
    h.sign_in(1, 2, 3, 4)
    book(h, "SLOT0001", "alpha", at(2026, 11, 23, 10, 0))
    for i in range(30):
        h.issue(("alpha", "beta", "gamma")[i % 3], category="green" if i % 7 == 0 else None)
        h.later(1)
    h.now = at(2026, 11, 23, 9, 45)
    h.issue("alpha", appointment="SLOT0001")
    h.later(15)
    for round_ in range(6):
        for w in (1, 2, 3, 4):
            h.call(w)
            h.later(0.5)
            if (w + round_) % 4 == 0:
                h.ok(c.Recall, window=w)
                h.ok(c.MarkNoShow, window=w)
            else:
                h.ok(c.StartService, window=w)
        h.later(8)
        for w in (1, 2, 3, 4):
            if h.window(w).ticket is not None:
                h.ok(c.FinishService, window=w)
                if w % 2:
                    h.ok(c.SubmitEvaluation, window=w, level="satisfied")
    missed = [t for t in h.engine.state.tickets.values() if t.status == "no_show"]
    latest = max(missed, key=lambda t: t.no_show_at or 0.0)
    h.ok(c.ReinstateTicket, ticket=latest.display)
    h.call(1)
    h.ok(c.TransferTicket, window=1, service="beta")
    h.ok(c.AwayWindow, window=2)
    h.later(16)
    h.ok(c.ResumeWindow, window=2)
    h.ok(c.PauseWindow, window=3)
    waiting = [t.display for t in h.engine.state.tickets.values() if t.status == "waiting"]
    h.ok(c.CancelTicket, ticket=waiting[0])
    h.ok(c.SignIn, window=4, staff="backup-4")
    h.ok(c.SignOut, window=2)
    book(h, "GONE0001", "beta", at(2026, 11, 23, 15, 0))
    h.ok(c.CancelAppointment, code="GONE0001")
    h.refuse(c.IssueTicket, service="delta")
    h.now = at(2026, 11, 24, 9, 0)
    h.sign_in(1, 2)
    for _ in range(5):
        h.issue("alpha")
        h.issue("beta")
    h.call(1)
    h.call(2)
    h.ok(c.FinishService, window=1)
    h.ok(c.RecordPrint, ticket="A001", printed=False, reason="缺纸", device="kiosk-1")
    renamed = msgspec.structs.replace(
        config, services=[msgspec.structs.replace(config.services[0], name="甲业务（新）"), *config.services[1:]]
    )
    h.ok(c.ChangeConfig, text=config_toml(renamed), by="admin")
    assert h.engine.config.services[0].name == "甲业务（新）"
    for status in ("error", "ok"):
        report = c.ReportDeviceHealth(
            request_id=h.rid(), device="printer-1", kind="printer", status=status, reason=status
        )
        assert h.execute(report).error is None
    return h


def test_replaying_the_log_rebuilds_the_same_state(small_config: HallConfig) -> None:
    h = scripted_run(small_config)
    assert len(h.records) > 120
    assert {event_type(r.event) for r in h.records} == {
        tp.__struct_config__.tag for tp in get_args(AnyEvent)
    }, "the script produces every kind of event"
    fresh = Engine(small_config)
    for record in h.records:
        fresh.apply_record(record)
    assert msgspec.json.encode(fresh.state) == msgspec.json.encode(h.engine.state)
    assert fresh.waiting == h.engine.waiting
    assert fresh.by_display == h.engine.by_display
    # Replaying a record twice changes nothing.
    for record in h.records[-5:]:
        fresh.apply_record(record)
    assert msgspec.json.encode(fresh.state) == msgspec.json.encode(h.engine.state)


def test_a_snapshot_and_the_rest_of_the_log_rebuild_the_same_state(
    small_config: HallConfig,
) -> None:
    h = scripted_run(small_config)
    middle = len(h.records) // 2
    partial = Engine(small_config)
    for record in h.records[:middle]:
        partial.apply_record(record)
    snapshot = snapshot_decoder.decode(snapshot_encoder.encode(partial.state))
    restored = Engine(small_config, HallState())
    restored.restore(snapshot)
    for record in h.records[middle:]:
        restored.apply_record(record)
    assert msgspec.json.encode(restored.state) == msgspec.json.encode(h.engine.state)
    assert restored.waiting == h.engine.waiting


def test_a_replayed_engine_goes_on_like_the_original(small_config: HallConfig) -> None:
    h = scripted_run(small_config)
    fresh = Engine(small_config)
    for record in h.records:
        fresh.apply_record(record)
    for engine in (h.engine, fresh):
        out = engine.execute(c.CallNext(request_id="after", window=2), h.now + 60)
        assert out.error is None
    assert msgspec.json.encode(fresh.state) == msgspec.json.encode(h.engine.state)


# ================================================================== wait estimates


def estimate(h: Hall, service: str) -> float | None:
    value: float | None = h.ok(c.IssueTicket, service=service)["ticket"]["estimate_minutes"]
    return value


def test_no_estimate_when_no_window_serving_the_service_is_open(hall: Hall) -> None:
    assert estimate(hall, "alpha") is None
    hall.sign_in(2)  # beta only
    assert estimate(hall, "alpha") is None


def test_estimate_when_the_only_window_is_busy_with_a_tier_above(hall: Hall) -> None:
    hall.sign_in(3)  # composite: gamma (15 min) first, then alpha (10 min) and beta
    hall.issue("gamma")
    hall.issue("gamma")
    # Window 3 must clear two gamma tickets first, then serve this one: 2 × 15 + 10.
    assert estimate(hall, "alpha") == 40.0
    assert estimate(hall, "alpha") == 50.0  # one more alpha ahead
    hall.sign_in(1)  # a window with alpha first: the shared estimate takes over
    first_tier = estimate(hall, "alpha")
    assert first_tier is not None and first_tier < 40.0


def test_estimate_is_zero_when_a_window_is_idle(hall: Hall) -> None:
    hall.sign_in(1)
    assert estimate(hall, "alpha") == 0


def test_estimate_grows_with_the_queue(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)  # window 1 is busy
    estimates = [estimate(hall, "alpha") or 0.0 for _ in range(5)]
    assert all(e > 0 for e in estimates), "no window is idle, so every ticket waits"
    assert estimates == sorted(estimates) and len(set(estimates)) == 5
    assert estimates[0] == 10.0  # one service time (10 min) for the ticket at the window


def test_a_second_window_shortens_the_estimate(hall: Hall) -> None:
    hall.sign_in(1)
    hall.issue("alpha")
    hall.call(1)
    for _ in range(4):
        hall.issue("alpha")
    alone = estimate(hall, "alpha")
    hall.sign_in(3)  # a composite window whose first tier (gamma) is empty
    hall.call(3)
    helped = estimate(hall, "alpha")
    assert alone is not None and helped is not None and helped < alone


def test_every_waiting_ticket_has_a_position_and_an_estimate(hall: Hall) -> None:
    hall.sign_in(1)
    for _ in range(4):
        hall.issue("alpha")
    hall.call(1)
    waits = hall.engine.ticket_waits(hall.now)
    positions = {hall.engine.state.tickets[tid].display: pos for tid, (pos, _) in waits.items()}
    assert positions == {"A002": 0, "A003": 1, "A004": 2}
    minutes = [waits[hall.ticket(n).id][1] or 0.0 for n in ("A002", "A003", "A004")]
    assert minutes == sorted(minutes) and minutes[-1] > minutes[0] > 0


def test_learned_service_time_moves_toward_observed_durations(hall: Hall) -> None:
    hall.sign_in(1)
    assert "alpha" not in hall.engine.state.rates
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.StartService, window=1)
    hall.later(20)
    hall.ok(c.FinishService, window=1)
    configured = hall.engine.config.service("alpha").service_minutes * 60  # type: ignore[union-attr]
    rate = hall.engine.state.rates["alpha"]
    first = configured + (1200 - configured) / (PRIOR_SAMPLES + 1)
    assert rate.samples == 1
    assert rate.mean_seconds == pytest.approx(first, abs=0.001)
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.StartService, window=1)
    hall.later(10)
    hall.ok(c.FinishService, window=1)
    rate = hall.engine.state.rates["alpha"]
    assert rate.samples == 2
    second = first + (600 - first) / (PRIOR_SAMPLES + 2)
    assert rate.mean_seconds == pytest.approx(second, abs=0.001)
    # Once many are known each new one weighs RATE_WEIGHT.
    for _ in range(PRIOR_SAMPLES + 10):
        hall.issue("alpha")
        hall.call(1)
        hall.ok(c.StartService, window=1)
        hall.later(1)
        hall.ok(c.FinishService, window=1)
    before = hall.engine.state.rates["alpha"].mean_seconds
    hall.issue("alpha")
    hall.call(1)
    hall.ok(c.StartService, window=1)
    hall.later(2)
    hall.ok(c.FinishService, window=1)
    rate = hall.engine.state.rates["alpha"]
    assert rate.mean_seconds == pytest.approx(before + RATE_WEIGHT * (120 - before), abs=0.001)
    # A call finished at once (a mistake) teaches nothing.
    hall.issue("alpha")
    hall.call(1)
    hall.later(0.1)
    hall.ok(c.FinishService, window=1)
    assert hall.engine.state.rates["alpha"].samples == PRIOR_SAMPLES + 13
    # What a new ticket is told comes from the learned window time per call (from the call
    # to the finish, the mistake included: the window did spend it), here one call's worth.
    hall.issue("alpha")
    hall.call(1)
    per_call = minutes_per_call(hall.engine.config, hall.engine.state, "alpha")
    assert estimate(hall, "alpha") == pytest.approx(round(per_call, 1))


def test_appointment_on_time_checks_in_during_the_cutoff(hall: Hall) -> None:
    book(hall, "LATE0001", "alpha", at(2026, 11, 23, 16, 40), minutes=10)
    book(hall, "LATE0002", "alpha", at(2026, 11, 23, 16, 45), minutes=5)
    hall.now = at(2026, 11, 23, 16, 35)  # past the 16:30 cutoff before 16:50
    assert hall.refuse(c.IssueTicket, service="alpha") == "cutoff"
    assert hall.issue("alpha", appointment="LATE0001") == "A001"
    hall.now = at(2026, 11, 23, 16, 55)  # on time for its slot, but the hall has closed
    assert hall.refuse(c.IssueTicket, service="alpha", appointment="LATE0002") == "after_closing"


def test_a_ticket_reference_of_many_digits_is_simply_not_found(hall: Hall) -> None:
    with pytest.raises(NotFound):
        hall.ticket("9" * 5000)


def test_device_health_is_recorded_only_when_it_changes(hall: Hall) -> None:
    def report(status: Literal["ok", "error"], reason: str) -> list[str]:
        out = hall.execute(
            c.ReportDeviceHealth(
                request_id=hall.rid(), device="led-5", kind="led", status=status, reason=reason
            )
        )
        assert out.error is None and out.reply is not None
        return types(out.reply)

    assert report("error", "无响应") == ["device_health_changed"]
    assert report("error", "无响应") == []
    device = hall.engine.state.devices["led-5"]
    assert (device.status, device.reason, device.since) == ("error", "无响应", hall.now)
    hall.later(1)
    assert report("ok", "") == ["device_health_changed"]
    assert hall.engine.state.devices["led-5"].status == "ok"


def test_a_failed_print_is_recorded_against_the_ticket_and_a_reprint_clears_it(
    hall: Hall,
) -> None:
    hall.issue("alpha")
    reply = hall.ok(c.RecordPrint, ticket="A001", printed=False, reason="打印机缺纸", device="k1")
    assert types(reply) == ["ticket_print_recorded"]
    t = hall.ticket("A001")
    assert (t.printed, t.print_failures, t.print_reason) == (False, 1, "打印机缺纸")
    assert t.status == "waiting", "the ticket keeps its place: the number is on the screen"
    hall.ok(c.RecordPrint, ticket="A001", printed=True, device="k1")
    t = hall.ticket("A001")
    assert (t.printed, t.print_failures) == (True, 1)
    assert hall.refuse(c.RecordPrint, ticket="Z999", printed=True) == "ticket_not_found"


# ---------------------------------------------------------------- configuration changes


def test_config_change_applies_live_and_keeps_the_queue(small_config: HallConfig) -> None:
    h = Hall(small_config)
    h.sign_in(1)
    first = h.issue("alpha")
    longer = msgspec.structs.replace(
        small_config,
        services=[msgspec.structs.replace(small_config.services[0], service_minutes=30.0), *small_config.services[1:]],
    )
    reply = h.ok(c.ChangeConfig, text=config_toml(longer), by="admin")
    assert reply["events"][0]["changed"] == ["services"]
    assert h.engine.config.services[0].service_minutes == 30.0
    assert h.call(1) == first, "the waiting ticket is still in the queue"


def test_config_change_refuses_removing_a_service_with_live_tickets(
    small_config: HallConfig,
) -> None:
    h = Hall(small_config)
    h.issue("gamma")
    text = SMALL_HALL_TOML.replace('tiers = [["gamma"], ["alpha", "beta"]]', 'tiers = [["alpha", "beta"]]')
    text = text.replace('tiers = [["beta", "gamma"]]', 'tiers = [["beta"]]')
    without = text.replace('[[services]]\ncode = "gamma"', '[[unused]]\ncode = "gamma"')
    without = without.split("[[unused]]")[0] + "[[windows]]" + without.split("[[windows]]", 1)[1]
    err = h.execute(c.ChangeConfig(request_id=h.rid(), text=without)).error
    assert err is not None and err.code == "config_conflict" and "gamma" in err.message
    assert h.engine.config is small_config


def test_config_change_refuses_bad_text_and_stale_base(small_config: HallConfig) -> None:
    h = Hall(small_config)
    err = h.execute(c.ChangeConfig(request_id=h.rid(), text="[hall]\nid = 3\n")).error
    assert err is not None and err.code == "invalid_config" and "hall.id" in err.message
    stale = c.ChangeConfig(request_id=h.rid(), text=config_toml(small_config), base_digest="0" * 16)
    assert h.refuse_cmd(stale) == "config_changed_meanwhile"
    # The same content again changes nothing and logs nothing.
    before = h.engine.state.seq
    h.ok(c.ChangeConfig, text=config_toml(small_config), base_digest=h.engine.config_digest)
    assert h.engine.state.seq == before


def test_a_restored_snapshot_keeps_the_changed_config(small_config: HallConfig) -> None:
    h = Hall(small_config)
    renamed = msgspec.structs.replace(
        small_config, hall=msgspec.structs.replace(small_config.hall, name="新名字")
    )
    h.ok(c.ChangeConfig, text=config_toml(renamed))
    fresh = Engine(small_config)
    fresh.restore(msgspec.json.decode(msgspec.json.encode(h.engine.state), type=HallState))
    assert fresh.config.hall.name == "新名字"
    assert fresh.config_digest == h.engine.config_digest
