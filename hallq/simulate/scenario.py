"""The scenario: the day a simulation plays, as typed structs (docs/SIMULATION.md).

`scenario_file.read_scenario` reads and checks one from TOML; `hall_fit` checks it against
the hall it is played at.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

import msgspec

from hallq.errors import ConfigError


class ScenarioError(ConfigError):
    """A scenario file is wrong; each problem says where and what to fix."""


class _Table(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base of scenario tables: unknown keys are errors (a typo must not pass silently)."""


Distribution = Literal["lognormal", "exponential", "deterministic"]


class Draw(_Table, kw_only=True):
    """A random quantity: lognormal (mean and cv), exponential (mean) or deterministic."""

    distribution: Distribution = "lognormal"
    mean: float
    cv: float | None = None  # lognormal only; default DEFAULT_CV


DEFAULT_CV = 0.5


class Segment(_Table, kw_only=True):
    """Walk-ins arrive at `per_hour` on average between two times of day."""

    from_: str = msgspec.field(name="from")
    to: str
    per_hour: float


class Arrivals(_Table, kw_only=True):
    profile: list[Segment]


class ServiceMix(_Table, kw_only=True):
    """One service's part of the walk-ins and how long serving one citizen takes (minutes)."""

    share: float
    minutes: Draw | None = None  # default: lognormal, the hall's service_minutes, cv 0.5


def _default_walk_up() -> Draw:
    return Draw(mean=25.0, cv=0.5)


def _default_levels() -> dict[str, float]:
    return {
        "very_satisfied": 70.0,
        "satisfied": 22.0,
        "basic": 5.0,
        "dissatisfied": 2.0,
        "very_dissatisfied": 1.0,
    }


class Citizens(_Table, kw_only=True):
    green_share: float = 0.0
    green_category: str = ""  # default: the hall's first-called priority class
    no_show_share: float = 0.0
    walk_up_seconds: Draw = msgspec.field(default_factory=_default_walk_up)
    patience_minutes: Draw | None = None  # None: nobody gives up
    evaluation_share: float = 0.6
    evaluation_levels: dict[str, float] = msgspec.field(default_factory=_default_levels)


class Appointments(_Table, kw_only=True):
    count: int | None = None
    share: float | None = None  # of the day's expected walk-ins
    slot_minutes: int = 30
    early_minutes: float = 5.0  # on average they come this long before the slot
    punctuality_sd_minutes: float = 10.0
    missed_share: float = 0.0  # booked but never come
    services: dict[str, float] = {}  # default: the walk-ins' mix


def _default_away_minutes() -> Draw:
    return Draw(mean=5.0, cv=0.5)


class RandomAway(_Table, kw_only=True):
    """请稍候 at random: on average `per_hour` episodes an hour of shift, each `minutes` long."""

    per_hour: float = 0.0
    minutes: Draw = msgspec.field(default_factory=_default_away_minutes)


class PlannedAway(_Table, kw_only=True):
    at: str
    minutes: float


class WindowPlan(_Table, kw_only=True):
    """The plan of some windows, overriding the staffing defaults."""

    windows: list[int]
    shifts: list[str] | None = None
    away: RandomAway | None = None
    away_at: list[PlannedAway] | None = None


class Staffing(_Table, kw_only=True):
    shifts: list[str] | None = None  # default: the hall's sessions that day
    away: RandomAway = msgspec.field(default_factory=RandomAway)
    away_at: list[PlannedAway] = []
    recall_seconds: float = 40.0
    overtime_minutes: float = 0.0
    windows: list[WindowPlan] = []


class Scenario(_Table, kw_only=True):
    name: str
    description: str = ""
    date: str
    hall: str = ""  # the hall configuration, relative to the scenario file
    sample_minutes: int = 1
    warm_up_minutes: int = 0  # tickets issued this soon after the start are left out of waits
    arrivals: Arrivals
    services: dict[str, ServiceMix]
    citizens: Citizens = msgspec.field(default_factory=Citizens)
    appointments: Appointments | None = None
    staffing: Staffing = msgspec.field(default_factory=Staffing)

    @property
    def day(self) -> dt.date:
        return dt.date.fromisoformat(self.date)


# ---------------------------------------------------------------- times of day

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


def clock_minutes(text: str) -> int:
    """Minutes after midnight of "HH:MM" (24:00 allowed as the end of the day)."""
    m = _CLOCK.match(text.strip())
    if not m:
        raise ValueError(f'"{text}" is not a time of day; write it as "08:40"')
    h, mi = int(m.group(1)), int(m.group(2))
    if mi > 59 or h > 24 or (h == 24 and mi):
        raise ValueError(f'"{text}" is not a time of day')
    return h * 60 + mi


def expected_walk_ins(scenario: Scenario) -> float:
    """The mean number of walk-ins the profile brings in a day."""
    return sum(
        s.per_hour * (clock_minutes(s.to) - clock_minutes(s.from_)) / 60
        for s in scenario.arrivals.profile
    )
