"""The crash test: SIGKILL a real controller at random moments and check that nothing is lost.

A real `hallq run` process serves a hall open around the clock (so the real time works).
Three window terminals send a stream of issueTicket and callNext requests, each with a new
request id, and every acknowledged reply is recorded. At a random moment the process is
killed with SIGKILL and started again on the same data directory; the requests that were in
flight are sent again with the same request ids. Then: every acknowledged ticket is there
with its number and id, ids and numbers only grow, no number was handed out twice, and every
acknowledged call is recorded. Set HALLQ_CRASH_SEED to replay a run.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Asia/Shanghai")
CYCLES = 25
WINDOWS = (1, 2, 3)
SERVICES = {f"svc{i}": p for i, p in enumerate("ABCDEF")}  # 4-digit numbers: spread them
START_TIMEOUT = 90.0  # a loaded two-core machine can be slow to start Python
TIME_BUDGET = 200.0  # stop adding cycles past this (the test's own timeout is 300 s)

CONFIG = """
[hall]
id = "crash-test"
name = "断电测试大厅"
timezone = "Asia/Shanghai"

[hours]
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
sessions = ["00:00-23:59"]
issue_cutoff_minutes = 0

"""
_TIERS = "[[" + ", ".join(f'"{code}"' for code in SERVICES) + "]]"
CONFIG += "".join(
    f'\n[[services]]\ncode = "{code}"\nname = "事项{prefix}"\nprefix = "{prefix}"\nnumber_width = 4\n'
    for code, prefix in SERVICES.items()
)
CONFIG += "".join(
    f'\n[[windows]]\nnumber = {n}\nlabel = "窗口{n}"\ntiers = {_TIERS}\n' for n in WINDOWS
)


def hall_day(ts: float) -> date:
    return datetime.fromtimestamp(ts, ZONE).date()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Controller:
    """One `hallq run` process at a time on the same data directory."""

    def __init__(self, config: Path, data: Path, logs: Path) -> None:
        self.config = config
        self.data = data
        self.logs = logs
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.starts = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def spawn(self) -> None:
        self.starts += 1
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        log = (self.logs / f"run-{self.starts:02d}.log").open("wb")
        cmd = [sys.executable, "-m", "hallq", "run", "--config", str(self.config)]
        cmd += ["--data-dir", str(self.data), "--host", "127.0.0.1", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        log.close()

    def log_text(self) -> str:
        return (self.logs / f"run-{self.starts:02d}.log").read_text(errors="replace")

    async def start(self) -> None:
        """Spawn and wait for /api/health (on a fresh port if the chosen one was taken)."""
        for _attempt in range(5):
            self.spawn()
            if await self._ready():
                return
            text = self.log_text()
            if "address already in use" not in text.lower():
                raise AssertionError(f"the controller did not start:\n{text[-3000:]}")
        raise AssertionError("no free port for the controller")

    async def _ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + START_TIMEOUT
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as s:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    return False
                try:
                    async with s.get(f"{self.base}/api/health") as r:
                        if r.status == 200:
                            return True
                except (TimeoutError, aiohttp.ClientError, OSError):
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"the controller did not answer in {START_TIMEOUT} s")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=60)


@dataclass
class Request:
    rid: str
    kind: str  # "issue" | "call" | "sign_in"
    path: str
    body: dict[str, Any]
    window: int | None = None


@dataclass
class TicketAck:
    rid: str
    id: int
    number: str
    service: str
    seq: int
    day: date
    repeated: bool


@dataclass
class CallAck:
    rid: str
    ticket: int
    number: str
    window: int
    seq: int
    day: date


@dataclass
class Ledger:
    """What the clients were told, and what they are still waiting to hear."""

    tickets: dict[str, TicketAck] = field(default_factory=dict)
    calls: dict[str, CallAck] = field(default_factory=dict)
    sent: dict[str, Request] = field(default_factory=dict)
    inflight: dict[str, Request] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    unexpected: list[str] = field(default_factory=list)
    resent: int = 0
    resent_committed: int = 0
    kills_with_inflight: int = 0
    n: int = 0

    def new(self, kind: str, window: int | None, service: str | None = None) -> Request:
        self.n += 1
        rid = f"{kind}-{self.n:06d}"
        if kind == "issue":
            req = Request(rid, kind, "/api/tickets", {"request_id": rid, "service": service})
        elif kind == "call":
            req = Request(
                rid, kind, f"/api/windows/{window}/call-next", {"request_id": rid}, window
            )
        else:
            body = {"request_id": rid, "staff": f"s{window}"}
            req = Request(rid, kind, f"/api/windows/{window}/sign-in", body, window)
        self.sent[rid] = req
        return req

    def record(self, req: Request, status: int, data: dict[str, Any]) -> None:
        if status != 200:
            code = data.get("error", {}).get("code", "?")
            # Legitimate refusals: ticketing closes 23:59-24:00; a new day closes the windows.
            if status == 409 and code in ("after_closing", "cutoff", "window_closed"):
                self.rejected[req.rid] = code
            else:
                self.unexpected.append(f"{req.rid} {req.path} -> {status} {data}")
            return
        if req.kind == "issue":
            t = data["ticket"]
            ack = TicketAck(
                req.rid,
                t["id"],
                t["number"],
                t["service"],
                data["seq"],
                hall_day(t["issued_at"]),
                bool(data.get("repeated")),
            )
            old = self.tickets.get(req.rid)
            if old is not None:
                assert (old.id, old.number) == (ack.id, ack.number), (old, ack)
            self.tickets[req.rid] = ack
        elif req.kind == "call" and "called" in data:
            called = data["called"]
            ts = next(e["ts"] for e in data["events"] if e["type"] == "ticket_called")
            assert req.window is not None
            assert called["window"] == req.window, data
            self.calls[req.rid] = CallAck(
                req.rid, called["id"], called["number"], req.window, data["seq"], hall_day(ts)
            )


async def send(s: aiohttp.ClientSession, base: str, req: Request) -> tuple[int, dict[str, Any]]:
    async with s.post(base + req.path, json=req.body) as r:
        data: dict[str, Any] = await r.json()
        return r.status, data


async def sign_in(s: aiohttp.ClientSession, base: str, ledger: Ledger, window: int) -> bool:
    req = ledger.new("sign_in", window)
    try:
        status, data = await send(s, base, req)
    except (TimeoutError, aiohttp.ClientError, OSError):
        return False
    if status != 200:
        ledger.unexpected.append(f"sign-in {window} -> {status} {data}")
    return True


async def terminal(
    s: aiohttp.ClientSession, base: str, ledger: Ledger, window: int, rng: random.Random
) -> None:
    """One window's terminal and its kiosk: issue and call until the controller dies."""
    while True:
        if rng.random() < 0.6:
            req = ledger.new("issue", None, rng.choice(list(SERVICES)))
        else:
            req = ledger.new("call", window)
        ledger.inflight[req.rid] = req
        try:
            status, data = await send(s, base, req)
        except (TimeoutError, aiohttp.ClientError, OSError):
            return  # killed: the request stays in flight
        del ledger.inflight[req.rid]
        ledger.record(req, status, data)
        closed = status == 409 and data["error"]["code"] == "window_closed"
        if closed and not await sign_in(s, base, ledger, window):
            return


