"""Commands: what clients ask of the hall. Each carries a client request id.

Repeating a request id returns the first result and changes nothing, so a double tap, a
bounced button or a retried HTTP request never issues or calls twice.
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Command(msgspec.Struct, tag_field="command", kw_only=True, forbid_unknown_fields=True):
    request_id: str


class IssueTicket(Command, tag="issueTicket", kw_only=True):
    service: str
    category: str | None = None
    appointment: str | None = None
    kiosk: str | None = None
    language: str = "zh"


class CallNext(Command, tag="callNext", kw_only=True):
    window: int


class CallTicket(Command, tag="callTicket", kw_only=True):
    window: int
    ticket: str  # the number as shown ("A012") or the ticket id


class Recall(Command, tag="recall", kw_only=True):
    window: int


class MarkNoShow(Command, tag="markNoShow", kw_only=True):
    window: int


class ReinstateTicket(Command, tag="reinstateTicket", kw_only=True):
    ticket: str
    window: int | None = None


class TransferTicket(Command, tag="transferTicket", kw_only=True):
    window: int
    service: str
    reason: str = ""


class StartService(Command, tag="startService", kw_only=True):
    window: int


class FinishService(Command, tag="finishService", kw_only=True):
    window: int


class CancelTicket(Command, tag="cancelTicket", kw_only=True):
    ticket: str
    reason: str = ""
    window: int | None = None


class PauseWindow(Command, tag="pauseWindow", kw_only=True):
    window: int
    reason: str = ""


class AwayWindow(Command, tag="awayWindow", kw_only=True):
    window: int
    reason: str = ""


class ResumeWindow(Command, tag="resumeWindow", kw_only=True):
    window: int


class SignIn(Command, tag="signIn", kw_only=True):
    window: int
    staff: str
    name: str = ""


class SignOut(Command, tag="signOut", kw_only=True):
    window: int


class SubmitEvaluation(Command, tag="submitEvaluation", kw_only=True):
    level: str
    window: int | None = None
    ticket: str | None = None
    reason: str = ""


class BookAppointment(Command, tag="bookAppointment", kw_only=True):
    code: str
    service: str
    slot_start: float
    slot_end: float
    name: str = ""


class CancelAppointment(Command, tag="cancelAppointment", kw_only=True):
    code: str


class RecordPrint(Command, tag="recordPrint", kw_only=True):
    """Whether the ticket came out of the printer (a failed one is shown and can be reprinted)."""

    ticket: str
    printed: bool
    reason: str = ""
    device: str = ""


class ReportDeviceHealth(Command, tag="reportDeviceHealth", kw_only=True):
    """Sent by the controller's drivers when a device's health changes."""

    device: str
    kind: str
    status: Literal["ok", "warning", "error", "unknown"]
    reason: str = ""
    reason_en: str = ""


class ChangeConfig(Command, tag="changeConfig", kw_only=True):
    """Replace the hall's configuration (the admin page's edits, an import, a hand edit).

    `text` is the whole configuration as TOML. `base_digest`, when given, must be the digest
    of the configuration the edit started from, so that two editors never overwrite each other.
    """

    text: str
    base_digest: str = ""
    by: str = ""


class Tick(Command, tag="tick", kw_only=True):
    """Sent by the controller's clock: starts a new business day promptly at midnight."""


AnyCommand = (
    IssueTicket
    | CallNext
    | CallTicket
    | Recall
    | MarkNoShow
    | ReinstateTicket
    | TransferTicket
    | StartService
    | FinishService
    | CancelTicket
    | PauseWindow
    | AwayWindow
    | ResumeWindow
    | SignIn
    | SignOut
    | SubmitEvaluation
    | BookAppointment
    | CancelAppointment
    | ReportDeviceHealth
    | RecordPrint
    | ChangeConfig
    | Tick
)


def command_name(cmd: Command) -> str:
    return str(cmd.__struct_config__.tag)
