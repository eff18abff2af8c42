"""Fan-out of committed events to in-process readers (feed sockets, drivers, the uplink).

Besides the events, the bus carries notices: moments that are not hall state and are not
logged, such as the voice starting to say a call (so a screen can highlight it in step).

A reader that falls behind by more than its queue holds is cut off (and told so) instead of
slowing the writer: it resumes from the log by sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from hallq.hall.events import Record


@dataclass(frozen=True)
class Notice:
    """Something readers may show now but that is not hall state: e.g. the voice speaking."""

    type: str
    data: dict[str, Any]


class Subscription:
    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Record | Notice | None] = asyncio.Queue(maxsize)
        self.overflowed = False

    def _offer(self, record: Record | Notice) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(record)
        except asyncio.QueueFull:
            self.overflowed = True
            self._bus.unsubscribe(self)
            # Make room for the end marker so the reader wakes up and sees the overflow.
            self.queue.get_nowait()
            self.queue.put_nowait(None)

    def close(self) -> None:
        self._bus.unsubscribe(self)
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    async def __aiter__(self) -> AsyncIterator[Record | Notice]:
        while True:
            record = await self.queue.get()
            if record is None:
                return
            yield record


class EventBus:
    def __init__(self) -> None:
        self._subs: set[Subscription] = set()

    def subscribe(self, maxsize: int = 10_000) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    def publish(self, records: list[Record]) -> None:
        for sub in list(self._subs):
            for r in records:
                sub._offer(r)

    def notify(self, notice: Notice) -> None:
        """Send a notice (not logged) to every reader now connected."""
        for sub in list(self._subs):
            sub._offer(notice)

    def close(self) -> None:
        for sub in list(self._subs):
            sub.close()

    def __len__(self) -> int:
        return len(self._subs)