async def resend_inflight(s: aiohttp.ClientSession, base: str, ledger: Ledger) -> None:
    """After a restart: each request that got no answer is sent again with its request id.

    Its reply must be consistent with the log: "repeated", with events from before the
    restart, if it had been committed before the kill; otherwise a new result.
    """
    restart_seq = (await get_json(s, f"{base}/api/health"))["seq"]
    for rid in sorted(ledger.inflight):
        req = ledger.inflight[rid]
        status, data = await send(s, base, req)
        ledger.record(req, status, data)
        ledger.resent += 1
        if status == 200 and data.get("repeated"):
            ledger.resent_committed += 1
            assert data["events"], data
            assert all(e["seq"] <= restart_seq for e in data["events"]), (restart_seq, data)
        elif status == 200:
            assert all(e["seq"] > restart_seq for e in data["events"]), (restart_seq, data)
        del ledger.inflight[rid]


async def get_json(s: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with s.get(url) as r:
        assert r.status == 200, (url, r.status, await r.text())
        data: dict[str, Any] = await r.json()
        return data


async def read_log(s: aiohttp.ClientSession, base: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        after = events[-1]["seq"] if events else 0
        page = await get_json(s, f"{base}/api/events?after={after}&limit=5000")
        if not page["events"]:
            return events
        events.extend(page["events"])


async def check_state(s: aiohttp.ClientSession, base: str, ledger: Ledger) -> None:
    """Every acknowledged ticket and call of today is in the hall state, as acknowledged."""
    view = await get_json(s, f"{base}/api/state?tickets=all")
    today = date.fromisoformat(view["day"])
    tickets = view["tickets"]
    by_id = {t["id"]: t for t in tickets}
    assert len(by_id) == len(tickets), "a ticket id appears twice in the state"
    for ack in ledger.tickets.values():
        if ack.day != today:
            continue  # an earlier business day: its tickets have left the state (not the log)
        t = by_id.get(ack.id)
        assert t is not None, f"acknowledged ticket {ack} is missing after a restart"
        assert (t["number"], t["service"]) == (ack.number, ack.service), (t, ack)
    acked_today = {a.id for a in ledger.tickets.values() if a.day == today}
    assert set(by_id) == acked_today, (
        f"tickets no client was told of: {sorted(set(by_id) - acked_today)}"
    )
    for call in ledger.calls.values():
        if call.day != today:
            continue
        t = by_id[call.ticket]
        assert t["window"] == call.window, (t, call)
        assert t["status"] in ("called", "serving", "done"), (t, call)
    # Numbers: unique per service, growing with the ticket ids, and with the issue times.
    ordered = sorted(tickets, key=lambda t: t["id"])
    for svc, prefix in SERVICES.items():
        numbers = [int(t["number"][len(prefix) :]) for t in ordered if t["service"] == svc]
        assert numbers == sorted(set(numbers)), f"{svc}: numbers not strictly increasing"
    issued = [t["issued_at"] for t in ordered]
    assert issued == sorted(issued)


def check_log(events: list[dict[str, Any]], ledger: Ledger, one_day: bool) -> None:
    """The log, the hall's only truth, holds every acknowledgement, in order, once."""
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1)), "gap in the log"
    day: str | None = None
    last_id = 0
    numbers: dict[tuple[str, str], list[int]] = defaultdict(list)
    issued: dict[str, dict[str, Any]] = {}
    issued_by_request: Counter[tuple[str, str]] = Counter()
    called_by_request: Counter[str] = Counter()
    calls: dict[str, dict[str, Any]] = {}
    ticket_calls: Counter[int] = Counter()
    for e in events:
        if e["type"] == "day_started":
            day = e["day"]
        elif e["type"] == "ticket_issued":
            assert day is not None, "a ticket before the first day started"
            assert e["ticket"] > last_id, f"ticket ids went backwards at seq {e['seq']}"
            last_id = e["ticket"]
            numbers[(day, e["service"])].append(e["number"])
            assert e["display"] == f"{SERVICES[e['service']]}{e['number']:04d}"
            rid = e.get("request")
            assert rid in ledger.sent, f"ticket {e} from a request nobody sent"
            issued_by_request[(day, rid)] += 1
            issued[rid] = e
        elif e["type"] == "ticket_called":
            rid = e.get("request")
            assert rid in ledger.sent, f"call {e} from a request nobody sent"
            called_by_request[rid] += 1
            calls[rid] = e
            ticket_calls[e["ticket"]] += 1
    for (d, svc), got in numbers.items():
        assert got == list(range(1, len(got) + 1)), f"{d} {svc}: numbers {got[:50]}..."
    assert max(issued_by_request.values(), default=1) == 1, "a request issued twice in a day"
    assert max(called_by_request.values(), default=1) == 1, "a request called twice"
    assert max(ticket_calls.values(), default=1) == 1, "a ticket was called twice"
    seen_numbers: dict[tuple[date, str], int] = {}
    for ack in ledger.tickets.values():
        ev = issued.get(ack.rid)
        assert ev is not None, f"acknowledged ticket {ack} is not in the log"
        assert (ev["ticket"], ev["display"], ev["service"], ev["seq"]) == (
            ack.id,
            ack.number,
            ack.service,
            ack.seq,
        ), (ev, ack)
        key = (ack.day, ack.number)
        assert seen_numbers.setdefault(key, ack.id) == ack.id, f"{key} handed out twice"
    for call in ledger.calls.values():
        ev = calls.get(call.rid)
        assert ev is not None, f"acknowledged call {call} is not in the log"
        assert (ev["ticket"], ev["window"], ev["seq"]) == (call.ticket, call.window, call.seq)
    for rid in ledger.rejected:
        assert rid not in issued and rid not in calls, f"refused {rid} left events"
    if one_day:
        assert set(issued) == set(ledger.tickets), "the log and the acknowledgements differ"


