"""replay: how long the controller takes at start to rebuild a full day from its event log.

A realistic busy day is simulated through an Engine: 60 windows sign in at 08:40, 20,000
citizens arrive through the day (services in proportion to demand, ~3% 绿色通道), windows call
next, ~8% of calls are recalled, ~2% are no-shows (recalled, then marked; a third of those are
reinstated), ~0.5% are transferred, the rest are started and finished after a service time,
and half the served citizens evaluate. Its records go to an EventLog in a temp directory.
Then `HallWriter.load()` runs on a fresh Engine over a fresh copy of that file (a load writes
a snapshot, so a second load of the same file would replay nothing): best of 3. The file is
in the page cache (it has just been written or copied): a cold start reads it from disk too.
"""

from __future__ import annotations

import gc
import heapq
import random
import shutil
import time
from pathlib import Path
from typing import Any

from bench.common import (
    SERVICE_CODES,
    SERVICE_WEIGHTS,
    WINDOW_COUNT,
    Options,
    SteppingClock,
    at,
    bench_config,
    filesystem_of,
    table,
)
from hallq.controller.bus import EventBus
from hallq.controller.store import EventLog
from hallq.controller.writer import HallWriter
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine
from hallq.hall.events import Record
from hallq.hall.state import snapshot_encoder

SEED = 20260302
MEAN_SERVICE_S = 70.0  # 60 windows over ~8 hours serve 20,000 citizens
APPEND_BATCH = 50  # records per transaction when writing the log (the writer commits in batches)


class _Day:
    """Drives an Engine through one simulated day, keeping every record it produces."""

    def __init__(self, cfg: HallConfig, tickets: int) -> None:
        self.engine = Engine(cfg)
        self.records: list[Record] = []
        self.rng = random.Random(SEED)
        self.n = 0
        self.counts: dict[str, int] = {}
        self.tickets = tickets

    def do(self, cmd: c.Command, now: float) -> dict[str, Any] | None:
        self.n += 1
        out = self.engine.execute(cmd, now)
        self.records.extend(out.records)
        name = c.command_name(cmd)
        if out.error is not None:
            raise RuntimeError(f"{name} rejected at {now}: {out.error}")
        self.counts[name] = self.counts.get(name, 0) + 1
        return out.reply

    def rid(self) -> str:
        return f"r{self.n}"

    def simulate(self) -> None:
        rng = self.rng
        opening, last_issue = at(8, 40), at(16, 30)
        # (time, order, action, argument): arrivals and window steps in time order.
        agenda: list[tuple[float, int, str, Any]] = []
        order = 0

        def plan(when: float, action: str, arg: Any) -> None:
            nonlocal order
            order += 1
            heapq.heappush(agenda, (when, order, action, arg))

        for w in range(1, WINDOW_COUNT + 1):
            self.do(c.SignIn(request_id=self.rid(), window=w, staff=f"s{w:03d}"), opening)
            plan(opening + rng.uniform(0, 60), "call", w)
        arrivals = sorted(rng.uniform(opening, last_issue) for _ in range(self.tickets))
        for t in arrivals:
            plan(t, "arrive", None)
        issued = 0
        while agenda:
            now, _, action, arg = heapq.heappop(agenda)
            if action == "arrive":
                svc = rng.choices(SERVICE_CODES, SERVICE_WEIGHTS)[0]
                cat = "green" if rng.random() < 0.03 else None
                self.do(c.IssueTicket(request_id=self.rid(), service=svc, category=cat), now)
                issued += 1
            elif action == "call":
                reply = self.do(c.CallNext(request_id=self.rid(), window=arg), now)
                if reply is None or "called" not in reply:
                    if issued < self.tickets or self._waiting():
                        plan(now + 20, "call", arg)  # idle: look again shortly
                    continue
                fate = rng.random()
                if fate < 0.02:
                    plan(now + 45, "recall_then_no_show", arg)
                elif fate < 0.10:
                    plan(now + 30, "recall_then_start", arg)
                elif fate < 0.105:
                    plan(now + 60, "transfer", arg)
                else:
                    plan(now + rng.uniform(15, 45), "start", arg)
            elif action == "recall_then_no_show":
                self.do(c.Recall(request_id=self.rid(), window=arg), now)
                plan(now + 60, "no_show", arg)
            elif action == "recall_then_start":
                self.do(c.Recall(request_id=self.rid(), window=arg), now)
                plan(now + rng.uniform(10, 40), "start", arg)
            elif action == "no_show":
                missed = self.engine.window_state(arg).ticket
                self.do(c.MarkNoShow(request_id=self.rid(), window=arg), now)
                if missed is not None and rng.random() < 1 / 3:
                    plan(now + rng.uniform(120, 900), "reinstate", missed)
                plan(now + 5, "call", arg)
            elif action == "reinstate":
                ticket = self.engine.state.tickets[arg]
                if ticket.status == "no_show":
                    self.do(c.ReinstateTicket(request_id=self.rid(), ticket=ticket.display), now)
            elif action == "transfer":
                here = self.engine.state.tickets[self.engine.window_state(arg).ticket or 0].service
                to = rng.choice([s for s in SERVICE_CODES if s != here])
                self.do(c.TransferTicket(request_id=self.rid(), window=arg, service=to), now)
                plan(now + 5, "call", arg)
            elif action == "start":
                self.do(c.StartService(request_id=self.rid(), window=arg), now)
                seconds = max(25.0, rng.expovariate(1 / MEAN_SERVICE_S))
                plan(now + seconds, "finish", arg)
            elif action == "finish":
                self.do(c.FinishService(request_id=self.rid(), window=arg), now)
                if rng.random() < 0.5:
                    level = rng.choices(
                        ["very_satisfied", "satisfied", "basic", "dissatisfied"], [70, 22, 6, 2]
                    )[0]
                    self.do(
                        c.SubmitEvaluation(request_id=self.rid(), window=arg, level=level),
                        now + 3,
                    )
                plan(now + rng.uniform(3, 20), "call", arg)

    def _waiting(self) -> bool:
        return any(self.engine.waiting.values())


