"""The queue engine: checks a command against the hall's rules, decides its events, applies them.

Pure Python, no I/O, deterministic given the commands and the times they carry. `execute`
decides and applies; `apply_record` replays the log. Only `_apply` changes the state, and it
consults nothing but the event, so a replayed log always rebuilds the same hall.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import msgspec

from hallq.errors import BadRequest, CommandRejected, ConfigError, NotFound
from hallq.hall import commands as c
from hallq.hall import events as e
from hallq.hall import pace, staffing
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.estimate import (
    Estimator,
    Forecast,
    ServiceOutlook,
    TicketWait,
    forecast_ticket,
)
from hallq.hall.policy import choose_next, ranked, sort_key, ticket_rank
from hallq.hall.queues import WaitingQueues
from hallq.hall.reconfigure import changed_sections, config_digest, config_from_log, conflicts
from hallq.hall.schedule import Timetable, business_day
from hallq.hall.state import (
    NORMAL_RANK,
    Appointment,
    DeviceState,
    HallState,
    RequestEntry,
    ServiceRate,
    Ticket,
    WindowState,
)

RATE_WEIGHT = 0.1  # weight of a new service time in the learned mean (EWMA)
PRIOR_SAMPLES = 3  # the configured service time counts as this many observed ones
RATE_MIN_SECONDS = 20.0  # shorter services are mistakes (call then finish at once): not learned
RECENT_REPLIES = 4096
ACTIVE = ("waiting", "called", "serving")
CALLED_STANDING = ("called", "serving", "done")  # calls that screens still list


@dataclass
class Outcome:
    """What one command did: records to commit (possibly a day change even on rejection)."""

    records: list[e.Record] = field(default_factory=list)
    reply: dict[str, Any] | None = None
    error: CommandRejected | None = None
    duplicate: RequestEntry | None = None


def summarize(records: list[e.Record], seq: int) -> dict[str, Any]:
    """The reply to a command, from its events alone (so a repeat can be rebuilt from the log)."""
    out: dict[str, Any] = {"ok": True, "seq": records[-1].seq if records else seq}
    items = []
    for r in records:
        item = msgspec.to_builtins(r.event)
        item["seq"] = r.seq
        item["ts"] = r.ts
        items.append(item)
        ev = r.event
        if isinstance(ev, e.TicketIssued):
            out["ticket"] = {
                "id": ev.ticket,
                "number": ev.display,
                "service": ev.service,
                "category": ev.category,
                "appointment": ev.appointment,
                "ahead": ev.ahead,
                "estimate_minutes": ev.estimate_minutes,
                "estimate_p90_minutes": ev.estimate_p90_minutes,
                "issued_at": r.ts,
            }
        elif isinstance(ev, e.TicketCalled):
            out["called"] = {
                "id": ev.ticket,
                "number": ev.display,
                "service": ev.service,
                "window": ev.window,
            }
    out["events"] = items
    return out


class Engine:
    """The single place where hall rules are applied. Not thread-safe: one writer owns it."""

    def __init__(self, config: HallConfig, state: HallState | None = None) -> None:
        self.state = state if state is not None else HallState()
        self.queues = WaitingQueues((), {})
        self.by_display: dict[str, int] = {}
        # Service → slot starts of today's appointments not yet checked in, sorted (estimates).
        self.booked: dict[str, list[float]] = {}
        # Today's calls and recalls in the order made: (when, ticket id); see `recent_calls`.
        self.calls: list[tuple[float, int]] = []
        self._recent: OrderedDict[str, tuple[str, dict[str, Any] | None, CommandRejected | None]]
        self._recent = OrderedDict()
        self._pending_config: tuple[str, HallConfig] | None = None
        self._use_config(self._logged_config() or config)
        self._reindex()
        self._deciders: dict[type[c.Command], Callable[[Any, float], list[e.Event]]] = {
            c.IssueTicket: self._issue,
            c.CallNext: self._call_next,
            c.CallTicket: self._call_ticket,
            c.Recall: self._recall,
            c.MarkNoShow: self._no_show,
            c.ReinstateTicket: self._reinstate,
            c.TransferTicket: self._transfer,
            c.StartService: self._start,
            c.FinishService: self._finish,
            c.CancelTicket: self._cancel,
            c.PauseWindow: self._pause,
            c.AwayWindow: self._away,
            c.ResumeWindow: self._resume,
            c.SignIn: self._sign_in,
            c.SignOut: self._sign_out,
            c.SubmitEvaluation: self._evaluate,
            c.BookAppointment: self._book,
            c.CancelAppointment: self._cancel_appointment,
            c.ReportDeviceHealth: self._device_health,
            c.RecordPrint: self._record_print,
            c.ChangeConfig: self._change_config,
            c.Tick: lambda cmd, now: [],
        }

    # ------------------------------------------------------------ entry points

    def execute(self, cmd: c.Command, now: float, roll_day: bool = True) -> Outcome:
        """Check and apply one command at time `now` (seconds since the epoch).

        `roll_day` False holds the business day where it is even if `now` is a later date:
        the controller passes it while the machine's clock is not synchronised (a Pi has no
        real-time clock, and a new day on a wrong clock would expire a morning's queue).
        """
        name = c.command_name(cmd)
        rid = cmd.request_id
        if not isinstance(cmd, c.Tick):
            entry = self.state.requests.get(rid)
            if entry is not None:
                return self._repeat(rid, name, entry)
            recent = self._recent.get(rid)
            if recent is not None:
                if recent[0] != name:
                    return Outcome(error=_reused(rid, recent[0]))
                return Outcome(reply=recent[1], error=recent[2])
        out = Outcome()
        today = business_day(self.config, now)
        # Only forwards: a clock that steps back (a Pi boots with a stale time until NTP
        # corrects it) must not expire today's queue and then restart its numbers.
        if self.state.day is None or (roll_day and today.isoformat() > self.state.day):
            out.records.extend(self._emit([self._day_change(today)], now, None, None))
        try:
            decided = self._deciders[type(cmd)](cmd, now)
        except CommandRejected as err:
            self._remember(rid, name, None, err)
            out.error = err
            return out
        tick = isinstance(cmd, c.Tick)
        mine = self._emit(decided, now, None if tick else rid, None if tick else name)
        out.records.extend(mine)
        out.reply = summarize(mine, self.state.seq)
        if not tick:
            if mine:
                self.state.requests[rid] = RequestEntry(name, mine[0].seq, mine[-1].seq)
            self._remember(rid, name, out.reply, None)
        return out

    def apply_record(self, record: e.Record) -> None:
        """Replay one stored event."""
        if record.seq <= self.state.seq:
            return
        self.state.seq = record.seq
        self._apply(record.event, record.ts)
        if record.request is not None:
            entry = self.state.requests.get(record.request)
            name = record.command or ""
            if entry is None:
                self.state.requests[record.request] = RequestEntry(name, record.seq, record.seq)
            else:
                entry.last = record.seq

    def restore(self, state: HallState) -> None:
        """Replace the state wholesale (from a snapshot), rebuilding the indexes."""
        self.state = state
        self._recent.clear()
        logged = self._logged_config()
        if logged is not None:
            self._use_config(logged)
        self._reindex()

    @property
    def config_digest(self) -> str:
        return self._digest

    def _use_config(self, config: HallConfig) -> None:
        self.config = config
        self.timetable = Timetable(config)
        self.estimator = Estimator(config, self.timetable)
        self._ranks = {p.code: p.rank for p in config.priority}
        self._digest = config_digest(config)

    def _logged_config(self) -> HallConfig | None:
        """The configuration last changed through the controller, if any (it beats the file)."""
        if not self.state.config_text:
            return None
        return config_from_log(self.state.config_text)

    # ------------------------------------------------------------ reading

    def window_state(self, number: int) -> WindowState:
        ws = self.state.windows.get(number)
        return ws if ws is not None else WindowState(number=number)

    def find_ticket(self, ref: str) -> Ticket:
        """Today's ticket by its number as shown ("A012") or its id."""
        text = ref.strip().upper()
        tid = self.by_display.get(text)
        # "²".isdigit() is True, and int() refuses more than 4,300 digits.
        if tid is None and text.isascii() and text.isdigit() and len(text) <= 12:
            tid = int(text)
        t = self.state.tickets.get(tid) if tid is not None else None
        if t is None:
            raise NotFound("ticket_not_found", f"今天没有 {ref} 号 / No ticket {ref} today")
        return t

    def recent_calls(self, count: int) -> list[Ticket]:
        """The latest `count` calls still standing (called, serving or done), newest first.

        Walks today's calls from the newest, so a screen's refresh does not sort the day.
        """
        tickets = self.state.tickets
        seen: set[int] = set()
        found: list[Ticket] = []
        for when, tid in reversed(self.calls):
            if tid in seen:
                continue
            seen.add(tid)
            t = tickets.get(tid)
            if t is None or t.called_at != when or t.status not in CALLED_STANDING:
                continue
            found.append(t)
            if len(found) >= count:
                break
        # Newest by time, as screens list them (a clock stepped back can put the log's order off).
        found.sort(key=lambda t: (t.called_at or 0.0, t.id), reverse=True)
        return found

    def outlooks(self, now: float | None = None) -> dict[str, ServiceOutlook]:
        """Every service's outlook at `now` (None: without the clock: no timetable)."""
        return self.estimator.outlooks(self.state, self.waiting, now, self.booked)

    def outlook(self, service: str, now: float | None = None) -> ServiceOutlook:
        return self.estimator.outlook(self.state, self.waiting, service, now, self.booked)

    def ticket_forecasts(self, now: float) -> dict[int, TicketWait]:
        """Every waiting ticket's place, expected wait and P90 (minutes)."""
        return self.estimator.ticket_waits(self.state, self.waiting, self._ranks, now, self.booked)

    def forecast_ticket(self, t: Ticket, ahead: int, now: float) -> Forecast:
        """One waiting ticket's forecast, `ahead` its place in its queue (as ranked now)."""
        queue: list[Ticket] = []
        if t.slot_start is not None and t.slot_start > now:  # needs the queue at its slot
            queue = [self.state.tickets[i] for i in self.waiting.get(t.service, {})]
        view = self.outlook(t.service, now)
        return forecast_ticket(view, t, ahead, queue, self._ranks, now)

    def ticket_waits(self, now: float) -> dict[int, tuple[int, float | None]]:
        """Every waiting ticket's place and expected wait (minutes)."""
        return {tid: (w.ahead, w.minutes) for tid, w in self.ticket_forecasts(now).items()}

    @property
    def ranks(self) -> dict[str, int]:
        """Priority category → rank, for `policy.ranked`."""
        return self._ranks

    def rank(self, t: Ticket) -> int:
        return ticket_rank(t, self._ranks)

    # ------------------------------------------------------------ internals

    def _repeat(self, rid: str, name: str, entry: RequestEntry) -> Outcome:
        if entry.command != name:
            return Outcome(error=_reused(rid, entry.command))
        recent = self._recent.get(rid)
        return Outcome(reply=recent[1] if recent else None, duplicate=entry)

    def _remember(
        self, rid: str, name: str, reply: dict[str, Any] | None, err: CommandRejected | None
    ) -> None:
        self._recent[rid] = (name, reply, err)
        if len(self._recent) > RECENT_REPLIES:
            self._recent.popitem(last=False)

    def _emit(
        self, events: list[e.Event], now: float, rid: str | None, command: str | None
    ) -> list[e.Record]:
        records = []
        for ev in events:
            self.state.seq += 1
            record = e.Record(seq=self.state.seq, ts=now, event=ev, request=rid, command=command)  # type: ignore[arg-type]
            records.append(record)
            self._apply(ev, now)
        return records

    @property
    def waiting(self) -> dict[str, dict[int, None]]:
        """Service → the ids of its waiting tickets (an ordered set)."""
        return self.queues.members

    def _reindex(self) -> None:
        self.queues = WaitingQueues((s.code for s in self.config.services), self.state.tickets)
        self.by_display = {}
        for t in sorted(self.state.tickets.values(), key=lambda t: t.id):
            self.by_display[t.display] = t.id
            if t.status == "waiting":
                self.queues.join(t, self.rank(t))
        self.booked = {}
        for a in self.state.appointments.values():
            if a.day == self.state.day and a.ticket is None:
                self.booked.setdefault(a.service, []).append(a.slot_start)
        for slots in self.booked.values():
            slots.sort()
        self.calls = sorted(
            (t.called_at, t.id) for t in self.state.tickets.values() if t.called_at is not None
        )

    def _unbook(self, service: str, slot_start: float) -> None:
        slots = self.booked.get(service, [])
        i = bisect.bisect_left(slots, slot_start)
        if i < len(slots) and slots[i] == slot_start:
            del slots[i]

    def _window_cfg(self, number: int) -> Any:
        w = self.config.window(number)
        if w is None:
            known = ", ".join(str(x.number) for x in self.config.windows)
            raise NotFound(
                "window_not_found", f"没有 {number} 号窗口 / No window {number}; windows: {known}"
            )
        return w

    def _open_window(self, number: int) -> WindowState:
        """A window that a staff member is signed in to."""
        self._window_cfg(number)
        ws = self.window_state(number)
        if ws.status == "closed":
            raise CommandRejected(
                "window_closed",
                f"{number}号窗口未签到，请先签到 / Window {number} is closed: sign in first",
            )
        return ws

    def _current(self, ws: WindowState, what: str) -> Ticket:
        if ws.ticket is None:
            raise CommandRejected(
                "no_current_ticket",
                f"{ws.number}号窗口当前没有叫号，无法{what} / Window {ws.number} has no ticket called",
            )
        return self.state.tickets[ws.ticket]

    # ------------------------------------------------------------ deciding

    def _day_change(self, today: date) -> e.DayStarted:
        expired = [t.id for t in self.state.tickets.values() if t.status in ACTIVE]
        closed = [n for n, w in self.state.windows.items() if w.status != "closed"]
        return e.DayStarted(
            day=today.isoformat(),
            previous_day=self.state.day,
            expired=expired,
            closed_windows=closed,
        )

    def _issue(self, cmd: c.IssueTicket, now: float) -> list[e.Event]:
        cfg = self.config
        svc = cfg.service(cmd.service)
        if svc is None:
            known = ", ".join(s.code for s in cfg.services)
            raise NotFound(
                "service_not_found", f"没有该事项 {cmd.service} / Unknown service; known: {known}"
            )
        if not svc.enabled:
            raise CommandRejected(
                "service_disabled",
                f"{svc.name} 暂停取号 / {svc.name_en or svc.code} is not taking tickets",
            )
        cat = None
        if cmd.category is not None:
            cat = cfg.category(cmd.category)
            if cat is None:
                known = ", ".join(p.code for p in cfg.priority) or "none"
                raise BadRequest(
                    "category_not_found",
                    f"unknown priority category {cmd.category!r}; known: {known}",
                )
        slot_start: float | None = None
        if cmd.appointment is not None:
            appt = self.state.appointments.get(cmd.appointment)
            if appt is None or appt.day != self.state.day:
                raise NotFound(
                    "appointment_not_found",
                    f"预约码 {cmd.appointment} 无效或不是今天的 / Appointment {cmd.appointment} is not for today",
                )
            if appt.ticket is not None:
                raise CommandRejected(
                    "appointment_used", f"预约 {appt.code} 已取号 / Appointment already checked in"
                )
            if appt.service != svc.code:
                raise BadRequest(
                    "appointment_service",
                    f"预约 {appt.code} 是 {appt.service} 事项 / The appointment is for {appt.service}",
                )
            rules = cfg.appointments
            if now < appt.slot_start - rules.early_minutes * 60:
                at = _clock(cfg, appt.slot_start - rules.early_minutes * 60)
                raise CommandRejected(
                    "appointment_too_early", f"请于 {at} 后签到 / Check in after {at}"
                )
            late = now > appt.slot_start + rules.late_minutes * 60
            if late and rules.late_arrival == "refuse":
                raise CommandRejected(
                    "appointment_too_late",
                    "预约已过时，请重新预约或普通取号 / The appointment has passed; take a normal ticket",
                )
            if not late:
                slot_start = appt.slot_start
        status = self.timetable.issue_status(now)
        # An appointment on time holds a reserved slot: the cutoff before closing does not apply.
        booked = slot_start is not None and status.code == "cutoff"
        if not (status.open or booked) or status.session is None:
            raise CommandRejected(status.code, status.message)
        session = status.session.index
        bypass = cat is not None and cat.bypass_quota
        used = self.state.quota_used.get(svc.code, [])
        day_count = sum(used)
        session_count = used[session] if session < len(used) else 0
        if not bypass and svc.daily_quota is not None and day_count >= svc.daily_quota:
            raise CommandRejected(
                "quota_reached",
                f"{svc.name} 今日号已取完 / {svc.name_en or svc.code}: today's tickets are all taken",
            )
        if not bypass and svc.session_quota is not None and session_count >= svc.session_quota:
            raise CommandRejected(
                "session_quota_reached",
                f"{svc.name} 本时段号已取完 / {svc.name_en or svc.code}: this session's tickets are all taken",
            )
        number = self.state.last_number.get(svc.code, 0) + 1
        if number >= 10**svc.number_width:
            raise CommandRejected(
                "numbers_exhausted", f"{svc.name} 今日号码已用完 / No numbers left today"
            )
        rank = self._ranks.get(cat.code, NORMAL_RANK) if cat else NORMAL_RANK
        probe = Ticket(
            id=self.state.next_ticket,
            day="",
            service=svc.code,
            number=number,
            display="",
            issued_at=now,
            order=self.state.next_order,
            slot_start=slot_start,
        )
        q = self.queues
        if slot_start is None:
            # Everyone waiting came earlier: all of its class and of the classes before it.
            ahead = q.count_before_rank(svc.code, rank) + q.count_of_rank(svc.code, rank)
        else:  # an appointment: ahead of the walk-ins of its class (rare, so a scan will do)
            mine = sort_key(probe, rank, now)
            ahead = q.count_before_rank(svc.code, rank) + sum(
                1
                for tid in q.members.get(svc.code, {})
                if q.rank_of(tid) == rank and sort_key(self.state.tickets[tid], rank, now) < mine
            )
        view = self.outlook(svc.code, now)
        if rank != NORMAL_RANK:
            minutes, p90 = view.forecast(ahead, "priority")
        elif slot_start is None:
            minutes, p90 = view.forecast(ahead, "normal")
        elif slot_start <= now:
            minutes, p90 = view.forecast(ahead, "appointment")
        else:  # checked in early: once the slot begins, only earlier slots go ahead of it
            mine = sort_key(probe, rank, slot_start)
            then = q.count_before_rank(svc.code, rank) + sum(
                1
                for tid in q.members.get(svc.code, {})
                if q.rank_of(tid) == rank
                and sort_key(self.state.tickets[tid], rank, slot_start) < mine
            )
            minutes, p90 = view.forecast_appointment(ahead, then, slot_start)
        return [
            e.TicketIssued(
                ticket=self.state.next_ticket,
                service=svc.code,
                number=number,
                display=f"{svc.prefix}{number:0{svc.number_width}d}",
                session=session,
                order=self.state.next_order,
                category=cat.code if cat else None,
                appointment=cmd.appointment,
                slot_start=slot_start,
                kiosk=cmd.kiosk,
                language=cmd.language,
                in_quota=not bypass,
                ahead=ahead,
                estimate_minutes=None if minutes is None else round(minutes, 1),
                estimate_p90_minutes=None if p90 is None else round(p90, 1),
                estimate_margin_minutes=pace.model_margin(self.state, minutes, p90),
            )
        ]

    def _finish_current(self, ws: WindowState, now: float) -> list[e.Event]:
        """Finishing what the window has (call-next on a keypad means "done, next")."""
        if ws.ticket is None:
            return []
        t = self.state.tickets[ws.ticket]
        implicit = not (t.status == "serving" and t.started_at is not None)
        since = t.started_at if not implicit else t.called_at
        seconds = round(now - (since if since is not None else now), 3)
        return [
            e.ServiceFinished(
                ticket=t.id,
                window=ws.number,
                seconds=seconds,
                implicit_start=implicit,
                mean_seconds=self._learned_mean(t.service, seconds),
            )
        ]

    def _learned_mean(self, service: str, seconds: float) -> float | None:
        """The service's mean service time after this one, or None if it teaches nothing.

        The configured time counts as PRIOR_SAMPLES services, so the first few real ones move
        the mean gradually; later ones weigh RATE_WEIGHT each (an exponentially weighted mean,
        which follows a hall whose pace changes).
        """
        if seconds < RATE_MIN_SECONDS:
            return None
        rate = self.state.rates.get(service)
        if rate is None:
            svc = self.config.service(service)
            mean, samples = (svc.service_minutes if svc else 10.0) * 60.0, 0
        else:
            mean, samples = rate.mean_seconds, rate.samples
        weight = max(RATE_WEIGHT, 1.0 / (PRIOR_SAMPLES + samples + 1))
        return round(mean + weight * (seconds - mean), 3)

    def _resume_if_needed(self, ws: WindowState, now: float) -> list[e.Event]:
        if ws.status in ("paused", "away"):
            return [
                e.WindowResumed(window=ws.number, was=ws.status, seconds=round(now - ws.since, 3))
            ]
        return []

    def _call_next(self, cmd: c.CallNext, now: float) -> list[e.Event]:
        wcfg = self._window_cfg(cmd.window)
        ws = self._open_window(cmd.window)
        events = self._resume_if_needed(ws, now) + self._finish_current(ws, now)
        chosen = choose_next(
            wcfg.tiers,
            self.queues,
            ws.priority_streak,
            self.config.queue.max_priority_in_row,
            now,
        )
        if chosen is None:
            return events
        return [
            *events,
            e.TicketCalled(
                ticket=chosen.id,
                display=chosen.display,
                service=chosen.service,
                window=ws.number,
                staff=ws.staff,
            ),
        ]

    def _call_ticket(self, cmd: c.CallTicket, now: float) -> list[e.Event]:
        wcfg = self._window_cfg(cmd.window)
        ws = self._open_window(cmd.window)
        t = self.find_ticket(cmd.ticket)
        if ws.ticket == t.id:
            raise CommandRejected(
                "already_called",
                f"{t.display} 已在本窗口 / {t.display} is already at this window; use recall",
            )
        serves = {code for tier in wcfg.tiers for code in tier}
        if t.service not in serves:
            svc = self.config.service(t.service)
            raise CommandRejected(
                "service_not_served",
                f"{ws.number}号窗口不办理{svc.name if svc else t.service}，请转移 / Window {ws.number} does not serve this; transfer it",
            )
        events: list[e.Event] = []
        if t.status == "no_show":
            events.append(self._reinstatement(t, now, ws.number))
        elif t.status != "waiting":
            raise CommandRejected(
                "ticket_not_waiting",
                f"{t.display} 不在等候中（{_STATUS_ZH[t.status]}）/ {t.display} is not waiting ({t.status})",
            )
        events = self._resume_if_needed(ws, now) + self._finish_current(ws, now) + events
        events.append(
            e.TicketCalled(
                ticket=t.id,
                display=t.display,
                service=t.service,
                window=ws.number,
                staff=ws.staff,
                chosen="specific",
            )
        )
        return events

    def _recall(self, cmd: c.Recall, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        t = self._current(ws, "重呼")
        if t.status != "called":
            raise CommandRejected(
                "not_calling", f"{t.display} 已在办理中 / {t.display} is already being served"
            )
        return [
            e.TicketRecalled(
                ticket=t.id, display=t.display, window=ws.number, recalls=t.recalls + 1
            )
        ]

    def _no_show(self, cmd: c.MarkNoShow, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        t = self._current(ws, "过号")
        if t.status != "called":
            raise CommandRejected(
                "not_calling", f"{t.display} 已在办理中，不能过号 / {t.display} is being served"
            )
        need = self.config.no_show.recalls_before_no_show
        if t.recalls < need:
            raise CommandRejected(
                "recall_first",
                f"请再重呼 {need - t.recalls} 次后再过号 / Recall {t.display} {need - t.recalls} more time(s) first",
            )
        return [e.TicketNoShow(ticket=t.id, display=t.display, window=ws.number)]

    def _reinstatement(self, t: Ticket, now: float, window: int | None) -> e.TicketReinstated:
        rules = self.config.no_show
        if t.status != "no_show" or t.no_show_at is None:
            raise CommandRejected(
                "ticket_not_no_show", f"{t.display} 不是过号状态 / {t.display} was not missed"
            )
        if now - t.no_show_at > rules.grace_minutes * 60:
            raise CommandRejected(
                "grace_expired",
                f"{t.display} 过号已超过 {rules.grace_minutes} 分钟，请重新取号 / Missed more than {rules.grace_minutes} min ago: take a new ticket",
            )
        if t.reinstatements >= rules.max_reinstatements:
            raise CommandRejected(
                "reinstate_limit",
                f"{t.display} 已顺延过 {t.reinstatements} 次，请重新取号 / Already reinstated: take a new ticket",
            )
        same = [
            x
            for x in ranked(
                (self.state.tickets[i] for i in self.waiting.get(t.service, {})), self._ranks, now
            )
            if self.rank(x) == NORMAL_RANK and (x.slot_start is None or x.slot_start > now)
        ]
        n = rules.reinstate_places_back
        if len(same) <= n:
            order = (same[-1].order + 0.5) if same else self.state.next_order - 0.5
        else:
            order = (same[n - 1].order + same[n].order) / 2 if n > 0 else same[0].order - 0.5
        return e.TicketReinstated(ticket=t.id, display=t.display, order=order, window=window)

    def _reinstate(self, cmd: c.ReinstateTicket, now: float) -> list[e.Event]:
        if cmd.window is not None:
            self._window_cfg(cmd.window)
        t = self.find_ticket(cmd.ticket)
        return [self._reinstatement(t, now, cmd.window)]

    def _transfer(self, cmd: c.TransferTicket, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        t = self._current(ws, "转移")
        target = self.config.service(cmd.service)
        if target is None:
            known = ", ".join(s.code for s in self.config.services)
            raise NotFound(
                "service_not_found", f"没有该事项 {cmd.service} / Unknown service; known: {known}"
            )
        if target.code == t.service:
            raise BadRequest(
                "same_service", f"{t.display} 已是 {target.name} 事项 / Already in that service"
            )
        order = t.order
        if self.config.queue.transfer_to_front:
            queued = [self.state.tickets[i].order for i in self.waiting.get(target.code, {})]
            order = min([order, *(o - 1.0 for o in queued)])
        return [
            e.TicketTransferred(
                ticket=t.id,
                display=t.display,
                from_service=t.service,
                to_service=target.code,
                order=order,
                window=ws.number,
                reason=cmd.reason.strip(),
            )
        ]

    def _start(self, cmd: c.StartService, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        t = self._current(ws, "开始办理")
        if t.status == "serving":
            raise CommandRejected(
                "already_serving", f"{t.display} 已在办理中 / Already being served"
            )
        return [e.ServiceStarted(ticket=t.id, window=ws.number)]

    def _finish(self, cmd: c.FinishService, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        self._current(ws, "结束办理")
        return self._finish_current(ws, now)

    def _cancel(self, cmd: c.CancelTicket, now: float) -> list[e.Event]:
        t = self.find_ticket(cmd.ticket)
        if t.status not in ("waiting", "no_show", "called"):
            raise CommandRejected(
                "ticket_not_cancellable",
                f"{t.display} 不能作废（{_STATUS_ZH[t.status]}）/ {t.display} cannot be cancelled ({t.status})",
            )
        return [
            e.TicketCancelled(
                ticket=t.id, display=t.display, reason=cmd.reason.strip(), window=cmd.window
            )
        ]

    def _idle_window(self, number: int, what: str) -> WindowState:
        ws = self._open_window(number)
        if ws.ticket is not None:
            t = self.state.tickets[ws.ticket]
            raise CommandRejected(
                "window_busy",
                f"请先办结或转移 {t.display} 再{what} / Finish or transfer {t.display} first",
            )
        return ws

    def _pause(self, cmd: c.PauseWindow, now: float) -> list[e.Event]:
        ws = self._idle_window(cmd.window, "暂停服务")
        if ws.status == "paused":
            return []
        return [
            *self._resume_if_needed(ws, now),
            e.WindowPaused(window=ws.number, reason=cmd.reason.strip()),
        ]

    def _away(self, cmd: c.AwayWindow, now: float) -> list[e.Event]:
        ws = self._idle_window(cmd.window, "暂离")
        if ws.status == "away":
            return []
        return [
            *self._resume_if_needed(ws, now),
            e.WindowAway(window=ws.number, reason=cmd.reason.strip()),
        ]

    def _resume(self, cmd: c.ResumeWindow, now: float) -> list[e.Event]:
        ws = self._open_window(cmd.window)
        return self._resume_if_needed(ws, now)

    def _sign_in(self, cmd: c.SignIn, now: float) -> list[e.Event]:
        self._window_cfg(cmd.window)
        staff_id = cmd.staff.strip()
        if not staff_id:
            raise BadRequest("staff_required", "请输入工号 / Enter a staff number")
        name = cmd.name.strip()
        if self.config.staff:
            known = {s.id: s for s in self.config.staff}
            member = known.get(staff_id)
            if member is None:
                raise NotFound(
                    "staff_not_found", f"工号 {staff_id} 不存在 / Unknown staff number {staff_id}"
                )
            name = name or member.name
            assigned = set(member.windows)
            allowed = set(assigned)
            for w in self.config.windows:
                if w.backup is not None and w.backup in assigned:
                    allowed.add(w.number)  # AB岗: the backup may take a paired window
            if allowed and cmd.window not in allowed:
                raise CommandRejected(
                    "staff_not_assigned",
                    f"{name} 不是 {cmd.window} 号窗口的 A/B 岗 / Not assigned to window {cmd.window}",
                )
        for other in self.state.windows.values():
            if other.staff == staff_id and other.number != cmd.window and other.status != "closed":
                raise CommandRejected(
                    "signed_in_elsewhere",
                    f"工号 {staff_id} 已在 {other.number} 号窗口签到，请先签退 / Signed in at window {other.number}: sign out there first",
                )
        ws = self.window_state(cmd.window)
        if ws.staff == staff_id and ws.status != "closed":
            return []
        if ws.ticket is not None:
            t = self.state.tickets[ws.ticket]
            raise CommandRejected(
                "window_busy",
                f"{ws.number}号窗口正在办理 {t.display}，请先办结 / Window busy with {t.display}",
            )
        replaced = ws.staff if ws.status != "closed" else None
        return [
            *self._resume_if_needed(ws, now),  # the away time taken over is still counted
            e.StaffSignedIn(
                window=cmd.window,
                staff=staff_id,
                name=name,
                replaced=replaced,
                break_seconds=self._break_seconds(ws, now),
            ),
        ]

    def _break_seconds(self, ws: WindowState, now: float) -> float | None:
        """How long the window was closed, if its staff signed out earlier in this session
        after serving today (a break in turns, 轮岗午休): wait estimates learn from it."""
        if ws.status != "closed" or ws.served_today == 0 or not ws.since:
            return None
        session = self.timetable.session_at(now)
        if session is None or ws.since < session.start.timestamp():
            return None
        return round(now - ws.since, 3)

    def _sign_out(self, cmd: c.SignOut, now: float) -> list[e.Event]:
        ws = self._idle_window(cmd.window, "签退")
        return [
            *self._resume_if_needed(ws, now),
            e.StaffSignedOut(window=ws.number, staff=ws.staff),
        ]

    def _evaluate(self, cmd: c.SubmitEvaluation, now: float) -> list[e.Event]:
        level = self.config.level(cmd.level)
        if level is None:
            known = ", ".join(lv.code for lv in self.config.evaluation.levels)
            raise BadRequest("level_not_found", f"unknown level {cmd.level!r}; levels: {known}")
        if cmd.ticket is not None:
            t = self.find_ticket(cmd.ticket)
        elif cmd.window is not None:
            self._window_cfg(cmd.window)
            last = self.window_state(cmd.window).last_finished
            if last is None:
                raise CommandRejected(
                    "nothing_to_evaluate",
                    f"{cmd.window}号窗口暂无可评价的办件 / Nothing to evaluate at window {cmd.window}",
                )
            t = self.state.tickets[last]
        else:
            raise BadRequest("ticket_or_window", "give the ticket or the window being evaluated")
        if t.status != "done":
            raise CommandRejected(
                "not_served", f"{t.display} 尚未办结 / {t.display} has not been served"
            )
        if t.evaluation is not None:
            raise CommandRejected(
                "already_evaluated", f"{t.display} 已评价（一次一评）/ Already evaluated"
            )
        return [
            e.EvaluationSubmitted(
                ticket=t.id,
                window=t.window,
                staff=t.staff,
                level=level.code,
                bad=level.bad,
                reason=cmd.reason.strip(),
            )
        ]

    def _book(self, cmd: c.BookAppointment, now: float) -> list[e.Event]:
        svc = self.config.service(cmd.service)
        if svc is None:
            raise NotFound("service_not_found", f"unknown service {cmd.service!r}")
        code = cmd.code.strip().upper()
        if not code.isalnum() or not 4 <= len(code) <= 16:
            raise BadRequest("bad_code", "appointment codes are 4-16 letters or digits")
        if code in self.state.appointments:
            raise CommandRejected("appointment_exists", f"appointment {code} exists")
        if cmd.slot_end <= cmd.slot_start:
            raise BadRequest("bad_slot", "slot_end must be after slot_start")
        try:
            day = business_day(self.config, cmd.slot_start)
        except (OverflowError, OSError, ValueError):  # beyond what a calendar can hold
            raise BadRequest("bad_slot", "slot_start is not a possible time") from None
        if day < business_day(self.config, now):
            raise BadRequest("slot_in_past", "the slot is in the past")
        if not any(
            s.start.timestamp() <= cmd.slot_start < s.end.timestamp()
            for s in self.timetable.sessions(day)
        ):
            raise CommandRejected("slot_outside_hours", "the slot is outside the hall's hours")
        return [
            e.AppointmentBooked(
                code=code,
                service=svc.code,
                day=day.isoformat(),
                slot_start=cmd.slot_start,
                slot_end=cmd.slot_end,
                name=cmd.name.strip(),
            )
        ]

    def _cancel_appointment(self, cmd: c.CancelAppointment, now: float) -> list[e.Event]:
        code = cmd.code.strip().upper()
        appt = self.state.appointments.get(code)
        if appt is None:
            raise NotFound("appointment_not_found", f"no appointment {code}")
        if appt.ticket is not None:
            raise CommandRejected("appointment_used", "already checked in")
        return [e.AppointmentCancelled(code=code)]

    def _record_print(self, cmd: c.RecordPrint, now: float) -> list[e.Event]:
        t = self.find_ticket(cmd.ticket)
        return [
            e.TicketPrintRecorded(
                ticket=t.id,
                display=t.display,
                printed=cmd.printed,
                reason=cmd.reason.strip()[:200],
                device=cmd.device.strip()[:64],
            )
        ]

    def _change_config(self, cmd: c.ChangeConfig, now: float) -> list[e.Event]:
        if cmd.base_digest and cmd.base_digest != self._digest:
            raise CommandRejected(
                "config_changed_meanwhile",
                "配置已被他人修改，请刷新后重试 / The configuration was changed meanwhile; "
                "reload it and make your edit again",
                409,
            )
        try:
            new = parse_config(cmd.text, "配置 / configuration")
        except ConfigError as err:
            raise BadRequest("invalid_config", "; ".join(err.problems)) from None
        problems = conflicts(new, self.state)
        if problems:
            raise CommandRejected("config_conflict", "; ".join(problems), 409)
        digest = config_digest(new)
        if digest == self._digest:
            return []
        self._pending_config = (cmd.text, new)
        return [
            e.ConfigChanged(
                text=cmd.text, digest=digest, by=cmd.by, changed=changed_sections(self.config, new)
            )
        ]

    def _device_health(self, cmd: c.ReportDeviceHealth, now: float) -> list[e.Event]:
        if not 1 <= len(cmd.device) <= 64 or not cmd.device.isprintable():
            raise BadRequest("invalid_device", "a device name is 1-64 printable characters")
        known = self.state.devices.get(cmd.device)
        if known is not None and (known.status, known.reason) == (cmd.status, cmd.reason):
            return []
        return [
            e.DeviceHealthChanged(
                device=cmd.device,
                kind=cmd.kind,
                status=cmd.status,
                reason=cmd.reason,
                reason_en=cmd.reason_en,
            )
        ]

    # ------------------------------------------------------------ applying

    def _apply(self, ev: e.Event, ts: float) -> None:
        _APPLY[type(ev)](self, ev, ts)

    def _leave_queue(self, t: Ticket) -> None:
        self.queues.leave(t)

    def _join_queue(self, t: Ticket) -> None:
        t.status = "waiting"
        self.queues.join(t, self.rank(t))

    def _ws(self, number: int) -> WindowState:
        ws = self.state.windows.get(number)
        if ws is None:
            ws = self.state.windows[number] = WindowState(number=number)
        return ws

    def _a_config(self, ev: e.ConfigChanged, ts: float) -> None:
        pending, self._pending_config = self._pending_config, None
        new = pending[1] if pending and pending[0] == ev.text else config_from_log(ev.text)
        self.state.config_text, self.state.config_digest = ev.text, ev.digest
        self.state.config_changed_at = ts
        if new is not None:
            self._use_config(new)
            self._reindex()  # ranks of priority classes may have changed

    def _a_day(self, ev: e.DayStarted, ts: float) -> None:
        s = self.state
        staffing.learn_day(s, ev.day, self.config.zone, ts)  # before the windows close
        pace.learn_day(s)
        s.day = ev.day
        s.tickets = {}
        self.calls = []
        s.last_number = {}
        s.issued_by_session = {}
        s.quota_used = {}
        s.requests = {}
        for ws in s.windows.values():
            ws.status, ws.staff, ws.staff_name, ws.ticket = "closed", None, "", None
            ws.since, ws.reason, ws.priority_streak, ws.last_finished = ts, "", 0, None
            ws.served_today, ws.away_seconds_today = 0, 0.0
        past = [a for a in s.appointments.values() if a.day < ev.day]
        if past:
            pace.learn_appointments(s, len(past), sum(a.ticket is not None for a in past))
        s.appointments = {k: a for k, a in s.appointments.items() if a.day >= ev.day}
        self._recent.clear()
        self._reindex()

    def _a_issued(self, ev: e.TicketIssued, ts: float) -> None:
        s = self.state
        t = Ticket(
            id=ev.ticket,
            day=s.day or "",
            service=ev.service,
            number=ev.number,
            display=ev.display,
            issued_at=ts,
            order=ev.order,
            session=ev.session,
            category=ev.category,
            appointment=ev.appointment,
            slot_start=ev.slot_start,
            kiosk=ev.kiosk,
            language=ev.language,
            estimate_minutes=ev.estimate_minutes,
            estimate_p90_minutes=ev.estimate_p90_minutes,
            estimate_margin_minutes=ev.estimate_margin_minutes
            if ev.estimate_margin_minutes is not None
            else pace.p90_margin(s, ev.estimate_minutes, ev.estimate_p90_minutes),
            ahead_at_issue=ev.ahead,
        )
        s.tickets[t.id] = t
        s.next_ticket = max(s.next_ticket, t.id + 1)
        s.next_order = max(s.next_order, ev.order + 1.0)
        s.last_number[ev.service] = max(s.last_number.get(ev.service, 0), ev.number)
        _count(s.issued_by_session, ev.service, ev.session)
        if ev.in_quota:
            _count(s.quota_used, ev.service, ev.session)
        if ev.appointment and ev.appointment in s.appointments:
            appt = s.appointments[ev.appointment]
            appt.ticket = t.id
            self._unbook(appt.service, appt.slot_start)
        self.by_display[t.display] = t.id
        self._join_queue(t)
        pace.learn_issue(s, ev.service, ev.category is not None, ts)

    def _a_called(self, ev: e.TicketCalled, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        self._leave_queue(t)
        if t.first_called_at is None:
            pace.learn_first_call(self.state, t, ts)
        t.status, t.window, t.staff, t.called_at = "called", ev.window, ev.staff, ts
        self.calls.append((ts, t.id))
        t.first_called_at = t.first_called_at or ts
        t.calls += 1
        t.recalls = 0  # recalls count per call: a reinstated ticket is recalled afresh
        ws = self._ws(ev.window)
        ws.status, ws.ticket, ws.since, ws.reason = "calling", t.id, ts, ""
        ws.busy_since = ts
        pace.learn_call_mix(ws, t.service)
        ws.priority_streak = ws.priority_streak + 1 if self.rank(t) != NORMAL_RANK else 0

    def _a_recalled(self, ev: e.TicketRecalled, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.recalls = ev.recalls
        t.called_at = ts
        self.calls.append((ts, t.id))

    def _a_started(self, ev: e.ServiceStarted, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.status, t.started_at = "serving", ts
        ws = self._ws(ev.window)
        ws.status, ws.since = "serving", ts

    def _a_finished(self, ev: e.ServiceFinished, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.status, t.finished_at, t.ended_at = "done", ts, ts
        if t.started_at is None:
            t.started_at = t.called_at
        ws = self._ws(ev.window)
        self._learn_window_time(t, ws, ts)
        ws.status, ws.ticket, ws.since, ws.last_finished = "idle", None, ts, t.id
        ws.served_today += 1
        if ev.mean_seconds is not None:
            rate = self.state.rates.get(t.service)
            samples = rate.samples + 1 if rate is not None else 1
            self.state.rates[t.service] = ServiceRate(mean_seconds=ev.mean_seconds, samples=samples)

    def _a_no_show(self, ev: e.TicketNoShow, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.status, t.no_show_at, t.ended_at = "no_show", ts, ts
        ws = self._ws(ev.window)
        self._learn_window_time(t, ws, ts)
        ws.status, ws.ticket, ws.since = "idle", None, ts

    def _learn_window_time(self, t: Ticket, ws: WindowState, ts: float) -> None:
        if ws.ticket == t.id and ws.busy_since:
            pace.learn_window_time(self.state, t.service, ts - ws.busy_since)

    def _release_window(self, t: Ticket, ts: float) -> None:
        if t.window is not None:
            ws = self.state.windows.get(t.window)
            if ws is not None and ws.ticket == t.id:
                ws.status, ws.ticket, ws.since = "idle", None, ts

    def _a_reinstated(self, ev: e.TicketReinstated, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.order, t.reinstatements, t.no_show_at, t.ended_at = (
            ev.order,
            t.reinstatements + 1,
            None,
            None,
        )
        t.window = None
        self._join_queue(t)

    def _a_transferred(self, ev: e.TicketTransferred, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        self._release_window(t, ts)
        self._leave_queue(t)
        t.transferred_from = (*t.transferred_from, ev.from_service)
        t.service, t.order = ev.to_service, ev.order
        t.window, t.called_at, t.started_at, t.recalls = None, None, None, 0
        self._join_queue(t)

    def _a_cancelled(self, ev: e.TicketCancelled, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        if t.status == "waiting" and t.first_called_at is None:
            pace.learn_gave_up(self.state, t, ts)
        self._leave_queue(t)
        self._release_window(t, ts)
        t.status, t.ended_at = "cancelled", ts

    def _a_evaluated(self, ev: e.EvaluationSubmitted, ts: float) -> None:
        self.state.tickets[ev.ticket].evaluation = ev.level

    def _a_signed_in(self, ev: e.StaffSignedIn, ts: float) -> None:
        ws = self._ws(ev.window)
        if ws.status != "closed" and ws.signed_in_at:  # staff taking over: a staffed span ends
            pace.learn_staffed(self.state, ts - ws.signed_in_at)
        if ev.break_seconds is not None:
            pace.learn_break(self.state, ev.break_seconds)
        ws.status, ws.staff, ws.staff_name, ws.since, ws.reason = "idle", ev.staff, ev.name, ts, ""
        ws.priority_streak = 0
        ws.signed_in_at = ts

    def _a_signed_out(self, ev: e.StaffSignedOut, ts: float) -> None:
        ws = self._ws(ev.window)
        if ws.signed_in_at:
            pace.learn_staffed(self.state, ts - ws.signed_in_at)
            staffing.learn_signed_out(self.state, ws.number, ws.signed_in_at, ts)
        ws.status, ws.staff, ws.staff_name, ws.since, ws.reason = "closed", None, "", ts, ""
        ws.signed_in_at = 0.0

    def _a_paused(self, ev: e.WindowPaused, ts: float) -> None:
        ws = self._ws(ev.window)
        ws.status, ws.since, ws.reason = "paused", ts, ev.reason

    def _a_away(self, ev: e.WindowAway, ts: float) -> None:
        ws = self._ws(ev.window)
        ws.status, ws.since, ws.reason = "away", ts, ev.reason

    def _a_resumed(self, ev: e.WindowResumed, ts: float) -> None:
        ws = self._ws(ev.window)
        if ev.was == "away":
            ws.away_seconds_today += ev.seconds
            pace.learn_away(self.state, ev.seconds)
        ws.status, ws.since, ws.reason = "idle", ts, ""

    def _a_booked(self, ev: e.AppointmentBooked, ts: float) -> None:
        self.state.appointments[ev.code] = Appointment(
            code=ev.code,
            service=ev.service,
            day=ev.day,
            slot_start=ev.slot_start,
            slot_end=ev.slot_end,
            name=ev.name,
        )
        if ev.day == self.state.day:
            bisect.insort(self.booked.setdefault(ev.service, []), ev.slot_start)

    def _a_print(self, ev: e.TicketPrintRecorded, ts: float) -> None:
        t = self.state.tickets[ev.ticket]
        t.printed, t.print_reason = ev.printed, ev.reason
        if not ev.printed:
            t.print_failures += 1

    def _a_device_health(self, ev: e.DeviceHealthChanged, ts: float) -> None:
        self.state.devices[ev.device] = DeviceState(
            kind=ev.kind, status=ev.status, reason=ev.reason, reason_en=ev.reason_en, since=ts
        )

    def _a_appt_cancelled(self, ev: e.AppointmentCancelled, ts: float) -> None:
        appt = self.state.appointments.pop(ev.code, None)
        if appt is not None and appt.ticket is None and appt.day == self.state.day:
            self._unbook(appt.service, appt.slot_start)


_APPLY: dict[type[e.Event], Callable[[Engine, Any, float], None]] = {
    e.TicketPrintRecorded: Engine._a_print,
    e.DeviceHealthChanged: Engine._a_device_health,
    e.DayStarted: Engine._a_day,
    e.TicketIssued: Engine._a_issued,
    e.TicketCalled: Engine._a_called,
    e.TicketRecalled: Engine._a_recalled,
    e.ServiceStarted: Engine._a_started,
    e.ServiceFinished: Engine._a_finished,
    e.TicketNoShow: Engine._a_no_show,
    e.TicketReinstated: Engine._a_reinstated,
    e.TicketTransferred: Engine._a_transferred,
    e.TicketCancelled: Engine._a_cancelled,
    e.EvaluationSubmitted: Engine._a_evaluated,
    e.StaffSignedIn: Engine._a_signed_in,
    e.StaffSignedOut: Engine._a_signed_out,
    e.WindowPaused: Engine._a_paused,
    e.WindowAway: Engine._a_away,
    e.WindowResumed: Engine._a_resumed,
    e.AppointmentBooked: Engine._a_booked,
    e.AppointmentCancelled: Engine._a_appt_cancelled,
    e.ConfigChanged: Engine._a_config,
}

_STATUS_ZH = {
    "waiting": "等候中",
    "called": "已叫号",
    "serving": "办理中",
    "done": "已办结",
    "no_show": "已过号",
    "expired": "已过期",
    "cancelled": "已作废",
}


def _count(counts: dict[str, list[int]], service: str, session: int) -> None:
    per_session = counts.setdefault(service, [])
    while len(per_session) <= session:
        per_session.append(0)
    per_session[session] += 1


def _reused(rid: str, first: str) -> CommandRejected:
    return BadRequest(
        "request_id_reused",
        f"request id {rid!r} was already used for {first}; send a new id for a new command",
    )


def _clock(cfg: HallConfig, ts: float) -> str:
    from hallq.hall.schedule import local_now

    return f"{local_now(cfg, ts):%H:%M}"


__all__ = ["Engine", "Outcome", "summarize", "timedelta"]
