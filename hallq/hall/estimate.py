"""Wait estimates (v2): when a ticket will be called, and a P90, from what the hall knows now.

`Estimator.outlook` looks at one service: at each window that serves it (idle, busy with a
ticket in hand for so long, away, on a break in turns, or serving the service only below a
tier with a queue), at the hall's timetable ahead, at who may still go ahead of a ticket
(priority tickets arriving, appointments falling due, those ahead who will give up), all
with what the log has taught (hallq/hall/pace.py), and at how composite windows share their
time (hallq/hall/sharing.py and each shared window's recent calls). The `ServiceOutlook` it
returns does the arithmetic (hallq/hall/forecast.py). docs/ESTIMATES.md describes the method
and its accuracy.

On a stationary M/M/s hall this is the queue-length estimator (n + 1)/(s·μ) of Ibrahim and
Whitt, with Erlang's P90. It is recomputed on every issue and view: one pass over the windows
that serve the service, then a few steps per ticket.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from hallq.hall import staffing
from hallq.hall.config import HallConfig
from hallq.hall.forecast import (
    INF,
    Forecast,
    Lane,
    ServiceOutlook,
    TicketClass,
    TicketWait,
)
from hallq.hall.pace import CALL_MIX_CALLS, Pace, arrivals_per_minute, call_minutes
from hallq.hall.policy import ranked, sort_key, ticket_rank
from hallq.hall.schedule import Timetable
from hallq.hall.sharing import Layout, Sharing
from hallq.hall.state import NORMAL_RANK, HallState, Ticket, WindowState

OPEN_STATUSES = ("idle", "calling", "serving")
MIX_PRIOR_CALLS = 5  # the model of a shared window counts as this many of its calls
MIX_RIVALS = 3  # tickets of other services waiting for a shared window: half trust at this many
OVERDUE_BREAKS = 2.0  # a window away more than twice the usual break is not counted on
# How composite windows share their time follows the open windows and the services' loads;
# loads (arrival rates, window times) are learned over tens of minutes, so the shares worked
# out once serve every estimate for this long, or until a window opens or closes.
SHARING_SECONDS = 30.0

__all__ = [
    "Estimator",
    "Forecast",
    "ServiceOutlook",
    "TicketClass",
    "TicketWait",
    "forecast_ticket",
    "mean_service_minutes",
    "minutes_per_call",
    "outlook",
    "outlooks",
    "ticket_waits",
]


@dataclass(frozen=True)
class _Serving:
    """How one window serves one service: which tier, with which services, after which."""

    window: int
    index: int  # of the tier
    tier: tuple[str, ...]
    above: tuple[str, ...]  # services of the tiers it takes first


class Estimator:
    """Wait estimates for one hall configuration (the engine keeps one per configuration)."""

    def __init__(self, cfg: HallConfig, timetable: Timetable | None = None) -> None:
        self.cfg = cfg
        self.timetable = timetable if timetable is not None else Timetable(cfg)
        self.serving: dict[str, tuple[_Serving, ...]] = {}
        self.tiers = {w.number: tuple(tuple(t) for t in w.tiers) for w in cfg.windows}
        for w in cfg.windows:
            above: list[str] = []
            for i, tier in enumerate(w.tiers):
                for code in tier:
                    entry = _Serving(w.number, i, tuple(tier), tuple(above))
                    self.serving[code] = (*self.serving.get(code, ()), entry)
                above.extend(tier)
        self.layout = Layout.of(self.tiers)
        self.configured = {s.code: s.service_minutes for s in cfg.services}
        self._day: tuple[float, float, tuple[tuple[float, float], ...]] | None = None
        # (the state's id, its open windows, since when, the shares)
        self._shares: tuple[int, int, float, Sharing] | None = None
        self._opened: tuple[int, int, int] | None = None  # (the state's id, its seq, open set)
        self._steps: (
            tuple[
                tuple[int, int, float, int],
                tuple[bool, ...],
                dict[int, tuple[tuple[int, float], ...]],
            ]
            | None
        ) = None

    # ------------------------------------------------------------ the timetable

    def sessions_of(self, now: float) -> tuple[tuple[float, float], ...]:
        """Today's sessions as (start, end) in seconds since the epoch (cached for the day)."""
        cached = self._day
        if cached is not None and cached[0] <= now < cached[1]:
            return cached[2]
        local = datetime.fromtimestamp(now, self.cfg.zone)
        day: date = local.date()
        midnight = datetime.combine(day, datetime.min.time(), self.cfg.zone).timestamp()
        following = datetime.combine(
            day + timedelta(days=1), datetime.min.time(), self.cfg.zone
        ).timestamp()
        sessions = tuple(
            (s.start.timestamp(), s.end.timestamp()) for s in self.timetable.sessions(day)
        )
        self._day = (midnight, following, sessions)
        return sessions

    def spans(self, now: float | None) -> tuple[tuple[float, float], ...]:
        """The open spans ahead in minutes from now; the last one never ends (after closing
        the queue is served on at the same pace, as staff do when they stay on)."""
        if now is None:
            return ((0.0, INF),)
        ahead = [(s, e) for s, e in self.sessions_of(now) if e > now]
        if not ahead:
            return ((0.0, INF),)
        out = [(max(0.0, s - now) / 60.0, (e - now) / 60.0) for s, e in ahead]
        out[-1] = (out[-1][0], INF)
        return tuple(out)

    # ------------------------------------------------------------ the outlook

    def outlook(
        self,
        state: HallState,
        waiting: Mapping[str, Mapping[int, None]],
        service: str,
        now: float | None = None,
        booked: Mapping[str, Sequence[float]] | None = None,
    ) -> ServiceOutlook:
        """The outlook of one service: one pass over the windows that serve it."""
        pace = Pace(state.hall_pace)
        minutes: dict[str, tuple[float, float]] = {}

        def per_call(code: str) -> tuple[float, float]:
            got = minutes.get(code)
            if got is None:
                got = minutes[code] = call_minutes(
                    state.pace.get(code), self.configured.get(code, 10.0)
                )
            return got

        mine, cv2 = per_call(service)
        queued_here = len(waiting.get(service, ()))
        spans = self.spans(now)
        closed_now = spans[0][0] > 0.0  # between sessions: open time starts at the next one
        session_left = spans[0][1] - spans[0][0]
        keep = 1.0 - pace.away_share
        lanes: list[Lane] = []
        delayed: list[float] = []
        capacity, opened, idle = 0.0, 0, 0
        sharing: Sharing | None = None
        # Busy windows call next when their ticket in hand is done: together, `in_hand`
        # calls at a pace of `in_hand_rate` a minute, then their usual pace.
        in_hand = in_hand_rate = busy_rate = 0.0
        # Windows staffed now: (window, from when, the rate it gives), for the staffing ahead;
        # from -1.0: once its ticket in hand is done.
        staffed: list[tuple[int, float, float]] = []
        windows = state.windows
        for serving in self.serving.get(service, ()):
            ws = windows.get(serving.window)
            if ws is None:
                continue
            status = ws.status
            first = 0.0  # a busy window: minutes until its ticket in hand is done
            if status in OPEN_STATUSES:
                start, jump = 0.0, 1.0 if status == "idle" else 0.0
                opened += 1
                if ws.ticket is not None and ws.busy_since:
                    first = self._in_hand_left(ws, state, now, per_call)
            elif status == "away":
                opened += 1
                start, jump = self._away_left(ws, now, pace), 1.0
            elif back := self._back_from_break(ws, now, pace):
                start, jump = back, 1.0
            else:
                continue
            # Back after this session ends: there when the next one opens.
            start = 0.0 if closed_now else min(start, session_left)
            share, per = 1.0, mine
            if len(serving.tier) > 1:
                # A tier of several services is called oldest first: the window's calls go to
                # them in proportion to their queues, each taking its own window time.
                count, work = 1, mine
                for c in serving.tier:
                    queued = len(waiting.get(c, ()))
                    count += queued
                    work += queued * per_call(c)[0]
                share, per = (queued_here + 1) / count, work / count
            later = start  # when the modelled share begins (after the tiers above drain)
            if serving.above:
                if sharing is None:
                    sharing = self._sharing(state, now)
                drain = self._drain(serving.above, waiting, sharing, per_call)
                spare = sharing.spare(serving.window, serving.index)
                share = 0.0 if drain == INF else share * spare
                later = max(start, drain)
            if len(serving.tier) > 1 or serving.above:
                # A shared window: what it has done lately says how it shares its time, the
                # model says so before it has called enough to tell.
                (part, call), weight = self._learned_rate(ws, service, per_call)
                # ...but only while others compete for it: with little waiting elsewhere, its
                # next call is simply for the oldest ticket it serves.
                rivals = sum(len(waiting.get(c, ())) for c in (*serving.above, *serving.tier))
                rivals -= queued_here
                weight *= rivals / (rivals + MIX_RIVALS)
                now_share, now_rate = weight * part, weight * part * keep / call
                share *= 1.0 - weight
            else:
                now_share = now_rate = 0.0
            rate = share * keep / per if share > 0.0 else 0.0
            here = status in OPEN_STATUSES or status == "away"
            if later > start:
                if rate > 0.0:
                    lanes.append(Lane(later, 0.0, rate))
                    if here:
                        staffed.append((serving.window, later, rate))
            else:
                now_share += share
                now_rate += rate
            if now_rate <= 0.0:
                if rate <= 0.0:  # nothing for it at all: as v1, after clearing the tiers above
                    delayed.append(
                        sum(len(waiting.get(c, ())) * per_call(c)[0] for c in serving.above)
                    )
                continue
            if first > 0.0 and start == 0.0:
                in_hand += now_share
                in_hand_rate += now_share / first
                busy_rate += now_rate
                if here:
                    staffed.append((serving.window, -1.0, now_rate))
            else:
                lanes.append(Lane(start, 1.0 if status == "idle" else jump * now_share, now_rate))
                if here:
                    staffed.append((serving.window, start, now_rate))
            if start == 0.0:
                capacity += now_share
                idle += status == "idle"
        if in_hand:
            lanes.append(Lane(0.0, 0.0, in_hand_rate))
            lanes.append(Lane(in_hand / in_hand_rate, 0.0, busy_rate - in_hand_rate))
        if staffed and now is not None and state.staffing.days:
            done_in_hand = in_hand / in_hand_rate if in_hand else 0.0
            lanes.extend(self._staffing_ahead(state, now, spans, staffed, done_in_hand))
        # Every window there calls when a later session opens (they finished over the break).
        opening = 0.0
        for begin, end in spans[:-1] if lanes else ():
            opening += end - begin
            there = sum(lane.rate for lane in lanes if lane.start < opening) * mine
            lanes.append(Lane(opening, there, 0.0))
        lanes.sort(key=lambda lane: lane.start)
        rates = state.pace.get(service)
        arriving = arrivals_per_minute(rates, now) * pace.priority_share
        # However many priority tickets come, a normal one is called after every few of them
        # (the anti-starvation rule): they can take no more than that share of the calls.
        in_row = self.cfg.queue.max_priority_in_row
        arriving = min(arriving, sum(lane.rate for lane in lanes) * in_row / (in_row + 1))
        slots: Sequence[float] = ()
        first_slot = 0
        if now is not None:
            slots = self._booked(state, service, booked)
            first_slot = bisect.bisect_left(slots, now)
        learned = state.rates.get(service)
        return ServiceOutlook(
            service=service,
            waiting=queued_here,
            windows_open=opened,
            idle_windows=idle,
            capacity=capacity,
            mean_minutes=learned.mean_seconds / 60.0
            if learned is not None and learned.samples > 0
            else self.configured.get(service, 10.0),
            call_minutes=mine,
            call_cv2=cv2,
            lanes=tuple(lanes),
            spans=spans,
            priority_per_minute=arriving,
            give_up_per_minute=pace.give_up_per_minute,
            booked=slots,
            booked_from=first_slot,
            kept=pace.appointments_kept,
            now=now or 0.0,
            p90_scale=pace.p90_scale,
            delayed=tuple(sorted(delayed)),
        )

    def _staffing_ahead(
        self,
        state: HallState,
        now: float,
        spans: tuple[tuple[float, float], ...],
        staffed: list[tuple[int, float, float]],
        done_in_hand: float,
    ) -> list[Lane]:
        """The changes ahead in what the staffed windows give, as the usual day has them
        (windows that go to lunch in turns, close early, …): lanes of rate steps."""
        st = state.staffing
        slot = staffing.slot_of(st, now)
        if slot is None:
            return []
        steps = self._steps_for(state, now, slot)
        changes: dict[float, float] = {}
        for window, begin, rate in staffed:
            for later, change in steps(window):
                wall = (staffing.slot_start(st, later) - now) / 60.0
                at = max(done_in_hand if begin < 0.0 else begin, _open_minutes(spans, wall))
                changes[at] = changes.get(at, 0.0) + rate * change
        return [Lane(at, 0.0, rate) for at, rate in changes.items() if rate]

    def _steps_for(
        self, state: HallState, now: float, slot: int
    ) -> Callable[[int], tuple[tuple[int, float], ...]]:
        """Each window's steps ahead from `slot` (worked out once per slot of the day)."""
        st = state.staffing
        key = (id(state), st.days, st.midnight, slot)
        cached = self._steps
        if cached is None or cached[0] != key:
            sessions = self.sessions_of(now)
            usable = staffing.open_slots(st.midnight, sessions)
            cached = self._steps = (key, usable, {})
        _, usable, known = cached

        def steps(window: int) -> tuple[tuple[int, float], ...]:
            got = known.get(window)
            if got is None:
                got = known[window] = staffing.ratio_steps(st, window, slot, usable)
            return got

        return steps

    def _sharing(self, state: HallState, now: float | None) -> Sharing:
        opened = self._open_set(state)
        cached = self._shares
        if (
            cached is not None
            and now is not None
            and cached[0] == id(state)
            and cached[1] == opened
            and 0.0 <= now - cached[2] < SHARING_SECONDS
        ):
            return cached[3]

        def load(code: str) -> float:
            # Its own window times, not `per_call`'s: the shares outlive this outlook.
            minutes = call_minutes(state.pace.get(code), self.configured.get(code, 10.0))[0]
            return arrivals_per_minute(state.pace.get(code), now) * minutes

        shares = Sharing(self.layout, opened, load)
        if now is not None:
            self._shares = (id(state), opened, now, shares)
        return shares

    def _open_set(self, state: HallState) -> int:
        """The open windows as the layout's set of bits (worked out once per event)."""
        known = self._opened
        if known is not None and known[0] == id(state) and known[1] == state.seq:
            return known[2]
        opened = 0
        bits = self.layout.bit
        for number, ws in state.windows.items():
            if ws.status in OPEN_STATUSES:
                opened |= bits.get(number, 0)
        self._opened = (id(state), state.seq, opened)
        return opened

    def _learned_rate(
        self, ws: WindowState, service: str, per_call: Callable[[str], tuple[float, float]]
    ) -> tuple[tuple[float, float], float]:
        """A shared window's recent calls: (the share that went to the service, the mean
        window time of a call there) and how much to trust them (0 to 1)."""
        mix = ws.call_mix
        if not ws.calls_mixed or not mix:
            return (0.0, 1.0), 0.0
        total = work = 0.0
        for code, part in mix.items():
            total += part
            work += part * per_call(code)[0]
        if total <= 0.0 or work <= 0.0:
            return (0.0, 1.0), 0.0
        calls = min(ws.calls_mixed, CALL_MIX_CALLS)
        weight = calls / (calls + MIX_PRIOR_CALLS)
        return (mix.get(service, 0.0) / total, work / total), weight

    def _in_hand_left(
        self,
        ws: WindowState,
        state: HallState,
        now: float | None,
        per_call: Callable[[str], tuple[float, float]],
    ) -> float:
        """Expected minutes until a busy window is done with its ticket in hand.

        Window times are taken as gamma-like with the learned mean m and cv²: the expected
        time left starts at m and falls, the longer the ticket has been at the window, towards
        m·cv² (memoryless times, cv² >= 1, always have m left).
        """
        t = state.tickets.get(ws.ticket) if ws.ticket is not None else None
        m, cv2 = per_call(t.service) if t is not None else (0.0, 1.0)
        if m <= 0.0:
            return 0.0
        floor = m * min(cv2, 1.0)
        if now is None or m - floor < 1e-9:
            return m
        gone = max(0.0, now - ws.busy_since) / 60.0
        return floor + (m - floor) * math.exp(-gone / (m - floor))

    def _away_left(self, ws: WindowState, now: float | None, pace: Pace) -> float:
        """Minutes until an away window is back: the learned mean, and longer the longer it
        has been away already (a long one is a meeting, not a quick errand)."""
        usual = pace.away_minutes
        if now is None:
            return usual
        gone = max(0.0, now - ws.since) / 60.0
        return max(usual - gone, gone / 2.0, usual / 4.0)

    def _back_from_break(self, ws: WindowState, now: float | None, pace: Pace) -> float | None:
        """Open minutes until a closed window is back, if its staff are on a break: signed out
        earlier in this session after serving today, or in the last session while the hall is
        between sessions (they come back when it opens). None: not expected back."""
        if ws.status != "closed" or now is None or ws.served_today == 0:
            return None
        sessions = self.sessions_of(now)
        current = next(((s, e) for s, e in sessions if s <= now < e), None)
        if current is None:
            last = next(((s, e) for s, e in reversed(sessions) if e <= now), None)
            later = any(s > now for s, _ in sessions)
            return 0.0 if last is not None and ws.since >= last[0] and later else None
        if ws.since < current[0]:
            return None
        usual = pace.break_minutes
        gone = (now - ws.since) / 60.0
        if gone > OVERDUE_BREAKS * usual:
            return None
        return max(usual - gone, usual / 4.0, 1e-9)

    def _drain(
        self,
        above: tuple[str, ...],
        waiting: Mapping[str, Mapping[int, None]],
        sharing: Sharing,
        per_call: Callable[[str], tuple[float, float]],
    ) -> float:
        """Open minutes until the windows able to serve the tiers above have cleared the
        queues there now (new arrivals there are what `Sharing.spare` leaves out)."""
        drain = 0.0
        for code in above:
            queued = len(waiting.get(code, ()))
            if queued:
                able = sharing.capacity(code)
                if able <= 0.0:
                    return INF
                drain = max(drain, queued * per_call(code)[0] / able)
        return drain

    def _booked(
        self, state: HallState, service: str, booked: Mapping[str, Sequence[float]] | None
    ) -> Sequence[float]:
        """Slot starts of today's appointments for the service not yet checked in, sorted."""
        if booked is not None:
            return booked.get(service, ())
        return sorted(
            a.slot_start
            for a in state.appointments.values()
            if a.service == service and a.day == state.day and a.ticket is None
        )

    def outlooks(
        self,
        state: HallState,
        waiting: Mapping[str, Mapping[int, None]],
        now: float | None = None,
        booked: Mapping[str, Sequence[float]] | None = None,
    ) -> dict[str, ServiceOutlook]:
        """One outlook per configured service."""
        return {
            s.code: self.outlook(state, waiting, s.code, now, booked) for s in self.cfg.services
        }

    def ticket_waits(
        self,
        state: HallState,
        waiting: Mapping[str, Mapping[int, None]],
        ranks: Mapping[str, int],
        now: float,
        booked: Mapping[str, Sequence[float]] | None = None,
    ) -> dict[int, TicketWait]:
        """For every waiting ticket: how many are ahead of it, its expected wait and P90."""
        views = self.outlooks(state, waiting, now, booked)
        result: dict[int, TicketWait] = {}
        for code, ids in waiting.items():
            view = views.get(code)
            queue = ranked((state.tickets[i] for i in ids), ranks, now)
            for position, t in enumerate(queue):
                if view is None:
                    result[t.id] = TicketWait(position, None, None)
                    continue
                minutes, p90 = forecast_ticket(view, t, position, queue, ranks, now)
                result[t.id] = TicketWait(position, minutes, p90)
        return result


