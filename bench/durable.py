"""durable: commands/s through the real HallWriter and SQLite event log, without HTTP.

Each submitter is a window's terminal running the day's cycle on its own window: a citizen
takes a ticket for the window's service, the window calls next, starts, finishes, and every
second citizen evaluates. Every command is acknowledged only after its events are committed
(WAL, synchronous=FULL), so the figure is what the disk's syncs allow; with more submitters
the writer commits more commands per transaction (group commit). Nothing reads the bus.
A fresh data directory for each run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from bench.common import (
    Options,
    SteppingClock,
    at,
    bench_config,
    filesystem_of,
    percentiles,
    primary_service,
    table,
)
from hallq.controller.bus import EventBus
from hallq.controller.store import EventLog
from hallq.controller.writer import HallWriter
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine


async def _submitter(writer: HallWriter, window: int, cycles: int, latencies: list[float]) -> None:
    clock = time.perf_counter
    for r in range(cycles):
        cmds: list[c.Command] = [
            c.IssueTicket(request_id=f"i-{window}-{r}", service=primary_service(window)),
            c.CallNext(request_id=f"c-{window}-{r}", window=window),
            c.StartService(request_id=f"s-{window}-{r}", window=window),
            c.FinishService(request_id=f"f-{window}-{r}", window=window),
        ]
        if (r + window) % 2 == 0:
            cmds.append(
                c.SubmitEvaluation(request_id=f"e-{window}-{r}", window=window, level="satisfied")
            )
        for cmd in cmds:
            t0 = clock()
            await writer.submit(cmd)
            latencies.append(clock() - t0)


async def _one_run(cfg: HallConfig, data: Path, submitters: int, commands: int) -> dict[str, Any]:
    log = EventLog(data / "events.sqlite3")
    writer = HallWriter(Engine(cfg), log, EventBus(), SteppingClock(at(8, 0)))
    writer.load()
    await writer.start()
    try:
        for w in range(1, submitters + 1):
            await writer.submit(c.SignIn(request_id=f"in-{w}", window=w, staff=f"s{w:03d}"))
        cycles = max(1, round(commands / (4.5 * submitters)))
        base_cmds, base_batches = writer.commands, writer.batches
        latencies: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(
            *(_submitter(writer, w, cycles, latencies) for w in range(1, submitters + 1))
        )
        wall = time.perf_counter() - started
        done = writer.commands - base_cmds
        batches = writer.batches - base_batches
        events = writer.engine.state.seq
    finally:
        await writer.stop()
        log.close()
    lat = percentiles(latencies)
    return {
        "submitters": submitters,
        "commands": done,
        "seconds": wall,
        "commands_per_second": done / wall,
        "batches": batches,
        "mean_batch": done / batches,
        "commits_per_second": batches / wall,
        "events_total": events,
        "latency_ms": {k: v * 1e3 for k, v in lat.items()},
    }


def run(opts: Options) -> dict[str, Any]:
    cfg = bench_config()
    levels = [1, 8, 60]
    commands = 600 if opts.quick else 12_000
    runs = []
    where = ""
    for n in levels:
        with opts.tempdir("durable") as tmp:
            where = filesystem_of(tmp)
            runs.append(asyncio.run(_one_run(cfg, Path(tmp), n, commands)))
    print(f"durable: ~{commands:,} commands per run through HallWriter.submit; data dir on {where}")
    print(
        table(
            ["submitters", "commands", "commands/s", "commits/s", "mean batch", "p50 ms", "p99 ms"],
            [
                [
                    r["submitters"],
                    r["commands"],
                    r["commands_per_second"],
                    r["commits_per_second"],
                    r["mean_batch"],
                    r["latency_ms"]["p50"],
                    r["latency_ms"]["p99"],
                ]
                for r in runs
            ],
        )
    )
    return {"filesystem": where, "runs": runs}
