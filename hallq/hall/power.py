"""When a hall screen or an LED bus is lit (亮屏时间): its power schedule, in the hall's zone.

On a day the hall is open (the timetable has sessions) a target with `on_hours` is lit in
those spans; without them, from `lead_minutes` before the first session to
AFTER_CLOSING_MINUTES after the last. A day without sessions (a weekend, a holiday) is dark
all day. The rule is the screen page's own (`isLit` in hallq/web/static/screen/schedule.js),
so a display switched by hallq and the page it shows agree.

Pure: every answer is worked out from the configuration and an instant (seconds since the
epoch), never from the machine's clock or zone.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Protocol

from hallq.hall.config import HallConfig, parse_span
from hallq.hall.schedule import Timetable, business_day

AFTER_CLOSING_MINUTES = 10  # lit this long after the last session ends (schedule.js too)
LOOKAHEAD_DAYS = 60  # next_change looks no further; past it, the caller asks again then

Span = tuple[float, float]  # [start, end) in seconds since the epoch


class PowerTarget(Protocol):
    """What has a power schedule: a `Screen` or a `LedBus` of the configuration."""

    @property
    def on_hours(self) -> list[str]: ...

    @property
    def lead_minutes(self) -> int: ...


def day_spans(table: Timetable, target: PowerTarget, day: date) -> list[Span]:
    """The spans in which `target` is lit on business day `day` (none when the hall is closed)."""
    sessions = table.sessions(day)
    if not sessions:
        return []
    if target.on_hours:
        zone = table.cfg.zone
        spans = []
        for text in target.on_hours:
            start, end = parse_span(text)
            spans.append(
                (
                    datetime.combine(day, start, zone).timestamp(),
                    datetime.combine(day, end, zone).timestamp(),
                )
            )
        return spans
    first = min(s.start for s in sessions).timestamp() - target.lead_minutes * 60
    last = max(s.end for s in sessions).timestamp() + AFTER_CLOSING_MINUTES * 60
    return [(first, last)]


def lit(
    cfg: HallConfig, target: PowerTarget, now: float, timetable: Timetable | None = None
) -> bool:
    """Whether `target` is lit at `now`."""
    table = timetable or Timetable(cfg)
    today = business_day(cfg, now)
    # A lead before an early session, or the minutes after a late one, may cross midnight.
    for offset in (-1, 0, 1):
        for start, end in day_spans(table, target, today + timedelta(days=offset)):
            if start <= now < end:
                return True
    return False


def next_change(
    cfg: HallConfig, target: PowerTarget, now: float, timetable: Timetable | None = None
) -> float:
    """When `target` next switches on or off after `now` (seconds since the epoch).

    Looks ahead LOOKAHEAD_DAYS at most; with no switch in that time (a target that is never
    lit), the end of that time, when the caller should ask again.
    """
    table = timetable or Timetable(cfg)
    on = lit(cfg, target, now, table)
    today = business_day(cfg, now)
    # Spans of a later day start no earlier than its midnight less the lead: a switch found
    # before that bound cannot be undone by a day not yet looked at.
    lead = 0 if target.on_hours else target.lead_minutes * 60
    spans: list[Span] = []
    for offset in range(-1, LOOKAHEAD_DAYS + 1):
        day = today + timedelta(days=offset)
        spans.extend(day_spans(table, target, day))
        bound = datetime.combine(day + timedelta(days=1), time(0), cfg.zone).timestamp() - lead
        change = _first_change(spans, now, on)
        if change is not None and change < bound:
            return change
    return now + LOOKAHEAD_DAYS * 86400.0


def _first_change(spans: list[Span], now: float, on: bool) -> float | None:
    """The first switch after `now` in the merged spans, if they show one."""
    for start, end in _merged(spans):
        if on and start <= now < end:
            return end
        if not on and start > now:
            return start
    return None


def _merged(spans: list[Span]) -> list[Span]:
    """Spans in order, overlapping or touching ones joined (no switch between them)."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out
