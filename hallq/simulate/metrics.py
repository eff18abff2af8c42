"""A simulated day's figures as JSON-ready data: tickets, waits, queues, windows, evaluations.

Only simulated quantities go in (no wall-clock time), floats rounded, so the same seed
gives byte-identical JSON.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hallq.simulate.accuracy import accuracy
from hallq.simulate.records import DayResult, TicketRecord

DIGITS = 3


def distribution(values: Sequence[float]) -> dict[str, Any]:
    """count, mean, p50, p90 and max (the inclusive quantile method)."""
    if not values:
        return {"count": 0, "mean": None, "p50": None, "p90": None, "max": None}
    if len(values) == 1:
        v = values[0]
        return {"count": 1, "mean": v, "p50": v, "p90": v, "max": v}
    q = statistics.quantiles(values, n=10, method="inclusive")
    return {
        "count": len(values),
        "mean": statistics.fmean(values),
        "p50": statistics.median(values),
        "p90": q[8],
        "max": max(values),
    }


def _by(records: Sequence[TicketRecord], key: Any, value: Any) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[float]] = {}
    for r in records:
        v = value(r)
        if v is not None:
            groups.setdefault(key(r), []).append(v)
    return {k: distribution(groups[k]) for k in sorted(groups)}


def _class(r: TicketRecord) -> str:
    if r.appointment:
        return "appointment"
    return r.category or "normal"


def metrics(result: DayResult) -> dict[str, Any]:
    """Everything the JSON output holds."""
    zone = ZoneInfo(result.timezone)

    def clock(ts: float) -> str:
        return f"{datetime.fromtimestamp(ts, zone):%H:%M:%S}"

    tickets = result.tickets
    outcomes = Counter(r.outcome for r in tickets)
    called = [r for r in result.measured if r.wait_minutes is not None]
    served = [r for r in tickets if r.outcome == "served"]
    evaluations = Counter(r.evaluation for r in tickets if r.evaluation is not None)
    samples = result.samples
    totals = [sum(s.waiting.values()) for s in samples]
    data: dict[str, Any] = _clean(
        {
            "scenario": result.scenario,
            "hall": result.hall,
            "date": result.date,
            "seed": result.seed,
            "simulated": {
                "from": clock(result.started_at),
                "to": clock(result.ended_at),
                "seconds": result.ended_at - result.started_at,
            },
            "tickets": {
                "issued": len(tickets),
                "served": outcomes["served"],
                "no_show": outcomes["no_show"],
                "abandoned": outcomes["abandoned"],
                "expired": outcomes["expired"],
                "green": sum(1 for r in tickets if r.category is not None),
                "appointments": sum(1 for r in tickets if r.appointment),
                "bookings": result.bookings,
                "reinstated": sum(1 for r in tickets if r.reinstated),
                "turned_away": result.turned_away,
            },
            "waits_minutes": {
                "issued_from": clock(result.measured_from),  # after the warm-up
                "all": distribution([r.wait_minutes or 0.0 for r in called]),
                "by_service": _by(called, lambda r: r.service, lambda r: r.wait_minutes),
                "by_class": _by(called, _class, lambda r: r.wait_minutes),
            },
            "service_minutes": {
                "all": distribution([(r.service_seconds or 0.0) / 60 for r in served]),
                "by_service": _by(
                    served, lambda r: r.service, lambda r: (r.service_seconds or 0.0) / 60
                ),
            },
            "queue": {
                "sample_minutes": (samples[1].at - samples[0].at) / 60
                if len(samples) > 1
                else None,
                "mean_waiting": statistics.fmean(totals) if totals else None,
                "max_waiting": max(totals, default=0),
                "at": [clock(s.at)[:5] for s in samples],
                "waiting": totals,
                "by_service": {
                    code: [s.waiting.get(code, 0) for s in samples] for code in result.services
                },
                "staffed_windows": [s.staffed for s in samples],
                "busy_windows": [s.busy for s in samples],
            },
            "windows": [
                {
                    "window": w.window,
                    "staff": w.staff,
                    "signed_in_minutes": w.signed_in_seconds / 60,
                    "busy_minutes": w.busy_seconds / 60,
                    "utilisation": w.busy_seconds / w.signed_in_seconds
                    if w.signed_in_seconds
                    else None,
                    "served": w.served,
                    "no_shows": w.no_shows,
                    "away_episodes": w.away_episodes,
                    "away_minutes": w.away_seconds / 60,
                }
                for w in result.windows
            ],
            "evaluations": {
                "count": sum(evaluations.values()),
                "share_of_served": sum(evaluations.values()) / len(served) if served else None,
                "levels": dict(sorted(evaluations.items())),
                "bad": sum(n for level, n in evaluations.items() if level in result.bad_levels),
            },
            "accuracy": accuracy(result.measured),
            "engine": {
                "commands": result.commands,
                "events": result.events,
                "rejected": result.rejected,
            },
        }
    )
    return data


def _clean(value: Any) -> Any:
    """Round floats, NaN as null: stable, valid JSON."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1) + "\n"
