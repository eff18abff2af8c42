"""engine: commands/s of the pure in-memory Engine on a realistic mix, and the cost of a backlog.

The mix, round after round over the 60 windows: every window's citizen takes a ticket for
that window's service, every window calls next, starts, finishes, and half the citizens
evaluate (issue : call : start : finish : evaluate = 1 : 1 : 1 : 1 : 0.5). A backlog of
waiting tickets is issued first and stays the same size, since each round issues as many as
it calls. Time advances a fixed step per command. Commands are built before timing.
"""

from __future__ import annotations

import time
from typing import Any

from bench.common import (
    SERVICE_CODES,
    WINDOW_COUNT,
    Options,
    at,
    bench_config,
    percentiles,
    primary_service,
    table,
)
from hallq.controller.views import hall_view
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine

STEP = 0.05  # seconds of hall time per command
GREEN_EVERY = 33  # about 3% of tickets are 绿色通道


def _sign_in_all(engine: Engine, now: float) -> float:
    for w in range(1, WINDOW_COUNT + 1):
        out = engine.execute(c.SignIn(request_id=f"in-{w}", window=w, staff=f"s{w:03d}"), now)
        assert out.error is None, out.error
        now += STEP
    return now


def _issue_backlog(engine: Engine, count: int, now: float) -> float:
    for i in range(count):
        svc = SERVICE_CODES[i % len(SERVICE_CODES)]
        out = engine.execute(c.IssueTicket(request_id=f"bk-{i}", service=svc), now)
        assert out.error is None, out.error
        now += STEP
    return now


def _mix(rounds: int, start: float) -> list[tuple[c.Command, float]]:
    cmds: list[tuple[c.Command, float]] = []
    now = start
    windows = range(1, WINDOW_COUNT + 1)
    n = 0

    def add(cmd: c.Command) -> None:
        nonlocal now
        cmds.append((cmd, now))
        now += STEP

    for r in range(rounds):
        for w in windows:
            n += 1
            cat = "green" if n % GREEN_EVERY == 0 else None
            add(c.IssueTicket(request_id=f"i-{r}-{w}", service=primary_service(w), category=cat))
        for w in windows:
            add(c.CallNext(request_id=f"c-{r}-{w}", window=w))
        for w in windows:
            add(c.StartService(request_id=f"s-{r}-{w}", window=w))
        for w in windows:
            add(c.FinishService(request_id=f"f-{r}-{w}", window=w))
        for w in windows:
            if (r + w) % 2 == 0:
                add(c.SubmitEvaluation(request_id=f"e-{r}-{w}", window=w, level="very_satisfied"))
    return cmds


def _run_mix(cfg: HallConfig, rounds: int, backlog: int) -> dict[str, Any]:
    engine = Engine(cfg)
    now = _sign_in_all(engine, at(8, 0))
    now = _issue_backlog(engine, backlog, now)
    cmds = _mix(rounds, now)
    per_type: dict[str, list[float]] = {}
    rejected = 0
    events = 0
    clock = time.perf_counter
    started = clock()
    for cmd, ts in cmds:
        t0 = clock()
        out = engine.execute(cmd, ts)
        dt = clock() - t0
        per_type.setdefault(c.command_name(cmd), []).append(dt)
        events += len(out.records)
        if out.error is not None:
            rejected += 1
    wall = time.perf_counter() - started
    waiting = sum(len(q) for q in engine.waiting.values())
    return {
        "commands": len(cmds),
        "events": events,
        "rejected": rejected,
        "seconds": wall,
        "per_type": per_type,
        "waiting_after": waiting,
    }


def _backlog_costs(cfg: HallConfig, backlog: int, samples: int) -> dict[str, float]:
    """µs of one issue and one call-next (keypad style: finishes the current ticket) at a backlog."""
    engine = Engine(cfg)
    now = _sign_in_all(engine, at(8, 0))
    now = _issue_backlog(engine, backlog, now)
    issue: list[float] = []
    call: list[float] = []
    clock = time.perf_counter
    for i in range(samples):
        w = i % WINDOW_COUNT + 1
        cmd_i = c.IssueTicket(request_id=f"bi-{i}", service=primary_service(w))
        t0 = clock()
        out = engine.execute(cmd_i, now)
        issue.append(clock() - t0)
        assert out.error is None, out.error
        now += STEP
        cmd_c = c.CallNext(request_id=f"bc-{i}", window=w)
        t0 = clock()
        out = engine.execute(cmd_c, now)
        call.append(clock() - t0)
        assert out.error is None, out.error
        now += STEP
    return {
        "backlog": backlog,
        "issue_us_p50": percentiles(issue)["p50"] * 1e6,
        "call_next_us_p50": percentiles(call)["p50"] * 1e6,
        "call_next_us_p99": percentiles(call)["p99"] * 1e6,
    }


