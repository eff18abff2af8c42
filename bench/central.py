"""central: events/s ingested by the central server, and hall-to-central lag while online.

Ingest: a real central server (`python -m hallq central run`, one or more processes sharing
the port) on SQLite and on PostgreSQL. 100 halls send at once, each its own token, each its
day's log in batches of 1,000 events (gzip JSON, as the uplink sends them), the next batch
as soon as the last is acknowledged. The halls' logs are real: the bench hall's engine run
on the engine bench's mix (issue, call, start, finish, evaluate) — one log, sent by every
hall (each hall's data is its own at the central server). The bodies are made before the
clock starts, so the client costs little; client, server and PostgreSQL share the CPUs.
Acknowledged means stored: the events, the tickets, evaluations, cases, and the hall's live
figures are committed before the reply.

Lag: a real controller with its uplink on, 60 windows pressing call-next after random
pauses (mean 1 s); lag = when the central server stored an event (`received_at`) minus when
the controller logged it (`ts`), both by this machine's clock. Then the central server is
stopped while the hall makes more events, and started again: how long the backlog takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.callnext import REPO, Controller
from bench.common import (
    WINDOW_COUNT,
    Options,
    at,
    bench_config,
    bench_hall_toml,
    percentiles,
    primary_service,
    table,
)
from bench.engine import _issue_backlog, _mix, _sign_in_all
from hallq.hall.engine import Engine
from hallq.hall.events import Record
from hallq.hall.reconfigure import config_digest
from hallq.hall.shipping import Batch, batch_encoder

POSTGRES = os.environ.get("HALLQ_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BATCH = 1000


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def hall_log(events: int) -> list[Record]:
    """A bench hall's log of about `events` events, from the real engine."""
    records: list[Record] = []
    engine = _Recording(Engine(bench_config()), records)
    now = _sign_in_all(engine, at(8, 0))  # type: ignore[arg-type]
    now = _issue_backlog(engine, 200, now)  # type: ignore[arg-type]
    rounds = max(1, (events - len(records)) // (WINDOW_COUNT * 4) + 1)
    for cmd, ts in _mix(rounds, now):
        engine.execute(cmd, ts)
    return records[:events]


class _Recording:
    """An engine that keeps the records its commands make."""

    def __init__(self, engine: Engine, out: list[Record]) -> None:
        self.engine = engine
        self.out = out

    def execute(self, cmd: Any, now: float) -> Any:
        result = self.engine.execute(cmd, now)
        self.out.extend(result.records)
        return result


def batch_bodies(records: list[Record], size: int, digest: str) -> list[bytes]:
    bodies = []
    for i in range(0, len(records), size):
        chunk = records[i : i + size]
        raw = batch_encoder.encode(Batch(first=chunk[0].seq, records=chunk, config_digest=digest))
        bodies.append(gzip.compress(raw, compresslevel=6))
    return bodies


class Central:
    """`python -m hallq central run` in `processes` child processes sharing one port."""

    def __init__(self, tmp: Path, db_url: str, processes: int = 1, port: int | None = None):
        self.tmp = tmp
        self.db_url = db_url
        self.processes = processes
        self.port = port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for i in range(self.processes):
            log = open(self.tmp / f"central-{self.port}-{i}.log", "ab")  # noqa: SIM115
            self.procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "hallq",
                        "central",
                        "run",
                        "--db",
                        self.db_url,
                        "--port",
                        str(self.port),
                    ],
                    cwd=REPO,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    async def wait_ready(self, session: aiohttp.ClientSession, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                raise RuntimeError(f"the central server exited: {self.log_tail()}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{self.base}/api/public/halls") as r:
                    if r.status == 200:
                        await asyncio.sleep(0.3 * (self.processes - 1))  # the others too
                        return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the central server did not start in {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []

    def cpu_seconds(self) -> float:
        total = 0.0
        for p in self.procs:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def log_tail(self, lines: int = 20) -> str:
        out = []
        for f in sorted(self.tmp.glob(f"central-{self.port}-*.log")):
            out += f.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out)


async def _register(db_url: str, halls: int) -> list[str]:
    """Make the halls and a token each, straight in the database; the tokens."""
    from hallq.central.db import connect
    from hallq.central.halls import create_hall, issue_token
    from hallq.central.schema import migrate

    db = await connect(db_url)
    try:
        await migrate(db)
        tokens = []
        for h in range(halls):
            hall_id = f"bench-{h:03d}"
            await create_hall(db, hall_id, f"基准大厅 {h}", f"Bench hall {h}", time.time())
            token, _ = await issue_token(db, hall_id, "bench", "bench", time.time())
            tokens.append(token)
        return tokens
    finally:
        await db.close()


async def _drop_schema(schema: str) -> None:
    from hallq.central.db import PostgresDatabase, connect

    db = await connect(f"{POSTGRES}?schema={schema}")
    assert isinstance(db, PostgresDatabase)
    await db.drop_schema(schema)
    await db.close()


async def _postgres_reachable() -> str | None:
    try:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES, timeout=5)
        await conn.close()
    except Exception as e:
        return str(e)
    return None


