"""web: how fast a call reaches the hall's screens.

Two measurements against a real controller process (`python -m hallq run`, the bench hall
with one hall screen configured, the real clock):

* feed fan-out: 200 WebSocket clients on `/api/feed` while the 60 windows call at a hall's
  pace (each window presses call-next after a random pause, mean 1 s). For every call, the
  time from sending call-next to its `ticket_called` message at each of the 200 clients.
* browser: Debian's Chromium (Playwright) shows `/screen/hall`; a MutationObserver in the
  page notes when each called number appears in `#current-number`. The time from sending
  call-next to the number in the DOM, with the 60 windows calling meanwhile.

Both clocks are the machine's wall clock (Python's time.time(), the page's
performance.timeOrigin + performance.now()), so the figures include everything between: the
HTTP request, the commit, the feed and the page's script. Client and server share the 2 CPUs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp

from bench.callnext import Controller
from bench.common import WINDOW_COUNT, Options, bench_hall_toml, percentiles, primary_service, table

CHROMIUM = "/usr/bin/chromium"
SCREEN_TOML = """
[[screens]]
id = "hall"
name = "大厅主屏"
layout = "hall"
on_hours = ["00:00-23:59"]
"""


async def _post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
    async with session.post(url, json=body) as r:
        data: dict[str, Any] = await r.json()
        if r.status != 200:
            raise RuntimeError(f"{url}: {r.status} {data}")
        return data


async def _prepare(session: aiohttp.ClientSession, base: str, calls_per_window: int) -> None:
    for w in range(1, WINDOW_COUNT + 1):
        await _post(
            session,
            f"{base}/api/windows/{w}/sign-in",
            {"request_id": f"in-{w}", "staff": f"s{w:03d}"},
        )
    wanted = [primary_service(w) for w in range(1, WINDOW_COUNT + 1)] * (calls_per_window + 2)

    async def issue(chunk: list[str]) -> None:
        for service in chunk:
            await _post(
                session,
                f"{base}/api/tickets",
                {"request_id": str(uuid.uuid4()), "service": service},
            )

    await asyncio.gather(*(issue(wanted[i::20]) for i in range(20)))


class Calls:
    """Windows pressing call-next at a hall's pace; when each press was sent, by ticket number."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.sent: dict[str, float] = {}  # number -> time.time() when its call-next was sent
        self.replied: dict[str, float] = {}
        self.accepted: dict[str, float] = {}

    async def window(self, w: int, presses: int, pace: float) -> None:
        for _ in range(presses):
            await asyncio.sleep(random.expovariate(1 / pace))
            t0 = time.time()
            reply = await _post(
                self.session,
                f"{self.base}/api/windows/{w}/call-next",
                {"request_id": str(uuid.uuid4())},
            )
            t1 = time.time()
            called = reply.get("called")
            if called:
                self.sent[called["number"]] = t0
                self.replied[called["number"]] = t1
                # Accepted: the controller's own time for the call (its clock is the real one).
                self.accepted[called["number"]] = next(
                    e["ts"] for e in reply["events"] if e["type"] == "ticket_called"
                )

    async def run(self, presses: int, pace: float) -> None:
        await asyncio.gather(*(self.window(w, presses, pace) for w in range(1, WINDOW_COUNT + 1)))


CLIENT_PROCESSES = 4  # the feed's clients are separate devices: they receive in parallel


async def _feed_client(
    base: str, ready: asyncio.Event, got: list[tuple[float, str]], stop: asyncio.Event
) -> None:
    url = base.replace("http://", "ws://") + "/api/feed"
    async with aiohttp.ClientSession() as s, s.ws_connect(url, max_msg_size=0) as ws:
        await ws.receive()  # the snapshot
        ready.set()
        while not stop.is_set():
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            got.append((time.time(), msg.data))  # parsed after the run: receiving stays cheap


