"""How well wait estimates foretold the real waits: hallq's and two published baselines.

- QL, the queue-length estimator (Ibrahim & Whitt 2009): (n + 1) / (s·μ) with n tickets
  ahead in the ticket's service queue, s staffed windows able to serve it and μ the service
  rate (the engine's learned mean, the same knowledge hallq's estimate has); 0 when a
  window able to serve it stood idle for it (n < idle windows).
- LES, the last-to-enter-service estimator: the wait of the last ticket of the same service
  to be called before this one was issued.

Accuracy is over the tickets that were called (their real wait is known) and that every
estimator had an estimate for: RRMSE = √mean((est − wait)²) / mean(wait), and MAE.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from hallq.simulate.records import TicketRecord

Estimator = Callable[[TicketRecord], float | None]


def hallq_minutes(r: TicketRecord) -> float | None:
    return r.estimate_minutes


def ql_minutes(r: TicketRecord) -> float | None:
    if r.windows_staffed == 0:
        return None
    if r.ahead < r.windows_idle:
        return 0.0
    return (r.ahead + 1) * r.mean_service_minutes / r.windows_staffed


def les_minutes(r: TicketRecord) -> float | None:
    return r.les_minutes


ESTIMATORS: dict[str, Estimator] = {"hallq": hallq_minutes, "ql": ql_minutes, "les": les_minutes}


def comparable(records: Sequence[TicketRecord]) -> list[TicketRecord]:
    """Tickets with a real wait and an estimate from every estimator."""
    return [
        r
        for r in records
        if r.wait_minutes is not None and all(f(r) is not None for f in ESTIMATORS.values())
    ]


def errors(estimates: Sequence[float], waits: Sequence[float]) -> dict[str, float]:
    """RRMSE and MAE (minutes) of estimates against the real waits."""
    n = len(waits)
    if n == 0:
        return {"rrmse": math.nan, "mae_minutes": math.nan}
    mean_wait = sum(waits) / n
    squared = sum((a - b) ** 2 for a, b in zip(estimates, waits, strict=True)) / n
    absolute = sum(abs(a - b) for a, b in zip(estimates, waits, strict=True)) / n
    return {
        "rrmse": math.sqrt(squared) / mean_wait if mean_wait > 0 else math.nan,
        "mae_minutes": absolute,
    }


def accuracy(records: Sequence[TicketRecord]) -> dict[str, object]:
    """Each estimator's RRMSE and MAE on the same tickets, with how many and their mean wait."""
    usable = comparable(records)
    waits = [r.wait_minutes or 0.0 for r in usable]
    out: dict[str, object] = {
        "tickets": len(usable),
        "mean_wait_minutes": sum(waits) / len(waits) if waits else math.nan,
    }
    for name, estimate in ESTIMATORS.items():
        out[name] = errors([estimate(r) or 0.0 for r in usable], waits)
    return out
