"""A hypothesis state machine over the engine with the small test hall.

Random staff at random windows issue, call, recall, miss, reinstate, transfer, serve,
pause and sign in and out while the clock runs through the day and now and then into the
next one. After every step the hall must be consistent; every call-next must be the
choice of an independent reference policy; numbers are unique per service and day; calls
within a service and class are FIFO; counts add up; and the log replays to the same state.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime, timedelta

import msgspec
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from hallq.hall import commands as c
from hallq.hall.config import parse_config
from hallq.hall.engine import Engine, Outcome
from hallq.hall.events import DayStarted, Record, StaffSignedIn, TicketCalled, TicketIssued
from hallq.hall.state import HallState, Ticket
from tests.conftest import SHANGHAI, SMALL_HALL_TOML, at

CONFIG = parse_config(SMALL_HALL_TOML, "small-hall.toml")
WINDOWS = [w.number for w in CONFIG.windows]
SERVICES = [s.code for s in CONFIG.services]
PREFIX = {s.code: s.prefix for s in CONFIG.services}
RANKS = {p.code: p.rank for p in CONFIG.priority}
NORMAL = 10_000  # the reference's own "normal" class, below every priority rank
MAX_IN_ROW = CONFIG.queue.max_priority_in_row
STAFF = ["s1", "s2", "s3", "s4", "s5"]
LEVELS = [lv.code for lv in CONFIG.evaluation.levels] + ["no_such_level"]
ACTIVE = ("waiting", "called", "serving")
STATUSES = ("waiting", "called", "serving", "done", "no_show", "cancelled", "expired")
REPLAY_EVERY = 10


# ------------------------------------------------------------------ the reference policy


def ref_class(t: Ticket) -> int:
    """A reinstated ticket (过号顺延) has used its priority; otherwise its category's rank."""
    if t.category is None or t.reinstatements > 0:
        return NORMAL
    return RANKS[t.category]


def ref_due(t: Ticket, now: float) -> bool:
    return t.slot_start is not None and t.slot_start <= now


def ref_place(t: Ticket, now: float) -> tuple[int, float, float, int]:
    """Within a class: due appointments by slot, then queue order, then ticket id."""
    if ref_due(t, now):
        assert t.slot_start is not None
        return (0, t.slot_start, t.order, t.id)
    return (1, 0.0, t.order, t.id)


def reference_choice(state: HallState, window: int, streak: int, now: float) -> int | None:
    """The ticket window `window` should call: tiers, class (anti-starvation), slot, order."""
    wcfg = CONFIG.window(window)
    assert wcfg is not None
    for tier in wcfg.tiers:
        candidates = [
            t for t in state.tickets.values() if t.status == "waiting" and t.service in tier
        ]
        if not candidates:
            continue
        top = min(ref_class(t) for t in candidates)
        normals = [t for t in candidates if ref_class(t) == NORMAL]
        if top != NORMAL and streak >= MAX_IN_ROW and normals:
            pool = normals
        else:
            pool = [t for t in candidates if ref_class(t) == top]
        return min(pool, key=lambda t: ref_place(t, now)).id
    return None


def plain(t: Ticket) -> bool:
    """Queued by issue time alone: no slot, never reinstated, never transferred."""
    return t.slot_start is None and t.reinstatements == 0 and not t.transferred_from


def original_service(t: Ticket) -> str:
    return t.transferred_from[0] if t.transferred_from else t.service


def local_day(now: float) -> str:
    return datetime.fromtimestamp(now, SHANGHAI).date().isoformat()


# ------------------------------------------------------------------ the machine


class HallMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.engine = Engine(CONFIG)
        self.now = at(2026, 11, 23, 8, 40)
        self.records: list[Record] = []
        self.serial = 0
        self.steps = 0
        self.streak: dict[int, int] = {}
        # (day, service, class) -> id of the last plain ticket called by call-next
        self.last_plain_call: dict[tuple[str, str, int], int] = {}
        self.last_cmd: c.Command | None = None
        self.last_out: Outcome | None = None
        self.appointments = 0

    # ---------------------------------------------------------------- helpers

    def execute(self, cmd: c.Command) -> Outcome:
        """Run one command and check what holds for every command."""
        before = msgspec.json.encode(self.engine.state)
        active_before = {t.id for t in self.engine.state.tickets.values() if t.status in ACTIVE}
        out = self.engine.execute(cmd, self.now)
        seqs = [r.seq for r in out.records]
        first = self.records[-1].seq + 1 if self.records else 1
        assert seqs == list(range(first, first + len(seqs))), "sequence numbers run on"
        self.records.extend(out.records)
        days = [r.event for r in out.records if isinstance(r.event, DayStarted)]
        assert len(days) <= 1
        if days:
            assert out.records[0].event is days[0], "a new day comes before the command"
            assert set(days[0].expired) == active_before, "every unserved ticket expires"
            assert days[0].day == local_day(self.now)
            self.streak = {}
        elif out.error is not None:
            assert out.records == []
            assert msgspec.json.encode(self.engine.state) == before, "a refusal changes nothing"
        if out.error is None and out.duplicate is None:
            self.follow_streaks(out.records)
        self.last_cmd, self.last_out = cmd, out
        return out

    def follow_streaks(self, records: list[Record]) -> None:
        for r in records:
            ev = r.event
            if isinstance(ev, StaffSignedIn):
                self.streak[ev.window] = 0
            elif isinstance(ev, TicketCalled):
                t = self.engine.state.tickets[ev.ticket]
                if ref_class(t) == NORMAL:
                    self.streak[ev.window] = 0
                else:
                    self.streak[ev.window] = self.streak.get(ev.window, 0) + 1

    def rid(self) -> str:
        self.serial += 1
        return f"r{self.serial}"

    def tickets(self, *statuses: str) -> list[Ticket]:
        return [t for t in self.engine.state.tickets.values() if t.status in statuses]

    def pick(self, candidates: list[Ticket], index: int) -> Ticket | None:
        return candidates[index % len(candidates)] if candidates else None

    # ---------------------------------------------------------------- rules

    @initialize(minutes=st.integers(-15, 8 * 60 + 20))
    def start(self, minutes: int) -> None:
        """Begin somewhere between just before opening and just after closing, staffed."""
        self.now = at(2026, 11, 23, 8, 40) + minutes * 60
        self.staff_arrive()

    def staff_arrive(self) -> None:
        for window, staff in zip(WINDOWS, STAFF, strict=False):
            self.execute(c.SignIn(request_id=self.rid(), window=window, staff=staff))

    def busy_window(self, index: int) -> int:
        """A window with a ticket at it (calling one first if none has): most commands
        at a window are about the ticket there. Now and then any window, to be refused."""
        if index % 8 == 0:
            return WINDOWS[index % len(WINDOWS)]
        busy = [n for n, ws in self.engine.state.windows.items() if ws.ticket is not None]
        if not busy:
            self.call_next_where_someone_waits(index, then_start=False)
            busy = [n for n, ws in self.engine.state.windows.items() if ws.ticket is not None]
        return busy[index % len(busy)] if busy else WINDOWS[index % len(WINDOWS)]

    @rule(
        service=st.sampled_from(SERVICES),
        category=st.sampled_from([None, None, "green", "vip"]),
    )
    def issue(self, service: str, category: str | None) -> None:
        out = self.execute(c.IssueTicket(request_id=self.rid(), service=service, category=category))
        if out.error is None:
            assert out.reply is not None
            number = out.reply["ticket"]["number"]
            assert number.startswith(PREFIX[service])

    @rule(
        tickets=st.lists(
            st.tuples(st.sampled_from(SERVICES), st.sampled_from([None, None, "green", "vip"])),
            min_size=2,
            max_size=8,
        )
    )
    def issue_several(self, tickets: list[tuple[str, str | None]]) -> None:
        for service, category in tickets:
            self.issue(service, category)

    @rule(
        service=st.sampled_from(SERVICES),
        offset=st.integers(-14, 29),
        walk_ins=st.integers(0, 3),
    )
    def book_and_check_in(self, service: str, offset: int, walk_ins: int) -> None:
        """An appointment (its slot begun, or up to 29 minutes ahead) among walk-ins."""
        for _ in range(walk_ins):
            self.issue(service, None)
        self.appointments += 1
        code = f"AP{self.appointments:04d}"
        slot = self.now + offset * 60
        booked = self.execute(
            c.BookAppointment(
                request_id=self.rid(),
                code=code,
                service=service,
                slot_start=slot,
                slot_end=slot + 900,
            )
        )
        if booked.error is not None:
            return
        out = self.execute(c.IssueTicket(request_id=self.rid(), service=service, appointment=code))
        if out.error is None:
            assert out.reply is not None
            t = self.engine.state.tickets[out.reply["ticket"]["id"]]
            late = self.now > slot + CONFIG.appointments.late_minutes * 60
            assert t.appointment == code and t.slot_start == (None if late else slot)

    @rule(window=st.sampled_from(WINDOWS))
    def call_next(self, window: int) -> None:
        self.checked_call_next(window)

    @rule(window=st.sampled_from(WINDOWS), times=st.integers(2, 6))
    def call_next_in_a_row(self, window: int, times: int) -> None:
        """A busy window: call, serve, call again (each call-next finishes the last)."""
        for _ in range(times):
            self.checked_call_next(window)

    @rule(index=st.integers(0, 1000), then_start=st.booleans())
    def call_next_where_someone_waits(self, index: int, then_start: bool) -> None:
        """Staff mostly press call-next when someone waits for their window."""
        waiting = {t.service for t in self.tickets("waiting")}
        windows = [
            w.number
            for w in CONFIG.windows
            if any(code in waiting for tier in w.tiers for code in tier)
        ]
        if not windows:
            return
        window = windows[index % len(windows)]
        self.checked_call_next(window)
        if then_start:
            self.execute(c.StartService(request_id=self.rid(), window=window))

    def checked_call_next(self, window: int) -> None:
        state = self.engine.state
        new_day = local_day(self.now) > (state.day or "")
        open_ = not new_day and state.windows.get(window) is not None
        open_ = open_ and state.windows[window].status != "closed"
        streak = self.streak.get(window, 0)
        expected = reference_choice(state, window, streak, self.now) if open_ else None
        out = self.execute(c.CallNext(request_id=self.rid(), window=window))
        if not open_:
            assert out.error is not None and out.error.code == "window_closed"
            return
        assert out.error is None and out.reply is not None
        called = out.reply.get("called")
        assert (called["id"] if called else None) == expected
        if called is None:
            return
        t = self.engine.state.tickets[called["id"]]
        if plain(t):
            key = (state.day or "", t.service, ref_class(t))
            assert self.last_plain_call.get(key, 0) < t.id, "FIFO within a service and class"
            self.last_plain_call[key] = t.id

    @rule(
        statuses=st.sampled_from([("waiting",), ("no_show",), ("called", "serving"), STATUSES]),
        index=st.integers(0, 1000),
        any_window=st.booleans(),
        window=st.sampled_from(WINDOWS),
    )
    def call_ticket(
        self, statuses: tuple[str, ...], index: int, any_window: bool, window: int
    ) -> None:
        """Staff type a number: mostly one that may be called, at a window serving it."""
        t = self.pick(self.tickets(*statuses), index)
        if t is None:
            return
        if not any_window:
            serving = [w.number for w in CONFIG.windows if any(t.service in x for x in w.tiers)]
            window = serving[index % len(serving)]
        before = t.status
        out = self.execute(c.CallTicket(request_id=self.rid(), window=window, ticket=t.display))
        if out.error is None and not any(isinstance(r.event, DayStarted) for r in out.records):
            assert before in ("waiting", "no_show")
            assert self.engine.state.tickets[t.id].window == window

    @rule(index=st.integers(0, 1000))
    def recall(self, index: int) -> None:
        self.execute(c.Recall(request_id=self.rid(), window=self.busy_window(index)))

    @rule(index=st.integers(0, 1000))
    def no_show(self, index: int) -> None:
        window = self.busy_window(index)
        ws = self.engine.state.windows.get(window)
        current = ws.ticket if ws is not None else None
        if current is not None and index % 3:  # usually staff recall before giving up
            self.execute(c.Recall(request_id=self.rid(), window=window))
        out = self.execute(c.MarkNoShow(request_id=self.rid(), window=window))
        if out.error is None:
            assert current is not None
            t = self.engine.state.tickets[current]
            assert t.status == "no_show" and t.recalls >= CONFIG.no_show.recalls_before_no_show

    @rule(index=st.integers(0, 1000))
    def reinstate(self, index: int) -> None:
        t = self.pick(self.tickets("no_show"), index)
        if t is not None:
            self.execute(c.ReinstateTicket(request_id=self.rid(), ticket=t.display))

    @rule(index=st.integers(0, 1000), service=st.sampled_from(SERVICES))
    def transfer(self, index: int, service: str) -> None:
        window = self.busy_window(index)
        self.execute(c.TransferTicket(request_id=self.rid(), window=window, service=service))

    @rule(index=st.integers(0, 1000))
    def start_service(self, index: int) -> None:
        self.execute(c.StartService(request_id=self.rid(), window=self.busy_window(index)))

    @rule(index=st.integers(0, 1000))
    def finish(self, index: int) -> None:
        self.execute(c.FinishService(request_id=self.rid(), window=self.busy_window(index)))

    @rule(index=st.integers(0, 1000))
    def cancel(self, index: int) -> None:
        t = self.pick(self.tickets("waiting", "called", "no_show"), index)
        if t is not None and index % 3 == 0:
            self.execute(c.CancelTicket(request_id=self.rid(), ticket=t.display))

    @rule(window=st.sampled_from(WINDOWS), away=st.booleans())
    def pause(self, window: int, away: bool) -> None:
        kind = c.AwayWindow if away else c.PauseWindow
        self.execute(kind(request_id=self.rid(), window=window))

    @rule(window=st.sampled_from(WINDOWS))
    def resume(self, window: int) -> None:
        self.execute(c.ResumeWindow(request_id=self.rid(), window=window))

    @rule(window=st.sampled_from(WINDOWS), staff=st.sampled_from(STAFF))
    def sign_in(self, window: int, staff: str) -> None:
        self.execute(c.SignIn(request_id=self.rid(), window=window, staff=staff))

    @rule(window=st.sampled_from(WINDOWS))
    def sign_out(self, window: int) -> None:
        self.execute(c.SignOut(request_id=self.rid(), window=window))

    @rule(window=st.sampled_from(WINDOWS), level=st.sampled_from(LEVELS))
    def evaluate(self, window: int, level: str) -> None:
        finished = [n for n, ws in self.engine.state.windows.items() if ws.last_finished]
        if finished and window % 2:
            window = finished[window % len(finished)]
        self.execute(c.SubmitEvaluation(request_id=self.rid(), window=window, level=level))

    @rule(minutes=st.integers(0, 20), seconds=st.integers(0, 59))
    def advance(self, minutes: int, seconds: int) -> None:
        self.now += minutes * 60 + seconds
        local = datetime.fromtimestamp(self.now, SHANGHAI)
        if local.hour >= 17:  # after closing: on to the next morning
            self.next_day(minutes)
            return
        status = self.engine.timetable.issue_status(self.now)
        if not status.open and status.next_opening is not None and seconds % 3:
            # Mostly skip the lunch break and the cutoff rather than wait through them.
            self.now = status.next_opening.timestamp() + seconds

    @rule(minutes=st.integers(0, 60))
    def next_day(self, minutes: int) -> None:
        day = datetime.fromtimestamp(self.now, SHANGHAI).date() + timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        self.now = at(day.year, day.month, day.day, 8, 40) + minutes * 60
        self.staff_arrive()

    @rule()
    def tick(self) -> None:
        self.execute(c.Tick(request_id="clock"))

    @precondition(lambda self: self.last_cmd is not None and not isinstance(self.last_cmd, c.Tick))
    @rule()
    def repeat_last(self) -> None:
        """A double tap or a retried request: the first result again, and nothing changes."""
        assert self.last_cmd is not None and self.last_out is not None
        first = self.last_out
        if any(isinstance(r.event, DayStarted) for r in first.records) and first.error:
            return  # the refusal was decided on the old day's state; the day has moved on
        if local_day(self.now) > (self.engine.state.day or ""):
            return  # a new day starts first and forgets yesterday's requests
        before = msgspec.json.encode(self.engine.state)
        again = self.engine.execute(self.last_cmd, self.now)
        assert again.records == []
        assert msgspec.json.encode(self.engine.state) == before
        if first.error is not None:
            assert again.error is not None and again.error.code == first.error.code
        else:
            assert again.error is None
            assert again.reply == first.reply
        if first.error is None and again.duplicate is not None:
            # After a restart the engine knows the request from the log alone.
            fresh = Engine(CONFIG)
            for record in self.records:
                fresh.apply_record(record)
            restarted = fresh.execute(self.last_cmd, self.now)
            assert restarted.error is None and restarted.duplicate is not None
            assert restarted.records == []

    # ---------------------------------------------------------------- invariants

    @invariant()
    def windows_and_tickets_agree(self) -> None:
        state = self.engine.state
        holders: Counter[int] = Counter()
        for number, ws in state.windows.items():
            assert ws.number == number
            if ws.ticket is None:
                assert ws.status in ("closed", "idle", "paused", "away")
                continue
            holders[ws.ticket] += 1
            t = state.tickets[ws.ticket]
            assert t.window == number, "a window's ticket points back at the window"
            assert (t.status, ws.status) in (("called", "calling"), ("serving", "serving"))
            assert ws.staff is not None
        for t in state.tickets.values():
            expected = 1 if t.status in ("called", "serving") else 0
            assert holders[t.id] == expected, f"{t.display} ({t.status}) held {holders[t.id]}x"

    @invariant()
    def numbers_are_unique_per_service_and_day(self) -> None:
        state = self.engine.state
        displays = [t.display for t in state.tickets.values()]
        assert len(displays) == len(set(displays))
        numbers: dict[str, list[int]] = {}
        for t in state.tickets.values():
            assert t.day == state.day
            service = original_service(t)
            assert t.display.startswith(PREFIX[service])
            assert int(t.display[len(PREFIX[service]) :]) == t.number
            numbers.setdefault(service, []).append(t.number)
        for service, got in numbers.items():
            # No number twice, none skipped: 1..last, in the order they were issued.
            assert got == list(range(1, len(got) + 1))
            assert state.last_number[service] == len(got)

    @invariant()
    def counts_add_up(self) -> None:
        state = self.engine.state
        since_day = 0
        for r in reversed(self.records):
            if isinstance(r.event, DayStarted):
                break
            if isinstance(r.event, TicketIssued):
                since_day += 1
        by_status = Counter(t.status for t in state.tickets.values())
        assert set(by_status) <= set(STATUSES)
        assert sum(by_status.values()) == since_day == len(state.tickets)
        issued = sum(sum(counts) for counts in state.issued_by_session.values())
        assert issued == since_day
        for code in SERVICES:
            waiting = {t.id for t in state.tickets.values() if t.status == "waiting"}
            waiting = {i for i in waiting if state.tickets[i].service == code}
            assert set(self.engine.waiting.get(code, {})) == waiting
        served = Counter(t.window for t in state.tickets.values() if t.status == "done")
        for number, ws in state.windows.items():
            assert ws.served_today == served.get(number, 0)

    @invariant()
    def streaks_follow_the_calls(self) -> None:
        for number, ws in self.engine.state.windows.items():
            assert ws.priority_streak == self.streak.get(number, 0)

    @invariant()
    def the_log_replays_to_the_same_state(self) -> None:
        self.steps += 1
        if self.steps % REPLAY_EVERY == 0:
            self.check_replay()

    def check_replay(self) -> None:
        fresh = Engine(CONFIG)
        for record in self.records:
            fresh.apply_record(record)
        assert msgspec.json.encode(fresh.state) == msgspec.json.encode(self.engine.state)
        assert fresh.waiting == self.engine.waiting

    def teardown(self) -> None:
        self.check_replay()


def test_hall_machine_runs() -> None:
    """Guard against a machine that silently does nothing: one scripted walk."""
    m = HallMachine()
    m.start(20)
    m.sign_in(1, "s1")
    m.sign_in(3, "s3")
    m.issue("alpha", None)
    m.issue("alpha", "green")
    m.issue("gamma", None)
    m.call_next(1)
    m.call_next(3)
    m.windows_and_tickets_agree()
    m.counts_add_up()
    assert {t.status for t in m.engine.state.tickets.values()} == {"called", "waiting"}
    m.teardown()


HallMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("HALLQ_HYPOTHESIS_EXAMPLES", "150")),
    stateful_step_count=80,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestHallMachine = HallMachine.TestCase
