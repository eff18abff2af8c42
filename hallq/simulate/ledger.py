"""The ticket records, kept in step with the engine's events.

Each record starts from the engine's TicketIssued (its estimate, the number ahead) and what
the baseline estimators need to know at that moment (windows able to serve, the learned
service time, the last wait of the service), and follows the ticket's later events.
"""

from __future__ import annotations

from hallq.hall import events as e
from hallq.hall.engine import Engine
from hallq.hall.estimate import minutes_per_call
from hallq.simulate.arrivals import Citizen
from hallq.simulate.records import TicketRecord

STAFFED = ("idle", "calling", "serving", "away")  # engine window statuses with staff in


class Ledger:
    def __init__(self) -> None:
        self.tickets: dict[int, TicketRecord] = {}
        self.citizen_of: dict[int, Citizen] = {}
        self.last_wait: dict[str, float] = {}  # service → wait of its last ticket called

    def observe(self, ev: e.Event, now: float) -> None:
        """Note what an event (other than an issue) did to a ticket."""
        ticket = getattr(ev, "ticket", None)
        record = self.tickets.get(ticket) if isinstance(ticket, int) else None
        if record is None:
            return
        if isinstance(ev, e.TicketCalled):
            record.calls += 1
            if record.first_called_at is None:
                record.first_called_at, record.window = now, ev.window
                self.last_wait[record.service] = (now - record.issued_at) / 60.0
        elif isinstance(ev, e.ServiceStarted):
            record.started_at = now
        elif isinstance(ev, e.ServiceFinished):
            record.finished_at, record.ended_at = now, now
            record.service_seconds = ev.seconds
            record.outcome = "served"
        elif isinstance(ev, e.TicketNoShow):
            record.outcome, record.ended_at = "no_show", now
        elif isinstance(ev, e.TicketReinstated):
            record.outcome, record.ended_at, record.reinstated = "waiting", None, True
        elif isinstance(ev, e.TicketCancelled):
            record.outcome, record.ended_at = "abandoned", now
        elif isinstance(ev, e.EvaluationSubmitted):
            record.evaluation = ev.level

    def issued(self, ev: e.TicketIssued, citizen: Citizen, engine: Engine, now: float) -> None:
        """A new ticket: its record, with what the baselines need to know at issue."""
        state, cfg = engine.state, engine.config
        staffed = idle = 0
        for w in cfg.windows_serving(ev.service):
            ws = state.windows.get(w.number)
            if ws is not None and ws.status in STAFFED:
                staffed += 1
                idle += ws.status == "idle"
        self.citizen_of[ev.ticket] = citizen
        self.tickets[ev.ticket] = TicketRecord(
            ticket=ev.ticket,
            display=ev.display,
            service=ev.service,
            category=ev.category,
            appointment=ev.appointment is not None,
            arrived_at=citizen.arrives_at,
            issued_at=now,
            estimate_minutes=ev.estimate_minutes,
            estimate_p90_minutes=ev.estimate_p90_minutes,
            ahead=ev.ahead,
            windows_staffed=staffed,
            windows_idle=idle,
            mean_service_minutes=minutes_per_call(cfg, state, ev.service),
            les_minutes=self.last_wait.get(ev.service),
        )
