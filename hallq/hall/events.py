"""Events: the facts the engine records. The log of them is the hall's only truth.

Each event carries everything needed to apply it (the engine decides, then applies), so
replaying the log rebuilds the state without the configuration's rules being consulted.
"""

from __future__ import annotations

import msgspec


class Event(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True, gc=False):
    """Base of every event; `type` is the class's tag, e.g. "ticket_issued"."""


class DayStarted(Event, tag="day_started", kw_only=True):
    """A new business day: the previous day's unserved tickets expire, windows close."""

    day: str
    previous_day: str | None = None
    expired: list[int] = []
    closed_windows: list[int] = []


class TicketIssued(Event, tag="ticket_issued", kw_only=True):
    ticket: int
    service: str
    number: int
    display: str
    session: int
    order: float
    category: str | None = None
    appointment: str | None = None
    slot_start: float | None = None
    kiosk: str | None = None
    language: str = "zh"
    ahead: int = 0
    estimate_minutes: float | None = None
    in_quota: bool = True  # False for a priority class that bypasses the quota
    estimate_p90_minutes: float | None = None  # 9 in 10 are called sooner (hallq/hall/estimate.py)
    # The P90's margin over the estimate before calibration, unrounded (what the P90 learns
    # from: hallq/hall/pace.py); older logs lack it and derive it from the rounded two.
    estimate_margin_minutes: float | None = None


class TicketCalled(Event, tag="ticket_called", kw_only=True):
    ticket: int
    display: str
    service: str
    window: int
    staff: str | None = None
    chosen: str = "next"  # "next" by the policy, "specific" when staff typed the number


class TicketRecalled(Event, tag="ticket_recalled", kw_only=True):
    ticket: int
    display: str
    window: int
    recalls: int


class ServiceStarted(Event, tag="service_started", kw_only=True):
    ticket: int
    window: int


class ServiceFinished(Event, tag="service_finished", kw_only=True):
    ticket: int
    window: int
    seconds: float
    implicit_start: bool = False
    mean_seconds: float | None = None  # the service's learned mean after this one, if learned


class TicketNoShow(Event, tag="ticket_no_show", kw_only=True):
    ticket: int
    display: str
    window: int


class TicketReinstated(Event, tag="ticket_reinstated", kw_only=True):
    ticket: int
    display: str
    order: float
    window: int | None = None


class TicketTransferred(Event, tag="ticket_transferred", kw_only=True):
    ticket: int
    display: str
    from_service: str
    to_service: str
    order: float
    window: int | None = None
    reason: str = ""


class TicketCancelled(Event, tag="ticket_cancelled", kw_only=True):
    ticket: int
    display: str
    reason: str = ""
    window: int | None = None


class EvaluationSubmitted(Event, tag="evaluation_submitted", kw_only=True):
    ticket: int
    window: int | None
    staff: str | None
    level: str
    bad: bool = False
    reason: str = ""


class StaffSignedIn(Event, tag="staff_signed_in", kw_only=True):
    window: int
    staff: str
    name: str = ""
    replaced: str | None = None
    # Back from a break within a session (the window signed out earlier in this session, e.g.
    # lunch in turns, 轮岗午休): how long it was closed. Wait estimates learn from it.
    break_seconds: float | None = None


class StaffSignedOut(Event, tag="staff_signed_out", kw_only=True):
    window: int
    staff: str | None


class WindowPaused(Event, tag="window_paused", kw_only=True):
    """暂停服务: the window is suspended."""

    window: int
    reason: str = ""


class WindowAway(Event, tag="window_away", kw_only=True):
    """请稍候: staff briefly away; the time is counted against the away thresholds."""

    window: int
    reason: str = ""


class WindowResumed(Event, tag="window_resumed", kw_only=True):
    window: int
    was: str
    seconds: float


class AppointmentBooked(Event, tag="appointment_booked", kw_only=True):
    code: str
    service: str
    day: str
    slot_start: float
    slot_end: float
    name: str = ""


class AppointmentCancelled(Event, tag="appointment_cancelled", kw_only=True):
    code: str


class TicketPrintRecorded(Event, tag="ticket_print_recorded", kw_only=True):
    """The kiosk printed a ticket, or could not (recorded so it can be reprinted)."""

    ticket: int
    display: str
    printed: bool
    reason: str = ""
    device: str = ""


class DeviceHealthChanged(Event, tag="device_health_changed", kw_only=True):
    """A device's health changed (打印机缺纸, LED board not answering, back to ok)."""

    device: str
    kind: str
    status: str
    reason: str = ""
    reason_en: str = ""


class ConfigChanged(Event, tag="config_changed", kw_only=True):
    """The hall's configuration was replaced; `text` is the whole new configuration (TOML)."""

    text: str
    digest: str
    by: str = ""
    changed: list[str] = []  # the top-level sections that differ, for people reading the log


AnyEvent = (
    DayStarted
    | TicketIssued
    | TicketCalled
    | TicketRecalled
    | ServiceStarted
    | ServiceFinished
    | TicketNoShow
    | TicketReinstated
    | TicketTransferred
    | TicketCancelled
    | EvaluationSubmitted
    | StaffSignedIn
    | StaffSignedOut
    | WindowPaused
    | WindowAway
    | WindowResumed
    | AppointmentBooked
    | AppointmentCancelled
    | DeviceHealthChanged
    | TicketPrintRecorded
    | ConfigChanged
)


class Record(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """An event as stored: its place in the log, when, and which request caused it."""

    seq: int
    ts: float
    event: AnyEvent
    request: str | None = None
    command: str | None = None  # the command's name (operationId) that the request carried


_event_encoder = msgspec.json.Encoder()
_event_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


def encode_event(event: Event) -> bytes:
    return _event_encoder.encode(event)


def decode_event(data: bytes | str) -> AnyEvent:
    return _event_decoder.decode(data)


def event_type(event: Event) -> str:
    return str(event.__struct_config__.tag)
