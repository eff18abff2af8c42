"""Who is called next (叫号顺序).

A window takes its service tiers in turn; within the first tier that has anyone waiting,
priority classes (绿色通道) go first, but after `max_priority_in_row` priority calls in a row
the longest-waiting normal ticket is called if one waits (anti-starvation). Then an
appointment whose slot has begun, then the queue order (issue time, or the place a
reinstatement or transfer gave it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hallq.hall.queues import WaitingQueues
from hallq.hall.state import NORMAL_RANK, Ticket

SortKey = tuple[int, int, float, float, int]


def sort_key(ticket: Ticket, rank: int, now: float) -> SortKey:
    due = ticket.slot_start is not None and ticket.slot_start <= now
    return (
        rank,
        0 if due else 1,
        ticket.slot_start if due and ticket.slot_start is not None else 0.0,
        ticket.order,
        ticket.id,
    )


def ticket_rank(ticket: Ticket, ranks: Mapping[str, int]) -> int:
    """The ticket's class: its priority category's rank, or normal.

    A reinstated ticket (过号顺延) queues among normal tickets: its priority was used when
    it was first called.
    """
    if ticket.reinstatements or ticket.category is None:
        return NORMAL_RANK
    return ranks.get(ticket.category, NORMAL_RANK)


def ranked(tickets: Iterable[Ticket], ranks: Mapping[str, int], now: float) -> list[Ticket]:
    """Tickets in the order the policy would call them (ignoring tiers and streaks)."""
    return sorted(tickets, key=lambda t: sort_key(t, ticket_rank(t, ranks), now))


def choose_next(
    tiers: list[list[str]],
    queues: WaitingQueues,
    priority_streak: int,
    max_priority_in_row: int,
    now: float,
) -> Ticket | None:
    """The ticket a window with these tiers should call now, or None if none waits."""
    for tier in tiers:
        best: Ticket | None = None
        best_key: SortKey | None = None
        best_normal: Ticket | None = None
        best_normal_key: SortKey | None = None
        for code in tier:
            for rank in queues.ranks(code):
                t = queues.best(code, rank, now)
                if t is None:
                    continue
                key = sort_key(t, rank, now)
                if best_key is None or key < best_key:
                    best, best_key = t, key
                if rank == NORMAL_RANK and (best_normal_key is None or key < best_normal_key):
                    best_normal, best_normal_key = t, key
        if best is None:
            continue
        if (
            best_key is not None
            and best_key[0] != NORMAL_RANK
            and priority_streak >= max_priority_in_row
            and best_normal is not None
        ):
            return best_normal
        return best
    return None