def _open_minutes(spans: tuple[tuple[float, float], ...], wall: float) -> float:
    """Open minutes from now until `wall` minutes from now."""
    return sum(max(0.0, min(wall, end) - start) for start, end in spans)


def forecast_ticket(
    view: ServiceOutlook,
    t: Ticket,
    ahead: int,
    queue: Sequence[Ticket],
    ranks: Mapping[str, int],
    now: float,
) -> Forecast:
    """A waiting ticket's forecast, `ahead` its place in `queue` (its service's queue)."""
    cls = ticket_class(t, ranks)
    if cls == "appointment" and t.slot_start is not None and t.slot_start > now:
        then = ahead_at(queue, t, ranks, t.slot_start)
        return view.forecast_appointment(ahead, then, t.slot_start)
    return view.forecast(ahead, cls)


def ahead_at(queue: Sequence[Ticket], t: Ticket, ranks: Mapping[str, int], when: float) -> int:
    """How many of `queue` the policy would call before `t` at time `when`."""
    mine = sort_key(t, ticket_rank(t, ranks), when)
    return sum(1 for x in queue if x.id != t.id and sort_key(x, ticket_rank(x, ranks), when) < mine)


def ticket_class(t: Ticket, ranks: Mapping[str, int]) -> TicketClass:
    """Who may still go ahead of the ticket (see TicketClass)."""
    if ticket_rank(t, ranks) != NORMAL_RANK:
        return "priority"
    return "appointment" if t.slot_start is not None else "normal"