def _estimate_costs(cfg: HallConfig, backlog: int, rounds: int) -> dict[str, float]:
    """µs of the wait estimates as the hall asks for them: one service's outlook (every issue
    does one), the hall view without the tickets (screens, after every few events) and with
    every waiting ticket's forecast, at 60 windows with `backlog` waiting. Best of 5 rounds,
    in CPU time (the machine's other work does not count)."""
    engine = Engine(cfg)
    now = _sign_in_all(engine, at(8, 0))
    now = _issue_backlog(engine, backlog, now)
    for cmd, ts in _mix(3, now):  # windows busy, the pace learned
        engine.execute(cmd, ts)
        now = ts
    codes = [s.code for s in cfg.services]

    def best(work: Any, count: int) -> float:
        times = []
        for _ in range(5):
            t0 = time.process_time()
            for i in range(count):
                work(now + i * STEP)
            times.append((time.process_time() - t0) / count)
        return min(times) * 1e6

    return {
        "backlog": backlog,
        "outlook_us": best(lambda t: engine.outlook(codes[int(t) % len(codes)], t), rounds * 8),
        "hall_view_figures_us": best(lambda t: hall_view(engine, t, tickets_shown=False), rounds),
        "hall_view_us": best(lambda t: hall_view(engine, t), max(1, rounds // 10)),
    }


def run(opts: Options) -> dict[str, Any]:
    cfg = bench_config()
    rounds = 40 if opts.quick else 600
    repeats = 1 if opts.quick else 3
    backlog = 240  # 30 waiting per service: a busy hall
    runs = [_run_mix(cfg, rounds, backlog) for _ in range(repeats)]
    best = min(runs, key=lambda r: r["seconds"])
    rates = [r["commands"] / r["seconds"] for r in runs]
    per_cmd_us = best["seconds"] / best["commands"] * 1e6
    assert best["rejected"] == 0, f"{best['rejected']} commands rejected"

    rows: list[list[Any]] = []
    types: dict[str, dict[str, float]] = {}
    for name, samples in best["per_type"].items():
        p = percentiles(samples)
        types[name] = {"count": len(samples), "p50_us": p["p50"] * 1e6, "p99_us": p["p99"] * 1e6}
        rows.append([name, len(samples), p["p50"] * 1e6, p["p99"] * 1e6, p["mean"] * 1e6])
    print(
        f"engine: {best['commands']:,} commands ({rounds} rounds over {WINDOW_COUNT} windows, "
        f"backlog {backlog} waiting), best of {repeats}"
    )
    print(
        f"  {max(rates):,.0f} commands/s (median of runs {sorted(rates)[len(rates) // 2]:,.0f}), "
        f"{per_cmd_us:.1f} µs per command, {best['events'] / best['commands']:.2f} events per command"
    )
    print(table(["command", "count", "p50 µs", "p99 µs", "mean µs"], rows))

    sizes = [0, 100, 1000] if opts.quick else [0, 100, 1000, 5000, 20000]
    samples = 300 if opts.quick else 2000
    costs = [_backlog_costs(cfg, b, samples) for b in sizes]
    print("  cost against the number of tickets waiting (spread over the 8 services):")
    print(
        table(
            ["waiting", "issue p50 µs", "call-next p50 µs", "call-next p99 µs"],
            [
                [x["backlog"], x["issue_us_p50"], x["call_next_us_p50"], x["call_next_us_p99"]]
                for x in costs
            ],
        )
    )
    estimates = _estimate_costs(cfg, backlog, 20 if opts.quick else 100)
    print(f"  wait estimates at {WINDOW_COUNT} windows, {backlog} waiting (CPU time, best of 5):")
    print(
        table(
            ["one service's outlook µs", "hall view, figures µs", "hall view, every ticket µs"],
            [
                [
                    estimates["outlook_us"],
                    estimates["hall_view_figures_us"],
                    estimates["hall_view_us"],
                ]
            ],
        )
    )
    return {
        "estimates": estimates,
        "commands": best["commands"],
        "rounds": rounds,
        "windows": WINDOW_COUNT,
        "backlog": backlog,
        "repeats": repeats,
        "commands_per_second": max(rates),
        "commands_per_second_runs": rates,
        "us_per_command": per_cmd_us,
        "events_per_command": best["events"] / best["commands"],
        "per_command": types,
        "backlog_costs": costs,
    }
