"""The hall state that events build: tickets of the day, windows, appointments, learned rates.

Only the engine's `apply` changes it. It is a msgspec Struct so that a snapshot is one encode.
"""

from __future__ import annotations

from typing import Literal

import msgspec

TicketStatus = Literal["waiting", "called", "serving", "done", "no_show", "expired", "cancelled"]
WindowStatus = Literal["closed", "idle", "calling", "serving", "paused", "away"]

NORMAL_RANK = 1000  # priority categories rank 1..99, so every one is called before normal

# 2: the learned pace (wait estimates) and the fields it needs. A version-1 snapshot would
# decode (every new field has a default) but without what the log taught, so the controller
# ignores it and replays the log instead (writer.load asks for this version's snapshots).
# 3: when windows are staffed over the day (`Staffing`), learned from the log the same way.
STATE_VERSION = 3


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
    estimate_p90_minutes: float | None = None
    # The P90's margin over the estimate before calibration (hallq/hall/pace.py learns from it)
    estimate_margin_minutes: float | None = None
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
    signed_in_at: float = 0.0  # when the staff member now in signed in
    busy_since: float = 0.0  # when the ticket in hand was called (its window time starts)
    # Of this window's recent calls, the share per service (综合窗口: how its time is shared)
    call_mix: dict[str, float] = {}
    calls_mixed: int = 0


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


class ServicePace(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """What the log teaches about one service, for wait estimates (hallq/hall/pace.py)."""

    calls: int = 0  # calls whose window time is known
    window_seconds: float = 0.0  # mean window time per call: from the call to the finish or 过号
    window_seconds_sq: float = 0.0  # mean of its square (the spread of P90 estimates)
    arrivals_per_minute: float = 0.0  # tickets issued, a rate decayed over the last half hour
    last_issued_at: float = 0.0


class HallPace(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """What the log teaches about the whole hall, for wait estimates (hallq/hall/pace.py)."""

    tickets: int = 0
    priority_share: float = 0.0  # of tickets issued, the share in a priority class (绿色通道)
    waited_minutes: float = 0.0  # minutes waited by tickets until called or given up (decayed)
    gave_up: float = 0.0  # tickets cancelled while waiting, on the same decayed scale
    away_episodes: int = 0
    away_seconds: float = 0.0  # mean length of an away episode (请稍候)
    staffed_seconds: float = 0.0  # window time with staff signed in (decayed)
    away_total_seconds: float = 0.0  # of it, away (decayed on the same scale)
    breaks: int = 0
    break_seconds: float = 0.0  # mean length of a break within a session (轮岗午休)
    appointments_due: float = 0.0  # appointments of past days (decayed)
    appointments_kept: float = 0.0  # of them, checked in
    p90_checks: int = 0
    p90_scale: float = 1.0  # the P90's spread, scaled so that 10% of waits exceed it
    p90_today: int = 0  # checks of the P90 so far today
    p90_per_day: float = 0.0  # checks of the P90 on a business day (learned over days)


class WindowHours(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """When one window is staffed over the day (hallq/hall/staffing.py)."""

    # Of each slot of the day, the share it was staffed on past business days (learned).
    usual: list[float] = []
    today: list[float] = []  # seconds staffed in each slot so far today


class Staffing(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """When the windows are staffed over the day, as past business days showed it."""

    days: int = 0  # business days learned from
    midnight: float = 0.0  # today's local midnight (seconds since the epoch)
    windows: dict[int, WindowHours] = {}


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
    pace: dict[str, ServicePace] = {}
    hall_pace: HallPace = msgspec.field(default_factory=HallPace)
    staffing: Staffing = msgspec.field(default_factory=Staffing)
    requests: dict[str, RequestEntry] = {}
    devices: dict[str, DeviceState] = {}
    # The configuration last set through the controller (ChangeConfig), as TOML; empty: the
    # configuration file the controller started with has never been changed through it.
    config_text: str = ""
    config_digest: str = ""
    config_changed_at: float = 0.0


snapshot_encoder = msgspec.json.Encoder()
snapshot_decoder = msgspec.json.Decoder(HallState)
