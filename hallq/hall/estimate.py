"""Wait estimates v1: from queue position, the windows able to serve, and learned rates.

For a service s with k tickets ahead, open windows that can serve s contribute capacity:
a window whose higher tiers have nobody waiting gives s a share of its time in proportion
to the queues of s's tier; a window busy with a higher tier gives none. With i such windows
idle, the wait is 0 when k < i, else (k − i + 1)·m / c, where m is the learned mean service
time and c the capacity (the queue-length estimator of Ibrahim & Whitt, per service and
tier). When every open window that serves s is busy with a tier above, the wait is the time
the quickest of them needs to clear those tiers, then (k + 1)·m shared among them. Issue 7
measures and improves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hallq.hall.config import HallConfig
from hallq.hall.policy import ranked
from hallq.hall.state import HallState

OPEN_STATUSES = ("idle", "calling", "serving")
AWAY_SHARE = 0.5  # a window away (请稍候) usually comes back within the wait


@dataclass(frozen=True)
class ServiceOutlook:
    """What a citizen taking a ticket for this service now should be told."""

    service: str
    waiting: int
    windows_open: int
    idle_windows: int
    capacity: float
    mean_minutes: float
    # Open windows that serve the service only below a tier with a queue: the minutes each
    # needs to clear those tiers first (used only when no window gives the service a share).
    delayed: tuple[float, ...] = ()

    def wait_minutes(self, ahead: int) -> float | None:
        """Expected wait for a ticket with `ahead` tickets before it; None if no window serves."""
        if ahead < self.idle_windows:
            return 0.0
        if self.capacity > 0:
            return (ahead - self.idle_windows + 1) * self.mean_minutes / self.capacity
        if self.delayed:
            return min(self.delayed) + (ahead + 1) * self.mean_minutes / len(self.delayed)
        return None

    @property
    def new_ticket_minutes(self) -> float | None:
        return self.wait_minutes(self.waiting)


def mean_service_minutes(cfg: HallConfig, state: HallState, service: str) -> float:
    rate = state.rates.get(service)
    if rate is not None and rate.samples > 0:
        return rate.mean_seconds / 60.0
    svc = cfg.service(service)
    return svc.service_minutes if svc else 10.0


def outlook(
    cfg: HallConfig, state: HallState, waiting: Mapping[str, Mapping[int, None]], service: str
) -> ServiceOutlook:
    """The outlook of one service, from the windows that serve it (on every issue).

    An open window gives the service a share of its time in proportion to the queues of the
    service's tier, unless a tier above has a queue: then it only adds the minutes it needs
    to clear those tiers to `delayed`.
    """
    capacity, opened, idle = 0.0, 0, 0
    delayed: list[float] = []
    queued_here = len(waiting.get(service, ()))
    for w in cfg.windows_serving(service):
        ws = state.windows.get(w.number)
        status = ws.status if ws is not None else "closed"
        if status in OPEN_STATUSES:
            weight = 1.0
        elif status == "away":
            weight = AWAY_SHARE
        else:
            continue
        opened += 1
        clear = 0.0
        for tier in w.tiers:
            if service in tier:
                if clear:
                    delayed.append(clear)
                else:
                    tier_count = sum(len(waiting.get(c, ())) for c in tier)
                    capacity += weight * (queued_here + 1) / (tier_count + 1)
                    idle += status == "idle"
                break
            for c in tier:
                queued = len(waiting.get(c, ()))
                if queued:
                    clear += queued * mean_service_minutes(cfg, state, c)
    return ServiceOutlook(
        service=service,
        waiting=queued_here,
        windows_open=opened,
        idle_windows=idle,
        capacity=capacity,
        mean_minutes=mean_service_minutes(cfg, state, service),
        delayed=tuple(sorted(delayed)),
    )


def outlooks(
    cfg: HallConfig, state: HallState, waiting: Mapping[str, Mapping[int, None]]
) -> dict[str, ServiceOutlook]:
    """One outlook per configured service."""
    return {s.code: outlook(cfg, state, waiting, s.code) for s in cfg.services}


def ticket_waits(
    cfg: HallConfig,
    state: HallState,
    waiting: Mapping[str, Mapping[int, None]],
    ranks: Mapping[str, int],
    now: float,
) -> dict[int, tuple[int, float | None]]:
    """For every waiting ticket: how many are ahead of it and its estimated wait (minutes)."""
    views = outlooks(cfg, state, waiting)
    result: dict[int, tuple[int, float | None]] = {}
    for code, ids in waiting.items():
        view = views.get(code)
        queue = ranked((state.tickets[i] for i in ids), ranks, now)
        for position, t in enumerate(queue):
            result[t.id] = (position, view.wait_minutes(position) if view else None)
    return result
