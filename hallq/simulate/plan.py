"""Capacity planning (排班测算): how many windows each service needs in each hour of the day
for the p90 wait to stay under a target, for a scenario's arrivals and service times.

1. First guess: for each service and hour, the fewest windows whose Erlang C (M/M/s) p90
   wait is under the target, from the demand of that hour (plan_demand).
2. Check: play the day with that staffing through the real engine, at single-service windows
   (plan_staffing), on several seeds, and take for each (service, hour) the p90 wait of the
   tickets *issued* in that hour, pooled over the seeds. A ticket never called counts as
   waiting for ever (one that gave up, as long as it waited).
3. Adjust: a window more where the p90 missed the target; a window less where it held with
   room (p90 at most half the target, and with a window less still under it by M/M/s
   scaled to what the day measured), except in the hours next to a miss of the same
   service, and never below the windows that carry the hour's work (more than its offered
   load: a queue that grows through the hour only passes its tickets to the next). A window
   taken away whose hour, or the next, then misses is put back and never taken again.
   Repeat until a check needs no change, or the rounds run out.

The plan returned is one that was checked: the last, or if that one misses, the checked
plan that met the target everywhere with the fewest window-hours. Cells still missing then
are reported, as are hours when walk-ins come but the hall does not issue tickets. Since
the plan is tuned on its seeds, it is played once more on other seeds (`confirm_seeds`):
what it promises on days it has not seen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from hallq.hall.config import HallConfig
from hallq.simulate.day import simulate_day
from hallq.simulate.plan_demand import (
    DayDemand,
    Demand,
    PlanHour,
    carrying_windows,
    day_demand,
    erlang_windows,
    mms_p90_minutes,
)
from hallq.simulate.plan_staffing import Cell, staffed_day
from hallq.simulate.records import DayResult, TicketRecord
from hallq.simulate.scenario import Scenario

NO_DEMAND = Demand(tickets=0.0, per_hour=0.0, busy_minutes=0.0)
ROOM = 0.5  # a window may go where the p90 is at most this share of the target
DEFAULT_ROUNDS = 12
DEFAULT_SEEDS = 10


class PlanError(ValueError):
    """The plan cannot be made (no tickets at all, a target that is not a wait)."""


@dataclass(frozen=True)
class PlanOptions:
    target_p90_minutes: float
    seeds: tuple[int, ...] = tuple(range(1, DEFAULT_SEEDS + 1))
    rounds: int = DEFAULT_ROUNDS
    max_windows: int | None = None  # per service and hour; default max(10, 3 × first guess)
    confirm_seeds: tuple[int, ...] = ()  # play the plan again on these (not tuned on them)


@dataclass
class CellCheck:
    """A (service, hour)'s tickets over the seeds and their p90 wait (minutes)."""

    tickets: int
    p90: float | None  # None: no ticket; math.inf: a tenth or more never called
    over: int  # tickets that waited longer than the target
    uncalled: int  # never called (gave up or unserved at closing)


@dataclass(frozen=True)
class Change:
    service: str
    hour: int  # index into the plan's hours
    windows: int  # after the change
    why: str  # "missed", "room", "put back"


@dataclass
class Check:
    """One round: the staffing played and what came of it."""

    round: int
    windows: dict[Cell, int]
    cells: dict[Cell, CellCheck]
    hours: list[CellCheck]  # all services together, per hour
    days: list[dict[str, int]]  # per seed: issued, served, uncalled, turned away, rejected
    changes: list[Change] = field(default_factory=list)  # made after this check

    @property
    def seeds(self) -> list[int]:
        return [d["seed"] for d in self.days]

    def missed(self, target: float) -> list[Cell]:
        return [c for c, cc in self.cells.items() if cc.p90 is not None and cc.p90 > target]


@dataclass(frozen=True)
class Unmet:
    service: str | None  # None: the whole hall
    hour: str  # the hour's label ("08:40-09:00") or clock hour ("12:00-13:00")
    reason: str


