"""Wait estimates v1: from queue position, the windows able to serve, and learned rates.

For a service s with k tickets ahead, open windows that can serve s contribute capacity:
a window whose higher tiers have nobody waiting gives s a share of its time in proportion
to the queues of s's tier; a window busy with a higher tier gives none. With i such windows
idle, the wait is 0 when k < i, else (k − i + 1)·m / c, where m is the learned mean service
time and c the capacity (the queue-length estimator of Ibrahim & Whitt, per service and
tier). Issue 7 measures and improves it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from hallq.hall.config import HallConfig, Window
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

    def wait_minutes(self, ahead: int) -> float | None:
        """Expected wait for a ticket with `ahead` tickets before it; None if no window serves."""
        if ahead < self.idle_windows:
            return 0.0
        if self.capacity <= 0:
            return None
        return (ahead - self.idle_windows + 1) * self.mean_minutes / self.capacity

    @property
    def new_ticket_minutes(self) -> float | None:
        return self.wait_minutes(self.waiting)


def mean_service_minutes(cfg: HallConfig, state: HallState, service: str) -> float:
    rate = state.rates.get(service)
    if rate is not None and rate.samples > 0:
        return rate.mean_seconds / 60.0
    svc = cfg.service(service)
    return svc.service_minutes if svc else 10.0


def _shares(
    window: Window, status: str, waiting: Mapping[str, Mapping[int, None]]
) -> Iterator[tuple[str, float, bool]]:
    """For each service an open window serves: its share of the window, and if it is idle.

    The share is 0 for services below a tier that has someone waiting.
    """
    if status in OPEN_STATUSES:
        weight = 1.0
    elif status == "away":
        weight = AWAY_SHARE
    else:
        return
    busy_above = False
    for tier in window.tiers:
        tier_count = sum(len(waiting.get(c, ())) for c in tier)
        for code in tier:
            if busy_above:
                yield code, 0.0, False
            else:
                share = (len(waiting.get(code, ())) + 1) / (tier_count + 1)
                yield code, weight * share, status == "idle"
        if tier_count > 0:
            busy_above = True


def _status(state: HallState, number: int) -> str:
    ws = state.windows.get(number)
    return ws.status if ws else "closed"


def outlook(
    cfg: HallConfig, state: HallState, waiting: Mapping[str, Mapping[int, None]], service: str
) -> ServiceOutlook:
    """The outlook of one service (on every issue): the same sums as `outlooks`, for one."""
    capacity, opened, idle = 0.0, 0, 0
    for w in cfg.windows_serving(service):
        status = _status(state, w.number)
        weight = 1.0 if status in OPEN_STATUSES else AWAY_SHARE if status == "away" else 0.0
        if not weight:
            continue
        opened += 1
        for tier in w.tiers:
            tier_count = sum(len(waiting.get(c, ())) for c in tier)
            if service in tier:
                capacity += weight * (len(waiting.get(service, ())) + 1) / (tier_count + 1)
                idle += status == "idle"
                break
            if tier_count > 0:
                break  # busy with a tier above: no share for this service now
    return ServiceOutlook(
        service=service,
        waiting=len(waiting.get(service, ())),
        windows_open=opened,
        idle_windows=idle,
        capacity=capacity,
        mean_minutes=mean_service_minutes(cfg, state, service),
    )


def outlooks(
    cfg: HallConfig, state: HallState, waiting: Mapping[str, Mapping[int, None]]
) -> dict[str, ServiceOutlook]:
    """One outlook per configured service."""
    capacity: dict[str, float] = {s.code: 0.0 for s in cfg.services}
    opened: dict[str, int] = dict.fromkeys(capacity, 0)
    idle: dict[str, int] = dict.fromkeys(capacity, 0)
    for w in cfg.windows:
        for code, share, is_idle in _shares(w, _status(state, w.number), waiting):
            if code in capacity:
                capacity[code] += share
                opened[code] += 1
                idle[code] += share > 0 and is_idle
    return {
        s.code: ServiceOutlook(
            service=s.code,
            waiting=len(waiting.get(s.code, ())),
            windows_open=opened[s.code],
            idle_windows=idle[s.code],
            capacity=capacity[s.code],
            mean_minutes=mean_service_minutes(cfg, state, s.code),
        )
        for s in cfg.services
    }


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
