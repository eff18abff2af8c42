"""The waiting queues (等候队列), kept so that call-next and issue never scan every ticket.

For each service and priority class a heap in queue order, and for tickets with an
appointment a second heap by slot. Entries are removed lazily: a heap top that no longer
waits (called, cancelled, transferred, reinstated elsewhere) is dropped when it is met.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping

from hallq.hall.state import Ticket

QueueKey = tuple[str, int]  # (service, rank)


class WaitingQueues:
    def __init__(self, services: Iterable[str], tickets: Mapping[int, Ticket]) -> None:
        self.members: dict[str, dict[int, None]] = {s: {} for s in services}
        self._tickets = tickets
        self._rank: dict[int, int] = {}
        self._counts: dict[str, dict[int, int]] = {}
        self._by_order: dict[QueueKey, list[tuple[float, int]]] = {}
        self._by_slot: dict[QueueKey, list[tuple[float, float, int]]] = {}

    def join(self, t: Ticket, rank: int) -> None:
        self.members.setdefault(t.service, {})[t.id] = None
        self._rank[t.id] = rank
        counts = self._counts.setdefault(t.service, {})
        counts[rank] = counts.get(rank, 0) + 1
        key = (t.service, rank)
        heapq.heappush(self._by_order.setdefault(key, []), (t.order, t.id))
        if t.slot_start is not None:
            heapq.heappush(self._by_slot.setdefault(key, []), (t.slot_start, t.order, t.id))

    def leave(self, t: Ticket) -> None:
        members = self.members.get(t.service, {})
        if t.id in members:
            del members[t.id]
            rank = self._rank.pop(t.id)
            counts = self._counts[t.service]
            counts[rank] -= 1
            if not counts[rank]:
                del counts[rank]

    def count(self, service: str) -> int:
        return len(self.members.get(service, ()))

    def count_before_rank(self, service: str, rank: int) -> int:
        """Tickets of classes called before `rank` (a smaller rank) waiting for `service`."""
        return sum(n for r, n in self._counts.get(service, {}).items() if r < rank)

    def count_of_rank(self, service: str, rank: int) -> int:
        return self._counts.get(service, {}).get(rank, 0)

    def ranks(self, service: str) -> list[int]:
        """The classes that have someone waiting for `service`, first-called first."""
        return sorted(self._counts.get(service, {}))

    def rank_of(self, ticket_id: int) -> int:
        return self._rank[ticket_id]

    def _waits(self, service: str, rank: int, tid: int, order: float) -> bool:
        t = self._tickets.get(tid)
        return (
            t is not None
            and tid in self.members.get(service, {})
            and self._rank.get(tid) == rank
            and t.order == order
        )

    def best(self, service: str, rank: int, now: float) -> Ticket | None:
        """The ticket of this class the policy calls first: a due appointment, else queue order."""
        key = (service, rank)
        slots = self._by_slot.get(key)
        while slots:
            slot, order, tid = slots[0]
            if self._waits(service, rank, tid, order) and self._tickets[tid].slot_start == slot:
                if slot <= now:
                    return self._tickets[tid]
                break
            heapq.heappop(slots)
        queue = self._by_order.get(key)
        while queue:
            order, tid = queue[0]
            if self._waits(service, rank, tid, order):
                return self._tickets[tid]
            heapq.heappop(queue)
        return None
