"""How well wait estimates foretold the real waits: hallq's and two published baselines.

- QL, the queue-length estimator (Ibrahim & Whitt 2009): (n + 1) / (s·μ) with n tickets
  ahead in the ticket's service queue, s staffed windows able to serve it and 1/μ the mean
  window time per call the engine has learned (the same knowledge hallq's estimate has); 0
  when a window able to serve it stood idle for it (n < idle windows).
- LES, the last-to-enter-service estimator: the wait of the last ticket of the same service
  to be called before this one was issued.

Accuracy is over the tickets that were called (their real wait is known) and that every
estimator had an estimate for: RRMSE = √mean((est − wait)²) / mean(wait), and MAE. It is
also given over the *delayed* tickets, those that found no able window idle (n ≥ idle
windows): on a stationary M/M/s queue QL's RRMSE over them is √(1 − ρ), since their wait
given n is Erlang(n + 1, sμ) and n is geometric. And hallq's P90 estimate: the share of
tickets whose wait exceeded it (the aim is 10%).

`accuracy(records)` gives one day's (or any pool's) figures; `accuracy_over_days(days)` pools
several days and adds standard errors (jackknife over the days, which are independent).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from hallq.simulate.records import TicketRecord

Estimator = Callable[[TicketRecord], float | None]
P90_TARGET = 0.1


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


def delayed(r: TicketRecord) -> bool:
    """The ticket found no window able to serve it idle (it had to wait for one)."""
    return r.ahead >= r.windows_idle


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


class _Sums:
    """Running sums from which RRMSE, MAE and the P90 exceedance follow (and pool)."""

    __slots__ = ("absolute", "n", "squared", "wait")

    def __init__(self) -> None:
        self.n = 0
        self.wait = self.squared = self.absolute = 0.0

    def add(self, estimate: float, wait: float) -> None:
        self.n += 1
        self.wait += wait
        self.squared += (estimate - wait) ** 2
        self.absolute += abs(estimate - wait)

    def plus(self, other: _Sums) -> _Sums:
        out = _Sums()
        out.n = self.n + other.n
        out.wait = self.wait + other.wait
        out.squared = self.squared + other.squared
        out.absolute = self.absolute + other.absolute
        return out

    @property
    def rrmse(self) -> float:
        if self.n == 0 or self.wait <= 0:
            return math.nan
        return math.sqrt(self.squared / self.n) / (self.wait / self.n)

    @property
    def mae(self) -> float:
        return self.absolute / self.n if self.n else math.nan


def _share(hits: int, n: int) -> float:
    return hits / n if n else math.nan


def _day_sums(records: Sequence[TicketRecord]) -> dict[str, Any]:
    """One day's sums: per estimator over all and delayed tickets, and the P90 counts."""
    usable = comparable(records)
    sums: dict[str, Any] = {name: {"all": _Sums(), "delayed": _Sums()} for name in ESTIMATORS}
    p90 = {"n": 0, "hits": 0, "delayed_n": 0, "delayed_hits": 0, "sum": 0.0}
    for r in usable:
        wait = r.wait_minutes or 0.0
        late = delayed(r)
        for name, estimate in ESTIMATORS.items():
            value = estimate(r) or 0.0
            sums[name]["all"].add(value, wait)
            if late:
                sums[name]["delayed"].add(value, wait)
        if r.estimate_p90_minutes is not None:
            over = wait > r.estimate_p90_minutes
            p90["n"] += 1
            p90["hits"] += over
            p90["sum"] += r.estimate_p90_minutes
            if late:
                p90["delayed_n"] += 1
                p90["delayed_hits"] += over
    sums["p90"] = p90
    return sums


