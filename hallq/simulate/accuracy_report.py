"""The wait-estimate part of `hallq simulate`'s output, and its form over several days (--days).

One day's accuracy is noisy (a day's waits rise and fall together), so `--days N` plays N
days, seeds --seed to --seed + N − 1, and reports the accuracy of all their tickets pooled,
with standard errors over the days (docs/ESTIMATES.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from hallq.hall.config import HallConfig
from hallq.simulate.accuracy import ESTIMATORS, accuracy_over_days
from hallq.simulate.day import simulate_days
from hallq.simulate.metrics import DIGITS, metrics, to_json
from hallq.simulate.output import text_table
from hallq.simulate.scenario import Scenario


def _json_ready(value: Any) -> Any:
    """Floats rounded, NaN as null (as the day's figures are)."""
    if isinstance(value, float):
        return None if value != value else round(value, DIGITS)
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def accuracy_lines(acc: dict[str, Any], p90: bool) -> list[str]:
    """The accuracy table (and with `p90`, the P90's calibration) as summary lines."""
    if not acc.get("tickets"):
        return ["  wait estimates: no ticket was called that every estimator had one for"]
    lines = [
        f"  wait estimates over {acc['tickets']:,} called tickets ({acc['delayed']:,} delayed: "
        "no able window idle when issued):"
    ]
    spread = "days" in acc
    rows = []
    for name in ESTIMATORS:
        e = acc[name]
        rows.append(
            [
                name,
                _figure(e["rrmse"], e.get("rrmse_se") if spread else None),
                _figure(e["rrmse_delayed"], e.get("rrmse_delayed_se") if spread else None),
                _figure(e["mae_minutes"], None, 1),
            ]
        )
    lines += ["    " + row for row in text_table(["", "RRMSE", "delayed", "MAE min"], rows)]
    if p90:
        q = acc["p90"]
        if q["tickets"]:
            lines.append(
                f"  P90 estimate: mean {_figure(q['mean_minutes'], None, 1)} min; the wait "
                f"exceeded it for {_share(q['exceeded'], q.get('exceeded_se'))} of "
                f"{q['tickets']:,} tickets ({_share(q['exceeded_delayed'], q.get('exceeded_delayed_se'))}"
                f" of the delayed); aim {q['target']:.0%} ± 2%"
            )
        else:
            lines.append("  P90 estimate: none given")
    return lines


def _figure(value: float | None, se: float | None, digits: int = 3) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    text = f"{value:.{digits}f}"
    if se is not None and se == se:
        text += f" ± {se:.{digits}f}"
    return text


def _share(value: float | None, se: float | None) -> str:
    if value is None or value != value:
        return "-"
    if se is not None and se == se:
        return f"{value:.1%} ± {se:.1%}"
    return f"{value:.1%}"


def run_days(
    cfg: HallConfig,
    scenario: Scenario,
    all_seeds: list[int],
    learn_days: int,
    json_out: Path | None,
    p90: bool,
) -> int:
    """`hallq simulate --days N [--learn-days K]`: K days to learn, then N days one after
    another (each learning from those before); the pooled accuracy of the N printed and (with
    --json) each day's figures and the pooled accuracy written."""
    wall = time.perf_counter()
    seeds = all_seeds[learn_days:]
    days = len(seeds)
    per_day: list[dict[str, Any]] = []
    measured = []
    tickets = 0
    for result in simulate_days(cfg, scenario, all_seeds, learn_days):
        measured.append(result.measured)
        tickets += len(result.tickets)
        if json_out is not None:
            per_day.append(metrics(result))
    pooled = _json_ready(accuracy_over_days(measured))
    wall = time.perf_counter() - wall
    to_stdout = json_out is not None and str(json_out) == "-"
    if json_out is not None:
        text = to_json(
            {
                "scenario": scenario.name,
                "hall": cfg.hall.id,
                "date": scenario.date,
                "seeds": seeds,
                "learn_days": learn_days,
                "accuracy": pooled,
                "days": per_day,
            }
        )
        if to_stdout:
            sys.stdout.write(text)
        else:
            json_out.write_text(text, encoding="utf-8")
    out = sys.stderr if to_stdout else sys.stdout
    lines = [
        f"{scenario.name} — hall {cfg.hall.id}, {scenario.date}, seeds {seeds[0]}-{seeds[-1]}",
        f"  {days} days played in {wall:.1f} s: {tickets:,} tickets issued"
        + (f" (after {learn_days} day{'s' * (learn_days > 1)} to learn)" if learn_days else ""),
        *accuracy_lines(pooled, p90),
        "  (all the days' tickets pooled; ± one standard error over the days)",
    ]
    if json_out is not None and not to_stdout:
        lines.append(f"  wrote {json_out}")
    print("\n".join(lines), file=out)
    return 0