async def _ingest(
    tmp: Path, db_url: str, halls: int, bodies: list[bytes], events_per_hall: int, processes: int
) -> dict[str, Any]:
    tokens = await _register(db_url, halls)
    central = Central(tmp, db_url, processes)
    central.start()
    try:
        timeout = aiohttp.ClientTimeout(total=300)
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
            await central.wait_ready(session)
            text = bench_hall_toml()
            digest = config_digest(bench_config())
            for token in tokens:
                async with session.put(
                    f"{central.base}/api/uplink/config",
                    json={"text": text, "digest": digest},
                    headers={"Authorization": f"Bearer {token}"},
                ) as r:
                    if r.status != 200:
                        raise RuntimeError(f"config upload: {r.status} {await r.text()}")
            latencies: list[float] = []

            async def hall(token: str) -> None:
                headers = {
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                }
                for body in bodies:
                    t0 = time.perf_counter()
                    async with session.post(
                        f"{central.base}/api/uplink/batch", data=body, headers=headers
                    ) as r:
                        reply = await r.read()
                    if r.status != 200:
                        raise RuntimeError(f"batch: {r.status} {reply[:300]!r}")
                    latencies.append(time.perf_counter() - t0)

            cpu0 = central.cpu_seconds()
            started = time.perf_counter()
            await asyncio.gather(*(hall(t) for t in tokens))
            wall = time.perf_counter() - started
            cpu = central.cpu_seconds() - cpu0
    finally:
        central.stop()
    total = halls * events_per_hall
    return {
        "halls": halls,
        "events": total,
        "batch": BATCH,
        "processes": processes,
        "seconds": wall,
        "events_per_second": total / wall,
        "server_cpu_share": cpu / wall,
        "batch_ms": {k: v * 1e3 for k, v in percentiles(latencies).items()},
    }


async def _lag(tmp: Path, db_url: str, seconds: float, backlog_events: int) -> dict[str, Any]:
    tokens = await _register(db_url, 1)
    central = Central(tmp, db_url, 1)
    central.start()
    data = tmp / "hall"
    (data / "data").mkdir(parents=True)
    (data / "data" / "uplink.token").write_text(tokens[0] + "\n")
    ctl = Controller(data, bench_hall_toml() + f'\n[uplink]\nurl = "{central.base}"\n')
    ctl.start()
    try:
        async with aiohttp.ClientSession() as session:
            await central.wait_ready(session)
            await ctl.wait_ready(session)
            base = ctl.base
            for w in range(1, WINDOW_COUNT + 1):
                await _post(session, f"{base}/api/windows/{w}/sign-in", {"staff": f"s{w:03d}"})
            presses = max(2, int(seconds))
            wanted = [primary_service(w) for w in range(1, WINDOW_COUNT + 1)] * (presses + 2)
            await asyncio.gather(*(_issue_all(session, base, wanted[i::20]) for i in range(20)))
            started = time.time()
            await asyncio.gather(
                *(_press(session, base, w, presses, 1.0) for w in range(1, WINDOW_COUNT + 1))
            )
            online_until = time.time()
            last = await _last_seq(session, base)
            await _caught_up(db_url, last, 60)
            lags = await _lags(db_url, started, online_until)

            # The link goes down; the hall goes on; the link comes back.
            central.stop()
            made = 0
            while made < backlog_events:
                reply = await _post(
                    session,
                    f"{base}/api/tickets",
                    {"service": primary_service(made % WINDOW_COUNT + 1)},
                )
                made += len(reply["events"])
            last = await _last_seq(session, base)
            central.start()
            back = time.perf_counter()
            await central.wait_ready(session)
            await _caught_up(db_url, last, 300)
            drain = time.perf_counter() - back
            status = await _get(session, f"{base}/api/uplink")
    finally:
        ctl.stop()
        central.stop()
    return {
        "online_seconds": online_until - started,
        "events": len(lags),
        "lag_ms": {k: v * 1e3 for k, v in percentiles(lags).items()},
        "backlog_events": made,
        "backlog_seconds": drain,
        "uplink_after": status,
    }


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    body = {"request_id": str(uuid.uuid4()), **body}
    async with session.post(url, json=body) as r:
        data: dict[str, Any] = await r.json()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {data}")
        return data