def check_acks_in_order(ledger: Ledger) -> None:
    """In the order the hall committed them, ids grow, and numbers grow per service and day."""
    acks = sorted(ledger.tickets.values(), key=lambda a: a.seq)
    ids = [a.id for a in acks]
    assert ids == sorted(set(ids)), "acknowledged ticket ids are not strictly increasing"
    per: dict[tuple[date, str], list[str]] = defaultdict(list)
    for a in acks:
        per[(a.day, a.service)].append(a.number)
    for key, got in per.items():
        assert got == sorted(set(got)), f"{key}: acknowledged numbers not strictly increasing"


@pytest.mark.slow
async def test_sigkill_loses_no_acknowledged_ticket(tmp_path: Path) -> None:
    seed = int(os.environ.get("HALLQ_CRASH_SEED", time.time_ns() % 2**32))
    print(f"crash test seed: HALLQ_CRASH_SEED={seed}")
    rng = random.Random(seed)
    config = tmp_path / "hall.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    logs.mkdir()
    ctl = Controller(config, data, logs)
    ledger = Ledger()
    first_day = datetime.now(ZONE).date()
    began = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=60)
    try:
        # Killed while starting for the very first time, before any event is written.
        ctl.spawn()
        deadline = time.monotonic() + START_TIMEOUT
        while not (data / "events.sqlite3").exists() and time.monotonic() < deadline:
            assert ctl.proc is not None and ctl.proc.poll() is None, ctl.log_text()
            await asyncio.sleep(0.002)
        ctl.kill()

        cycles = 0
        while cycles < CYCLES and (cycles < 8 or time.monotonic() - began < TIME_BUDGET):
            cycles += 1
            await ctl.start()
            async with aiohttp.ClientSession(timeout=timeout) as s:
                await resend_inflight(s, ctl.base, ledger)
                await check_state(s, ctl.base, ledger)
                for w in WINDOWS:
                    assert await sign_in(s, ctl.base, ledger, w)
                terminals = [
                    asyncio.create_task(
                        terminal(s, ctl.base, ledger, w, random.Random(rng.random()))
                    )
                    for w in WINDOWS
                ]
                await asyncio.sleep(rng.uniform(0.05, 0.8))
                ctl.kill()
                await asyncio.wait_for(asyncio.gather(*terminals), timeout=120)
            if ledger.inflight:
                ledger.kills_with_inflight += 1

        # The last start: catch up, then read everything back.
        await ctl.start()
        async with aiohttp.ClientSession(timeout=timeout) as s:
            await resend_inflight(s, ctl.base, ledger)
            await check_state(s, ctl.base, ledger)
            events = await read_log(s, ctl.base)
        ctl.kill()
    finally:
        if ctl.proc is not None and ctl.proc.poll() is None:
            ctl.proc.kill()
            ctl.proc.wait()

    one_day = datetime.now(ZONE).date() == first_day
    check_log(events, ledger, one_day)
    check_acks_in_order(ledger)
    assert not ledger.unexpected, ledger.unexpected[:10]
    assert len(ledger.tickets) >= cycles, "too few tickets were issued to test anything"
    assert ledger.calls, "no call was acknowledged"
    for n in range(1, ctl.starts + 1):
        text = (logs / f"run-{n:02d}.log").read_text(errors="replace")
        assert "Traceback" not in text, f"run {n} logged an error:\n{text[-3000:]}"
    print(
        f"{cycles} kills, {len(ledger.tickets)} tickets and {len(ledger.calls)} calls "
        f"acknowledged, {ledger.resent} resent after a kill ({ledger.resent_committed} had "
        f"been committed; {ledger.kills_with_inflight} kills left requests in flight), "
        f"{time.monotonic() - began:.1f} s"
    )