@dataclass
class Plan:
    scenario: str
    hall: str
    date: str
    target_p90_minutes: float
    seeds: tuple[int, ...]
    hours: list[PlanHour]
    services: list[str]
    demand: DayDemand
    first_guess: dict[Cell, int]
    checks: list[Check]
    chosen: int  # index into checks of the plan returned
    unmet: list[Unmet]
    max_windows: dict[Cell, int]
    confirmation: Check | None = None  # the plan on seeds it was not tuned on

    @property
    def check(self) -> Check:
        return self.checks[self.chosen]

    @property
    def windows(self) -> dict[Cell, int]:
        return self.check.windows

    @property
    def met(self) -> bool:
        return not self.check.missed(self.target_p90_minutes)

    def window_hours(self, windows: dict[Cell, int] | None = None) -> float:
        w = self.windows if windows is None else windows
        return sum(n * self.hours[i].open_minutes / 60.0 for (_, i), n in w.items())


# ---------------------------------------------------------------- measuring a day


def planning_wait(r: TicketRecord) -> float:
    """Minutes to the first call; a ticket that gave up waited at least until then; never: ∞."""
    if r.first_called_at is not None:
        return (r.first_called_at - r.issued_at) / 60.0
    if r.outcome == "abandoned" and r.ended_at is not None:
        return (r.ended_at - r.issued_at) / 60.0
    return math.inf


def p90(values: Sequence[float]) -> float | None:
    """The 0.9 quantile (inclusive method, as the day's figures), ∞ where the tail is."""
    if not values:
        return None
    v = sorted(values)
    pos = 0.9 * (len(v) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(v) - 1)
    frac = pos - lo
    if frac == 0 or v[lo] == v[hi]:
        return v[lo]
    if math.isinf(v[hi]):
        return math.inf
    return v[lo] + frac * (v[hi] - v[lo])


def _cell_check(waits: Sequence[float], target: float) -> CellCheck:
    return CellCheck(
        tickets=len(waits),
        p90=p90(waits),
        over=sum(1 for w in waits if w > target),
        uncalled=sum(1 for w in waits if math.isinf(w)),
    )


def waits_by_hour(
    results: Iterable[DayResult], hour_index: dict[int, int]
) -> dict[Cell, list[float]]:
    """Planning waits of every ticket, by (service, index of the hour it was issued in)."""
    out: dict[Cell, list[float]] = {}
    for result in results:
        zone = ZoneInfo(result.timezone)
        for r in result.tickets:
            i = hour_index.get(datetime.fromtimestamp(r.issued_at, zone).hour)
            if i is not None:
                out.setdefault((r.service, i), []).append(planning_wait(r))
    return out


def _day_figures(result: DayResult) -> dict[str, int]:
    outcomes = [r.outcome for r in result.tickets]
    return {
        "seed": result.seed,
        "issued": len(outcomes),
        "served": outcomes.count("served"),
        "gave_up": outcomes.count("abandoned"),
        "unserved": outcomes.count("expired"),
        "turned_away": sum(result.turned_away.values()),
        "rejected": sum(result.rejected.values()),
    }


def check_staffing(
    cfg: HallConfig,
    scenario: Scenario,
    services: Sequence[str],
    hours: Sequence[PlanHour],
    windows: dict[Cell, int],
    seeds: Sequence[int],
    target: float,
    round_number: int = 0,
) -> Check:
    """Play the day with `windows` on every seed and measure each (service, hour)."""
    plan_cfg, plan_scen = staffed_day(cfg, scenario, services, hours, windows)
    results = [simulate_day(plan_cfg, plan_scen, seed) for seed in seeds]
    hour_index = {h.hour: i for i, h in enumerate(hours)}
    waits = waits_by_hour(results, hour_index)
    cells = {
        (code, i): _cell_check(waits.get((code, i), []), target)
        for code in services
        for i in range(len(hours))
    }
    by_hour = [
        _cell_check([w for code in services for w in waits.get((code, i), [])], target)
        for i in range(len(hours))
    ]
    return Check(
        round=round_number,
        windows=dict(windows),
        cells=cells,
        hours=by_hour,
        days=[_day_figures(r) for r in results],
    )


