"""One simulated business day: a heap of timed happenings driving the real engine.

The clock is simulated (no sleeping, no threads): the earliest happening is taken off the
heap, the clock jumps to it, and what people do then becomes engine commands. Citizens take
tickets at the kiosk, walk up when called (or do not: 过号), are served, press the evaluator,
or give up waiting. Staff sign in per their shifts, press call-next when the engine shows
something waiting for their window, recall and mark no-shows as the hall's rules require
(the engine refuses a no-show before the recalls, and the staff recall), step away (请稍候)
and sign out after their current ticket when the shift ends. Every rule is the engine's;
the simulation only decides when people act.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hallq.hall import commands as c
from hallq.hall import events as e
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine, Outcome
from hallq.hall.schedule import Timetable, business_day
from hallq.hall.state import HallState
from hallq.simulate.arrivals import Citizen, appointments, midnight, walk_ins
from hallq.simulate.draws import streams
from hallq.simulate.hall_fit import check_against_hall
from hallq.simulate.ledger import Ledger
from hallq.simulate.records import DayResult, QueueSample, WindowRecord
from hallq.simulate.scenario import Scenario, ScenarioError
from hallq.simulate.staffing import window_days

BOOKED_BEFORE = 4 * 3600.0  # appointments are booked the evening before (20:00)
KIOSK_SECONDS = 2.0  # citizens waiting at the door take tickets this far apart at opening
EVALUATE_AFTER = 8.0  # seconds from the finish to the evaluator key


@dataclass
class _Desk:
    """A window as its staff member works it."""

    number: int
    staff: str
    services: tuple[str, ...]
    record: WindowRecord
    phase: str = "off"  # off, idle, free (deciding), calling, serving, away
    ticket: int | None = None
    token: int = 0  # the current call or away episode; stale happenings compare it
    shift_end: float = 0.0
    day_end: float = 0.0  # the end of its last shift: overtime only after that one
    pending_away: list[float] = field(default_factory=list)
    idle_since: float = 0.0
    signed_in_at: float = 0.0
    busy_since: float = 0.0


class HallDay:
    """Simulates one day of `scenario` at the hall `cfg` with random seed `seed`."""

    def __init__(
        self, cfg: HallConfig, scenario: Scenario, seed: int, learned: HallState | None = None
    ) -> None:
        problems = check_against_hall(cfg, scenario)
        if problems:
            raise ScenarioError([f"{path}: {message}" for path, message in problems])
        self.cfg = cfg
        self.scenario = scenario
        self.seed = seed
        self.engine = Engine(cfg, learned_from(learned) if learned is not None else None)
        rand = streams(seed)
        self.citizens = walk_ins(cfg, scenario, rand.citizens)
        self.bookings, holders = appointments(cfg, scenario, rand.appointments, len(self.citizens))
        self.citizens += holders
        table = Timetable(cfg)
        day = scenario.day
        closing = table.closing(day)
        self.day_start = midnight(cfg, day)
        self.closing = closing.timestamp() if closing else self.day_start
        sessions = table.sessions(day)
        self.opening = sessions[0].start.timestamp() if sessions else self.day_start
        self.recall_seconds = scenario.staffing.recall_seconds
        self.overtime = scenario.staffing.overtime_minutes * 60.0
        self.recalls_needed = cfg.no_show.recalls_before_no_show

        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[Any], None], Any]] = []
        self._seq = 0
        self._request = 0
        self._door: dict[float, int] = {}
        self._issuing: Citizen | None = None
        self.ledger = Ledger()
        self.tickets = self.ledger.tickets
        self.citizen_of = self.ledger.citizen_of
        self.turned_away: dict[str, int] = {}
        self.rejected: dict[str, int] = {}
        self.commands = 0
        self.events = 0
        self.samples: list[QueueSample] = []

        self.days = window_days(cfg, scenario, rand.staff)
        self.desks: dict[int, _Desk] = {}
        self.serving: dict[str, list[_Desk]] = {s.code: [] for s in cfg.services}
        for wd in self.days:
            w = cfg.window(wd.number)
            services = tuple(code for tier in w.tiers for code in tier) if w else ()
            desk = _Desk(wd.number, wd.staff, services, WindowRecord(wd.number, wd.staff))
            self.desks[wd.number] = desk
            for code in services:
                self.serving.setdefault(code, []).append(desk)

    # ------------------------------------------------------------ the loop

    def at(self, when: float, action: Callable[[Any], None], arg: Any = None) -> None:
        """Schedule `action(arg)` at simulated time `when`."""
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, action, arg))

    def run(self) -> DayResult:
        """Play the whole day and return its records."""
        self.now = self.day_start - BOOKED_BEFORE
        for b in self.bookings:
            self.execute(
                c.BookAppointment(
                    request_id=self._rid(),
                    code=b.code,
                    service=b.service,
                    slot_start=b.slot_start,
                    slot_end=b.slot_end,
                )
            )
        for citizen in self.citizens:
            self.at(citizen.arrives_at, self._arrive, citizen)
        first, last = self.opening, self.closing
        for wd in self.days:
            desk = self.desks[wd.number]
            desk.day_end = max(end for _, end in wd.shifts)
            for start, end in wd.shifts:
                self.at(start, self._shift_start, (desk, end))
                first, last = min(first, start), max(last, end + self.overtime)
            for start, seconds in wd.away:
                self.at(start, self._away_start, (desk, seconds))
        self._sample_until = last
        self._sample_step = self.scenario.sample_minutes * 60.0
        self.at(first, self._sample)
        started = min([first, *(citizen.arrives_at for citizen in self.citizens)])
        while self._heap:
            when, _, action, arg = heapq.heappop(self._heap)
            self.now = when
            action(arg)
        for record in self.tickets.values():
            if record.outcome == "waiting":
                record.outcome = "expired"  # the engine expires it when the next day starts
        for desk in self.desks.values():
            ws = self.engine.state.windows.get(desk.number)
            desk.record.away_seconds = ws.away_seconds_today if ws else 0.0
        return DayResult(
            scenario=self.scenario.name,
            hall=self.cfg.hall.id,
            date=self.scenario.date,
            seed=self.seed,
            timezone=self.cfg.hall.timezone,
            services=[s.code for s in self.cfg.services],
            bad_levels=[lv.code for lv in self.cfg.evaluation.levels if lv.bad],
            tickets=[self.tickets[k] for k in sorted(self.tickets)],
            windows=[self.desks[n].record for n in sorted(self.desks)],
            samples=self.samples,
            turned_away=dict(sorted(self.turned_away.items())),
            bookings=len(self.bookings),
            commands=self.commands,
            events=self.events,
            rejected=dict(sorted(self.rejected.items())),
            started_at=started,
            ended_at=self.now,
            measured_from=self.opening + self.scenario.warm_up_minutes * 60.0,
        )

    def close(self) -> HallState:
        """End the day as a hall does at midnight (the next business day starts, which is
        when the day's staffing is learned); the engine's state after it."""
        self.now = max(self.now, self.day_start + 86_400.0 + 60.0)
        self.execute(c.Tick(request_id=self._rid()))
        return self.engine.state

    def _rid(self) -> str:
        self._request += 1
        return f"sim-{self._request}"

    def execute(self, cmd: c.Command, expect: Collection[str] = ()) -> Outcome:
        """Send one command to the engine now; note what it did."""
        out = self.engine.execute(cmd, self.now)
        self.commands += 1
        self.events += len(out.records)
        if out.error is not None and out.error.code not in expect:
            self.rejected[out.error.code] = self.rejected.get(out.error.code, 0) + 1
        for r in out.records:
            if isinstance(r.event, e.TicketIssued):
                assert self._issuing is not None, "tickets are only issued to simulated citizens"
                self.ledger.issued(r.event, self._issuing, self.engine, self.now)
            else:
                self.ledger.observe(r.event, self.now)
        return out

    # ------------------------------------------------------------ citizens

    def _arrive(self, citizen: Citizen) -> None:
        """A citizen at the kiosk takes a ticket (or checks in with an appointment code)."""
        self._issuing = citizen
        out = self.execute(
            c.IssueTicket(
                request_id=self._rid(),
                service=citizen.service,
                category=citizen.category,
                appointment=citizen.appointment,
            ),
            expect=_KIOSK_REFUSALS,
        )
        self._issuing = None
        if out.error is None:
            issued = next(r.event for r in out.records if isinstance(r.event, e.TicketIssued))
            patience = citizen.patience_seconds
            if patience is not None and self.now + patience < self.closing:
                self.at(self.now + patience, self._give_up, issued.ticket)
            self._wake(issued.service)
            return
        code = out.error.code
        if code == "appointment_too_early" and citizen.slot_start is not None:
            early = self.engine.config.appointments.early_minutes * 60.0
            self.at(citizen.slot_start - early + 1.0, self._arrive, citizen)
        elif code == "appointment_too_late":
            citizen.appointment = citizen.slot_start = None  # takes a walk-in ticket instead
            self._arrive(citizen)
        elif code in _WAIT_AT_DOOR and (opening := self._next_opening()) is not None:
            queued = self._door.get(opening, 0)
            self._door[opening] = queued + 1
            self.at(opening + queued * KIOSK_SECONDS, self._arrive, citizen)
        else:
            self.turned_away[code] = self.turned_away.get(code, 0) + 1

    def _next_opening(self) -> float | None:
        """The next session start today, if any (citizens wait at the door for it)."""
        nxt = self.engine.timetable.next_opening(self.now)
        if nxt is None or nxt.date() != business_day(self.cfg, self.now):
            return None
        return nxt.timestamp()

    def _give_up(self, ticket: int) -> None:
        """Patience has run out: if still waiting (and the hall still open), they leave."""
        t = self.engine.state.tickets.get(ticket)
        if t is None or t.status != "waiting" or self.now >= self.closing:
            return
        self.execute(
            c.CancelTicket(request_id=self._rid(), ticket=t.display, reason="等候过久离开")
        )

    def _walk_up(self, arg: tuple[_Desk, int, int]) -> None:
        """The called citizen reaches the window; if marked missed meanwhile, asks to be put back."""
        desk, token, ticket = arg
        if desk.token == token and desk.phase == "calling" and desk.ticket == ticket:
            self.execute(c.StartService(request_id=self._rid(), window=desk.number))
            desk.phase = "serving"
            self.at(self.now + self.citizen_of[ticket].service_seconds, self._finish, (desk, token))
            return
        t = self.engine.state.tickets[ticket]
        if t.status == "no_show":  # 过号顺延: the desk puts them back N places, if rules allow
            out = self.execute(
                c.ReinstateTicket(request_id=self._rid(), ticket=t.display),
                expect=("grace_expired", "reinstate_limit"),
            )
            if out.error is None:
                self._wake(t.service)

    def _evaluate(self, arg: tuple[str, str]) -> None:
        display, level = arg
        self.execute(c.SubmitEvaluation(request_id=self._rid(), ticket=display, level=level))

    # ------------------------------------------------------------ staff

    def _waits_for(self, desk: _Desk) -> bool:
        """Does the engine show a ticket waiting that this window serves?"""
        waiting = self.engine.waiting
        return any(waiting.get(code) for code in desk.services)

    def _wake(self, service: str) -> None:
        """A ticket waits for `service`: the window idle longest calls."""
        best: _Desk | None = None
        for desk in self.serving.get(service, ()):
            if desk.phase == "idle" and (best is None or desk.idle_since < best.idle_since):
                best = desk
        if best is not None:
            self._try_call(best)

    def _try_call(self, desk: _Desk) -> None:
        called = None
        if self._waits_for(desk):
            out = self.execute(c.CallNext(request_id=self._rid(), window=desk.number))
            called = next(
                (r.event for r in out.records if isinstance(r.event, e.TicketCalled)), None
            )
        if called is None:
            if desk.phase != "idle":
                desk.phase, desk.idle_since = "idle", self.now
            return
        desk.phase, desk.ticket, desk.busy_since = "calling", called.ticket, self.now
        desk.token += 1
        citizen = self.citizen_of[called.ticket]
        if not citizen.no_show:
            self.at(
                self.now + citizen.walk_up_seconds, self._walk_up, (desk, desk.token, called.ticket)
            )
        self.at(self.now + self.recall_seconds, self._staff_check, (desk, desk.token, 1))

    def _staff_check(self, arg: tuple[_Desk, int, int]) -> None:
        """Nobody has come to the window: recall, or after the recalls mark the no-show."""
        desk, token, checks = arg
        if desk.token != token or desk.phase != "calling":
            return
        if checks <= self.recalls_needed:
            self.execute(c.Recall(request_id=self._rid(), window=desk.number))
            self.at(self.now + self.recall_seconds, self._staff_check, (desk, token, checks + 1))
            return
        out = self.execute(
            c.MarkNoShow(request_id=self._rid(), window=desk.number), expect=("recall_first",)
        )
        if out.error is not None:  # the engine wants more recalls first
            self.execute(c.Recall(request_id=self._rid(), window=desk.number))
            self.at(self.now + self.recall_seconds, self._staff_check, (desk, token, checks))
            return
        desk.record.no_shows += 1
        desk.record.busy_seconds += self.now - desk.busy_since
        self._free(desk)

    def _finish(self, arg: tuple[_Desk, int]) -> None:
        desk, token = arg
        if desk.token != token or desk.phase != "serving" or desk.ticket is None:
            return
        ticket = desk.ticket
        self.execute(c.FinishService(request_id=self._rid(), window=desk.number))
        desk.record.served += 1
        desk.record.busy_seconds += self.now - desk.busy_since
        level = self.citizen_of[ticket].evaluation
        if level is not None:
            self.at(
                self.now + EVALUATE_AFTER, self._evaluate, (self.tickets[ticket].display, level)
            )
        self._free(desk)

    def _free(self, desk: _Desk) -> None:
        """The window has no ticket: sign out, step away, or call the next."""
        desk.ticket = None
        desk.phase = "free"
        if self.now >= desk.shift_end:
            overtime = self.overtime if desk.shift_end >= desk.day_end else 0.0
            if self.now < desk.shift_end + overtime and self._waits_for(desk):
                self._try_call(desk)
            else:
                self._sign_out(desk)
        elif desk.pending_away:
            self._go_away(desk, desk.pending_away.pop(0))
        else:
            self._try_call(desk)

    def _shift_start(self, arg: tuple[_Desk, float]) -> None:
        desk, end = arg
        if desk.phase != "off":  # still finishing a ticket of the shift before
            desk.shift_end = end
            self.at(end, self._shift_end, (desk, end))
            return
        out = self.execute(c.SignIn(request_id=self._rid(), window=desk.number, staff=desk.staff))
        if out.error is not None:
            return
        desk.phase, desk.idle_since, desk.signed_in_at, desk.shift_end = (
            "free",
            self.now,
            self.now,
            end,
        )
        self.at(end, self._shift_end, (desk, end))
        self._try_call(desk)

    def _shift_end(self, arg: tuple[_Desk, float]) -> None:
        """The shift is over: sign out now if free, else after the current ticket."""
        desk, end = arg
        if desk.shift_end != end or desk.phase not in ("idle", "away"):
            return
        self._sign_out(desk)

    def _sign_out(self, desk: _Desk) -> None:
        self.execute(c.SignOut(request_id=self._rid(), window=desk.number))
        desk.phase, desk.pending_away = "off", []
        desk.token += 1
        desk.record.signed_in_seconds += self.now - desk.signed_in_at

    def _away_start(self, arg: tuple[_Desk, float]) -> None:
        """An away episode is due: at once if the window is free, else after its ticket."""
        desk, seconds = arg
        if desk.phase == "off" or self.now >= desk.shift_end:
            return
        if desk.phase == "idle":
            self._go_away(desk, seconds)
        else:
            desk.pending_away.append(seconds)

    def _go_away(self, desk: _Desk, seconds: float) -> None:
        self.execute(c.AwayWindow(request_id=self._rid(), window=desk.number, reason="请稍候"))
        desk.phase = "away"
        desk.token += 1
        desk.record.away_episodes += 1
        self.at(self.now + seconds, self._away_end, (desk, desk.token))

    def _away_end(self, arg: tuple[_Desk, int]) -> None:
        desk, token = arg
        if desk.token != token or desk.phase != "away":
            return
        self.execute(c.ResumeWindow(request_id=self._rid(), window=desk.number))
        self._free(desk)

    # ------------------------------------------------------------ measuring

    def _sample(self, _: Any) -> None:
        waiting = self.engine.waiting
        staffed = busy = 0
        for desk in self.desks.values():
            if desk.phase != "off":
                staffed += 1
                busy += desk.phase in ("calling", "serving")
        self.samples.append(
            QueueSample(
                at=self.now,
                waiting={code: len(waiting.get(code, ())) for code in self.serving},
                staffed=staffed,
                busy=busy,
            )
        )
        open_windows = any(desk.phase != "off" for desk in self.desks.values())
        if self.now + self._sample_step <= self._sample_until or open_windows:
            self.at(self.now + self._sample_step, self._sample)


_KIOSK_REFUSALS = frozenset(
    {
        "appointment_too_early",
        "appointment_too_late",
        "before_opening",
        "between_sessions",
        "cutoff",
        "after_closing",
        "closed_day",
        "quota_reached",
        "session_quota_reached",
        "numbers_exhausted",
    }
)
_WAIT_AT_DOOR = frozenset({"before_opening", "between_sessions", "cutoff"})


def simulate_day(
    cfg: HallConfig, scenario: Scenario, seed: int = 1, learned: HallState | None = None
) -> DayResult:
    """Simulate one day of `scenario` at the hall `cfg`; with `learned`, the engine starts
    knowing what that state's log taught (the day before: see `simulate_days`)."""
    return HallDay(cfg, scenario, seed, learned).run()


def simulate_days(
    cfg: HallConfig, scenario: Scenario, seeds: Sequence[int], learn_days: int = 0
) -> Iterator[DayResult]:
    """Days of `scenario` one after another, as a hall lives them: each day's engine starts
    with what the days before taught it (service times, arrivals, staffing over the day, the
    P90's scale, …). The first `learn_days` seeds are played only to learn and not returned."""
    learned: HallState | None = None
    for i, seed in enumerate(seeds):
        day = HallDay(cfg, scenario, seed, learned)
        result = day.run()
        learned = day.close()
        if i >= learn_days:
            yield result


def learned_from(state: HallState) -> HallState:
    """A new day's state that keeps only what the log taught (no tickets, windows closed)."""
    return HallState(
        rates=state.rates,
        pace=state.pace,
        hall_pace=state.hall_pace,
        staffing=state.staffing,
    )
