"""A picture of the capacity plan (PNG, matplotlib Agg): windows per service by hour, stacked,
with the p90 wait the plan reached in each hour against the target.

The bars stand on a time axis, as wide as the hall is open in the hour (08:40-09:00 is a
third of an hour), so lunch shows as a gap.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hallq.simulate.plan import Check, Plan
from hallq.simulate.plot import _cjk_font

P90_COLOUR = "black"
NEW_SEEDS_COLOUR = "tab:purple"
TARGET_COLOUR = "tab:red"


def plot_plan(plan: Plan, path: str | Path) -> None:
    """Draw the plan as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    with matplotlib.rc_context({"font.sans-serif": _cjk_font()}):
        _draw(plan, path)


def _p90_points(plan: Plan, check: Check) -> tuple[list[float], list[float], list[float]]:
    """Hour centres and p90s (NaN between sessions, to break the line), and the centres of
    hours whose p90 is 'never called'."""
    xs: list[float] = []
    ys: list[float] = []
    never: list[float] = []
    previous_end: int | None = None
    for i, h in enumerate(plan.hours):
        a, b = h.spans[0][0], h.spans[-1][1]
        if previous_end is not None and a > previous_end:  # closed in between: a gap
            xs.append((a + previous_end) / 120.0)
            ys.append(math.nan)
        previous_end = b
        centre = (a + b) / 120.0
        value = check.hours[i].p90
        if value is None:
            continue
        if math.isinf(value):
            never.append(centre)
        else:
            xs.append(centre)
            ys.append(value)
    return xs, ys, never


def _draw(plan: Plan, path: str | Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    from hallq.simulate.plot import _hour_label

    fig = Figure(figsize=(11, 7.5), dpi=110, layout="constrained")
    ax, waits = fig.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    target = plan.target_p90_minutes
    _bars(plan, ax)
    ax.set_ylabel("windows staffed, by service")
    ax.grid(axis="y", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], labels[::-1], loc="upper left", fontsize=8, ncols=2)
    status = "met everywhere" if plan.met else "NOT met everywhere: ! marks the misses"
    ax.set_title(
        f"{plan.scenario} — {plan.date}\nwindows for a p90 wait ≤ {target:g} min in every hour "
        f"of every service ({status}); {plan.window_hours():.0f} window-hours"
    )

    xs, ys, never = _p90_points(plan, plan.check)
    finite = [y for y in ys if not math.isnan(y)]
    waits.plot(
        xs,
        ys,
        color=P90_COLOUR,
        marker="o",
        lw=1.8,
        label=f"seeds {_seed_text(plan.check)} (checked)",
    )
    if plan.confirmation is not None:
        cx, cy, cnever = _p90_points(plan, plan.confirmation)
        finite += [y for y in cy if not math.isnan(y)]
        waits.plot(
            cx,
            cy,
            color=NEW_SEEDS_COLOUR,
            marker="s",
            lw=1.2,
            ls="--",
            label=f"seeds {_seed_text(plan.confirmation)} (new)",
        )
        never += cnever
    waits.axhline(target, color=TARGET_COLOUR, ls=":", lw=1.5, label=f"target {target:g} min")
    ceiling = max([target, *finite]) * 1.6  # head room for the legend
    for x in sorted(set(never)):
        waits.annotate(
            "never called", (x, ceiling * 0.66), ha="center", color=TARGET_COLOUR, fontsize=8
        )
    waits.set_ylim(0, ceiling)
    waits.set_ylabel("p90 wait (min)\nall tickets issued in the hour")
    waits.set_xlabel("hour of the day")
    waits.legend(loc="upper left", fontsize=8, ncols=3)
    waits.grid(alpha=0.3)
    waits.xaxis.set_major_formatter(FuncFormatter(_hour_label))
    first = plan.hours[0].spans[0][0] / 60.0
    last = plan.hours[-1].spans[-1][1] / 60.0
    waits.set_xlim(math.floor(first) - 0.25, math.ceil(last) + 0.25)
    waits.xaxis.set_major_locator(MultipleLocator(2.0 if last - first > 12 else 1.0))
    fig.savefig(str(path))


def _bars(plan: Plan, ax: Any) -> None:
    """Windows per service stacked on a time axis, the total above, ! where the p90 missed."""
    colours = _colours(len(plan.services))
    missed = set(plan.check.missed(plan.target_p90_minutes))
    labelled: set[str] = set()
    top = 0
    for i, hour in enumerate(plan.hours):
        for a, b in hour.spans:
            bottom = 0
            for k, code in enumerate(plan.services):
                n = plan.windows[(code, i)]
                if not n:
                    continue
                ax.bar(
                    a / 60.0,
                    n,
                    width=(b - a) / 60.0,
                    bottom=bottom,
                    align="edge",
                    color=colours[k],
                    edgecolor="white",
                    linewidth=0.6,
                    label=None if code in labelled else code,
                )
                labelled.add(code)
                if (code, i) in missed:
                    ax.text(
                        (a + b) / 120.0,
                        bottom + n / 2,
                        "!",
                        ha="center",
                        va="center",
                        color="white",
                        fontsize=12,
                    )
                bottom += n
            ax.text((a + b) / 120.0, bottom, str(bottom), ha="center", va="bottom", fontsize=9)
            top = max(top, bottom)
    ax.set_ylim(0, top * 1.45 + 1)


def _seed_text(check: Check) -> str:
    seeds = check.seeds
    return f"{seeds[0]}-{seeds[-1]}" if len(seeds) > 1 else str(seeds[0])


def _colours(n: int) -> list[Any]:
    from matplotlib import colormaps

    cmap = colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(k % cmap.N) for k in range(n)]
