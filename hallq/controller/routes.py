"""The command routes: one table that both the API and its OpenAPI document are built from."""

from __future__ import annotations

from dataclasses import dataclass

from hallq.hall import commands as c


@dataclass(frozen=True)
class CommandRoute:
    operation_id: str
    method: str
    path: str
    command: type[c.Command]
    summary: str
    path_params: tuple[str, ...] = ()


COMMAND_ROUTES: tuple[CommandRoute, ...] = (
    CommandRoute(
        "issueTicket", "POST", "/api/tickets", c.IssueTicket, "取号: issue a ticket for a service"
    ),
    CommandRoute(
        "callNext",
        "POST",
        "/api/windows/{window}/call-next",
        c.CallNext,
        "叫号: finish the current ticket (if any) and call the next by the hall's policy",
        ("window",),
    ),
    CommandRoute(
        "callTicket",
        "POST",
        "/api/windows/{window}/call",
        c.CallTicket,
        "Call a specific ticket by its number",
        ("window",),
    ),
    CommandRoute(
        "recall",
        "POST",
        "/api/windows/{window}/recall",
        c.Recall,
        "重呼: announce the current ticket again",
        ("window",),
    ),
    CommandRoute(
        "markNoShow",
        "POST",
        "/api/windows/{window}/no-show",
        c.MarkNoShow,
        "过号: the called citizen did not come",
        ("window",),
    ),
    CommandRoute(
        "transferTicket",
        "POST",
        "/api/windows/{window}/transfer",
        c.TransferTicket,
        "转移: send the current ticket to another service's queue",
        ("window",),
    ),
    CommandRoute(
        "startService",
        "POST",
        "/api/windows/{window}/start",
        c.StartService,
        "The citizen arrived: service starts",
        ("window",),
    ),
    CommandRoute(
        "finishService",
        "POST",
        "/api/windows/{window}/finish",
        c.FinishService,
        "办结: service finished",
        ("window",),
    ),
    CommandRoute(
        "pauseWindow",
        "POST",
        "/api/windows/{window}/pause",
        c.PauseWindow,
        "暂停服务: suspend the window",
        ("window",),
    ),
    CommandRoute(
        "awayWindow",
        "POST",
        "/api/windows/{window}/away",
        c.AwayWindow,
        "请稍候: staff briefly away",
        ("window",),
    ),
    CommandRoute(
        "resumeWindow",
        "POST",
        "/api/windows/{window}/resume",
        c.ResumeWindow,
        "Back at the window",
        ("window",),
    ),
    CommandRoute(
        "signIn",
        "POST",
        "/api/windows/{window}/sign-in",
        c.SignIn,
        "签到: staff sign in to a window (AB岗: the backup takes over)",
        ("window",),
    ),
    CommandRoute(
        "signOut",
        "POST",
        "/api/windows/{window}/sign-out",
        c.SignOut,
        "签退: staff sign out",
        ("window",),
    ),
    CommandRoute(
        "reinstateTicket",
        "POST",
        "/api/tickets/{ticket}/reinstate",
        c.ReinstateTicket,
        "过号顺延: put a missed ticket back in the queue",
        ("ticket",),
    ),
    CommandRoute(
        "cancelTicket",
        "POST",
        "/api/tickets/{ticket}/cancel",
        c.CancelTicket,
        "作废: cancel a ticket",
        ("ticket",),
    ),
    CommandRoute(
        "submitEvaluation",
        "POST",
        "/api/evaluations",
        c.SubmitEvaluation,
        "好差评: evaluate a served ticket (once)",
    ),
    CommandRoute(
        "bookAppointment",
        "POST",
        "/api/appointments",
        c.BookAppointment,
        "预约: register an appointment",
    ),
    CommandRoute(
        "recordPrint",
        "POST",
        "/api/tickets/{ticket}/print",
        c.RecordPrint,
        "The kiosk printed the ticket, or could not (then it can be reprinted)",
        ("ticket",),
    ),
    CommandRoute(
        "reportDeviceHealth",
        "POST",
        "/api/devices/{device}/health",
        c.ReportDeviceHealth,
        "A device's health changed (the kiosk's printer, a remote board)",
        ("device",),
    ),
    CommandRoute(
        "cancelAppointment",
        "POST",
        "/api/appointments/{code}/cancel",
        c.CancelAppointment,
        "Cancel an appointment",
        ("code",),
    ),
)
