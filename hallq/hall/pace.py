"""The hall's pace as the log teaches it, for wait estimates (hallq/hall/estimate.py).

The engine calls the `learn_*` functions while it applies events, with the event's time and
nothing from the configuration, so that a replayed log teaches exactly the same. The
estimator reads the learned figures through `Pace`, which blends them with the configured
service times until enough has been seen.

What is learned, per service: the window time per call (from the call to the finish, or to
the no-show: walk-up time, service and recalls all included, so tickets that turn out to be
no-shows cost only what they really cost), its spread, and the rate of tickets issued. For
the whole hall: the share of tickets in a priority class (绿色通道), how often a waiting
citizen gives up, the length of away episodes (请稍候) and their share of staffed time, the
length of breaks within a session (轮岗午休), the share of appointments kept, and the scale
that keeps the P90 estimate calibrated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hallq.hall.state import HallPace, HallState, ServicePace, Ticket, WindowState

ARRIVAL_MINUTES = 30.0  # arrival rates follow about the last half hour
WINDOW_TIME_CALLS = 500  # the mean window time follows about this many calls
PRIORITY_TICKETS = 500  # the priority share follows about this many tickets
WAITED_MEMORY_MINUTES = 50_000.0  # give-ups per minute waited: beyond this, old data halves
STAFFED_MEMORY_SECONDS = 200 * 3600.0  # away share of staffed time: likewise
CALL_MIX_CALLS = 10  # a window's share of calls per service follows about its last ten
AWAY_EPISODES = 100  # the mean away episode follows about this many
BREAKS = 20
APPOINTMENT_MEMORY = 500.0
P90_TARGET = 0.1  # the share of waits that should exceed the P90 estimate
# How far one ticket moves the P90 scale (a running quantile, by stochastic approximation):
# 1/(n + P90_EARLY) for the n-th, so that a new hall learns fast, and then P90_STEP.
P90_STEP = 0.005
P90_MEMORY_DAYS = 2  # from the second day on: about the last two days' tickets
P90_EARLY = 50
# Bounds of the scale: never a P90 on the estimate itself, nor one of hours for minutes.
P90_SCALE_RANGE = (0.15, 4.0)
MIN_MARGIN_MINUTES = 0.2  # P90s this close to the estimate teach nothing (rounding)

# Priors, used until the log has taught enough (each counts as this many observations).
PRIOR_CALLS = 3  # the configured service time counts as three calls
PRIOR_AWAY_MINUTES, PRIOR_AWAY_EPISODES = 5.0, 3
PRIOR_BREAK_MINUTES, PRIOR_BREAKS = 60.0, 1  # a break in turns: an hour until one is seen
PRIOR_KEPT, PRIOR_APPOINTMENTS = 0.8, 5.0  # four in five appointments are kept
PRIOR_CV2 = 0.5  # service times vary (cv about 0.7) until the spread is learned


def _mean_step(samples: int, memory: int) -> float:
    """The weight of a new sample in a mean of about `memory` recent ones."""
    return max(1.0 / memory, 1.0 / samples)


# ------------------------------------------------------------------ learning (engine apply)


def learn_issue(state: HallState, service: str, priority: bool, ts: float) -> None:
    """A ticket was issued: the service's arrival rate and the hall's priority share."""
    p = state.pace.get(service)
    if p is None:
        p = state.pace[service] = ServicePace()
    gap = max(0.0, ts - p.last_issued_at) / 60.0 if p.last_issued_at else math.inf
    p.arrivals_per_minute = p.arrivals_per_minute * math.exp(-gap / ARRIVAL_MINUTES)
    p.arrivals_per_minute += 1.0 / ARRIVAL_MINUTES
    p.last_issued_at = ts
    h = state.hall_pace
    h.tickets += 1
    h.priority_share += _mean_step(h.tickets, PRIORITY_TICKETS) * (priority - h.priority_share)


def model_margin(state: HallState, minutes: float | None, p90: float | None) -> float | None:
    """A new ticket's P90 margin before calibration, from the unrounded estimate and P90;
    None when there is none (a ticket called at once: both 0)."""
    if minutes is None or p90 is None or p90 <= minutes:
        return None
    return round((p90 - minutes) / state.hall_pace.p90_scale, 4)


def p90_margin(state: HallState, minutes: float | None, p90: float | None) -> float | None:
    """A ticket's P90 margin before calibration, from the estimate and P90 as printed (to a
    tenth of a minute: logs from before the margin was kept)."""
    if minutes is None or p90 is None or p90 - minutes < MIN_MARGIN_MINUTES:
        return None
    return (p90 - minutes) / state.hall_pace.p90_scale


def learn_first_call(state: HallState, t: Ticket, ts: float) -> None:
    """A ticket is called for the first time: its wait, and the P90's calibration.

    The scale is a running 90th percentile of how far waits went past the estimate, in
    units of the model's own margin: it does not depend on the scale the ticket was given,
    so waits that come back an hour later cannot make it swing.
    """
    minutes = max(0.0, ts - t.issued_at) / 60.0
    _waited(state.hall_pace, minutes, 0.0)
    margin = t.estimate_margin_minutes
    if margin is not None and t.estimate_minutes is not None:
        h = state.hall_pace
        h.p90_checks += 1
        beyond = 1.0 if (minutes - t.estimate_minutes) / margin > h.p90_scale else 0.0
        h.p90_today += 1
        low, high = P90_SCALE_RANGE
        # Over its first day a hall learns fast; after that the scale follows the last few
        # days' worth of tickets, not the last few minutes': the waits that tell it a P90 was
        # too narrow come back a wait later, and a scale that swings within the day is
        # narrow when the rush comes.
        memory = P90_MEMORY_DAYS * h.p90_per_day if h.p90_per_day else 1.0 / P90_STEP
        step = max(1.0 / memory, 1.0 / (h.p90_checks + P90_EARLY))
        scale = h.p90_scale * math.exp(step * (beyond - P90_TARGET) / P90_TARGET)
        h.p90_scale = min(high, max(low, scale))


def learn_day(state: HallState) -> None:
    """A new business day: how many P90 checks a day brings (the scale's memory)."""
    h = state.hall_pace
    if h.p90_today:
        days = state.staffing.days or 1
        weight = 1.0 / min(days, P90_MEMORY_DAYS)
        h.p90_per_day += weight * (h.p90_today - h.p90_per_day) if h.p90_per_day else h.p90_today
        h.p90_today = 0


def learn_gave_up(state: HallState, t: Ticket, ts: float) -> None:
    """A waiting ticket was cancelled: the citizen gave up after this long."""
    _waited(state.hall_pace, max(0.0, ts - t.issued_at) / 60.0, 1.0)


def _waited(h: HallPace, minutes: float, gave_up: float) -> None:
    h.waited_minutes += minutes
    h.gave_up += gave_up
    if h.waited_minutes > WAITED_MEMORY_MINUTES:
        h.waited_minutes /= 2.0
        h.gave_up /= 2.0


def learn_window_time(state: HallState, service: str, seconds: float) -> None:
    """A call ended (finished or 过号) after this long at the window."""
    if seconds <= 0:
        return
    p = state.pace.get(service)
    if p is None:
        p = state.pace[service] = ServicePace()
    p.calls += 1
    step = _mean_step(p.calls, WINDOW_TIME_CALLS)
    p.window_seconds += step * (seconds - p.window_seconds)
    p.window_seconds_sq += step * (seconds * seconds - p.window_seconds_sq)


def learn_call_mix(ws: WindowState, service: str) -> None:
    """A window called a ticket of `service`: the share of its calls per service."""
    ws.calls_mixed += 1
    step = _mean_step(ws.calls_mixed, CALL_MIX_CALLS)
    mix = ws.call_mix
    for code in mix:
        mix[code] -= step * mix[code]
    mix[service] = mix.get(service, 0.0) + step


def learn_away(state: HallState, seconds: float) -> None:
    """An away episode (请稍候) ended after this long."""
    h = state.hall_pace
    h.away_episodes += 1
    h.away_seconds += _mean_step(h.away_episodes, AWAY_EPISODES) * (seconds - h.away_seconds)
    h.away_total_seconds += seconds


def learn_staffed(state: HallState, seconds: float) -> None:
    """A window was staffed this long (signed out now)."""
    h = state.hall_pace
    h.staffed_seconds += max(0.0, seconds)
    if h.staffed_seconds > STAFFED_MEMORY_SECONDS:
        h.staffed_seconds /= 2.0
        h.away_total_seconds /= 2.0


def learn_break(state: HallState, seconds: float) -> None:
    """A window came back from a break within a session after this long."""
    h = state.hall_pace
    h.breaks += 1
    h.break_seconds += _mean_step(h.breaks, BREAKS) * (seconds - h.break_seconds)


def learn_appointments(state: HallState, due: int, kept: int) -> None:
    """A day is over: of its `due` appointments, `kept` were checked in."""
    h = state.hall_pace
    h.appointments_due += due
    h.appointments_kept += kept
    if h.appointments_due > APPOINTMENT_MEMORY:
        h.appointments_due /= 2.0
        h.appointments_kept /= 2.0


# ------------------------------------------------------------------ reading (the estimator)


@dataclass(frozen=True)
class Pace:
    """The learned figures an estimate uses, with the priors blended in (minutes)."""

    hall: HallPace

    @property
    def priority_share(self) -> float:
        return self.hall.priority_share

    @property
    def give_up_per_minute(self) -> float:
        """The chance per minute waited that a waiting citizen gives up (a constant hazard)."""
        return self.hall.gave_up / (self.hall.waited_minutes + 1000.0)

    @property
    def away_minutes(self) -> float:
        h = self.hall
        n = min(h.away_episodes, AWAY_EPISODES)
        return (PRIOR_AWAY_EPISODES * PRIOR_AWAY_MINUTES + n * h.away_seconds / 60.0) / (
            PRIOR_AWAY_EPISODES + n
        )

    @property
    def away_share(self) -> float:
        """The share of staffed time spent away: capacity that future episodes take."""
        h = self.hall
        if h.staffed_seconds <= 0:
            return 0.0
        return min(0.5, h.away_total_seconds / h.staffed_seconds)

    @property
    def break_minutes(self) -> float:
        h = self.hall
        n = min(h.breaks, BREAKS)
        return (PRIOR_BREAKS * PRIOR_BREAK_MINUTES + n * h.break_seconds / 60.0) / (
            PRIOR_BREAKS + n
        )

    @property
    def appointments_kept(self) -> float:
        h = self.hall
        return (PRIOR_APPOINTMENTS * PRIOR_KEPT + h.appointments_kept) / (
            PRIOR_APPOINTMENTS + h.appointments_due
        )

    @property
    def p90_scale(self) -> float:
        return self.hall.p90_scale


def call_minutes(pace: ServicePace | None, configured_minutes: float) -> tuple[float, float]:
    """A service's mean window minutes per call and their squared coefficient of variation.

    The configured service time counts as PRIOR_CALLS calls until the log has more.
    """
    if pace is None or pace.calls == 0:
        return configured_minutes, PRIOR_CV2
    n = min(pace.calls, WINDOW_TIME_CALLS)
    mean = (PRIOR_CALLS * configured_minutes + n * pace.window_seconds / 60.0) / (PRIOR_CALLS + n)
    if pace.window_seconds <= 0:
        return mean, PRIOR_CV2
    cv2 = max(0.0, pace.window_seconds_sq / pace.window_seconds**2 - 1.0)
    cv2 = (PRIOR_CALLS * PRIOR_CV2 + n * cv2) / (PRIOR_CALLS + n)
    return mean, cv2


def arrivals_per_minute(pace: ServicePace | None, now: float | None) -> float:
    """Tickets issued per minute lately (decayed to `now`)."""
    if pace is None or not pace.last_issued_at:
        return 0.0
    if now is None or now <= pace.last_issued_at:
        return pace.arrivals_per_minute
    return pace.arrivals_per_minute * math.exp(
        -(now - pace.last_issued_at) / 60.0 / ARRIVAL_MINUTES
    )
