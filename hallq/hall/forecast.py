"""The arithmetic of a wait estimate: calls adding up over the hall's open time.

A `ServiceOutlook` holds, for one service, the lanes of calls its windows will make (from
when, at what rate, how many at once), the open spans of the hall's timetable ahead, and who
may still go ahead of a ticket; `forecast` turns a place in the queue into the expected wait
and its P90. `hallq/hall/estimate.py` builds outlooks from the hall's state; docs/ESTIMATES.md
describes the method.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Z90 = 1.2815515655446004  # the standard normal's 90th percentile
MODEL_ERROR = 0.25  # relative spread of the mean itself (windows that open or close unforeseen)
INF = math.inf

# Who may still go ahead of a ticket: priority tickets go ahead of normal ones and of
# appointments; appointments falling due go ahead of normal ones; nobody of a priority one.
TicketClass = Literal["normal", "appointment", "priority"]


class Forecast(NamedTuple):
    """A ticket's expected wait and its 90th percentile, in minutes (None: no window serves)."""

    minutes: float | None
    p90_minutes: float | None


class TicketWait(NamedTuple):
    """A waiting ticket's place in its queue and its forecast."""

    ahead: int
    minutes: float | None
    p90_minutes: float | None


@dataclass(frozen=True)
class Lane:
    """One window's part in serving a service: from `start` (open minutes from now) on, `rate`
    calls a minute, and `jump` calls at once at `start` (an idle or returning window)."""

    start: float
    jump: float
    rate: float


