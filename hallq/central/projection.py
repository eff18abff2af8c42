"""From a batch of a hall's events to the rows of the hall data tables: pure, no SQL.

The hall's own engine (hallq.hall.engine) replays the records, so the central server follows
the hall by the hall's rules, never by a copy of them. What a batch changes is collected on
the way: every event's row, the latest state of every ticket it touched, evaluations, away
spells, staff names and the bad reviews that become follow-up cases (回访). The tables'
columns are described in hallq/central/schema.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, get_args

from hallq.errors import BadRequest
from hallq.hall import events as e
from hallq.hall.engine import Engine
from hallq.hall.schedule import Timetable, business_day
from hallq.hall.state import Ticket

EVENT_COLUMNS = ("hall_id", "seq", "ts", "type", "request", "command", "data", "received_at")
TICKET_COLUMNS = (
    "hall_id",
    "ticket",
    "day",
    "service",
    "number",
    "display",
    "category",
    "appointment",
    "kiosk",
    "status",
    "issued_at",
    "first_called_at",
    "called_at",
    "started_at",
    "finished_at",
    "no_show_at",
    "ended_at",
    "wait_seconds",
    "service_seconds",
    "estimate_minutes",
    "window_no",
    "staff",
    "evaluation",
    "transferred_from",
    "recalls",
    "reinstatements",
    "printed",
)
# PostgreSQL types of TICKET_COLUMNS, for the one-statement upsert from arrays (UNNEST).
TICKET_TYPES = (
    "text",
    "bigint",
    "text",
    "text",
    "integer",
    "text",
    "text",
    "text",
    "text",
    "text",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "float8",
    "integer",
    "text",
    "text",
    "text",
    "integer",
    "integer",
    "integer",
)
EVALUATION_COLUMNS = (
    "hall_id",
    "seq",
    "ts",
    "day",
    "ticket",
    "service",
    "window_no",
    "staff",
    "level",
    "bad",
    "reason",
)
AWAY_COLUMNS = (
    "hall_id",
    "seq",
    "day",
    "window_no",
    "staff",
    "kind",
    "started_at",
    "ended_at",
    "seconds",
)
STAFF_COLUMNS = ("hall_id", "staff", "name", "last_seen")
CASE_COLUMNS = (
    "hall_id",
    "case_no",
    "eval_seq",
    "ticket",
    "display",
    "day",
    "opened_at",
    "deadline",
    "level",
    "reason",
    "service",
    "window_no",
    "staff",
    "updated_at",
)

FOLLOW_UP_WORKDAYS = 5  # a bad review is answered within 5 working days (回访)
INT32 = 2**31
INT64 = 2**63

_TAG: dict[type[Any], str] = {}
_TICKET_EVENTS: set[type[Any]] = set()
_WINDOW_EVENTS: set[type[Any]] = set()
for _cls in get_args(e.AnyEvent):
    _TAG[_cls] = str(_cls.__struct_config__.tag)
    if "ticket" in _cls.__struct_fields__:
        _TICKET_EVENTS.add(_cls)
    if "window" in _cls.__struct_fields__:
        _WINDOW_EVENTS.add(_cls)


@dataclass
class BadReview:
    """A 不满意 / 非常不满意 evaluation: it becomes a follow-up case."""

    seq: int
    ts: float
    day: str
    ticket: int
    display: str
    level: str
    reason: str
    service: str
    window: int | None
    staff: str | None


@dataclass
class BatchRows:
    """The rows one batch writes; `tickets` holds each touched ticket's latest state."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    tickets: list[tuple[Any, ...]] = field(default_factory=list)
    evaluations: list[tuple[Any, ...]] = field(default_factory=list)
    away_spells: list[tuple[Any, ...]] = field(default_factory=list)
    staff: list[tuple[Any, ...]] = field(default_factory=list)
    bad_reviews: list[BadReview] = field(default_factory=list)
    last_ts: float = 0.0


def apply_batch(
    engine: Engine, hall_id: str, records: Sequence[e.Record], received_at: float
) -> BatchRows:
    """Apply `records` (the next ones of the hall's log) to its engine; the rows they change.

    A record the hall's state cannot take (a call of a ticket never issued…) raises
    BadRequest naming it; the engine is then half-changed and must be thrown away.
    """
    state = engine.state
    out = BatchRows()
    events = out.events
    touched: dict[int, Ticket] = {}
    expired: set[int] = set()
    staff: dict[str, tuple[Any, ...]] = {}
    encode = e.encode_event
    for r in records:
        ev: Any = r.event  # one of hallq.hall.events' types: `cls` says which
        cls = type(ev)
        if cls in _WINDOW_EVENTS:
            window = ev.window
            if window is not None and not 0 <= window < INT32:
                raise BadRequest(
                    "bad_record", f"record seq {r.seq}: window {window} is not a window number"
                )
        # What applying the event takes away or needs from before: read it first.
        if cls is e.DayStarted:
            for tid in ev.expired:
                t = state.tickets.get(tid)
                if t is not None and t.status in ("waiting", "called", "serving"):
                    touched[tid] = t
                    expired.add(tid)
        elif cls is e.WindowResumed:
            ws = state.windows.get(ev.window)
            out.away_spells.append(
                (
                    hall_id,
                    r.seq,
                    _day(engine, r.ts),
                    ev.window,
                    ws.staff if ws is not None else None,
                    ev.was,
                    r.ts - ev.seconds,
                    r.ts,
                    ev.seconds,
                )
            )
        elif cls is e.TicketIssued:
            _check_issued(r.seq, ev)
        try:
            engine.apply_record(r)
        except Exception as exc:
            raise BadRequest(
                "bad_record", f"record seq {r.seq} cannot be applied: {_why(ev, exc)}"
            ) from None
        state = engine.state
        if cls in _TICKET_EVENTS:
            tid = ev.ticket
            t = state.tickets.get(tid)
            if t is not None:
                touched[tid] = t
            if cls is e.EvaluationSubmitted:
                day = t.day if t is not None and t.day else _day(engine, r.ts)
                _evaluation(out, hall_id, r, ev, t, day)
        elif cls is e.StaffSignedIn:
            staff[ev.staff] = (hall_id, ev.staff, ev.name, r.ts)
        events.append(
            (
                hall_id,
                r.seq,
                r.ts,
                _TAG[cls],
                r.request,
                r.command,
                encode(ev).decode(),
                received_at,
            )
        )
    if records:
        out.last_ts = records[-1].ts
    out.tickets = [ticket_row(hall_id, t, t.id in expired) for t in touched.values()]
    out.staff = list(staff.values())
    return out


