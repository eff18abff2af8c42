"""What every benchmark shares: the bench hall, fixed times, statistics, tables, the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hallq.hall.config import HallConfig, parse_config

ZONE = ZoneInfo("Asia/Shanghai")
BENCH_DAY = date(2026, 3, 2)  # a Monday; the bench hall is open every day anyway

# (code, name, prefix, service minutes, share of the day's tickets, single-service windows)
SERVICES: tuple[tuple[str, str, str, float, float, int], ...] = (
    ("police", "公安服务", "A", 8, 0.18, 9),
    ("property", "不动产登记", "B", 15, 0.10, 5),
    ("business", "商事登记", "C", 12, 0.10, 5),
    ("social", "医保社保", "D", 7, 0.20, 10),
    ("fund", "公积金", "E", 10, 0.10, 5),
    ("tax", "税务", "F", 10, 0.12, 6),
    ("civil", "社会事务", "G", 10, 0.08, 4),
    ("consult", "综合咨询", "H", 4, 0.12, 4),
)
COMPOSITE_WINDOWS = 12  # 综合窗口: a primary service, then two others in a second tier
WINDOW_COUNT = sum(s[5] for s in SERVICES) + COMPOSITE_WINDOWS  # 60
SERVICE_CODES = tuple(s[0] for s in SERVICES)
SERVICE_WEIGHTS = tuple(s[4] for s in SERVICES)


def window_tiers() -> dict[int, list[list[str]]]:
    """Window number -> service tiers: 48 single-service windows, then 12 composite ones."""
    tiers: dict[int, list[list[str]]] = {}
    n = 1
    for code, *_rest, count in SERVICES:
        for _ in range(count):
            tiers[n] = [[code]]
            n += 1
    k = len(SERVICE_CODES)
    for i in range(COMPOSITE_WINDOWS):
        first = SERVICE_CODES[i % k]
        others = [SERVICE_CODES[(i + 1) % k], SERVICE_CODES[(i + 3) % k]]
        tiers[n] = [[first], others]
        n += 1
    return tiers


def primary_service(window: int) -> str:
    return window_tiers()[window][0][0]


def bench_hall_toml() -> str:
    """The bench hall: open all day every day, no cutoff, no quotas, 4-digit numbers, no staff list."""
    lines = [
        "# hallq bench hall: 8 services, 60 windows, open 00:00-23:59 every day.",
        "[hall]",
        'id = "bench-hall"',
        'name = "基准测试大厅"',
        'name_en = "Benchmark hall"',
        'timezone = "Asia/Shanghai"',
        "",
        "[hours]",
        'workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]',
        'sessions = ["00:00-23:59"]',
        "issue_cutoff_minutes = 0",
        "",
    ]
    for code, name, prefix, minutes, _share, _count in SERVICES:
        lines += [
            "[[services]]",
            f'code = "{code}"',
            f'name = "{name}"',
            f'prefix = "{prefix}"',
            "number_width = 4",
            f"service_minutes = {minutes}",
            "",
        ]
    for number, tiers in window_tiers().items():
        rendered = ", ".join("[" + ", ".join(f'"{c}"' for c in tier) + "]" for tier in tiers)
        label = "综合窗口" if len(tiers) > 1 else tiers[0][0]
        lines += [
            "[[windows]]",
            f"number = {number}",
            f'label = "{label}"',
            f"tiers = [{rendered}]",
            "",
        ]
    lines += [
        "[[priority]]",
        'code = "green"',
        'name = "绿色通道"',
        "rank = 1",
        "",
        "[queue]",
        "max_priority_in_row = 3",
        "",
        "[no_show]",
        "recalls_before_no_show = 1",
        "grace_minutes = 30",
        "reinstate_places_back = 3",
        "max_reinstatements = 1",
        "",
    ]
    return "\n".join(lines)


def bench_config() -> HallConfig:
    return parse_config(bench_hall_toml(), "<bench hall>")


def at(hour: int, minute: int = 0, day: date = BENCH_DAY) -> float:
    """Seconds since the epoch of a local time in the bench hall's zone."""
    return datetime.combine(day, time(hour, minute), ZONE).timestamp()


class SteppingClock:
    """A clock that advances a fixed step on every reading: deterministic and always open."""

    def __init__(self, start: float, step: float = 0.001) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@dataclass(frozen=True)
class Options:
    quick: bool
    tmp: str | None  # where temporary data directories go (default: the system's)

    def tempdir(self, prefix: str) -> tempfile.TemporaryDirectory[str]:
        return tempfile.TemporaryDirectory(prefix=f"hallq-bench-{prefix}-", dir=self.tmp)


def percentiles(values: Sequence[float]) -> dict[str, float]:
    """mean, p50, p90, p99 and max of `values` (the inclusive method: exact for big samples)."""
    if len(values) == 1:
        v = values[0]
        return {"mean": v, "p50": v, "p90": v, "p99": v, "max": v}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "mean": statistics.fmean(values),
        "p50": q[49],
        "p90": q[89],
        "p99": q[98],
        "max": max(values),
    }


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain text table, numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    out = [
        "  ".join(
            h.ljust(w) if i == 0 else h.rjust(w)
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))
        )
    ]
    out.append("  ".join("-" * w for w in widths))
    for row in cells:
        out.append(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return "\n".join(out)


def _cell(v: Any) -> str:
    if isinstance(v, float):
        if v >= 1000:
            return f"{v:,.0f}"
        if v >= 100:
            return f"{v:.1f}"
        return f"{v:.2f}" if v >= 1 else f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def filesystem_of(path: str | Path) -> str:
    """The file system type and device holding `path`, from /proc/mounts (Linux)."""
    target = Path(path).resolve()
    best = ("", "?", "?")
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            for line in f:
                dev, mnt, fstype, *_ = line.split()
                if (target == Path(mnt) or Path(mnt) in target.parents) and len(mnt) > len(best[0]):
                    best = (mnt, fstype, dev)
    except OSError:
        return "?"
    return f"{best[1]} on {best[2]}"


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "tmp": filesystem_of(tempfile.gettempdir()),
    }
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith(("model name", "Model")):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo", encoding="utf-8") as f:
            kb = int(f.readline().split()[1])
            info["memory_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info
