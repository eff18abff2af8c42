"""`hallq simulate`: load the hall and the scenario, play the day, print, write JSON and a PNG."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallq.errors import ConfigError
from hallq.hall.config import HallConfig, load_config
from hallq.simulate.accuracy_report import accuracy_lines, run_days
from hallq.simulate.day import simulate_days
from hallq.simulate.hall_fit import check_against_hall
from hallq.simulate.metrics import metrics, to_json
from hallq.simulate.output import deliver, text_table
from hallq.simulate.scenario import Scenario, ScenarioError
from hallq.simulate.scenario_file import locate_problems, read_scenario

LEARN_SEEDS = 100_000  # learning days play seeds from here on, apart from the measured days'


@dataclass(frozen=True)
class SimulateOptions:
    scenario: Path
    config: Path | None = None  # default: the hall the scenario names
    seed: int = 1
    json_out: Path | None = None  # "-" writes to standard output
    plot_out: Path | None = None
    p90: bool = False  # print the P90 estimate's calibration in the summary
    days: int = 1  # play this many days (seeds from `seed` on) and pool the accuracy
    # Days played first, only for the engine to learn from (as a hall that has run a while).
    learn_days: int = 0


def load(options: SimulateOptions) -> tuple[HallConfig, Scenario]:
    """The hall and the scenario, checked against each other; ConfigError says what to fix."""
    scenario, text = read_scenario(options.scenario)
    hall_path = options.config
    if hall_path is None:
        if not scenario.hall:
            raise ScenarioError(
                [
                    f'{options.scenario}: no hall: give --config HALL.toml or hall = "…" in the scenario'
                ]
            )
        hall_path = options.scenario.parent / scenario.hall
    cfg = load_config(hall_path)
    problems = check_against_hall(cfg, scenario)
    if problems:
        raise locate_problems(text, str(options.scenario), problems)
    return cfg, scenario


def run(options: SimulateOptions) -> int:
    """The command: exit status 0, or 2 when the files have errors."""
    try:
        cfg, scenario = load(options)
    except ConfigError as e:
        print(f"hallq simulate: {e}", file=sys.stderr)
        return 2
    if options.days > 1:
        if options.plot_out is not None:
            print("hallq simulate: --plot draws one day: leave out --days", file=sys.stderr)
            return 2
        return run_days(
            cfg,
            scenario,
            day_seeds(options.seed, options.days, options.learn_days),
            options.learn_days,
            options.json_out,
            options.p90,
        )
    learning = day_seeds(options.seed, 1, options.learn_days)
    wall = time.perf_counter()
    (result,) = simulate_days(cfg, scenario, learning, options.learn_days)
    wall = time.perf_counter() - wall
    data = metrics(result)

    def draw(path: Path) -> None:
        from hallq.simulate.plot import plot_day

        plot_day(result, path)

    deliver(
        lambda: to_json(data),
        options.json_out,
        draw,
        options.plot_out,
        lambda: summary(data, wall, options.p90),
    )
    return 0


def day_seeds(first: int, days: int, learn_days: int) -> list[int]:
    """Seeds of the days played: the learning days' (far from the measured ones) first."""
    return [LEARN_SEEDS + first + i for i in range(learn_days)] + list(range(first, first + days))


def summary(m: dict[str, Any], wall_seconds: float, p90: bool = False) -> str:
    """The day in a few lines of text (with `p90`, the P90 estimate's calibration too)."""
    t, sim, eng = m["tickets"], m["simulated"], m["engine"]
    waits = m["waits_minutes"]
    lines = [
        f"{m['scenario']} — hall {m['hall']}, {m['date']}, seed {m['seed']}",
        f"  simulated {sim['from'][:5]}-{sim['to'][:5]} ({sim['seconds'] / 3600:.1f} h) in "
        f"{wall_seconds:.2f} s: {eng['commands']:,} engine commands "
        f"({eng['commands'] / max(wall_seconds, 1e-9):,.0f}/s)",
        f"  tickets  {t['issued']:,} issued: {t['served']:,} served, {t['no_show']:,} no-show, "
        f"{t['abandoned']:,} gave up, {t['expired']:,} unserved at closing"
        + (f"; turned away {t['turned_away']}" if t["turned_away"] else ""),
    ]
    if eng["rejected"]:
        lines.append(f"  refused by the engine: {eng['rejected']}")
    rows = [["all", *_dist(waits["all"])]]
    rows += [[code, *_dist(d)] for code, d in waits["by_service"].items()]
    rows += [[f"({cls})", *_dist(d)] for cls, d in waits["by_class"].items()]
    lines.append(
        f"  waits to the first call, minutes (tickets issued from {waits['issued_from'][:5]}):"
    )
    lines += ["    " + row for row in text_table(["", "called", "mean", "p50", "p90", "max"], rows)]
    used = [w["utilisation"] for w in m["windows"] if w["utilisation"] is not None]
    if used:
        lines.append(
            f"  windows  {len(used)} staffed, utilisation mean {sum(used) / len(used):.0%} "
            f"(from {min(used):.0%} to {max(used):.0%})"
        )
    ev = m["evaluations"]
    lines.append(f"  evaluations {ev['count']:,}, of them bad {ev['bad']:,}")
    lines += accuracy_lines(m["accuracy"], p90)
    return "\n".join(lines)


def _dist(d: dict[str, Any]) -> list[str]:
    return [str(d["count"])] + [
        "-" if d[k] is None else f"{d[k]:.1f}" for k in ("mean", "p50", "p90", "max")
    ]