def _pool(days: Sequence[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {name: {"all": _Sums(), "delayed": _Sums()} for name in ESTIMATORS}
    p90 = {"n": 0, "hits": 0, "delayed_n": 0, "delayed_hits": 0, "sum": 0.0}
    for day in days:
        for name in ESTIMATORS:
            for part in ("all", "delayed"):
                total[name][part] = total[name][part].plus(day[name][part])
        for k in p90:
            p90[k] += day["p90"][k]
    total["p90"] = p90
    return total


def _figures(sums: dict[str, Any]) -> dict[str, Any]:
    first = sums["hallq"]
    out: dict[str, Any] = {
        "tickets": first["all"].n,
        "delayed": first["delayed"].n,
        "mean_wait_minutes": first["all"].wait / first["all"].n if first["all"].n else math.nan,
        "delayed_mean_wait_minutes": first["delayed"].wait / first["delayed"].n
        if first["delayed"].n
        else math.nan,
    }
    for name in ESTIMATORS:
        every, late = sums[name]["all"], sums[name]["delayed"]
        out[name] = {
            "rrmse": every.rrmse,
            "mae_minutes": every.mae,
            "rrmse_delayed": late.rrmse,
            "mae_delayed_minutes": late.mae,
        }
    p = sums["p90"]
    out["p90"] = {
        "target": P90_TARGET,
        "tickets": p["n"],
        "mean_minutes": p["sum"] / p["n"] if p["n"] else math.nan,
        "exceeded": _share(p["hits"], p["n"]),
        "delayed": p["delayed_n"],
        "exceeded_delayed": _share(p["delayed_hits"], p["delayed_n"]),
    }
    return out


def accuracy(records: Sequence[TicketRecord]) -> dict[str, Any]:
    """Each estimator's accuracy on the same tickets, and the P90's calibration.

    Returns (NaN where there is nothing to measure):

    - `tickets`: called tickets that every estimator had an estimate for; `delayed`: of them,
      those that found no able window idle; `mean_wait_minutes`, `delayed_mean_wait_minutes`;
    - for `hallq`, `ql` and `les`: `rrmse`, `mae_minutes` over all those tickets and
      `rrmse_delayed`, `mae_delayed_minutes` over the delayed ones;
    - `p90`: hallq's P90 estimate: `target` (0.1), `tickets` with one, their `mean_minutes`,
      `exceeded` (the share whose wait was longer), and `delayed`, `exceeded_delayed` for the
      delayed ones (a ticket called at once by an idle window cannot exceed its P90 of 0).
    """
    return _figures(_day_sums(records))


def accuracy_over_days(days: Sequence[Sequence[TicketRecord]]) -> dict[str, Any]:
    """`accuracy` of several days pooled, with `days` and standard errors.

    Adds, per estimator, `rrmse_se` and `rrmse_delayed_se`, and for the P90 `exceeded_se` and
    `exceeded_delayed_se`: jackknife standard errors over the days (leave one day out), which
    allow for the days' own variation (a busy day's waits are all long together).
    """
    per_day = [_day_sums(records) for records in days]
    pooled = _pool(per_day)
    out = _figures(pooled)
    out["days"] = len(per_day)
    n = len(per_day)
    if n < 2:
        for name in ESTIMATORS:
            out[name]["rrmse_se"] = out[name]["rrmse_delayed_se"] = math.nan
        out["p90"]["exceeded_se"] = out["p90"]["exceeded_delayed_se"] = math.nan
        return out
    leave_one_out = [_figures(_pool(per_day[:i] + per_day[i + 1 :])) for i in range(n)]

    def jackknife(values: list[float]) -> float:
        kept = [v for v in values if not math.isnan(v)]
        if len(kept) < 2:
            return math.nan
        mean = sum(kept) / len(kept)
        return math.sqrt((len(kept) - 1) / len(kept) * sum((v - mean) ** 2 for v in kept))

    for name in ESTIMATORS:
        out[name]["rrmse_se"] = jackknife([f[name]["rrmse"] for f in leave_one_out])
        out[name]["rrmse_delayed_se"] = jackknife([f[name]["rrmse_delayed"] for f in leave_one_out])
    out["p90"]["exceeded_se"] = jackknife([f["p90"]["exceeded"] for f in leave_one_out])
    out["p90"]["exceeded_delayed_se"] = jackknife(
        [f["p90"]["exceeded_delayed"] for f in leave_one_out]
    )
    return out
