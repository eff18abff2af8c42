"""`hallq simulate --plan`: make the capacity plan, print it as a table, write JSON and a PNG."""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallq.errors import ConfigError
from hallq.simulate.output import deliver, text_table
from hallq.simulate.plan import (
    DEFAULT_ROUNDS,
    DEFAULT_SEEDS,
    NO_DEMAND,
    Check,
    Plan,
    PlanError,
    PlanOptions,
    make_plan,
)
from hallq.simulate.plan_staffing import Cell
from hallq.simulate.report import SimulateOptions, load

DIGITS = 3
METHOD = (
    "First guess per service and hour: the fewest windows whose Erlang C (M/M/s) p90 wait is "
    "under the target, from the tickets expected to be issued in that hour and the window time "
    "each takes (walk-up, service, recalls for no-shows, away episodes). Checked by playing the "
    "day through the hall's engine on every seed, at single-service windows, one window per "
    "service per staffed hour (signed in for the hour, out after their current ticket): for "
    "each service and hour, the p90 wait of the tickets issued in that hour, pooled over the "
    "seeds (never called: for ever). A window more where it missed, one less where the p90 "
    "was at most half the target, until no change or the rounds run out."
)


@dataclass(frozen=True)
class PlanCommand:
    scenario: Path
    target_p90_minutes: float
    config: Path | None = None
    seed: int = 1  # the first seed; the plan uses seed … seed + seeds − 1
    seeds: int = DEFAULT_SEEDS
    rounds: int = DEFAULT_ROUNDS
    max_windows: int | None = None
    json_out: Path | None = None  # "-" writes to standard output
    plot_out: Path | None = None


def run_plan(options: PlanCommand) -> int:
    """The command: exit status 0 (the plan, met or not), or 2 when the files have errors."""
    try:
        cfg, scenario = load(SimulateOptions(scenario=options.scenario, config=options.config))
    except ConfigError as e:
        print(f"hallq simulate: {e}", file=sys.stderr)
        return 2
    seeds = tuple(range(options.seed, options.seed + options.seeds))
    confirm = tuple(range(seeds[-1] + 1, seeds[-1] + 1 + options.seeds)) if seeds else ()
    wall = time.perf_counter()
    try:
        plan = make_plan(
            cfg,
            scenario,
            PlanOptions(
                target_p90_minutes=options.target_p90_minutes,
                seeds=seeds,
                rounds=options.rounds,
                max_windows=options.max_windows,
                confirm_seeds=confirm,
            ),
        )
    except PlanError as e:
        print(f"hallq simulate --plan: {e}", file=sys.stderr)
        return 2
    wall = time.perf_counter() - wall

    def draw(path: Path) -> None:
        from hallq.simulate.plan_plot import plot_plan

        plot_plan(plan, path)

    deliver(
        lambda: json.dumps(plan_json(plan), ensure_ascii=False, indent=1) + "\n",
        options.json_out,
        draw,
        options.plot_out,
        lambda: plan_text(plan, hall_windows=len(cfg.windows), wall_seconds=wall),
    )
    return 0


# ---------------------------------------------------------------- text


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    return "never" if math.isinf(value) else f"{value:.1f}"


