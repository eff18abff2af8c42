"""Run the benchmarks: `python -m bench [name ...] [--quick] [--json OUT] [--tmp DIR]`.

These are measurements, not tests: pytest never collects them (its testpaths is tests/).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from bench.common import Options, machine

BENCHMARKS: dict[str, str] = {
    "engine": "engine commands/s, in memory",
    "durable": "controller durable commands/s: writer + SQLite (WAL, synchronous=FULL), no HTTP",
    "callnext": "call-next latency through the HTTP API, 60 windows calling at once (and 1)",
    "replay": "start-up replay of a 20,000-ticket day's event log",
    "devices": "from a call accepted to the LED frame written, 60 windows",
    "web": "from a call to its feed message at 200 clients, and to the number on a browser screen",
    "kiosk": "a kiosk process: start to the hall shown, and idle CPU on the home screen",
    "central": "central server: events/s from 100 halls (SQLite, PostgreSQL), hall-to-central lag",
    "simulate": "simulated days/s (city Monday, 20,000 tickets); wait-estimate accuracy per scenario",
}


BUSY_CPUS = 0.3  # CPUs kept busy by other processes above which the figures are noisy


def _busy_cpus(interval: float = 1.0) -> float | None:
    """How many CPUs other processes keep busy, from /proc/stat while this one sleeps (Linux)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            ticks = [int(x) for x in f.readline().split()[1:]]
        idle = ticks[3] + ticks[4]  # idle + iowait
        return sum(ticks[:8]) - idle, sum(ticks[:8])

    try:
        busy0, total0 = sample()
        time.sleep(interval)
        busy1, total1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    if total1 == total0:
        return 0.0
    return (busy1 - busy0) / (total1 - total0) * (os.cpu_count() or 1)


def main(argv: Sequence[str] | None = None) -> int:
    # The clients use the same event loop as the controller: uvloop where installed.
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default all): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test in < 30 s")
    parser.add_argument("--json", metavar="OUT", help="also write the figures to this JSON file")
    parser.add_argument(
        "--tmp", metavar="DIR", help="where the temporary data directories go (e.g. on the SD card)"
    )
    args = parser.parse_args(argv)
    names = args.names or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    opts = Options(quick=args.quick, tmp=args.tmp)
    info = machine()
    print(
        f"hallq bench{' (quick)' if opts.quick else ''}: {info.get('cpu', '?')}, {info['cpus']} CPUs, "
        f"Python {info['python']}, SQLite {info['sqlite']}"
    )
    results: dict[str, Any] = {"machine": info, "quick": opts.quick, "results": {}}
    for name in names:
        print(f"\n== {name}: {BENCHMARKS[name]}")
        busy = _busy_cpus()
        if busy is not None and busy > BUSY_CPUS:
            print(
                f"   warning: other processes keep {busy:.1f} of {info['cpus']} CPUs busy: "
                "the figures will be noisy"
            )
        module = importlib.import_module(f"bench.{name}")
        started = time.perf_counter()
        result = module.run(opts)
        result["other_busy_cpus_before"] = busy
        results["results"][name] = result
        print(f"   ({time.perf_counter() - started:.1f} s)")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=2, ensure_ascii=False)
            f.write("\n")
        print(f"\nfigures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
