"""When the windows are staffed over the day, as the log shows it, for wait estimates.

A hall's day has a shape the timetable does not say: a hall open through lunch (午间不打烊)
sends its windows to lunch in waves, some windows open only for the morning rush, a few close
early. Each window's signed-in time is counted in slots of a quarter of an hour, and at the
start of each business day the day before is blended into the window's usual day (the share
of each slot it was staffed), over about the last `MEMORY_DAYS` days that had staff in.

The estimator (hallq/hall/estimate.py) asks `Outlook.ratios`: for a window staffed now, how
much of its time it will likely give later, min(1, usual(then) / usual(now)). Like the rest of
what the log teaches (hallq/hall/pace.py), this is learned in the engine's apply from the
events and their times only, so a replayed log teaches exactly the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from hallq.hall.state import HallState, Staffing, WindowHours

SLOT_SECONDS = 900  # a quarter of an hour
SLOTS = 96  # in a day (a day of 23 or 25 hours puts its odd hour into the last slot)
MEMORY_DAYS = 5  # the usual day follows about the last five business days with staff in
HORIZON_SLOTS = 16  # estimates look this far ahead (four hours): further, calls are far off
NOW_FLOOR = 0.2  # a window staffed in a slot it usually is not: trusted to stay this much
CHANGE = 0.05  # ratios closer than this to the slot before are not worth a step
RETURNS = 0.5  # an absence counts if the window is usually back to half its present share


def local_midnight(day: str, zone: ZoneInfo) -> float:
    """The epoch second at which the business day `day` (ISO date) begins in `zone`."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), zone).timestamp()


def _count(hours: WindowHours, midnight: float, start: float, end: float) -> None:
    """Add the span [start, end) to the window's slots of the day beginning at `midnight`."""
    if not hours.today:
        hours.today = [0.0] * SLOTS
    start, end = max(start, midnight), min(end, midnight + SLOTS * SLOT_SECONDS + 3600.0)
    while start < end:
        slot = min(int((start - midnight) // SLOT_SECONDS), SLOTS - 1)
        edge = midnight + (slot + 1) * SLOT_SECONDS if slot < SLOTS - 1 else end
        upto = min(end, edge)
        hours.today[slot] += upto - start
        start = upto


def learn_signed_out(state: HallState, window: int, signed_in_at: float, ts: float) -> None:
    """A window's staffed span ended (signed out, or the day ended with it open)."""
    staffing = state.staffing
    if signed_in_at <= 0.0 or ts <= signed_in_at or staffing.midnight <= 0.0:
        return
    hours = staffing.windows.get(window)
    if hours is None:
        hours = staffing.windows[window] = WindowHours()
    _count(hours, staffing.midnight, signed_in_at, ts)


def learn_day(state: HallState, day: str, zone: ZoneInfo, ts: float) -> None:
    """A new business day: count the spans still open, blend the day before into the usual
    day (if anyone was staffed), and start counting today."""
    staffing = state.staffing
    for ws in state.windows.values():
        if ws.status != "closed":
            learn_signed_out(state, ws.number, ws.signed_in_at, ts)
    if any(any(h.today) for h in staffing.windows.values()):
        _blend(staffing)
    for hours in staffing.windows.values():
        hours.today = []
    staffing.midnight = local_midnight(day, zone)


def _blend(staffing: Staffing) -> None:
    staffing.days += 1
    weight = 1.0 / min(staffing.days, MEMORY_DAYS)
    for hours in staffing.windows.values():
        seen = hours.today or [0.0] * SLOTS
        usual = hours.usual or [0.0] * SLOTS
        hours.usual = [
            round(u + weight * (min(1.0, s / SLOT_SECONDS) - u), 4)
            for u, s in zip(usual, seen, strict=True)
        ]


def slot_of(staffing: Staffing, now: float) -> int | None:
    """Today's slot at `now`, or None when the day is not being counted."""
    if staffing.midnight <= 0.0 or now < staffing.midnight:
        return None
    slot = int((now - staffing.midnight) // SLOT_SECONDS)
    return slot if slot < SLOTS else None


def ratio_steps(
    staffing: Staffing, window: int, slot: int, open_slots: Sequence[bool]
) -> tuple[tuple[int, float], ...]:
    """For a window staffed in `slot`: (a later slot, the change there in the share of its time
    it likely gives) for the slots ahead where that share changes; () when it does not.

    Only slots wholly inside today's sessions (`open_slots`) count: the timetable already says
    that every window stops at a session's end, and partly open slots would say it again.
    Only absences it comes back from count (lunch in turns, a meeting): a window that usually
    leaves for the rest of the day is counted on as staying, as the timetable counts on the
    staff serving the queue at closing (those who came are served, whoever signs out)."""
    hours = staffing.windows.get(window)
    if staffing.days == 0 or hours is None or not hours.usual:
        return ()
    usual = hours.usual
    base = max(usual[slot], NOW_FLOOR)
    back = 0.0  # the most it is usually staffed in an open slot after `later`, later today
    returns = [0.0] * SLOTS
    for later in range(SLOTS - 1, slot, -1):
        returns[later] = back
        if open_slots[later]:
            back = max(back, usual[later])
    steps: list[tuple[int, float]] = []
    last = 1.0
    for later in range(slot + 1, min(slot + 1 + HORIZON_SLOTS, SLOTS)):
        if not open_slots[later]:
            continue
        ratio = min(1.0, usual[later] / base)
        if ratio < last and returns[later] < RETURNS * base:
            break  # gone for the day, not away for a while
        if abs(ratio - last) >= CHANGE:
            steps.append((later, ratio - last))
            last = ratio
    return tuple(steps)


def open_slots(midnight: float, sessions: Sequence[tuple[float, float]]) -> tuple[bool, ...]:
    """Which slots of the day lie wholly inside one of its sessions (epoch-second spans)."""
    return tuple(
        any(
            s <= midnight + i * SLOT_SECONDS and midnight + (i + 1) * SLOT_SECONDS <= e
            for s, e in sessions
        )
        for i in range(SLOTS)
    )


def slot_start(staffing: Staffing, slot: int) -> float:
    """The epoch second at which `slot` of today begins."""
    return staffing.midnight + slot * SLOT_SECONDS


__all__ = [
    "HORIZON_SLOTS",
    "SLOTS",
    "SLOT_SECONDS",
    "learn_day",
    "learn_signed_out",
    "local_midnight",
    "open_slots",
    "ratio_steps",
    "slot_of",
    "slot_start",
]