def _write_log(records: list[Record], path: Path) -> None:
    log = EventLog(path)
    try:
        for i in range(0, len(records), APPEND_BATCH):
            log.append(records[i : i + APPEND_BATCH])
    finally:
        log.close()


def _load(cfg: HallConfig, source: Path, work: Path) -> dict[str, Any]:
    """Copy the log, then time opening it and HallWriter.load() on a fresh engine."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    shutil.copy2(source, work / source.name)
    # A fresh process starts with a clean heap: collect the engines of earlier loads (an
    # Engine holds its own bound methods, a cycle, so only the cyclic collector frees it).
    gc.collect()
    t0 = time.perf_counter()
    log = EventLog(work / source.name)
    opened = time.perf_counter() - t0
    writer = HallWriter(Engine(cfg), log, EventBus(), SteppingClock(at(18, 0)))
    try:
        t0 = time.perf_counter()
        report = writer.load()
        wall = time.perf_counter() - t0
        tickets = len(writer.engine.state.tickets)
        seq = writer.engine.state.seq
        # A restart after this one: the snapshot just written, nothing to replay.
        again = HallWriter(Engine(cfg), log, EventBus(), SteppingClock(at(18, 0)))
        t0 = time.perf_counter()
        second = again.load()
        restart = time.perf_counter() - t0
        assert second.replayed == 0 and again.engine.state.seq == seq
    finally:
        log.close()
    return {
        "open_seconds": opened,
        "load_seconds": wall,
        "replayed": report.replayed,
        "tickets": tickets,
        "seq": seq,
        "restart_from_snapshot_seconds": restart,
    }


def _breakdown(cfg: HallConfig, path: Path, work: Path) -> dict[str, float]:
    """Where a load's time goes: reading and decoding, the snapshot; and a load with GC off."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    shutil.copy2(path, work / path.name)
    log = EventLog(work / path.name)
    try:
        t0 = time.perf_counter()
        count = sum(1 for _ in log.iter_after(0))
        read = time.perf_counter() - t0
        assert count > 0
        engine = Engine(cfg)
        for r in log.iter_after(0):
            engine.apply_record(r)
        t0 = time.perf_counter()
        log.save_snapshot(engine.state, at(18, 0))
        snap = time.perf_counter() - t0
        blob_size = len(snapshot_encoder.encode(engine.state))
        requests = len(engine.state.requests)
        del engine
    finally:
        log.close()
    # The same load with the cyclic garbage collector off: how much of it is GC passes.
    shutil.rmtree(work)
    work.mkdir()
    shutil.copy2(path, work / path.name)
    log = EventLog(work / path.name)
    writer = HallWriter(Engine(cfg), log, EventBus(), SteppingClock(at(18, 0)))
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        writer.load()
        no_gc = time.perf_counter() - t0
    finally:
        gc.enable()
        log.close()
    return {
        "read_decode_seconds": read,
        "snapshot_write_seconds": snap,
        "snapshot_bytes": blob_size,
        "snapshot_requests": requests,
        "load_gc_off_seconds": no_gc,
    }


