"""Capacity planning, the first guess: each service's demand per hour of the day and the
Erlang C (M/M/s) sizing that would keep its p90 wait under the target.

The hours are the clock hours the hall is open on the scenario's day (a session 08:40-11:50
gives 08:40-09:00, 09:00-10:00, 10:00-11:00 and 11:00-11:50). A service's demand in an hour
is the tickets expected to be *issued* then: walk-ins who arrive while the kiosk issues, plus
those who waited at the door for an opening (before opening, over lunch, in the cutoff before
a session ends), plus appointment check-ins spread over the sessions. Each ticket keeps a
window busy for its walk-up and its service, or for the recalls when nobody comes, and the
staff's away episodes (请稍候) take a share of their time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hallq.hall.config import HallConfig
from hallq.hall.schedule import Timetable
from hallq.simulate.arrivals import appointment_count, midnight
from hallq.simulate.scenario import Scenario, clock_minutes

P90_TAIL = 0.1  # p90: the wait that only a tenth of the tickets exceed


@dataclass(frozen=True)
class PlanHour:
    """One hour of the day that the hall is open in, or part of it (times in minutes)."""

    hour: int  # the clock hour, 8 for 08:00-09:00
    spans: tuple[tuple[int, int], ...]  # open minutes after midnight, e.g. ((520, 540),)

    @property
    def open_minutes(self) -> int:
        return sum(b - a for a, b in self.spans)

    @property
    def label(self) -> str:
        """The open time as "08:40-09:00" (or "09:00-10:00" for a whole hour)."""
        return ", ".join(f"{_clock(a)}-{_clock(b)}" for a, b in self.spans)


@dataclass(frozen=True)
class Demand:
    """What a service asks of its windows in one hour."""

    tickets: float  # expected tickets issued in the hour
    per_hour: float  # the rate while open: tickets / open hours
    busy_minutes: float  # mean window time per ticket, away episodes included

    @property
    def load(self) -> float:
        """Offered load in windows (Erlang): per_hour × busy_minutes / 60."""
        return self.per_hour * self.busy_minutes / 60.0


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def plan_hours(cfg: HallConfig, scenario: Scenario) -> list[PlanHour]:
    """The clock hours the hall is open on the scenario's day, each with its open spans."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for s in Timetable(cfg).sessions(scenario.day):
        start = s.start.hour * 60 + s.start.minute
        end = s.end.hour * 60 + s.end.minute
        for hour in range(start // 60, (end + 59) // 60):
            a, b = max(start, hour * 60), min(end, hour * 60 + 60)
            if b > a:
                spans.setdefault(hour, []).append((a, b))
    return [PlanHour(h, tuple(spans[h])) for h in sorted(spans)]


def busy_minutes(cfg: HallConfig, scenario: Scenario, service: str) -> float:
    """Mean minutes a ticket of `service` keeps a window from other tickets."""
    mix = scenario.services.get(service)
    svc = cfg.service(service)
    serve = mix.minutes.mean if mix is not None and mix.minutes is not None else None
    if serve is None:
        serve = svc.service_minutes if svc is not None else 10.0
    c = scenario.citizens
    walk_up = c.walk_up_seconds.mean / 60.0
    recalls = scenario.staffing.recall_seconds * (cfg.no_show.recalls_before_no_show + 1) / 60.0
    per_ticket = (1 - c.no_show_share) * (walk_up + serve) + c.no_show_share * recalls
    away = scenario.staffing.away
    away_share = min(0.9, away.per_hour * away.minutes.mean / 60.0)
    return per_ticket / (1 - away_share)


def _issue_minute(table: Timetable, base: float, minute: float) -> float | None:
    """When a walk-in arriving at `minute` (after midnight) gets a ticket, or None (turned away)."""
    ts = base + minute * 60.0
    status = table.issue_status(ts)
    if status.open:
        return minute
    nxt = status.next_opening
    if status.code in ("before_opening", "between_sessions", "cutoff") and nxt is not None:
        at = (nxt.timestamp() - base) / 60.0
        return at if at < 24 * 60 else None
    return None


def walk_ins_by_minute(scenario: Scenario) -> list[float]:
    """Expected walk-ins arriving in each minute of the day (1440 values)."""
    rate = [0.0] * (24 * 60)
    for seg in scenario.arrivals.profile:
        for m in range(clock_minutes(seg.from_), clock_minutes(seg.to)):
            rate[m] += seg.per_hour / 60.0
    return rate


@dataclass(frozen=True)
class DayDemand:
    """The day's demand: per (service, hour index), and the walk-ins no opening serves."""

    hours: list[PlanHour]
    cells: dict[tuple[str, int], Demand]  # (service, index into hours)
    at_door: dict[int, float]  # clock hour → walk-ins arriving while closed (served later)
    turned_away: float  # walk-ins expected after the last issue of the day


def day_demand(cfg: HallConfig, scenario: Scenario) -> DayDemand:
    """Each service's expected tickets by hour of issue, and the window time they take."""
    hours = plan_hours(cfg, scenario)
    index = {h.hour: i for i, h in enumerate(hours)}
    table = Timetable(cfg)
    base = midnight(cfg, scenario.day)
    issued = [0.0] * len(hours)
    at_door: dict[int, float] = {}
    turned_away = 0.0
    for minute, walk_ins in enumerate(walk_ins_by_minute(scenario)):
        if walk_ins <= 0:
            continue
        at = _issue_minute(table, base, minute + 0.5)
        if at is None:
            turned_away += walk_ins
            continue
        if at != minute + 0.5:
            at_door[minute // 60] = at_door.get(minute // 60, 0.0) + walk_ins
        i = index.get(int(at // 60))
        if i is None:
            turned_away += walk_ins
        else:
            issued[i] += walk_ins
    total_share = sum(m.share for m in scenario.services.values())
    tickets: dict[tuple[str, int], float] = {}
    for code, mix in scenario.services.items():
        for i, n in enumerate(issued):
            tickets[(code, i)] = n * mix.share / total_share if total_share else 0.0
    _add_appointments(scenario, hours, tickets)
    cells = {}
    for (code, i), n in tickets.items():
        open_hours = hours[i].open_minutes / 60.0
        cells[(code, i)] = Demand(
            tickets=n,
            per_hour=n / open_hours if open_hours else 0.0,
            busy_minutes=busy_minutes(cfg, scenario, code),
        )
    return DayDemand(hours, cells, at_door, turned_away)


def _add_appointments(
    scenario: Scenario, hours: list[PlanHour], tickets: dict[tuple[str, int], float]
) -> None:
    """Appointment holders who come, spread over the open minutes (their slots tile them)."""
    ap = scenario.appointments
    count = appointment_count(scenario)
    open_total = sum(h.open_minutes for h in hours)
    if ap is None or count == 0 or open_total == 0:
        return
    coming = count * (1 - ap.missed_share)
    weights = ap.services or {c: m.share for c, m in scenario.services.items()}
    total = sum(weights.values())
    for code, w in weights.items():
        for i, h in enumerate(hours):
            key = (code, i)
            tickets[key] = tickets.get(key, 0.0) + coming * w / total * h.open_minutes / open_total


# ---------------------------------------------------------------- Erlang C


def erlang_c(windows: int, load: float) -> float:
    """The probability that a ticket waits in M/M/s with `windows` servers and `load` Erlangs."""
    if load <= 0:
        return 0.0
    if windows <= load:
        return 1.0
    b = 1.0  # Erlang B by its recursion, stable for large s
    for k in range(1, windows + 1):
        b = load * b / (k + load * b)
    return windows * b / (windows - load * (1 - b))


def mms_p90_minutes(windows: int, per_hour: float, busy_minutes: float) -> float:
    """The p90 wait in M/M/s: P(W > t) = C·exp(−(sμ − λ)t); infinite when s ≤ λ/μ."""
    if per_hour <= 0:
        return 0.0
    if windows <= 0:
        return math.inf
    load = per_hour * busy_minutes / 60.0
    if windows <= load:
        return math.inf
    wait = erlang_c(windows, load)
    if wait <= P90_TAIL:
        return 0.0
    drain_per_minute = (windows - load) / busy_minutes  # sμ − λ, per minute
    return math.log(wait / P90_TAIL) / drain_per_minute


def carrying_windows(demand: Demand) -> int:
    """The fewest windows that carry the hour's work: more than its offered load."""
    if demand.tickets <= 0 or demand.per_hour <= 0:
        return 0
    return math.floor(demand.load + 1e-9) + 1  # 108/h × 5 min is 9 windows' work, not 8.99…


def erlang_windows(demand: Demand, target_minutes: float) -> int:
    """The fewest windows whose M/M/s p90 wait is at most the target (0 for no demand)."""
    if demand.tickets <= 0 or demand.per_hour <= 0:
        return 0
    s = carrying_windows(demand)
    while mms_p90_minutes(s, demand.per_hour, demand.busy_minutes) > target_minutes:
        s += 1
    return s
