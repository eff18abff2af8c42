"""The hall state as clients read it (getHallState and the feed's snapshot)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import msgspec

from hallq.drivers.base import DriverSet
from hallq.hall.engine import Engine
from hallq.hall.estimate import TicketWait
from hallq.hall.schedule import local_now
from hallq.hall.state import STATE_VERSION, Ticket

RECENT_CALLS = 20


def ticket_view(
    t: Ticket, wait: TicketWait | tuple[int, float | None] | None = None
) -> dict[str, Any]:
    """A ticket as clients see it; with `wait` (a waiting ticket), its place and estimates."""
    out: dict[str, Any] = {
        "id": t.id,
        "number": t.display,
        "service": t.service,
        "status": t.status,
        "category": t.category,
        "issued_at": t.issued_at,
        "window": t.window,
        "called_at": t.called_at,
        "recalls": t.recalls,
        "estimate_at_issue_minutes": t.estimate_minutes,
        "estimate_p90_at_issue_minutes": t.estimate_p90_minutes,
    }
    if t.appointment:
        out["appointment"] = t.appointment
        out["slot_start"] = t.slot_start
    if t.reinstatements:
        out["reinstated"] = t.reinstatements
    if t.transferred_from:
        out["transferred_from"] = t.transferred_from
    if t.evaluation:
        out["evaluation"] = t.evaluation
    if t.printed is not None:
        out["printed"] = t.printed
        if not t.printed:
            out["print_failures"], out["print_reason"] = t.print_failures, t.print_reason
    if wait is not None:
        out["ahead"], out["estimate_minutes"] = wait[0], _minutes(wait[1])
        out["estimate_p90_minutes"] = _minutes(wait[2]) if isinstance(wait, TicketWait) else None
    return out


def _minutes(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def hall_view(
    engine: Engine, now: float, all_tickets: bool = False, tickets_shown: bool = True
) -> dict[str, Any]:
    """Everything a screen, kiosk or terminal needs to draw the hall, versioned by `seq`.

    `tickets_shown=False` leaves out the list of tickets (and the cost of each one's wait):
    screens refresh their figures with it after every few events.
    """
    cfg, st = engine.config, engine.state
    issue = engine.timetable.issue_status(now)
    waits = engine.ticket_forecasts(now) if tickets_shown else {}
    outlooks = engine.outlooks(now)
    local = local_now(cfg, now)
    sessions = engine.timetable.sessions(local.date())
    services = []
    for s in cfg.services:
        view = outlooks[s.code]
        counts = st.issued_by_session.get(s.code, [])
        issued = sum(counts)
        services.append(
            {
                "code": s.code,
                "name": s.name,
                "name_en": s.name_en,
                "prefix": s.prefix,
                "enabled": s.enabled,
                "waiting": view.waiting,
                "issued_today": issued,
                "daily_quota": s.daily_quota,
                "quota_left": None
                if s.daily_quota is None
                else max(0, s.daily_quota - sum(st.quota_used.get(s.code, []))),
                "windows_open": view.windows_open,
                "estimate_minutes": _minutes(view.new_ticket_minutes),
                "estimate_p90_minutes": _minutes(view.new_ticket_p90_minutes),
                "mean_service_minutes": round(view.mean_minutes, 2),
                "windows": [w.number for w in cfg.windows_serving(s.code)],
                "guide": {
                    "materials": s.guide.materials,
                    "materials_en": s.guide.materials_en,
                    "time_limit": s.guide.time_limit,
                    "fee": s.guide.fee,
                    "legal_basis": s.guide.legal_basis,
                    "notes": s.guide.notes,
                },
            }
        )
    windows = windows_view(engine, now)
    called = recent_calls_view(engine)
    if not tickets_shown:
        tickets = []
    elif all_tickets:
        tickets = [ticket_view(t, waits.get(t.id)) for t in st.tickets.values()]
    else:
        # In calling order within each service, as a screen lists them.
        order = sorted(waits, key=lambda i: (st.tickets[i].service, waits[i][0]))
        tickets = [ticket_view(st.tickets[i], waits[i]) for i in order]
    return {
        "version": STATE_VERSION,
        "seq": st.seq,
        "now": now,
        "hall": {
            "id": cfg.hall.id,
            "name": cfg.hall.name,
            "name_en": cfg.hall.name_en,
            "timezone": cfg.hall.timezone,
            "footer": cfg.hall.footer,
            "footer_en": cfg.hall.footer_en,
        },
        "day": st.day,
        "config_digest": engine.config_digest,
        "local_time": local.isoformat(timespec="seconds"),
        "utc_offset_minutes": round((local.utcoffset() or timedelta()).total_seconds() / 60),
        "hours": [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in sessions],
        "issuing": {
            "open": issue.open,
            "code": issue.code,
            "message": issue.message,
            "next_opening": issue.next_opening.isoformat() if issue.next_opening else None,
        },
        "services": services,
        "windows": windows,
        "recent_calls": called,
        "waiting": sum(len(v) for v in engine.waiting.values()),
        "devices": [
            {
                "device": name,
                "kind": d.kind,
                "status": d.status,
                "reason": d.reason,
                "reason_en": d.reason_en,
                "since": d.since,
                "last_seen": None,
            }
            for name, d in sorted(st.devices.items())
        ],
        "tickets": tickets,
        "priority": [{"code": p.code, "name": p.name, "name_en": p.name_en} for p in cfg.priority],
        "screens": [msgspec.to_builtins(sc) for sc in cfg.screens],
        "notices": [msgspec.to_builtins(nt) for nt in cfg.notices],
        "away_thresholds_minutes": cfg.away.thresholds_minutes,
        "booking_advice": cfg.appointments.booking_advice,
        "booking_advice_en": cfg.appointments.booking_advice_en,
        "bad_review_reasons": cfg.evaluation.bad_review_reasons,
        "evaluation_window_minutes": cfg.evaluation.window_minutes,
        "evaluation_levels": [
            {"code": lv.code, "name": lv.name, "name_en": lv.name_en, "bad": lv.bad}
            for lv in cfg.evaluation.levels
        ],
    }


def add_last_seen(view: dict[str, Any], drivers: DriverSet) -> None:
    """The time each in-process device last answered (kept in memory, not in the log)."""
    seen = {r.device: r.last_seen for r in drivers.reports()}
    for device in view["devices"]:
        device["last_seen"] = seen.get(device["device"])


def windows_view(engine: Engine, now: float) -> list[dict[str, Any]]:
    """Every window as screens and boards show it."""
    cfg, st = engine.config, engine.state
    thresholds = cfg.away.thresholds_minutes
    out = []
    for w in cfg.windows:
        ws = engine.window_state(w.number)
        current = st.tickets.get(ws.ticket) if ws.ticket is not None else None
        minutes_in_state = max(0.0, (now - ws.since) / 60.0) if ws.since else 0.0
        out.append(
            {
                "number": w.number,
                "label": w.label,
                "label_en": w.label_en,
                "tiers": w.tiers,
                "backup": w.backup,
                "status": ws.status,
                "since": ws.since or None,
                "reason": ws.reason,
                "staff": ws.staff,
                "staff_name": ws.staff_name,
                "ticket": ticket_view(current) if current else None,
                "served_today": ws.served_today,
                "away_minutes": round(minutes_in_state, 1) if ws.status == "away" else 0.0,
                "away_thresholds_passed": [
                    t for t in thresholds if ws.status == "away" and minutes_in_state >= t
                ],
            }
        )
    return out


def recent_calls_view(engine: Engine) -> list[dict[str, Any]]:
    """The latest calls, newest first."""
    called = engine.recent_calls(RECENT_CALLS)
    return [
        {"number": t.display, "window": t.window, "service": t.service, "called_at": t.called_at}
        for t in called
    ]


def boards_view(engine: Engine, now: float) -> dict[str, Any]:
    """What the LED boards need, without the costlier parts of the hall view (waits)."""
    local = local_now(engine.config, now)
    sessions = engine.timetable.sessions(local.date())
    return {
        "now": now,
        "local_time": local.isoformat(timespec="seconds"),
        "hours": [f"{s.start:%H:%M}-{s.end:%H:%M}" for s in sessions],
        "windows": windows_view(engine, now),
        "recent_calls": recent_calls_view(engine),
    }
