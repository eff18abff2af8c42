"""simulate: simulated days per second, and the wait-estimate accuracy table per scenario.

(a) Speed: each shipped scenario (config/scenarios/) played on 3 seeds through the real
engine, timed from building the day (drawing its citizens) to its records; the city
Monday is the 20,000-ticket day. Loading the files is not timed.

(b) Accuracy: for each scenario over several seeds, every figure `accuracy()` returns
(hallq/simulate/accuracy.py: RRMSE and MAE for hallq, QL and LES, and whatever else it
grows), as the mean of the days' figures ± its standard error (the days' draws are
independent; what the hall learned carries over from day to day). The days of (a) are
reused.

The days are played in a row, as a hall lives them, after LEARN_DAYS days to learn: each
day's engine starts with what the days before taught it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.common import Options, table
from hallq.hall.state import HallState
from hallq.simulate import accuracy as accuracy_module
from hallq.simulate.day import HallDay
from hallq.simulate.records import DayResult
from hallq.simulate.report import SimulateOptions, day_seeds, load

SCENARIOS = Path(__file__).resolve().parents[1] / "config" / "scenarios"
# name → (seeds timed, seeds for the accuracy table); quick: (1, a few)
FULL = {
    "city-monday": (3, 5),
    "district-two-peaks": (3, 30),
    "county-composite": (3, 30),
    "township-quiet": (3, 50),
    "mms": (3, 30),
}
QUICK = {
    "city-monday": (1, 1),
    "district-two-peaks": (1, 4),
    "county-composite": (1, 4),
    "township-quiet": (1, 6),
    "mms": (1, 2),
}
REPRODUCE = ".venv/bin/python -m bench simulate"
# Days played first for the hall to learn from (its staffing over the day, the P90's scale):
# a hall in service has run for weeks; these figures are for one that has run a week.
LEARN_DAYS = 5


def _days(name: str, count: int) -> list[tuple[DayResult, float]]:
    """`count` days of the scenario in a row after LEARN_DAYS to learn, each day timed."""
    cfg, scenario = load(SimulateOptions(scenario=SCENARIOS / f"{name}.toml"))
    learned: HallState | None = None
    out: list[tuple[DayResult, float]] = []
    for i, seed in enumerate(day_seeds(1, count, LEARN_DAYS)):
        started = time.perf_counter()
        day = HallDay(cfg, scenario, seed, learned)
        result = day.run()
        wall = time.perf_counter() - started
        learned = day.close()
        if i >= LEARN_DAYS:
            out.append((result, wall))
    return out


def _speed(name: str, days: Sequence[tuple[DayResult, float]]) -> dict[str, Any]:
    walls = [wall for _, wall in days]
    tickets = [len(r.tickets) for r, _ in days]
    commands = [r.commands for r, _ in days]
    simulated = [r.ended_at - r.started_at for r, _ in days]
    total_wall = sum(walls)
    return {
        "scenario": name,
        "days": len(days),
        "seeds": [r.seed for r, _ in days],
        "tickets_per_day": statistics.fmean(tickets),
        "commands_per_day": statistics.fmean(commands),
        "simulated_hours_per_day": statistics.fmean(simulated) / 3600,
        "wall_seconds_per_day": statistics.fmean(walls),
        "wall_seconds_min": min(walls),
        "wall_seconds_max": max(walls),
        "days_per_second": len(walls) / total_wall,
        "tickets_per_second": sum(tickets) / total_wall,
        "commands_per_second": sum(commands) / total_wall,
    }


def _leaves(value: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], float]:
    """Every number in a nested dict, by its path of keys (bools and None left out)."""
    out: dict[tuple[str, ...], float] = {}
    if isinstance(value, Mapping):
        for key, sub in value.items():
            out.update(_leaves(sub, (*path, str(key))))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        out[path] = float(value)
    return out


def _estimators(paths: Sequence[tuple[str, ...]]) -> list[str]:
    """The estimators' names: accuracy.ESTIMATORS's, else keys holding an "rrmse"."""
    known = list(getattr(accuracy_module, "ESTIMATORS", {}) or [])
    found = [p[-2] for p in paths if len(p) >= 2 and p[-1] == "rrmse"]
    for name in found:
        if name not in known:
            known.append(name)
    return known


def _split(path: tuple[str, ...], estimators: Sequence[str]) -> tuple[str | None, str]:
    """(estimator, figure) of a path: its first estimator part, and the rest."""
    for k, part in enumerate(path):
        if part in estimators:
            return part, ".".join(path[:k] + path[k + 1 :])
    return None, ".".join(path)


def _mean_se(values: Sequence[float]) -> tuple[float, float | None]:
    mean = statistics.fmean(values)
    se = statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else None
    return mean, se


def _shown(mean: float, se: float | None) -> str:
    size = abs(mean)
    digits = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    text = f"{mean:.{digits}f}"
    return text if se is None else f"{text} ± {se:.{digits}f}"


def _accuracy(name: str, days: Sequence[DayResult]) -> dict[str, Any]:
    per_day = [_leaves(accuracy_module.accuracy(r.measured)) for r in days]
    paths = list(dict.fromkeys(p for figures in per_day for p in figures))  # accuracy()'s order
    estimators = _estimators(paths)
    figures: dict[str, dict[str, Any]] = {}
    for path in paths:
        values = [f[path] for f in per_day if path in f and not math.isnan(f[path])]
        if not values:
            continue
        mean, se = _mean_se(values)
        who, figure = _split(path, estimators)
        figures.setdefault(figure, {})[who or ""] = {"mean": mean, "se": se, "days": len(values)}
    return {
        "scenario": name,
        "seeds": [r.seed for r in days],
        "estimators": estimators,
        "figures": figures,
        "command": f"{REPRODUCE}  # or: .venv/bin/hallq simulate --scenario "
        f"config/scenarios/{name}.toml --days {len(days)} --learn-days {LEARN_DAYS} --p90",
    }


def _seed_range(seeds: Sequence[int]) -> str:
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _print_accuracy(results: Sequence[dict[str, Any]]) -> None:
    estimators: list[str] = []
    context_names: list[str] = []
    for res in results:
        estimators += [e for e in res["estimators"] if e not in estimators]
        context_names += [
            f for f, by in res["figures"].items() if "" in by and f not in context_names
        ]
    rows: list[list[Any]] = []
    context: list[list[Any]] = []
    for res in results:
        figures = res["figures"]
        context.append(
            [
                res["scenario"],
                _seed_range(res["seeds"]),
                *(
                    _shown(figures[f][""]["mean"], figures[f][""]["se"]) if f in figures else "-"
                    for f in context_names
                ),
            ]
        )
        for figure, by in figures.items():
            if not set(by) - {""}:
                continue
            rows.append(
                [
                    f"{res['scenario']} {figure}",
                    *(_shown(by[e]["mean"], by[e]["se"]) if e in by else "-" for e in estimators),
                ]
            )
    print(
        "  wait-estimate accuracy over the days (the mean of the days' figures ± standard error):"
    )
    print(table(["scenario", "seeds", *context_names], context))
    print(table(["scenario figure", *estimators], rows))
    print(f"  reproduce: {REPRODUCE}  (--quick: fewer seeds)")


def run(opts: Options) -> dict[str, Any]:
    plan = QUICK if opts.quick else FULL
    speed: list[dict[str, Any]] = []
    accuracy: list[dict[str, Any]] = []
    for name, (timed, compared) in plan.items():
        days = _days(name, max(timed, compared))
        speed.append(_speed(name, days[:timed]))
        accuracy.append(_accuracy(name, [r for r, _ in days[:compared]]))
    print("  simulated days (load not timed; the day built and played through the engine):")
    print(
        table(
            [
                "scenario",
                "days",
                "tickets/day",
                "commands/day",
                "sim h",
                "wall s/day",
                "min-max s",
                "tickets/s",
                "commands/s",
            ],
            [
                [
                    s["scenario"],
                    s["days"],
                    round(s["tickets_per_day"]),
                    round(s["commands_per_day"]),
                    s["simulated_hours_per_day"],
                    s["wall_seconds_per_day"],
                    f"{s['wall_seconds_min']:.2f}-{s['wall_seconds_max']:.2f}",
                    s["tickets_per_second"],
                    s["commands_per_second"],
                ]
                for s in speed
            ],
        )
    )
    _print_accuracy(accuracy)
    return {"speed": speed, "accuracy": accuracy}