def run(opts: Options) -> dict[str, Any]:
    cfg = bench_config()
    tickets = 2_000 if opts.quick else 20_000
    repeats = 3
    with opts.tempdir("replay") as tmp:
        base = Path(tmp)
        where = filesystem_of(base)
        t0 = time.perf_counter()
        day = _Day(cfg, tickets)
        day.simulate()
        simulate_s = time.perf_counter() - t0
        source = base / "day" / "events.sqlite3"
        _write_log(day.records, source)
        size = source.stat().st_size
        tickets_all = day.engine.state.tickets.values()
        summary: dict[str, Any] = {
            "served": sum(1 for t in tickets_all if t.status == "done"),
            "evaluated": sum(1 for t in tickets_all if t.evaluation),
            "no_shows": sum(1 for t in tickets_all if t.status == "no_show"),
            "commands": dict(day.counts),
            "events": len(day.records),
            "seq": day.engine.state.seq,
        }
        # A controller starts with a small heap: drop the simulated day before timing loads,
        # or the garbage collector's passes over it would be counted too.
        del day, tickets_all
        gc.collect()
        loads = [_load(cfg, source, base / f"load{i}") for i in range(repeats)]
        parts = _breakdown(cfg, source, base / "parts")
    best = min(loads, key=lambda x: x["load_seconds"])
    assert best["tickets"] == tickets and best["seq"] == summary["seq"]
    counts: dict[str, int] = summary["commands"]
    apply_s = best["load_seconds"] - parts["read_decode_seconds"] - parts["snapshot_write_seconds"]
    print(
        f"replay: a simulated day of {tickets:,} tickets ({summary['served']:,} served, "
        f"{summary['evaluated']:,} evaluated, {summary['no_shows']:,} no-shows left, "
        f"{counts.get('recall', 0):,} recalls, {counts.get('reinstateTicket', 0):,} reinstated, "
        f"{counts.get('transferTicket', 0):,} transferred); simulated in {simulate_s:.1f} s"
    )
    print(
        f"  log: {summary['events']:,} events, {size / 1e6:.1f} MB, on {where}; "
        f"HallWriter.load() best of {repeats} (each on a fresh copy):"
    )
    print(
        table(
            ["what", "seconds"],
            [
                [
                    f"load(): replay {best['replayed']:,} events + write snapshot",
                    best["load_seconds"],
                ],
                ["  read + decode (EventLog.iter_after alone)", parts["read_decode_seconds"]],
                [
                    f"  snapshot write ({parts['snapshot_bytes'] / 1e6:.1f} MB, save_snapshot alone)",
                    parts["snapshot_write_seconds"],
                ],
                ["  apply (the rest)", apply_s],
                ["load() with the cyclic GC off (diagnostic)", parts["load_gc_off_seconds"]],
                ["opening the log (EventLog())", best["open_seconds"]],
                ["restart after that: snapshot, 0 events", best["restart_from_snapshot_seconds"]],
            ],
        )
    )
    return {
        "tickets": tickets,
        **summary,
        "log_bytes": size,
        "log_mb": size / 1e6,
        "filesystem": where,
        "repeats": repeats,
        "load_seconds_best": best["load_seconds"],
        "load_seconds_runs": [x["load_seconds"] for x in loads],
        "events_replayed": best["replayed"],
        "events_per_second": best["replayed"] / best["load_seconds"],
        "breakdown": {**parts, "apply_seconds_estimate": apply_s},
        "open_seconds": best["open_seconds"],
        "restart_from_snapshot_seconds": best["restart_from_snapshot_seconds"],
        "simulate_seconds": simulate_s,
    }