def _seeds(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ", ".join(str(s) for s in seeds)


def plan_text(
    plan: Plan, hall_windows: int | None = None, wall_seconds: float | None = None
) -> str:
    """The plan as a table of hours × services, with totals and the p90 reached per hour."""
    target = plan.target_p90_minutes
    check = plan.check
    missed = set(check.missed(target))
    met = "met in every hour of every service" if plan.met else "NOT met everywhere (below)"
    took = f" in {wall_seconds:.1f} s" if wall_seconds is not None else ""
    lines = [
        f"capacity plan: {plan.scenario} — hall {plan.hall}, {plan.date}",
        f"  target: p90 wait to the first call ≤ {target:g} min for the tickets issued in each "
        f"hour of each service: {met}",
        f"  checked on seeds {_seeds(plan.seeds)}; {len(plan.checks)} rounds{took}; "
        f"plan of round {check.round}; single-service windows, one per service per staffed hour",
    ]
    headers = ["hour", *plan.services, "total", "p90"]
    confirm = plan.confirmation
    if confirm is not None:
        headers.append("p90 new")
    rows: list[list[str]] = []
    for i, hour in enumerate(plan.hours):
        cells = []
        for code in plan.services:
            n = plan.windows[(code, i)]
            cells.append(f"{n}!" if (code, i) in missed else str(n))
        total = sum(plan.windows[(code, i)] for code in plan.services)
        row = [hour.label, *cells, str(total), _minutes(check.hours[i].p90)]
        if confirm is not None:
            row.append(_minutes(confirm.hours[i].p90))
        rows.append(row)
    hours_of = [
        sum(plan.windows[(code, i)] * h.open_minutes for i, h in enumerate(plan.hours)) / 60
        for code in plan.services
    ]
    guess_of = [
        sum(plan.first_guess[(code, i)] * h.open_minutes for i, h in enumerate(plan.hours)) / 60
        for code in plan.services
    ]
    rows.append(["window-hours", *(f"{x:.1f}" for x in hours_of), f"{sum(hours_of):.1f}", ""])
    rows.append(["Erlang C guess", *(f"{x:.1f}" for x in guess_of), f"{sum(guess_of):.1f}", ""])
    if confirm is not None:
        rows[-2].append("")
        rows[-1].append("")
    lines.append("  windows per service and hour (! = p90 over the target):")
    lines += ["    " + line for line in text_table(headers, rows)]
    most = max(
        (sum(plan.windows[(c, i)] for c in plan.services), h.label)
        for i, h in enumerate(plan.hours)
    )
    busiest = f"  at most {most[0]} windows at once ({most[1]})"
    if hall_windows is not None:
        busiest += f"; the hall has {hall_windows}"
    lines.append(busiest)
    lines.append(
        "  p90: all services' tickets issued in the hour, minutes, on the seeds the plan was "
        "checked on" + (f"; p90 new: on seeds {_seeds(confirm.seeds)}" if confirm else "")
    )
    if confirm is not None:
        over = [
            f"{code} {plan.hours[i].label} {_minutes(confirm.cells[(code, i)].p90)}"
            for code, i in confirm.missed(target)
        ]
        share = _share_over(confirm)
        lines.append(
            f"  on the new seeds {share:.1%} of tickets waited longer than {target:g} min; "
            + (
                f"{len(over)} cells over the target: " + ", ".join(over)
                if over
                else "every cell met the target"
            )
        )
    for u in plan.unmet:
        who = u.service or "hall"
        lines.append(f"  not met: {who} {u.hour}: {u.reason}")
    rejected = sum(d["rejected"] for d in check.days)
    if rejected:
        lines.append(f"  the engine refused {rejected} commands unexpectedly (a simulator fault)")
    return "\n".join(lines)


def _share_over(check: Check) -> float:
    tickets = sum(c.tickets for c in check.cells.values())
    return sum(c.over for c in check.cells.values()) / tickets if tickets else 0.0


# ---------------------------------------------------------------- JSON


def _clean(value: Any) -> Any:
    """Round floats; NaN and ∞ as null (a never-called tail shows in `uncalled`)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _by_service(plan: Plan, values: dict[Cell, Any]) -> dict[str, list[Any]]:
    return {code: [values[(code, i)] for i in range(len(plan.hours))] for code in plan.services}


def check_json(plan: Plan, check: Check) -> dict[str, Any]:
    """One round (or the confirmation) as JSON-ready data."""
    target = plan.target_p90_minutes
    return {
        "round": check.round,
        "seeds": check.seeds,
        "plan": _by_service(plan, check.windows),
        "p90_minutes": _by_service(plan, {c: cc.p90 for c, cc in check.cells.items()}),
        "tickets": _by_service(plan, {c: cc.tickets for c, cc in check.cells.items()}),
        "over_target": _by_service(plan, {c: cc.over for c, cc in check.cells.items()}),
        "uncalled": _by_service(plan, {c: cc.uncalled for c, cc in check.cells.items()}),
        "by_hour": [
            {"p90_minutes": h.p90, "tickets": h.tickets, "over_target": h.over} for h in check.hours
        ],
        "missed": [
            {"service": code, "hour": plan.hours[i].label} for code, i in check.missed(target)
        ],
        "changes": [
            {
                "service": ch.service,
                "hour": plan.hours[ch.hour].label,
                "windows": ch.windows,
                "why": ch.why,
            }
            for ch in check.changes
        ],
        "days": check.days,
    }


def plan_json(plan: Plan) -> dict[str, Any]:
    """Everything the JSON output holds: the plan, how it was found, and every check."""
    d = plan.demand
    data = {
        "scenario": plan.scenario,
        "hall": plan.hall,
        "date": plan.date,
        "target_p90_minutes": plan.target_p90_minutes,
        "seeds": list(plan.seeds),
        "method": METHOD,
        "met": plan.met,
        "rounds": len(plan.checks),
        "chosen_round": plan.check.round,
        "hours": [
            {"label": h.label, "hour": h.hour, "open_minutes": h.open_minutes} for h in plan.hours
        ],
        "services": plan.services,
        "plan": _by_service(plan, plan.windows),
        "total": [sum(plan.windows[(c, i)] for c in plan.services) for i in range(len(plan.hours))],
        "window_hours": plan.window_hours(),
        "first_guess": _by_service(plan, plan.first_guess),
        "first_guess_window_hours": plan.window_hours(plan.first_guess),
        "max_windows": _by_service(plan, plan.max_windows),
        "demand": {
            code: [
                {
                    "tickets": cell.tickets,
                    "per_hour": cell.per_hour,
                    "busy_minutes": cell.busy_minutes,
                    "load": cell.load,
                }
                for i in range(len(plan.hours))
                for cell in [d.cells.get((code, i), NO_DEMAND)]
            ]
            for code in plan.services
        },
        "walk_ins_at_door_by_hour": {f"{h:02d}": n for h, n in sorted(d.at_door.items())},
        "walk_ins_turned_away": d.turned_away,
        "result": check_json(plan, plan.check),
        "confirmation": check_json(plan, plan.confirmation) if plan.confirmation else None,
        "checks": [check_json(plan, ch) for ch in plan.checks],
        "unmet": [{"service": u.service, "hour": u.hour, "reason": u.reason} for u in plan.unmet],
    }
    cleaned: dict[str, Any] = _clean(data)
    return cleaned
