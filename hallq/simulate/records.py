"""What a simulated day leaves behind: one record per ticket, per window, and the samples.

The records are filled from the engine's own events (TicketIssued, TicketCalled, …), so
they say what the hall did, not what the simulation meant to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Outcome = Literal["waiting", "served", "no_show", "abandoned", "expired"]


@dataclass
class TicketRecord:
    """One ticket's day. Times are seconds since the epoch; `wait` is to the first call."""

    ticket: int
    display: str
    service: str
    category: str | None
    appointment: bool
    arrived_at: float  # when the citizen reached the kiosk the first time
    issued_at: float
    estimate_minutes: float | None  # the engine's estimate printed on the ticket
    ahead: int  # tickets ahead of it in its service's queue when issued
    windows_staffed: int  # windows able to serve it with staff signed in, at issue
    windows_idle: int  # of those, idle at issue
    # The engine's learned mean window time per call at issue (call to finish or no-show,
    # walk-up included): 1/μ for the QL baseline, the same that hallq's estimate uses.
    mean_service_minutes: float
    les_minutes: float | None  # wait of the last ticket of its service to be called before
    estimate_p90_minutes: float | None = None  # the engine's P90 estimate, on the ticket
    first_called_at: float | None = None
    window: int | None = None  # the window that first called it
    started_at: float | None = None
    finished_at: float | None = None
    service_seconds: float | None = None  # as the engine measured it
    outcome: Outcome = "waiting"
    ended_at: float | None = None
    evaluation: str | None = None
    calls: int = 0
    reinstated: bool = False

    @property
    def wait_minutes(self) -> float | None:
        if self.first_called_at is None:
            return None
        return (self.first_called_at - self.issued_at) / 60.0


@dataclass
class WindowRecord:
    """One window's day, in seconds."""

    window: int
    staff: str
    signed_in_seconds: float = 0.0
    busy_seconds: float = 0.0  # from the call to the finish or the no-show
    served: int = 0
    no_shows: int = 0
    away_episodes: int = 0
    away_seconds: float = 0.0  # as the engine counts it (请稍候)


@dataclass
class QueueSample:
    at: float
    waiting: dict[str, int]  # service → tickets waiting
    staffed: int  # windows signed in
    busy: int  # windows calling or serving


@dataclass
class DayResult:
    """A simulated day: the records, the samples and how the engine was driven."""

    scenario: str
    hall: str
    date: str
    seed: int
    timezone: str
    services: list[str]
    bad_levels: list[str]  # evaluation levels that are bad reviews (差评)
    tickets: list[TicketRecord]
    windows: list[WindowRecord]
    samples: list[QueueSample]
    turned_away: dict[str, int] = field(default_factory=dict)  # kiosk refusals by reason
    bookings: int = 0
    commands: int = 0
    events: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # unexpected refusals by code
    started_at: float = 0.0
    ended_at: float = 0.0
    measured_from: float = 0.0  # waits of tickets issued before this are left out (warm-up)

    @property
    def measured(self) -> list[TicketRecord]:
        """The tickets whose waits count: those issued after the warm-up."""
        return [r for r in self.tickets if r.issued_at >= self.measured_from]