# ------------------------------------------------------------------ for callers without an engine


def mean_service_minutes(cfg: HallConfig, state: HallState, service: str) -> float:
    """The learned service time (start to finish), or the configured one."""
    rate = state.rates.get(service)
    if rate is not None and rate.samples > 0:
        return rate.mean_seconds / 60.0
    svc = cfg.service(service)
    return svc.service_minutes if svc else 10.0


def minutes_per_call(cfg: HallConfig, state: HallState, service: str) -> float:
    """The learned window time per call (what estimates use), or the configured service time."""
    svc = cfg.service(service)
    return call_minutes(state.pace.get(service), svc.service_minutes if svc else 10.0)[0]


def outlook(
    cfg: HallConfig,
    state: HallState,
    waiting: Mapping[str, Mapping[int, None]],
    service: str,
    now: float | None = None,
) -> ServiceOutlook:
    """The outlook of one service (builds an Estimator: an engine keeps one instead)."""
    return Estimator(cfg).outlook(state, waiting, service, now)


def outlooks(
    cfg: HallConfig,
    state: HallState,
    waiting: Mapping[str, Mapping[int, None]],
    now: float | None = None,
) -> dict[str, ServiceOutlook]:
    """One outlook per configured service."""
    return Estimator(cfg).outlooks(state, waiting, now)


def ticket_waits(
    cfg: HallConfig,
    state: HallState,
    waiting: Mapping[str, Mapping[int, None]],
    ranks: Mapping[str, int],
    now: float,
) -> dict[int, TicketWait]:
    """For every waiting ticket: how many are ahead of it, its expected wait and P90."""
    return Estimator(cfg).ticket_waits(state, waiting, ranks, now)