@dataclass(frozen=True)
class ServiceOutlook:
    """What a citizen taking a ticket for this service now should be told, and why."""

    service: str
    waiting: int
    windows_open: int
    idle_windows: int
    capacity: float  # windows' worth serving it now (shares of composite windows counted)
    mean_minutes: float  # the learned service time (start to finish), as views show it
    call_minutes: float = 0.0  # the learned window time per call (what the estimate uses)
    call_cv2: float = 0.0  # its squared coefficient of variation
    lanes: tuple[Lane, ...] = ()  # sorted by start, the sessions' openings included
    # The open spans ahead, in minutes from now: (start, end); the last one never ends.
    spans: tuple[tuple[float, float], ...] = ((0.0, INF),)
    priority_per_minute: float = 0.0  # priority tickets of this service arriving (go ahead)
    give_up_per_minute: float = 0.0
    booked: Sequence[float] = ()  # slot starts (epoch s) of today's appointments not yet in
    booked_from: int = 0  # the first of them still ahead (one not in by its slot seldom comes)
    kept: float = 0.0  # share of appointments kept
    now: float = 0.0
    p90_scale: float = 1.0
    # Used when no window gives the service any time (all busy with tiers above for good):
    # the minutes each needs to clear those tiers first, as estimate v1 did.
    delayed: tuple[float, ...] = ()
    _cache: dict[tuple[int, str], Forecast] = field(default_factory=dict, compare=False)

    def forecast(self, ahead: int, cls: TicketClass = "normal") -> Forecast:
        """The wait of a ticket of class `cls` with `ahead` tickets before it."""
        key = (ahead, cls)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._forecast(ahead, cls)
        return hit

    def wait_minutes(self, ahead: int) -> float | None:
        """Expected wait for a ticket with `ahead` tickets before it; None if no window serves."""
        return self.forecast(ahead).minutes

    def wait_p90_minutes(self, ahead: int) -> float | None:
        return self.forecast(ahead).p90_minutes

    @property
    def new_ticket_minutes(self) -> float | None:
        return self.wait_minutes(self.waiting)

    @property
    def new_ticket_p90_minutes(self) -> float | None:
        return self.wait_p90_minutes(self.waiting)

    # ------------------------------------------------------------ the arithmetic

    def forecast_appointment(self, ahead: int, ahead_at_slot: int, slot_start: float) -> Forecast:
        """An appointment checked in before its slot: called in its turn, or soon after the
        slot begins (when it goes ahead of the walk-ins), whichever comes first."""
        now_turn = self.forecast(ahead, "appointment")
        lead = max(0.0, slot_start - self.now) / 60.0
        rate = sum(lane.rate for lane in self.lanes if lane.start <= lead)
        if now_turn.minutes == 0.0 or rate <= 0.0:
            return now_turn
        part = (ahead_at_slot + 1) / rate
        shape = self._shape(part, ahead_at_slot + 1.0, 0.0)
        p90 = self._wall(lead + part + self.p90_scale * (_quantile(part, shape, Z90) - part))
        minutes = self._wall(lead + part)
        if now_turn.minutes is None or now_turn.p90_minutes is None:
            return Forecast(minutes, p90)
        return Forecast(min(minutes, now_turn.minutes), min(p90, now_turn.p90_minutes))

    def _forecast(self, ahead: int, cls: TicketClass) -> Forecast:
        if not self.lanes:
            if not self.delayed:
                return Forecast(None, None)
            # As v1: the quickest window clears the tiers above, then the queue is shared.
            minutes = min(self.delayed) + (ahead + 1) * self.call_minutes / len(self.delayed)
            return Forecast(minutes, minutes * (1.0 + 3 * Z90 * MODEL_ERROR))
        arriving = 0.0 if cls == "priority" else self.priority_per_minute
        calls = ahead + 1.0
        t = self._time_for(calls, arriving)
        extra = 0.0
        for _ in range(2):  # appointments falling due and give-ups depend on the wait itself
            if t == 0.0 or t == INF:
                break
            wall = self._wall(t)
            extra = -min(ahead / 2.0, self.give_up_per_minute * ahead * wall / 2.0)
            if cls == "normal" and self.booked:
                due = bisect.bisect_right(self.booked, self.now + wall * 60.0)
                extra += self.kept * max(0, due - self.booked_from)
            t = self._time_for(calls + extra, arriving)
        if t == INF:
            return Forecast(None, None)
        if t == 0.0:
            lead = self.spans[0][0]  # between sessions: at the next opening
            return Forecast(lead, lead)
        return self._on_timetable(t, self._shape(t, calls + extra, arriving))

    def _on_timetable(self, t: float, shape: float) -> Forecast:
        """The expected wall-clock wait and P90 of a call `t` open minutes away on average,
        spread as a gamma of this shape. A break counts in the mean as far as the call may
        fall after it: a ticket near the end of a session waits through lunch or not."""
        minutes = self.spans[0][0] + t
        opened = 0.0
        for (start, end), (following, _) in zip(self.spans, self.spans[1:], strict=False):
            opened += end - start
            minutes += (following - end) * _beyond(t, shape, opened)
        p90 = t + self.p90_scale * max(0.0, _quantile(t, shape, Z90) - t)
        return Forecast(minutes, max(minutes, self._wall(p90)))

    def _time_for(self, calls: float, arriving: float) -> float:
        """Open minutes until `calls` calls have been made, while priority tickets arrive at
        `arriving` a minute and each needs a call first. INF if never."""
        done = rate = t = 0.0
        for lane in self.lanes:
            if rate > arriving:
                reach = (calls - done + rate * t) / (rate - arriving)
                if reach <= lane.start:
                    return max(t, reach)
            done += rate * (lane.start - t) + lane.jump
            t = lane.start
            rate += lane.rate
            if done >= calls + arriving * t:
                return t
        if rate > arriving:
            return max(t, (calls - done + rate * t) / (rate - arriving))
        return INF

    def _wall(self, open_minutes: float) -> float:
        """Minutes from now until `open_minutes` of the hall's open time have passed."""
        left = open_minutes
        for start, end in self.spans:
            if left <= end - start:
                return start + left
            left -= end - start
        return INF  # not reached: the last span never ends

    def _shape(self, t: float, calls: float, arriving: float) -> float:
        """The gamma shape of the open minutes to the call: mean²/variance, the variance from
        the spread of window times, the priority tickets arriving, those giving up, and the
        model itself."""
        rate = max(calls + arriving * t, 1.0) / t  # the mean pace of calls up to then
        variance = (
            self.call_cv2 * t * t / max(calls, 1.0)
            + (arriving * t + self.give_up_per_minute * calls * t / 2.0) / (rate * rate)
            + (MODEL_ERROR * t) ** 2
        )
        return max(0.5, t * t / variance)


def _quantile(mean: float, shape: float, z: float) -> float:
    """A gamma's quantile at the standard normal's `z` (Wilson-Hilferty)."""
    return mean * max(0.0, 1.0 - 1.0 / (9.0 * shape) + z / (3.0 * math.sqrt(shape))) ** 3


def _beyond(mean: float, shape: float, x: float) -> float:
    """A gamma's chance of exceeding `x` (Wilson-Hilferty)."""
    z = ((x / mean) ** (1.0 / 3.0) - 1.0 + 1.0 / (9.0 * shape)) * 3.0 * math.sqrt(shape)
    return 0.5 * math.erfc(z / math.sqrt(2.0))
