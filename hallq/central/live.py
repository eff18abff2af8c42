"""A hall's live figures (the `halls.live` JSON), from the hall's engine after each batch.

The overview and hall pages and the public JSON of waits read it. Its keys:
seq, ts (hall time of the newest event), day, open (in working hours by the hall's timetable
at ts), issued, served, no_shows, waiting, oldest_waiting_issued_at, wait_avg_seconds,
wait_p90_seconds, service_avg_seconds, windows_open, windows_total, devices_unhealthy
[{device, kind, status, reason, reason_en, since}], services [{code, name, name_en, waiting,
served, estimated_wait_minutes, windows_open, wait_avg_seconds}], windows [{number, label,
label_en, status, staff, staff_name, ticket, served, away_seconds, since}].

A wait is first called − issued, a service time finished − started, both in seconds and
over today's tickets (the engine holds the hall's business day only). What cannot be known
yet (no ticket called, no window serving a service) is null.
"""

from __future__ import annotations

from typing import Any

from hallq.central.db import percentile
from hallq.hall.engine import Engine

CLOSED_STATUSES = ("closed", "paused")  # a window away (请稍候) is still staffed: open


def live_figures(engine: Engine, ts: float) -> dict[str, Any]:
    """The live JSON of the hall whose engine this is, as of its newest event (`ts`)."""
    cfg, state = engine.config, engine.state
    tickets = state.tickets
    waits: list[float] = []
    waits_of: dict[str, list[float]] = {}
    served_of: dict[str, int] = {}
    service_times: list[float] = []
    served = no_shows = 0
    for t in tickets.values():
        first = t.first_called_at
        if first is not None:
            w = first - t.issued_at
            waits.append(w)
            mine = waits_of.get(t.service)
            if mine is None:
                waits_of[t.service] = [w]
            else:
                mine.append(w)
        status = t.status
        if status == "done":
            served += 1
            served_of[t.service] = served_of.get(t.service, 0) + 1
            if t.started_at is not None and t.finished_at is not None:
                service_times.append(t.finished_at - t.started_at)
        elif status == "no_show":
            no_shows += 1
    queues = engine.waiting
    waiting = sum(len(ids) for ids in queues.values())
    oldest = min(
        (tickets[i].issued_at for ids in queues.values() for i in ids if i in tickets),
        default=None,
    )
    views = engine.outlooks(ts)  # as the hall prints it: its timetable at its latest event
    services = []
    for s in cfg.services:
        view = views[s.code]
        minutes = view.new_ticket_minutes
        services.append(
            {
                "code": s.code,
                "name": s.name,
                "name_en": s.name_en,
                "waiting": view.waiting,
                "served": served_of.get(s.code, 0),
                "estimated_wait_minutes": None if minutes is None else round(minutes, 1),
                "windows_open": view.windows_open,
                "wait_avg_seconds": _mean(waits_of.get(s.code)),
            }
        )
    windows = []
    windows_open = 0
    for window in cfg.windows:
        ws = state.windows.get(window.number)
        window_status = ws.status if ws is not None else "closed"
        if window_status not in CLOSED_STATUSES:
            windows_open += 1
        current = tickets.get(ws.ticket) if ws is not None and ws.ticket is not None else None
        windows.append(
            {
                "number": window.number,
                "label": window.label,
                "label_en": window.label_en,
                "status": window_status,
                "staff": ws.staff if ws is not None else None,
                "staff_name": ws.staff_name if ws is not None else "",
                "ticket": current.display if current is not None else None,
                "served": ws.served_today if ws is not None else 0,
                "away_seconds": round(ws.away_seconds_today, 1) if ws is not None else 0.0,
                "since": ws.since if ws is not None else None,
            }
        )
    unhealthy = [
        {
            "device": name,
            "kind": d.kind,
            "status": d.status,
            "reason": d.reason,
            "reason_en": d.reason_en,
            "since": d.since,
        }
        for name, d in sorted(state.devices.items())
        if d.status != "ok"
    ]
    p90 = percentile(waits, 0.9)
    return {
        "seq": state.seq,
        "ts": ts,
        "day": state.day,
        "open": engine.timetable.session_at(ts) is not None,
        "issued": len(tickets),
        "served": served,
        "no_shows": no_shows,
        "waiting": waiting,
        "oldest_waiting_issued_at": oldest,
        "wait_avg_seconds": _mean(waits),
        "wait_p90_seconds": None if p90 is None else round(p90, 1),
        "service_avg_seconds": _mean(service_times),
        "windows_open": windows_open,
        "windows_total": len(cfg.windows),
        "devices_unhealthy": unhealthy,
        "services": services,
        "windows": windows,
    }


def _mean(values: list[float] | None) -> float | None:
    if not values:
        return None
    return round(sum(values) / len(values), 1)