async def _get(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as r:
        data: dict[str, Any] = await r.json()
        return data


async def _issue_all(session: aiohttp.ClientSession, base: str, services: list[str]) -> None:
    for service in services:
        await _post(session, f"{base}/api/tickets", {"service": service})


async def _press(
    session: aiohttp.ClientSession, base: str, window: int, presses: int, pace: float
) -> None:
    import random

    rng = random.Random(window)
    for _ in range(presses):
        await asyncio.sleep(rng.expovariate(1 / pace))
        await _post(session, f"{base}/api/windows/{window}/call-next", {})


async def _last_seq(session: aiohttp.ClientSession, base: str) -> int:
    state = await _get(session, f"{base}/api/state?tickets=none")
    return int(state["seq"])


async def _caught_up(db_url: str, seq: int, timeout: float) -> None:
    from hallq.central.db import connect

    db = await connect(db_url)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            acked = await db.fetchval("SELECT acked_seq FROM halls WHERE hall_id = 'bench-000'")
            if acked is not None and int(acked) >= seq:
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the central server did not get to seq {seq} in {timeout} s")
    finally:
        await db.close()


async def _lags(db_url: str, since: float, until: float) -> list[float]:
    from hallq.central.db import connect

    db = await connect(db_url)
    try:
        rows = await db.fetch(
            "SELECT received_at - ts FROM events WHERE hall_id = 'bench-000'"
            " AND ts >= $1 AND ts <= $2",
            since,
            until,
        )
    finally:
        await db.close()
    return [float(r[0]) for r in rows]


async def _bench(tmp: Path, quick: bool) -> dict[str, Any]:
    halls = 10 if quick else 100
    records = hall_log(2_000 if quick else 5_000)
    bodies = batch_bodies(records, BATCH, config_digest(bench_config()))
    results: dict[str, Any] = {"ingest": [], "lag": []}
    problem = await _postgres_reachable()
    run_id = uuid.uuid4().hex[:8]
    # (database, its URL for a run named `tag`, the PostgreSQL schema to drop after, processes)
    backends: list[tuple[str, Any, list[int]]] = [
        ("SQLite", lambda tag: (f"sqlite:///{tmp / f'central-{tag}.sqlite3'}", None), [1])
    ]
    if problem is None:
        backends.append(
            (
                "PostgreSQL",
                lambda tag: (f"{POSTGRES}?schema=bench_{run_id}_{tag}", f"bench_{run_id}_{tag}"),
                [1, 2],
            )
        )
    else:
        results["postgres_skipped"] = problem
    for name, url_for, process_counts in backends:
        for processes in process_counts:
            url, schema = url_for(f"ingest{processes}")
            try:
                r = await _ingest(tmp, url, halls, bodies, len(records), processes)
            finally:
                if schema is not None:
                    await _drop_schema(schema)
            r["database"] = name
            results["ingest"].append(r)
    seconds = 5.0 if quick else 20.0
    backlog = 2_000 if quick else 10_000
    for name, url_for, _counts in backends:
        url, schema = url_for("lag")
        lag_dir = tmp / f"lag-{name}"
        lag_dir.mkdir()
        try:
            r = await _lag(lag_dir, url, seconds, backlog)
        finally:
            if schema is not None:
                await _drop_schema(schema)
        r["database"] = name
        results["lag"].append(r)
    return results


def run(opts: Options) -> dict[str, Any]:
    with opts.tempdir("central") as tmp:
        res = asyncio.run(_bench(Path(tmp), opts.quick))
    rows = [
        [
            f"{r['database']}, {r['processes']} server process{'es' if r['processes'] > 1 else ''}",
            r["halls"],
            r["events"],
            r["events_per_second"],
            r["batch_ms"]["p50"],
            r["batch_ms"]["p99"],
            r["server_cpu_share"],
        ]
        for r in res["ingest"]
    ]
    print(
        f"central ingest: halls sending at once, batches of {BATCH} events (gzip JSON), "
        "each acknowledged only once stored with its projections"
    )
    print(
        table(
            [
                "database",
                "halls",
                "events",
                "events/s",
                "batch p50 ms",
                "batch p99 ms",
                "server CPUs",
            ],
            rows,
        )
    )
    if "postgres_skipped" in res:
        print(f"  PostgreSQL not measured: {res['postgres_skipped']}")
    lag_rows = [
        [
            r["database"],
            r["events"],
            r["lag_ms"]["p50"],
            r["lag_ms"]["p99"],
            r["lag_ms"]["max"],
            r["backlog_events"],
            r["backlog_seconds"],
        ]
        for r in res["lag"]
    ]
    print(
        f"\nhall-to-central lag, {WINDOW_COUNT} windows calling (mean pause 1 s); then the "
        "central server stopped while the hall goes on, and started again"
    )
    print(
        table(
            ["database", "events", "lag p50 ms", "lag p99 ms", "max ms", "backlog", "drained in s"],
            lag_rows,
        )
    )
    return res
