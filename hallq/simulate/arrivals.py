"""Who comes to the hall on the day: walk-ins by a time-varying Poisson process, and
appointment holders (预约) booked in advance who come around their slot.

Walk-in times come from thinning (Lewis & Shedler): candidates at the profile's highest rate,
each kept with probability rate(t) / highest rate. Every citizen's needs (service, green
channel, service time, walk-up, patience, whether they come when called, the evaluation
they give) are drawn when they are created, so the simulation itself draws nothing.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time

from hallq.hall.config import HallConfig
from hallq.hall.schedule import Timetable
from hallq.simulate.draws import Choice, Sampler
from hallq.simulate.scenario import DEFAULT_CV, Draw, Scenario, clock_minutes, expected_walk_ins

FALLBACK_CV = DEFAULT_CV


@dataclass
class Citizen:
    """One citizen's visit, decided in advance."""

    index: int
    arrives_at: float
    service: str
    category: str | None
    service_seconds: float
    walk_up_seconds: float
    no_show: bool  # called, they do not come (过号)
    patience_seconds: float | None  # gives up after waiting this long; None: never
    evaluation: str | None  # the level pressed after service; None: no evaluation
    appointment: str | None = None  # the booking code
    slot_start: float | None = None


@dataclass(frozen=True)
class Booking:
    code: str
    service: str
    slot_start: float
    slot_end: float


def midnight(cfg: HallConfig, day: date) -> float:
    return datetime.combine(day, time(0), cfg.zone).timestamp()


def green_category(cfg: HallConfig, scenario: Scenario) -> str | None:
    """The priority class green-channel citizens take: the scenario's, else the first called."""
    if scenario.citizens.green_category:
        return scenario.citizens.green_category
    if not cfg.priority:
        return None
    return min(cfg.priority, key=lambda p: p.rank).code


class _Needs:
    """Draws a citizen's needs; shared by walk-ins and appointment holders."""

    def __init__(self, cfg: HallConfig, scenario: Scenario) -> None:
        c = scenario.citizens
        self.service_time: dict[str, Sampler] = {}
        for code, mix in scenario.services.items():
            svc = cfg.service(code)
            default = Draw(mean=svc.service_minutes if svc else 10.0, cv=FALLBACK_CV)
            self.service_time[code] = Sampler(mix.minutes or default)
        for svc in cfg.services:  # appointments may be for services walk-ins do not take
            if svc.code not in self.service_time:
                self.service_time[svc.code] = Sampler(Draw(mean=svc.service_minutes))
        self.walk_up = Sampler(c.walk_up_seconds)
        self.patience = Sampler(c.patience_minutes) if c.patience_minutes else None
        self.no_show_share = c.no_show_share
        self.evaluation_share = c.evaluation_share
        levels = [(k, w) for k, w in c.evaluation_levels.items()]
        self.level = Choice([k for k, _ in levels], [w for _, w in levels])

    def citizen(
        self, rng: random.Random, index: int, at: float, service: str, category: str | None
    ) -> Citizen:
        # Always the same draws in the same order, so streams stay aligned across scenarios.
        service_seconds = self.service_time[service](rng) * 60.0
        walk_up = self.walk_up(rng)
        no_show = rng.random() < self.no_show_share
        patience = self.patience(rng) * 60.0 if self.patience is not None else None
        evaluates = rng.random() < self.evaluation_share
        level = self.level(rng)
        return Citizen(
            index=index,
            arrives_at=at,
            service=service,
            category=category,
            service_seconds=service_seconds,
            walk_up_seconds=walk_up,
            no_show=no_show,
            patience_seconds=patience,
            evaluation=level if evaluates else None,
        )


def walk_in_times(scenario: Scenario, day_start: float, rng: random.Random) -> list[float]:
    """Arrival instants of a non-homogeneous Poisson process with the piecewise rate."""
    segments = sorted(
        (clock_minutes(s.from_) * 60.0, clock_minutes(s.to) * 60.0, s.per_hour / 3600.0)
        for s in scenario.arrivals.profile
    )
    top = max((rate for _, _, rate in segments), default=0.0)
    if top <= 0:
        return []
    t, end = segments[0][0], segments[-1][1]
    times: list[float] = []
    k = 0
    while True:
        t += rng.expovariate(top)
        if t >= end:
            return times
        while segments[k][1] <= t:
            k += 1
        start, _, rate = segments[k]
        if t >= start and rng.random() * top < rate:
            times.append(day_start + t)


def walk_ins(cfg: HallConfig, scenario: Scenario, rng: random.Random) -> list[Citizen]:
    """The day's walk-ins, in order of arrival."""
    needs = _Needs(cfg, scenario)
    mix = Choice(list(scenario.services), [m.share for m in scenario.services.values()])
    green = green_category(cfg, scenario)
    share = scenario.citizens.green_share
    out = []
    for i, at in enumerate(walk_in_times(scenario, midnight(cfg, scenario.day), rng)):
        service = mix(rng)
        is_green = rng.random() < share
        out.append(needs.citizen(rng, i, at, service, green if is_green else None))
    return out


def appointment_count(scenario: Scenario) -> int:
    ap = scenario.appointments
    if ap is None:
        return 0
    if ap.count is not None:
        return ap.count
    return round((ap.share or 0.0) * expected_walk_ins(scenario))


def appointments(
    cfg: HallConfig, scenario: Scenario, rng: random.Random, first_index: int
) -> tuple[list[Booking], list[Citizen]]:
    """The bookings for the day and the holders who come (some never do)."""
    ap = scenario.appointments
    count = appointment_count(scenario)
    if ap is None or count == 0:
        return [], []
    slot = ap.slot_minutes * 60.0
    starts = [
        s.start.timestamp() + k * slot
        for s in Timetable(cfg).sessions(scenario.day)
        for k in range(int((s.end.timestamp() - s.start.timestamp()) // slot))
    ]
    if not starts:
        return [], []
    weights = ap.services or {c: m.share for c, m in scenario.services.items()}
    pick = Choice(list(weights), list(weights.values()))
    needs = _Needs(cfg, scenario)
    bookings: list[Booking] = []
    holders: list[Citizen] = []
    for i in range(count):
        start = rng.choice(starts)
        service = pick(rng)
        code = f"SIM{i + 1:05d}"
        bookings.append(Booking(code, service, start, start + slot))
        offset = rng.gauss(-ap.early_minutes, ap.punctuality_sd_minutes) * 60.0
        missed = rng.random() < ap.missed_share
        holder = needs.citizen(rng, first_index + i, start + offset, service, None)
        holder.appointment, holder.slot_start = code, start
        if not missed:
            holders.append(holder)
    holders.sort(key=lambda h: (h.arrives_at, h.index))
    return bookings, holders
