"""The staffing plan of the day, per window: who signs in, their shifts, their away episodes.

A window's plan is its `[[staffing.windows]]` entry where one names it, else the staffing
defaults; shifts default to the hall's sessions that day. Random away episodes (请稍候) are
a Poisson process over each shift's hours, drawn here from the staff stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from hallq.hall.config import HallConfig, parse_span
from hallq.hall.schedule import Timetable
from hallq.simulate.arrivals import midnight
from hallq.simulate.draws import Sampler
from hallq.simulate.scenario import PlannedAway, RandomAway, Scenario, clock_minutes


@dataclass
class WindowDay:
    """What one window's staff do today (times in seconds since the epoch)."""

    number: int
    staff: str
    shifts: list[tuple[float, float]]
    away: list[tuple[float, float]] = field(default_factory=list)  # (start, seconds)


def _hall_spans(cfg: HallConfig, scenario: Scenario) -> list[str]:
    return [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in Timetable(cfg).sessions(scenario.day)]


def plans(
    cfg: HallConfig, scenario: Scenario
) -> dict[int, tuple[list[str], RandomAway, list[PlannedAway]]]:
    """Window → (shifts, random away, planned away), defaults filled in."""
    st = scenario.staffing
    default_shifts = st.shifts if st.shifts is not None else _hall_spans(cfg, scenario)
    out = {w.number: (default_shifts, st.away, st.away_at) for w in cfg.windows}
    for plan in st.windows:
        for n in plan.windows:
            out[n] = (
                plan.shifts if plan.shifts is not None else default_shifts,
                plan.away if plan.away is not None else st.away,
                plan.away_at if plan.away_at is not None else st.away_at,
            )
    return out


def staff_ids(cfg: HallConfig, staffed: list[int]) -> dict[int, str | None]:
    """Who signs in at each staffed window: its own staff first, then its AB岗 partner's.

    A hall without a staff list lets anyone sign in; each window gets "sim-N".
    """
    if not cfg.staff:
        return {n: f"sim-{n}" for n in staffed}
    taken: set[str] = set()
    chosen: dict[int, str | None] = {}
    for n in staffed:  # own staff first, so that a backup never takes someone's own window
        own = next((s.id for s in cfg.staff if n in s.windows and s.id not in taken), None)
        if own is not None:
            taken.add(own)
        chosen[n] = own
    for n in staffed:
        if chosen[n] is not None:
            continue
        w = cfg.window(n)
        partner = w.backup if w is not None else None
        backup = next((s.id for s in cfg.staff if partner in s.windows and s.id not in taken), None)
        if backup is not None:
            taken.add(backup)
        chosen[n] = backup
    return chosen


def _random_episodes(
    away: RandomAway, shifts: list[tuple[float, float]], rng: random.Random
) -> list[tuple[float, float]]:
    if away.per_hour <= 0:
        return []
    length = Sampler(away.minutes)
    rate = away.per_hour / 3600.0
    out = []
    for start, end in shifts:
        t = start
        while True:
            t += rng.expovariate(rate)
            if t >= end:
                break
            out.append((t, length(rng) * 60.0))
    return out


def window_days(cfg: HallConfig, scenario: Scenario, rng: random.Random) -> list[WindowDay]:
    """Every staffed window's day (windows with no shifts stay closed)."""
    base = midnight(cfg, scenario.day)
    table = plans(cfg, scenario)
    staffed = [n for n in sorted(table) if table[n][0]]
    who = staff_ids(cfg, staffed)
    out = []
    for n in staffed:
        spans, random_away, planned = table[n]
        shifts = []
        for text in spans:
            a, b = parse_span(text)
            shifts.append(
                (base + (a.hour * 60 + a.minute) * 60.0, base + (b.hour * 60 + b.minute) * 60.0)
            )
        away = [(base + clock_minutes(p.at) * 60.0, p.minutes * 60.0) for p in planned]
        away += _random_episodes(random_away, shifts, rng)
        staff = who[n]
        if staff is None:  # check_against_hall reports it; never reached in a checked run
            continue
        out.append(WindowDay(n, staff, shifts, sorted(away)))
    return out