async def _client_group(base: str, count: int, ready: Any, stop: Any, out: Any) -> None:
    halt = asyncio.Event()
    inboxes: list[list[tuple[float, str]]] = [[] for _ in range(count)]
    readies = [asyncio.Event() for _ in range(count)]
    tasks = [
        asyncio.create_task(_feed_client(base, readies[i], inboxes[i], halt)) for i in range(count)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    cpu0 = time.process_time()
    ready.put(count)
    while not stop.is_set():
        await asyncio.sleep(0.05)
    cpu = time.process_time() - cpu0
    halt.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    arrivals: list[list[tuple[str, float]]] = []
    for inbox in inboxes:
        mine = []
        for arrived, raw in inbox:
            ev = json.loads(raw).get("event") or {}
            if ev.get("type") == "ticket_called":
                mine.append((ev["display"], arrived))
        arrivals.append(mine)
    out.put((arrivals, cpu))


def _client_process(base: str, count: int, ready: Any, stop: Any, out: Any) -> None:
    with contextlib.suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    asyncio.run(_client_group(base, count, ready, stop, out))


async def _fanout(ctl: Controller, clients: int, presses: int, pace: float) -> dict[str, Any]:
    mp = multiprocessing.get_context("spawn")
    ready, out, stop = mp.Queue(), mp.Queue(), mp.Event()
    share = [
        clients // CLIENT_PROCESSES + (i < clients % CLIENT_PROCESSES)
        for i in range(CLIENT_PROCESSES)
    ]
    procs = [
        mp.Process(target=_client_process, args=(ctl.base, n, ready, stop, out)) for n in share
    ]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            await asyncio.to_thread(ready.get, True, 120)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            calls = Calls(session, ctl.base)
            server0, client0, wall0 = ctl.cpu_seconds(), time.process_time(), time.perf_counter()
            await calls.run(presses, pace)
            await asyncio.sleep(1.0)
            wall = time.perf_counter() - wall0
            server_cpu = (ctl.cpu_seconds() - server0) / wall
            caller_cpu = (time.process_time() - client0) / wall
        stop.set()
        results = [await asyncio.to_thread(out.get, True, 120) for _ in procs]
    finally:
        stop.set()
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    from_send: list[float] = []
    from_reply: list[float] = []
    missing = 0
    clients_cpu = 0.0
    for arrivals, cpu in results:
        clients_cpu += cpu / wall
        for inbox in arrivals:
            seen: set[str] = set()
            for display, arrived in inbox:
                if display in calls.sent:
                    seen.add(display)
                    from_send.append((arrived - calls.sent[display]) * 1000)
                    from_reply.append((arrived - calls.accepted[display]) * 1000)
            missing += len(set(calls.sent) - seen)
    return {
        "clients": clients,
        "client_processes": CLIENT_PROCESSES,
        "calls": len(calls.sent),
        "messages_measured": len(from_send),
        "missing": missing,
        "from_send_ms": percentiles(from_send),
        "from_accepted_ms": percentiles(from_reply),
        "controller_cpu_share": round(server_cpu, 2),
        "client_cpu_share": round(clients_cpu + caller_cpu, 2),
    }


OBSERVER_JS = """
() => {
  window.__seen = {};
  const note = () => {
    const el = document.getElementById('current-number');
    if (!el) return;
    const text = el.textContent.trim();
    if (text && !(text in window.__seen)) window.__seen[text] = performance.timeOrigin + performance.now();
  };
  new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  note();
}
"""


async def _browser(ctl: Controller, presses: int, pace: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(f"{ctl.base}/screen/hall")
        await page.wait_for_selector("#current-number", state="attached", timeout=30_000)
        await page.evaluate(OBSERVER_JS)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            calls = Calls(session, ctl.base)
            await calls.run(presses, pace)
        await asyncio.sleep(1.0)
        seen: dict[str, float] = await page.evaluate("window.__seen")
        await browser.close()
    from_send = [seen[n] - calls.sent[n] * 1000 for n in calls.sent if n in seen]
    from_reply = [seen[n] - calls.accepted[n] * 1000 for n in calls.sent if n in seen]
    return {
        "calls": len(calls.sent),
        "shown": len(from_send),
        "from_send_ms": percentiles(from_send),
        "from_accepted_ms": percentiles(from_reply),
    }


BUSY_PACE = 6.0  # a busy hall, still far busier than a real one: 10 calls/s in all


async def _bench(tmp: Path, clients: int, presses: int, pace: float) -> dict[str, Any]:
    ctl = Controller(tmp, bench_hall_toml() + SCREEN_TOML)
    busy_presses = max(2, presses // 5)
    ctl.start()
    try:
        async with aiohttp.ClientSession() as session:
            await ctl.wait_ready(session)
            await _prepare(session, ctl.base, 2 * presses + busy_presses + 2)
        fanout = await _fanout(ctl, clients, presses, pace)
        print(f"  feed: p99 {fanout['from_send_ms']['p99']} ms at {clients} clients", flush=True)
        browsers = []
        if Path(CHROMIUM).exists():
            for n, p in ((presses, pace), (busy_presses, BUSY_PACE)):
                result = await _browser(ctl, n, p)
                result["pace"] = p
                browsers.append(result)
    finally:
        ctl.stop()
    return {"fanout": fanout, "browser": browsers}


def run(opts: Options) -> dict[str, Any]:
    clients = 50 if opts.quick else 200
    presses = 3 if opts.quick else 20
    pace = 1.0
    with opts.tempdir("web") as tmp:
        res = asyncio.run(_bench(Path(tmp), clients, presses, pace))
    f = res["fanout"]
    rows = [
        [
            f"feed, {f['clients']} WebSocket clients, mean pause {pace:g} s",
            f["calls"],
            f["messages_measured"],
            f["from_send_ms"]["p50"],
            f["from_send_ms"]["p99"],
            f["from_accepted_ms"]["p50"],
            f["from_accepted_ms"]["p99"],
            f["from_send_ms"]["max"],
        ]
    ]
    for b in res["browser"]:
        rows.append(
            [
                f"browser screen (Chromium), mean pause {b['pace']:g} s",
                b["calls"],
                b["shown"],
                b["from_send_ms"]["p50"],
                b["from_send_ms"]["p99"],
                b["from_accepted_ms"]["p50"],
                b["from_accepted_ms"]["p99"],
                b["from_send_ms"]["max"],
            ]
        )
    print(
        f"web: {WINDOW_COUNT} windows pressing call-next after random pauses; latency from "
        "sending call-next (and from the controller accepting it: the call's event time) to the "
        "feed message at each client, or to the number in the DOM"
    )
    print(
        table(
            [
                "measured at",
                "calls",
                "arrivals",
                "p50 ms",
                "p99 ms",
                "p50 from accepted",
                "p99 from accepted",
                "max ms",
            ],
            rows,
        )
    )
    print(
        f"  CPU during the feed run: controller {f['controller_cpu_share']:.2f}, the "
        f"{f['clients']} clients (in {f['client_processes']} processes) and the callers "
        f"{f['client_cpu_share']:.2f} (of {os.cpu_count()} CPUs)"
    )
    if f["missing"]:
        print(f"  warning: {f['missing']} call messages never reached a client")
    if not res["browser"]:
        print(f"  browser part skipped: no {CHROMIUM}")
    for b in res["browser"]:
        if b["shown"] < b["calls"]:
            print(
                f"  note: {b['calls'] - b['shown']} of {b['calls']} numbers were replaced by a "
                "newer call before the page's observer ran, so were not timed"
            )
    return res
