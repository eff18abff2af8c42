"""callnext: call-next latency through the HTTP API, as the windows' terminals see it.

A real controller runs in its own process (`python -m hallq run`, the bench hall, a fresh
data directory, the real clock), so client and server do not share an event loop. Tickets
are issued first, the windows sign in, then: one window calling alone, and 60 windows each
pressing call-next again as soon as the previous answer arrives (every press also finishes
the ticket before it, as a keypad's 下一位 does). Each request has a new request id; its
latency is measured in the client, from sending to the whole answer read. Client and server
share the machine's CPUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import (
    SERVICE_CODES,
    WINDOW_COUNT,
    Options,
    bench_hall_toml,
    filesystem_of,
    percentiles,
    primary_service,
    table,
)
from bench.rawhttp import Connection

REPO = Path(__file__).resolve().parents[1]
WARMUP_ROUNDS = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Controller:
    """`python -m hallq run` in a child process, stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, tmp: Path, config_text: str | None = None) -> None:
        self.tmp = tmp
        self.config_text = config_text if config_text is not None else bench_hall_toml()
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = tmp / "controller.log"

    def start(self) -> None:
        config = self.tmp / "bench-hall.toml"
        config.write_text(self.config_text, encoding="utf-8")
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "hallq",
                    "run",
                    "--config",
                    str(config),
                    "--data-dir",
                    str(self.tmp / "data"),
                    "--port",
                    str(self.port),
                ],
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"the controller exited: {self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{self.base}/api/health") as r:
                    if r.status == 200:
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the controller did not start in {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def cpu_seconds(self) -> float:
        """The controller's CPU time so far (user + system), from /proc (Linux); 0 elsewhere."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as r:
        data: dict[str, Any] = await r.json()
        if r.status != 200:
            raise RuntimeError(f"POST {url} -> {r.status}: {data}")
        return data


async def _issue(
    session: aiohttp.ClientSession, base: str, services: list[str], tasks: int
) -> None:
    """Issue one ticket per entry of `services`, from `tasks` kiosks at once."""
    run = uuid.uuid4().hex[:8]
    queue = list(enumerate(services))

    async def kiosk() -> None:
        while queue:
            i, svc = queue.pop()
            await _post(
                session, f"{base}/api/tickets", {"request_id": f"k-{run}-{i}", "service": svc}
            )

    await asyncio.gather(*(kiosk() for _ in range(tasks)))


async def _window(
    session: aiohttp.ClientSession,
    base: str,
    window: int,
    rounds: int,
    latencies: list[float],
    empty: list[int],
    tag: str,
    pace: float | None = None,
) -> None:
    """Press call-next `rounds` times: at once when answered, or after a random pause."""
    url = f"{base}/api/windows/{window}/call-next"
    clock = time.perf_counter
    rng = random.Random(window)
    for r in range(rounds):
        if pace is not None:
            await asyncio.sleep(rng.expovariate(1 / pace))
        body = {"request_id": f"cn-{tag}-{window}-{r}"}
        t0 = clock()
        async with session.post(url, json=body) as resp:
            raw = await resp.read()
        dt = clock() - t0
        if resp.status != 200:
            raise RuntimeError(f"call-next at window {window} -> {resp.status}: {raw[:300]!r}")
        latencies.append(dt)
        if b'"called"' not in raw:
            empty.append(window)


async def _calling(
    ctl: Controller,
    session: aiohttp.ClientSession,
    windows: int,
    rounds: int,
    scenario: str,
    top_up: int | None = None,
    pace: float | None = None,
) -> dict[str, Any]:
    """`windows` windows calling `rounds` times each, closed loop (or with pauses: `pace`).

    With `top_up`, the run goes in segments of that many rounds, and before each (untimed)
    just enough tickets are issued for it, so that few tickets wait.
    """
    base = ctl.base
    tag = uuid.uuid4().hex[:8]
    if top_up is None and pace is None:
        warm: list[float] = []
        await asyncio.gather(
            *(
                _window(session, base, w, WARMUP_ROUNDS, warm, [], f"w{tag}")
                for w in range(1, windows + 1)
            )
        )
    waiting = await _waiting(session, base)
    before = await _health(session, base)
    latencies: list[float] = []
    empty: list[int] = []
    wall = cpu = 0.0
    segments = [rounds] if top_up is None else [top_up] * (rounds // top_up)
    for i, seg in enumerate(segments):
        if top_up is not None:
            wanted = [primary_service(w) for w in range(1, windows + 1)] * seg
            await _issue(session, base, wanted, tasks=windows)
            if i == 0:
                waiting = await _waiting(session, base)
                before = await _health(session, base)
        started, cpu0 = time.perf_counter(), ctl.cpu_seconds()
        await asyncio.gather(
            *(
                _window(session, base, w, seg, latencies, empty, f"{tag}-{i}", pace)
                for w in range(1, windows + 1)
            )
        )
        wall += time.perf_counter() - started
        cpu += ctl.cpu_seconds() - cpu0
    after = await _health(session, base)
    batches = after["batches"] - before["batches"]
    commands = after["commands"] - before["commands"]
    p = {k: v * 1e3 for k, v in percentiles(latencies).items()}
    return {
        "scenario": scenario,
        "windows": windows,
        "waiting_at_start": waiting,
        "requests": len(latencies),
        "empty_calls": len(empty),
        "seconds": wall,
        "calls_per_second": len(latencies) / wall,
        "server_cpu_us_per_call": cpu / len(latencies) * 1e6,
        # With top-ups the writer's counters include the issues between segments.
        "mean_batch": commands / batches if batches and top_up is None else None,
        "pace_seconds": pace,
        "latency_ms": p,
    }


async def _light(
    ctl: Controller,
    session: aiohttp.ClientSession,
    scenario: str,
    rounds: int,
    burst_gap: float | None,
) -> dict[str, Any]:
    """60 windows through the light client: bursts (all press at the same instant, every
    `burst_gap` seconds) or, with `burst_gap` None, each pressing again as soon as answered."""
    base = ctl.base
    windows = range(1, WINDOW_COUNT + 1)
    await _issue(session, base, [primary_service(w) for w in windows] * (rounds + 1), WINDOW_COUNT)
    waiting = await _waiting(session, base)
    conns = [await Connection.open("127.0.0.1", ctl.port) for _ in windows]
    tag = uuid.uuid4().hex[:8]
    latencies: list[float] = []
    clock = time.perf_counter

    async def press(conn: Connection, window: int, r: int) -> None:
        body = f'{{"request_id": "raw-{tag}-{window}-{r}"}}'.encode()
        t0 = clock()
        status, raw = await conn.post(f"/api/windows/{window}/call-next", body)
        latencies.append(clock() - t0)
        if status != 200:
            raise RuntimeError(f"call-next at window {window} -> {status}: {raw[:300]!r}")

    async def back_to_back(conn: Connection, window: int) -> None:
        for r in range(rounds):
            await press(conn, window, r)

    try:
        before = await _health(session, base)
        started, cpu0 = clock(), ctl.cpu_seconds()
        if burst_gap is None:
            await asyncio.gather(*(back_to_back(c, w) for w, c in zip(windows, conns, strict=True)))
        else:
            for r in range(rounds):
                await asyncio.gather(*(press(c, w, r) for w, c in zip(windows, conns, strict=True)))
                await asyncio.sleep(burst_gap)
        wall, cpu = clock() - started, ctl.cpu_seconds() - cpu0
        after = await _health(session, base)
    finally:
        for c in conns:
            c.close()
    batches = after["batches"] - before["batches"]
    return {
        "scenario": scenario,
        "windows": WINDOW_COUNT,
        "waiting_at_start": waiting,
        "requests": len(latencies),
        "empty_calls": 0,
        "seconds": wall,
        "calls_per_second": len(latencies) / wall,
        "server_cpu_us_per_call": cpu / len(latencies) * 1e6,
        "mean_batch": (after["commands"] - before["commands"]) / batches if batches else None,
        "pace_seconds": burst_gap,
        "latency_ms": {k: v * 1e3 for k, v in percentiles(latencies).items()},
    }


async def _health(session: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with session.get(f"{base}/api/health") as r:
        data: dict[str, Any] = await r.json()
        return data


async def _waiting(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(f"{base}/api/state") as r:
        state = await r.json()
    return sum(s["waiting"] for s in state["services"])


async def _bench(
    tmp: Path,
    rounds: int,
    rounds_single: int,
    top_up: int,
    paced_rounds: int,
    pace: float,
    light_rounds: int,
) -> dict[str, Any]:
    ctl = Controller(tmp)
    ctl.start()
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            await ctl.wait_ready(session)
            base = ctl.base
            for w in range(1, WINDOW_COUNT + 1):
                await _post(
                    session,
                    f"{base}/api/windows/{w}/sign-in",
                    {"request_id": f"in-{w}", "staff": f"s{w:03d}"},
                )
            # Enough for every call, each window's own service, plus some for the composite tiers.
            wanted: list[str] = []
            per_window = rounds + WARMUP_ROUNDS
            for r in range(per_window):
                wanted += [primary_service(w) for w in range(1, WINDOW_COUNT + 1)]
                if r % 10 == 0:
                    wanted += list(SERVICE_CODES)
            wanted += [primary_service(1)] * (rounds_single + WARMUP_ROUNDS)
            t0 = time.perf_counter()
            await _issue(session, base, wanted, tasks=WINDOW_COUNT)
            issue_s = time.perf_counter() - t0
            single = await _calling(ctl, session, 1, rounds_single, "1 window")
            many = await _calling(ctl, session, WINDOW_COUNT, rounds, f"{WINDOW_COUNT} windows")
            small = await _calling(
                ctl,
                session,
                WINDOW_COUNT,
                rounds,
                f"{WINDOW_COUNT} windows, topped up",
                top_up=top_up,
            )
            paced = await _calling(
                ctl,
                session,
                WINDOW_COUNT,
                paced_rounds,
                f"{WINDOW_COUNT} windows, paced",
                top_up=paced_rounds,
                pace=pace,
            )
            bursts = await _light(
                ctl, session, f"{WINDOW_COUNT} at once, bursts (light client)", light_rounds, 0.1
            )
            light = await _light(
                ctl, session, f"{WINDOW_COUNT} back to back (light client)", light_rounds, None
            )
            waiting_end = await _waiting(session, base)
    finally:
        ctl.stop()
    return {
        "tickets_issued": len(wanted),
        "issue_seconds": issue_s,
        "issue_per_second": len(wanted) / issue_s,
        "waiting_at_end": waiting_end,
        "runs": [single, many, small, paced, bursts, light],
    }


def run(opts: Options) -> dict[str, Any]:
    rounds = 8 if opts.quick else 60
    rounds_single = 100 if opts.quick else 1000
    top_up = 4 if opts.quick else 10
    paced_rounds, pace = (4, 0.25) if opts.quick else (20, 1.0)
    with opts.tempdir("callnext") as tmp:
        where = filesystem_of(tmp)
        light_rounds = 10 if opts.quick else 100
        res = asyncio.run(
            _bench(Path(tmp), rounds, rounds_single, top_up, paced_rounds, pace, light_rounds)
        )
    res["filesystem"] = where
    rows = []
    for r in res["runs"]:
        p = r["latency_ms"]
        rows.append(
            [
                r["scenario"],
                r["waiting_at_start"],
                r["requests"],
                p["p50"],
                p["p90"],
                p["p99"],
                p["max"],
                r["calls_per_second"],
                r["server_cpu_us_per_call"],
                "-" if r["mean_batch"] is None else r["mean_batch"],
            ]
        )
    print(
        f"callnext: controller process on 127.0.0.1, data dir on {where}; "
        f"{res['tickets_issued']:,} tickets issued first ({res['issue_per_second']:,.0f}/s from "
        f"{WINDOW_COUNT} kiosk tasks); each window presses call-next again as soon as answered"
    )
    print(
        table(
            [
                "run",
                "waiting",
                "requests",
                "p50 ms",
                "p90 ms",
                "p99 ms",
                "max ms",
                "calls/s",
                "server µs/call",
                "mean batch",
            ],
            rows,
        )
    )
    print(
        f"  waiting: tickets waiting when the timed run starts. Topped up: the run goes in "
        f"segments of {top_up} rounds, and before each (untimed) one ticket per window and "
        "round is issued, so fewer wait; all 60 windows start each segment at once. "
        f"Paced: each window pauses a random time (mean {pace} s) before each press: "
        f"about {WINDOW_COUNT / pace:.0f} calls/s in all. Light client: a bare HTTP/1.1 "
        "client (bench/rawhttp.py) that costs far less CPU than aiohttp's, so the latency is "
        "the server's; bursts: all 60 windows press at the same instant, every 0.1 s."
    )
    empty = sum(r["empty_calls"] for r in res["runs"])
    if empty:
        print(f"  note: {empty} calls found nobody waiting for that window")
    return res
