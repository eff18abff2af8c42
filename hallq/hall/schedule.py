"""Business days and opening hours (作息时间) in the hall's own time zone.

The business day follows the hall's zone, never the machine's: a Pi whose clock zone is UTC
still starts a Zaozhuang hall's day at local midnight.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from hallq.hall.config import (
    WEEKDAYS,
    HallConfig,
    Hours,
    parse_date_range,
    parse_month_day,
    parse_span,
)


@dataclass(frozen=True)
class Session:
    """One opening period of a day, e.g. the morning 08:40–11:50."""

    index: int
    start: datetime
    end: datetime


@dataclass(frozen=True)
class IssueStatus:
    """Whether tickets can be issued now, and why not."""

    open: bool
    code: (
        str  # "open", "closed_day", "before_opening", "between_sessions", "cutoff", "after_closing"
    )
    session: Session | None
    next_opening: datetime | None  # when it is not open: when it opens next
    message: str


def local_now(cfg: HallConfig, now: float) -> datetime:
    return datetime.fromtimestamp(now, cfg.zone)


def business_day(cfg: HallConfig, now: float) -> date:
    """The hall's date at the instant `now` (seconds since the epoch)."""
    return local_now(cfg, now).date()


def _in_ranges(day: date, ranges: list[str]) -> bool:
    for text in ranges:
        first, last = parse_date_range(text)
        if first <= day <= last:
            return True
    return False


def _in_season(day: date, start: str, end: str) -> bool:
    a, b = parse_month_day(start), parse_month_day(end)
    md = (day.month, day.day)
    return a <= md <= b if a <= b else md >= a or md <= b


def spans_for(hours: Hours, day: date) -> list[tuple[time, time]]:
    """The opening spans of `day`: holidays close, make-up workdays open, seasons override."""
    if _in_ranges(day, hours.holidays):
        return []
    weekday = WEEKDAYS[day.weekday()]
    makeup = _in_ranges(day, hours.makeup_workdays)
    if weekday not in hours.workdays and not makeup:
        return []
    sessions, by_weekday = hours.sessions, hours.weekdays
    for season in hours.seasons:
        if _in_season(day, season.from_, season.to):
            sessions, by_weekday = season.sessions, season.weekdays
            break
    # A make-up workday (调休) on a weekend keeps the ordinary timetable.
    chosen = sessions if makeup else by_weekday.get(weekday, sessions)
    return [parse_span(s) for s in chosen]


class Timetable:
    """The hall's sessions by date, cached: computed once per day, read on every issue."""

    def __init__(self, cfg: HallConfig) -> None:
        self.cfg = cfg
        self._sessions = lru_cache(maxsize=64)(self._compute)
        self._hours_text = lru_cache(maxsize=64)(self._compute_hours_text)

    def _compute(self, day: date) -> tuple[Session, ...]:
        zone = self.cfg.zone
        return tuple(
            Session(
                index=i,
                start=datetime.combine(day, a, zone),
                end=datetime.combine(day, b, zone),
            )
            for i, (a, b) in enumerate(spans_for(self.cfg.hours, day))
        )

    def sessions(self, day: date) -> tuple[Session, ...]:
        return self._sessions(day)

    def is_workday(self, day: date) -> bool:
        return bool(self.sessions(day))

    def closing(self, day: date) -> datetime | None:
        s = self.sessions(day)
        return s[-1].end if s else None

    def session_at(self, now: float) -> Session | None:
        """The session open at `now`, if any."""
        t = local_now(self.cfg, now)
        for s in self.sessions(t.date()):
            if s.start <= t < s.end:
                return s
        return None

    def next_opening(self, now: float) -> datetime | None:
        """The next session start after `now`, looking ahead up to 60 days."""
        t = local_now(self.cfg, now)
        for offset in range(61):
            day = t.date() + timedelta(days=offset)
            for s in self.sessions(day):
                if s.start > t:
                    return s.start
        return None

    def hours_text(self, day: date) -> str:
        """The day's hours as shown to citizens, e.g. "08:40-11:50、13:10-16:50"."""
        return self._hours_text(day)

    def _compute_hours_text(self, day: date) -> str:
        return "、".join(f"{s.start:%H:%M}-{s.end:%H:%M}" for s in self.sessions(day))

    def issue_status(self, now: float) -> IssueStatus:
        """May a ticket be issued at `now`? Sessions minus the cutoff before each ends.

        Called on every issue, so the open case does no more than compare times.
        """
        t = local_now(self.cfg, now)
        cutoff = timedelta(minutes=self.cfg.hours.issue_cutoff_minutes)
        sessions = self.sessions(t.date())
        for s in sessions:
            if s.start <= t < s.end - cutoff:
                return IssueStatus(True, "open", s, None, "")
        nxt = self.next_opening(now)
        hours = self.hours_text(t.date())
        if not sessions:
            return IssueStatus(False, "closed_day", None, nxt, "今日不办公 / Closed today")
        for s in sessions:
            if t < s.start:
                code = "before_opening" if s.index == 0 else "between_sessions"
                return IssueStatus(
                    False,
                    code,
                    None,
                    nxt,
                    f"未到取号时间，办公时间 {hours} / Not open yet; hours {hours}",
                )
            if t < s.end:
                return IssueStatus(
                    False,
                    "cutoff",
                    s,
                    nxt,
                    f"本时段取号已结束，办公时间 {hours} / Ticketing has ended for this "
                    f"session; hours {hours}",
                )
        return IssueStatus(
            False,
            "after_closing",
            None,
            nxt,
            f"今日取号已结束，办公时间 {hours} / Ticketing has ended for today; hours {hours}",
        )