def _day(engine: Engine, ts: float) -> str:
    return engine.state.day or business_day(engine.config, ts).isoformat()


def _check_issued(seq: int, ev: e.TicketIssued) -> None:
    if not 0 < ev.ticket < INT64 or not 0 <= ev.number < INT32:
        raise BadRequest(
            "bad_record",
            f"record seq {seq}: ticket {ev.ticket} number {ev.number} is out of range",
        )


def _why(ev: e.Event, exc: Exception) -> str:
    tag = _TAG.get(type(ev), type(ev).__name__)
    if isinstance(exc, KeyError):
        return (
            f"{tag} refers to {exc.args[0]!r}, which the hall's earlier events never created "
            "(was the log cut or reordered?)"
        )
    return f"{tag}: {type(exc).__name__}: {exc}"


def _evaluation(
    out: BatchRows,
    hall_id: str,
    r: e.Record,
    ev: e.EvaluationSubmitted,
    t: Ticket | None,
    day: str,
) -> None:
    service = t.service if t is not None else ""
    out.evaluations.append(
        (
            hall_id,
            r.seq,
            r.ts,
            day,
            ev.ticket,
            service,
            ev.window,
            ev.staff,
            ev.level,
            int(ev.bad),
            ev.reason,
        )
    )
    if ev.bad:
        out.bad_reviews.append(
            BadReview(
                seq=r.seq,
                ts=r.ts,
                day=day,
                ticket=ev.ticket,
                display=t.display if t is not None else "",
                level=ev.level,
                reason=ev.reason,
                service=service,
                window=ev.window,
                staff=ev.staff,
            )
        )


def ticket_row(hall_id: str, t: Ticket, expired: bool = False) -> tuple[Any, ...]:
    """The `tickets` row of a ticket as it is now; `expired`: left unserved by a new day."""
    first = t.first_called_at
    started, finished = t.started_at, t.finished_at
    return (
        hall_id,
        t.id,
        t.day,
        t.service,
        t.number,
        t.display,
        t.category,
        t.appointment,
        t.kiosk,
        "expired" if expired else t.status,
        t.issued_at,
        first,
        t.called_at,
        started,
        finished,
        t.no_show_at,
        t.ended_at,
        None if first is None else first - t.issued_at,
        None if finished is None or started is None else finished - started,
        t.estimate_minutes,
        t.window,
        t.staff,
        t.evaluation,
        ",".join(t.transferred_from),
        t.recalls,
        t.reinstatements,
        None if t.printed is None else int(t.printed),
    )


def follow_up_deadline(timetable: Timetable, day: str) -> str:
    """The date of the 5th working day after `day` (the hall's own holidays and 调休)."""
    d = date.fromisoformat(day)
    counted = 0
    for _ in range(366):
        d += timedelta(days=1)
        if timetable.is_workday(d):
            counted += 1
            if counted == FOLLOW_UP_WORKDAYS:
                return d.isoformat()
    # A timetable with no working day in a year: a week after, rather than never.
    return (date.fromisoformat(day) + timedelta(days=7)).isoformat()


def case_rows(
    hall_id: str,
    reviews: Sequence[BadReview],
    numbers_used: dict[str, int],
    timetable: Timetable,
    now: float,
) -> list[tuple[Any, ...]]:
    """One case per bad review, numbered "YYYYMMDD-NNN" per day after `numbers_used[day]`.

    `numbers_used` (day → the highest number already given) is updated.
    """
    rows = []
    for b in reviews:
        n = numbers_used.get(b.day, 0) + 1
        numbers_used[b.day] = n
        rows.append(
            (
                hall_id,
                f"{b.day.replace('-', '')}-{n:03d}",
                b.seq,
                b.ticket,
                b.display,
                b.day,
                b.ts,
                follow_up_deadline(timetable, b.day),
                b.level,
                b.reason,
                b.service,
                b.window,
                b.staff,
                now,
            )
        )
    return rows


def case_number(case_no: str) -> int:
    """The NNN of "YYYYMMDD-NNN" (0 if it is not one)."""
    _, _, n = case_no.rpartition("-")
    return int(n) if n.isdigit() else 0