# ---------------------------------------------------------------- adjusting


@dataclass
class _Bounds:
    floor: dict[Cell, int]  # fewer than this is known to miss (or no demand: 0)
    cap: dict[Cell, int]


def predicted_p90(demand: Demand, windows: int, measured: float) -> float:
    """The p90 with a window less: M/M/s's, scaled by how the day measured against it now.

    The scale carries what M/M/s leaves out (service times less variable than exponential,
    the hour's neighbours); with no M/M/s wait now, M/M/s's own figure.
    """
    now = mms_p90_minutes(windows, demand.per_hour, demand.busy_minutes)
    less = mms_p90_minutes(windows - 1, demand.per_hour, demand.busy_minutes)
    if math.isinf(less) or now <= 0:
        return less
    return less * measured / now


def _adjust(
    check: Check,
    bounds: _Bounds,
    target: float,
    removed_last: set[Cell],
    demand: DayDemand,
) -> tuple[dict[Cell, int], list[Change], set[Cell]]:
    """The next staffing to try, what changed, and the cells a window was taken from."""
    windows = dict(check.windows)
    missed = set(check.missed(target))
    changes: list[Change] = []
    put_back: set[Cell] = set()
    for code, i in sorted(missed):
        culprits = [c for c in ((code, i), (code, i - 1)) if c in removed_last]
        if culprits:  # the window taken away last round is the likely cause: put it back
            for c in culprits:
                if c not in put_back:
                    put_back.add(c)
                    windows[c] += 1
                    bounds.floor[c] = max(bounds.floor[c], windows[c])
                    changes.append(Change(c[0], c[1], windows[c], "put back"))
            continue
        cell = (code, i)
        if windows[cell] < bounds.cap[cell]:
            windows[cell] += 1
            bounds.floor[cell] = max(bounds.floor[cell], windows[cell])
            changes.append(Change(code, i, windows[cell], "missed"))
    removed: set[Cell] = set()
    for (code, i), cc in sorted(check.cells.items()):
        cell = (code, i)
        near_miss = any((code, j) in missed for j in (i - 1, i, i + 1))
        if (
            cc.p90 is None
            or cc.p90 > ROOM * target
            or near_miss
            or cell in put_back
            or windows[cell] <= bounds.floor[cell]
            or (code, i - 1) in removed  # one hour at a time: the queue carries over
            or predicted_p90(demand.cells.get(cell, NO_DEMAND), windows[cell], cc.p90) > target
        ):
            continue
        windows[cell] -= 1
        removed.add(cell)
        changes.append(Change(code, i, windows[cell], "room"))
    return windows, changes, removed


# ---------------------------------------------------------------- the plan


def first_guess(demand: DayDemand, services: Sequence[str], target: float) -> dict[Cell, int]:
    """Erlang C's windows for every (service, hour)."""
    return {
        (code, i): erlang_windows(demand.cells.get((code, i), NO_DEMAND), target)
        for code in services
        for i in range(len(demand.hours))
    }


def planned_services(cfg: HallConfig, demand: DayDemand) -> list[str]:
    """The hall's services that get tickets, in the hall's order."""
    wanted = {code for (code, _), d in demand.cells.items() if d.tickets > 0}
    return [s.code for s in cfg.services if s.code in wanted]


