"""A picture of the simulated day: queue length and waits over the day (PNG, matplotlib Agg).

Top: tickets waiting per service (stacked) and the windows staffed. Bottom: each called
ticket's real wait at the time it was issued, with the mean and p90 by quarter hour and the
mean of the engine's estimates printed on those tickets.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from hallq.simulate.records import DayResult

BUCKET_HOURS = 0.25
CJK_FONTS = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Noto Sans SC", "SimHei")


def _cjk_font() -> list[str]:
    """A font with Chinese glyphs, if the machine has one (fonts-wqy-microhei on Debian)."""
    from matplotlib import font_manager

    for name in CJK_FONTS:
        try:
            font_manager.findfont(name, fallback_to_default=False)
        except ValueError:
            continue
        return [name, "DejaVu Sans"]
    return ["DejaVu Sans"]


def _buckets(
    xs: Sequence[float], ys: Sequence[float]
) -> tuple[list[float], list[float], list[float]]:
    """Centre, mean and p90 of `ys` per bucket of `xs` (hours)."""
    groups: dict[int, list[float]] = {}
    for x, y in zip(xs, ys, strict=True):
        groups.setdefault(int(x // BUCKET_HOURS), []).append(y)
    centres, means, p90s = [], [], []
    for k in sorted(groups):
        values = sorted(groups[k])
        centres.append((k + 0.5) * BUCKET_HOURS)
        means.append(statistics.fmean(values))
        p90s.append(values[min(len(values) - 1, int(0.9 * len(values)))])
    return centres, means, p90s


def _hour_label(hours: float, _pos: object = None) -> str:
    h = int(hours)
    return f"{h:02d}:{round((hours - h) * 60):02d}"


def plot_day(result: DayResult, path: str | Path) -> None:
    """Draw the day as a PNG at `path`."""
    import matplotlib

    matplotlib.use("Agg")
    zone = ZoneInfo(result.timezone)
    base = datetime.combine(date.fromisoformat(result.date), time(0), zone).timestamp()

    def hours(ts: float) -> float:
        return (ts - base) / 3600.0

    with matplotlib.rc_context({"font.sans-serif": _cjk_font()}):
        _draw(result, hours, path)


def _draw(result: DayResult, hours: Callable[[float], float], path: str | Path) -> None:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MultipleLocator

    fig = Figure(figsize=(11, 7.5), dpi=110, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[1, 1.2])

    xs = [hours(s.at) for s in result.samples]
    series = [[s.waiting.get(code, 0) for s in result.samples] for code in result.services]
    shown = [(code, ys) for code, ys in zip(result.services, series, strict=True) if any(ys)]
    if shown:
        top.stackplot(xs, *[ys for _, ys in shown], labels=[code for code, _ in shown], alpha=0.85)
    top.set_ylabel("tickets waiting")
    top.legend(loc="upper left", fontsize=8, ncols=min(4, max(1, len(shown))))
    staffed = top.twinx()
    staffed.step(xs, [s.staffed for s in result.samples], where="post", color="black", lw=1.2)
    staffed.set_ylabel("windows staffed")
    # Head room above both, for the legend.
    totals = [sum(s.waiting.values()) for s in result.samples]
    top.set_ylim(0, max(totals, default=0) * 1.35 + 1)
    staffed.set_ylim(0, max((s.staffed for s in result.samples), default=0) * 1.35 + 1)
    top.set_title(f"{result.scenario} — {result.date}, seed {result.seed}")

    called = [t for t in result.tickets if t.wait_minutes is not None]
    issued = [hours(t.issued_at) for t in called]
    waits = [t.wait_minutes or 0.0 for t in called]
    bottom.scatter(issued, waits, s=3, alpha=0.25, color="tab:blue", label="a ticket's real wait")
    centres, means, p90s = _buckets(issued, waits)
    bottom.plot(centres, means, color="tab:blue", lw=2, label="mean wait (¼ h)")
    bottom.plot(centres, p90s, color="tab:red", lw=1.5, label="p90 wait (¼ h)")
    estimated = [t for t in called if t.estimate_minutes is not None]
    if estimated:
        e_centres, e_means, _ = _buckets(
            [hours(t.issued_at) for t in estimated], [t.estimate_minutes or 0.0 for t in estimated]
        )
        bottom.plot(
            e_centres,
            e_means,
            color="tab:green",
            lw=1.5,
            ls="--",
            label="mean estimate on the ticket",
        )
    bottom.set_ylabel("wait to the first call (minutes)")
    bottom.set_xlabel("time of issue")
    bottom.set_ylim(bottom=0)
    bottom.legend(loc="upper left", fontsize=8)
    bottom.xaxis.set_major_formatter(FuncFormatter(_hour_label))
    span = (max(xs) - min(xs)) if xs else 0.0
    bottom.xaxis.set_major_locator(MultipleLocator(2.0 if span > 12 else 1.0))
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    fig.savefig(str(path))
