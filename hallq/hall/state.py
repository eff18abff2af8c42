"""The hall state that events build: tickets of the day, windows, appointments, learned rates.

Only the engine's `apply` changes it. It is a msgspec Struct so that a snapshot is one encode.
"""

from __future__ import annotations

from typing import Literal

import msgspec

TicketStatus = Literal["waiting", "called", "serving", "done", "no_show", "expired", "cancelled"]
WindowStatus = Literal["closed", "idle", "calling", "serving", "paused", "away"]

NORMAL_RANK = 1000  # priority categories rank 1..99, so every one is called before normal

STATE_VERSION = 1


class Ticket(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One ticket (号). `order` places it in its queue; lower is earlier."""

    id: int
    day: str
    service: str
    number: int
    display: str
    status: TicketStatus = "waiting"
    issued_at: float
    order: float
    session: int = 0
    category: str | None = None
    appointment: str | None = None
    slot_start: float | None = None
    kiosk: str | None = None
    language: str = "zh"
    estimate_minutes: float | None = None
    ahead_at_issue: int = 0
    window: int | None = None
    staff: str | None = None
    called_at: float | None = None
    first_called_at: float | None = None
    calls: int = 0
    recalls: int = 0
    started_at: float | None = None
    finished_at: float | None = None
    no_show_at: float | None = None
    reinstatements: int = 0
    transferred_from: tuple[str, ...] = ()
    evaluation: str | None = None
    ended_at: float | None = None
    printed: bool | None = None  # None until the kiosk says; False: print failed, reprint
    print_failures: int = 0
    print_reason: str = ""


class WindowState(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """A window (窗口) as the events left it."""

    number: int
    status: WindowStatus = "closed"
    since: float = 0.0
    staff: str | None = None
    staff_name: str = ""
    ticket: int | None = None
    reason: str = ""
    priority_streak: int = 0
    last_finished: int | None = None
    served_today: int = 0
    away_seconds_today: float = 0.0


class Appointment(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    code: str
    service: str
    day: str
    slot_start: float
    slot_end: float
    name: str = ""
    ticket: int | None = None


class ServiceRate(msgspec.Struct, kw_only=True, gc=False):
    """Service time learned from finished tickets (exponentially weighted mean, seconds)."""

    mean_seconds: float
    samples: int = 0


class RequestEntry(msgspec.Struct, array_like=True, gc=False):
    """Which command a request id carried and which events it produced.

    A repeat of the id returns the first result; the id reused for another command is refused.
    """

    command: str
    first: int
    last: int


class DeviceState(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """A device's health as last reported (the time it was last seen is not logged)."""

    kind: str
    status: str
    reason: str = ""
    reason_en: str = ""
    since: float = 0.0


class HallState(msgspec.Struct, kw_only=True, gc=False):
    version: int = STATE_VERSION
    seq: int = 0
    day: str | None = None
    next_ticket: int = 1
    next_order: float = 1.0
    tickets: dict[int, Ticket] = {}
    last_number: dict[str, int] = {}
    issued_by_session: dict[str, list[int]] = {}
    quota_used: dict[str, list[int]] = {}  # as issued_by_session, less quota-free classes
    windows: dict[int, WindowState] = {}
    appointments: dict[str, Appointment] = {}
    rates: dict[str, ServiceRate] = {}
    requests: dict[str, RequestEntry] = {}
    devices: dict[str, DeviceState] = {}
    # The configuration last set through the controller (ChangeConfig), as TOML; empty: the
    # configuration file the controller started with has never been changed through it.
    config_text: str = ""
    config_digest: str = ""
    config_changed_at: float = 0.0


snapshot_encoder = msgspec.json.Encoder()
snapshot_decoder = msgspec.json.Decoder(HallState)
