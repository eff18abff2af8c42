"""The checks a scenario passes on its own: times, shares, distributions, staffing plans."""

from __future__ import annotations

import datetime as dt
import itertools

from hallq.hall.config import parse_span
from hallq.simulate.scenario import Draw, PlannedAway, RandomAway, Scenario, clock_minutes


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _share(p: _Problems, path: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        p.add(path, "a share of citizens is between 0 and 1, e.g. 0.05 for 5%")


def _draw(p: _Problems, path: str, d: Draw, *, zero_ok: bool = False) -> None:
    if d.distribution == "deterministic":
        if d.mean < 0 or (d.mean == 0 and not zero_ok):
            p.add(f"{path}.mean", "must be above 0")
        if d.cv not in (None, 0.0):
            p.add(f"{path}.cv", "a deterministic value has no spread; leave cv out")
        return
    if d.mean <= 0:
        p.add(f"{path}.mean", "must be above 0")
    if d.distribution == "exponential" and d.cv not in (None, 1.0):
        p.add(f"{path}.cv", "an exponential distribution's cv is always 1; leave cv out")
    if d.distribution == "lognormal" and d.cv is not None and not 0.0 < d.cv <= 5.0:
        p.add(f"{path}.cv", "must be above 0 and at most 5 (0.5 is typical for service times)")


def _spans(p: _Problems, path: str, spans: list[str]) -> None:
    last_end = None
    for i, text in enumerate(spans):
        try:
            start, end = parse_span(text)
        except ValueError as e:
            p.add(f"{path}[{i}]", str(e))
            continue
        if last_end is not None and start < last_end:
            p.add(path, "shifts overlap or are out of order; list them from morning to evening")
        last_end = end


def _away_at(p: _Problems, path: str, items: list[PlannedAway]) -> None:
    for i, item in enumerate(items):
        try:
            clock_minutes(item.at)
        except ValueError as e:
            p.add(f"{path}[{i}].at", str(e))
        if not 0 < item.minutes <= 240:
            p.add(f"{path}[{i}].minutes", "must be above 0 and at most 240")


def _random_away(p: _Problems, path: str, away: RandomAway) -> None:
    if not 0 <= away.per_hour <= 20:
        p.add(f"{path}.per_hour", "must be between 0 and 20 episodes an hour")
    _draw(p, f"{path}.minutes", away.minutes)


def check_scenario(s: Scenario) -> list[tuple[str, str]]:
    """(field, what to fix) for every problem the scenario has on its own."""
    p = _Problems()
    if not s.name.strip():
        p.add("name", "give the scenario a name")
    try:
        dt.date.fromisoformat(s.date)
    except ValueError:
        p.add("date", 'write the day as "2026-11-23"')
    if not 1 <= s.sample_minutes <= 60:
        p.add("sample_minutes", "must be between 1 and 60")
    if not 0 <= s.warm_up_minutes <= 720:
        p.add("warm_up_minutes", "must be between 0 and 720")
    if not s.arrivals.profile:
        p.add(
            "arrivals.profile", 'list at least one { from = "08:40", to = "11:30", per_hour = 40 }'
        )
    spans: list[tuple[int, int, int]] = []
    for i, seg in enumerate(s.arrivals.profile):
        at = f"arrivals.profile[{i}]"
        try:
            a, b = clock_minutes(seg.from_), clock_minutes(seg.to)
        except ValueError as e:
            p.add(at, str(e))
            continue
        if b <= a:
            p.add(f"{at}.to", "ends before it starts")
        if not 0 <= seg.per_hour <= 10_000:
            p.add(f"{at}.per_hour", "must be between 0 and 10000 citizens an hour")
        spans.append((a, b, i))
    spans.sort()
    for (_, end, _), (start, _, j) in itertools.pairwise(spans):
        if start < end:
            p.add(f"arrivals.profile[{j}]", "overlaps another period; periods must not overlap")
    if not s.services:
        p.add("services", "give each service's share, e.g. [services.police] share = 20")
    for code, mix in s.services.items():
        if mix.share < 0:
            p.add(f"services.{code}.share", "must be 0 or more (shares are relative weights)")
        if mix.minutes is not None:
            _draw(p, f"services.{code}.minutes", mix.minutes)
    if s.services and sum(m.share for m in s.services.values()) <= 0:
        p.add("services", "at least one service needs a share above 0")
    c = s.citizens
    _share(p, "citizens.green_share", c.green_share)
    _share(p, "citizens.no_show_share", c.no_show_share)
    _share(p, "citizens.evaluation_share", c.evaluation_share)
    _draw(p, "citizens.walk_up_seconds", c.walk_up_seconds, zero_ok=True)
    if c.patience_minutes is not None:
        _draw(p, "citizens.patience_minutes", c.patience_minutes)
    if any(w < 0 for w in c.evaluation_levels.values()) or (
        c.evaluation_share > 0 and sum(c.evaluation_levels.values()) <= 0
    ):
        p.add("citizens.evaluation_levels", "weights are 0 or more and at least one above 0")
    ap = s.appointments
    if ap is not None:
        if (ap.count is None) == (ap.share is None):
            p.add("appointments", "give either count (appointments a day) or share, not both")
        if ap.count is not None and not 0 <= ap.count <= 100_000:
            p.add("appointments.count", "must be between 0 and 100000")
        if ap.share is not None:
            _share(p, "appointments.share", ap.share)
        if not 5 <= ap.slot_minutes <= 240:
            p.add("appointments.slot_minutes", "must be between 5 and 240")
        if not 0 <= ap.punctuality_sd_minutes <= 120:
            p.add("appointments.punctuality_sd_minutes", "must be between 0 and 120")
        if not -120 <= ap.early_minutes <= 120:
            p.add("appointments.early_minutes", "must be between -120 (late) and 120")
        _share(p, "appointments.missed_share", ap.missed_share)
        if any(w < 0 for w in ap.services.values()) or (
            ap.services and sum(ap.services.values()) <= 0
        ):
            p.add("appointments.services", "weights are 0 or more and at least one above 0")
    st = s.staffing
    if st.shifts is not None:
        _spans(p, "staffing.shifts", st.shifts)
    _random_away(p, "staffing.away", st.away)
    _away_at(p, "staffing.away_at", st.away_at)
    if not 5 <= st.recall_seconds <= 600:
        p.add("staffing.recall_seconds", "must be between 5 and 600 seconds")
    if not 0 <= st.overtime_minutes <= 240:
        p.add("staffing.overtime_minutes", "must be between 0 and 240")
    planned: dict[int, int] = {}
    for i, plan in enumerate(st.windows):
        at = f"staffing.windows[{i}]"
        if not plan.windows:
            p.add(f"{at}.windows", "list the windows this plan is for, e.g. windows = [3, 4]")
        for n in plan.windows:
            if n in planned:
                p.add(
                    f"{at}.windows",
                    f"window {n} already has a plan: staffing.windows[{planned[n]}]",
                )
            planned.setdefault(n, i)
        if plan.shifts is not None:
            _spans(p, f"{at}.shifts", plan.shifts)
        if plan.away is not None:
            _random_away(p, f"{at}.away", plan.away)
        if plan.away_at is not None:
            _away_at(p, f"{at}.away_at", plan.away_at)
    return p.items