def make_plan(cfg: HallConfig, scenario: Scenario, options: PlanOptions) -> Plan:
    """Plan the day's windows for `scenario` at the hall `cfg` (see the module's docstring)."""
    target = options.target_p90_minutes
    if not target > 0 or math.isinf(target):
        raise PlanError("the target p90 wait must be a positive number of minutes")
    if not options.seeds:
        raise PlanError("give at least one seed")
    if options.rounds < 1:
        raise PlanError("give at least one round")
    demand = day_demand(cfg, scenario)
    services = planned_services(cfg, demand)
    if not services or not demand.hours:
        raise PlanError(f"{scenario.name}: no tickets are issued that day; nothing to plan")
    guess = first_guess(demand, services, target)
    cap = {
        c: options.max_windows if options.max_windows is not None else max(10, 3 * n)
        for c, n in guess.items()
    }
    bounds = _Bounds(
        floor={c: min(cap[c], carrying_windows(demand.cells.get(c, NO_DEMAND))) for c in guess},
        cap=cap,
    )
    for c in guess:
        guess[c] = min(guess[c], cap[c])
    windows = dict(guess)
    checks: list[Check] = []
    removed: set[Cell] = set()
    for round_number in range(1, options.rounds + 1):
        check = check_staffing(
            cfg, scenario, services, demand.hours, windows, options.seeds, target, round_number
        )
        checks.append(check)
        if round_number == options.rounds:
            break
        windows, check.changes, removed = _adjust(check, bounds, target, removed, demand)
        if not check.changes:
            break
    chosen = _choose(checks, demand.hours, target)
    plan = Plan(
        scenario=scenario.name,
        hall=cfg.hall.id,
        date=scenario.date,
        target_p90_minutes=target,
        seeds=tuple(options.seeds),
        hours=demand.hours,
        services=services,
        demand=demand,
        first_guess=guess,
        checks=checks,
        chosen=chosen,
        unmet=[],
        max_windows=bounds.cap,
    )
    plan.unmet = _unmet(plan, rounds_ran_out=len(checks) == options.rounds)
    if options.confirm_seeds:
        plan.confirmation = check_staffing(
            cfg, scenario, services, demand.hours, plan.windows, options.confirm_seeds, target
        )
    return plan


def _choose(checks: Sequence[Check], hours: Sequence[PlanHour], target: float) -> int:
    """The last check, unless it misses and an earlier one met the target everywhere."""
    if not checks[-1].missed(target):
        return len(checks) - 1
    passing = [k for k, ch in enumerate(checks) if not ch.missed(target)]
    if not passing:
        return len(checks) - 1

    def cost(k: int) -> float:
        return sum(n * hours[i].open_minutes for (_, i), n in checks[k].windows.items())

    return min(passing, key=lambda k: (cost(k), -k))


def _unmet(plan: Plan, rounds_ran_out: bool) -> list[Unmet]:
    out: list[Unmet] = []
    target = plan.target_p90_minutes
    check = plan.check
    for code, i in check.missed(target):
        cc = check.cells[(code, i)]
        at_cap = check.windows[(code, i)] >= plan.max_windows[(code, i)]
        shown = "never called" if cc.p90 is None or math.isinf(cc.p90) else f"{cc.p90:.1f} min"
        reason = (
            f"p90 {shown} with {check.windows[(code, i)]} windows, the most allowed"
            if at_cap
            else f"p90 {shown} with {check.windows[(code, i)]} windows when the rounds ran out"
            if rounds_ran_out
            else f"p90 {shown} with {check.windows[(code, i)]} windows"
        )
        out.append(Unmet(code, plan.hours[i].label, reason))
    open_hours = {h.hour for h in plan.hours}
    for hour, walk_ins in sorted(plan.demand.at_door.items()):
        if hour not in open_hours and walk_ins >= 0.05:
            out.append(
                Unmet(
                    None,
                    f"{hour:02d}:00-{hour + 1:02d}:00",
                    f"the hall is closed: about {walk_ins:.0f} walk-ins arrive and wait at "
                    "the door for the next opening (their waits count from the ticket)",
                )
            )
    if plan.demand.turned_away >= 0.5:
        out.append(
            Unmet(
                None,
                "after the last issue",
                f"about {plan.demand.turned_away:.0f} walk-ins arrive after the kiosk stops "
                "issuing for the day and are turned away",
            )
        )
    return out
