"""devices: from a call accepted by the controller to the LED frame written for it.

The real writer, SQLite log and LED bus driver (the simulated link, which records when each
frame was written), wired as the controller wires them: committed records are offered to the
drivers, each in its own task. 60 windows sign in, tickets are issued, then the 60 windows
call next concurrently until 1,000 calls are made; for each call, the time from its reply
(the call committed and acknowledged) to the frame on that window's board showing it.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.common import (
    WINDOW_COUNT,
    Options,
    at,
    bench_hall_toml,
    percentiles,
    primary_service,
    table,
)
from hallq.controller.bus import EventBus
from hallq.controller.store import EventLog
from hallq.controller.views import boards_view, hall_view
from hallq.controller.writer import HallWriter
from hallq.drivers.factory import ready_pack
from hallq.drivers.led import Board, LedBus, SimulatedBoards
from hallq.drivers.ledframe import framing
from hallq.drivers.ticket import content_from_reply, ticket_bytes
from hallq.drivers.voice import Announcement, CallerVoice
from hallq.drivers.voicepack import VoicePackError, load_pack
from hallq.hall import commands as c
from hallq.hall.config import demo_config_path, load_config, parse_config
from hallq.hall.engine import Engine
from hallq.hall.events import Record, TicketCalled


class WallClock:
    """Hall time that runs with the wall clock from 09:00 on the bench day."""

    def __init__(self) -> None:
        self.offset = at(9, 0) - time.time()

    def __call__(self) -> float:
        return time.time() + self.offset


async def _run(data: Path, calls: int) -> dict[str, Any]:
    cfg = parse_config(bench_hall_toml(), "<bench hall>")
    writer = HallWriter(Engine(cfg), EventLog(data / "events.sqlite3"), EventBus(), WallClock())
    writer.load()
    await writer.start()

    async def view() -> dict[str, Any]:
        await writer.settled()
        return boards_view(writer.engine, writer.clock())

    link = SimulatedBoards()
    boards = [Board(w, window=w, width=32) for w in range(1, WINDOW_COUNT + 1)]
    bus = LedBus("led", boards, framing("a0-90"), link, view)
    await bus.start()
    writer.listeners.append(lambda records: bus.offer(records[-1]))
    try:
        for w in range(1, WINDOW_COUNT + 1):
            await writer.submit(c.SignIn(request_id=f"s{w}", window=w, staff=f"x{w}"))
        per_window = calls // WINDOW_COUNT + 2
        for r in range(per_window):
            for w in range(1, WINDOW_COUNT + 1):
                await writer.submit(
                    c.IssueTicket(request_id=f"i{w}-{r}", service=primary_service(w))
                )
        accepted: list[tuple[int, str, float]] = []

        async def window(w: int, rounds: int) -> None:
            for r in range(rounds):
                reply = await writer.submit(c.CallNext(request_id=f"c{w}-{r}", window=w))
                accepted.append((w, reply["called"]["number"], time.time()))
                await asyncio.sleep(0.05)  # a window calls again after a moment, not at once

        rounds = -(-calls // WINDOW_COUNT)
        await asyncio.gather(*(window(w, rounds) for w in range(1, WINDOW_COUNT + 1)))
        await asyncio.sleep(0.5)
    finally:
        await bus.stop()
        await writer.stop()
        writer.log.close()
    latencies: list[float] = []
    missed = 0
    for w, number, t_accepted in accepted[:calls]:
        text = f"{number} 请到{w}号窗口"
        frame = bus.framing.show_text(w, text)
        written = [t for t, address, f in link.frames if address == w and f == frame]
        if not written:
            missed += 1  # superseded by the next call before the board was written
            continue
        latencies.append(max(0.0, written[0] - t_accepted))
    return {
        "calls": min(calls, len(accepted)),
        "frames_written": len(link.frames),
        "superseded": missed,
        "latency_ms": {k: v * 1e3 for k, v in percentiles(latencies).items()},
    }


class TimedOutput:
    """A sound card that takes the rendered samples at once and notes when they arrived."""

    def __init__(self) -> None:
        self.started: dict[str, float] = {}

    async def play(self, item: Announcement) -> None:
        if item.ticket is not None and item.kind == "call":
            self.started.setdefault(item.ticket, time.time())

    async def close(self) -> None:
        return None


async def _voice(calls: int) -> dict[str, float]:
    """From a call committed to its announcement's samples handed to the output.

    One call at a time (a hall's pace; a call made while another is being said waits its
    turn by design), through the real CallerVoice with a voice pack made by espeak-ng.
    """
    cfg = parse_config(bench_hall_toml(), "<bench hall>")
    pack = load_pack(ready_pack("zh", 150))
    output = TimedOutput()
    voice = CallerVoice("voice", pack, output, zone=cfg.zone)
    await voice.start()
    latencies = []
    try:
        for i in range(calls):
            display = f"A{i % 1000:03d}"
            record = Record(
                seq=i + 1,
                ts=time.time(),
                event=TicketCalled(ticket=i + 1, display=display, service="s", window=i % 60 + 1),
            )
            output.started.pop(display, None)
            accepted = time.time()
            voice.offer(record)
            while display not in output.started:
                await asyncio.sleep(0)
            latencies.append(output.started[display] - accepted)
    finally:
        await voice.stop()
    return {k: v * 1e3 for k, v in percentiles(latencies).items()}


def _ticket_bytes(issues: int) -> dict[str, float]:
    """From an issue's reply to the ticket's ESC/POS bytes, as the kiosk builds them."""
    cfg = load_config(demo_config_path())
    engine = Engine(cfg)
    now = datetime(2026, 11, 23, 9, 30, tzinfo=cfg.zone).timestamp()
    engine.execute(c.SignIn(request_id="s", window=3, staff="1003"), now)
    view = hall_view(engine, now)
    service = next(s for s in view["services"] if s["code"] == "property")
    times = []
    for i in range(issues):
        # The green channel is outside the quota, so a long run is not refused.
        reply = engine.execute(
            c.IssueTicket(request_id=f"t{i}", service="property", category="green"), now
        )
        assert reply.reply is not None
        started = time.perf_counter()
        content = content_from_reply(
            reply.reply["ticket"], service, view["hall"], f"https://hall.example/t/{i}"
        )
        ticket_bytes(content)
        times.append(time.perf_counter() - started)
    return {k: v * 1e3 for k, v in percentiles(times).items()}


def run(opts: Options) -> dict[str, Any]:
    calls = 120 if opts.quick else 1000
    with opts.tempdir("devices") as tmp:
        res = asyncio.run(_run(Path(tmp), calls))
    res["ticket_bytes_ms"] = _ticket_bytes(min(calls, 900))  # 3-digit numbers: 999 a day
    try:
        res["voice_ms"] = asyncio.run(_voice(calls))
    except VoicePackError as e:  # no espeak-ng on this machine
        print(f"  voice not measured: {e}")
        res["voice_ms"] = None
    p = res["latency_ms"]
    print(
        f"devices: {res['calls']:,} calls by {WINDOW_COUNT} windows (each calling again 50 ms "
        f"after its answer); {res['frames_written']:,} LED frames written; "
        f"{res['superseded']} calls superseded before their board was written"
    )
    print(
        table(
            ["from call accepted to", "p50 ms", "p90 ms", "p99 ms", "max ms"],
            [
                ["LED frame written (simulated link)", p["p50"], p["p90"], p["p99"], p["max"]],
                ["ticket bytes built (issue reply → ESC/POS)"]
                + [res["ticket_bytes_ms"][k] for k in ("p50", "p90", "p99", "max")],
                *(
                    [
                        ["first audio sample queued (voice, one call at a time)"]
                        + [res["voice_ms"][k] for k in ("p50", "p90", "p99", "max")]
                    ]
                    if res["voice_ms"]
                    else []
                ),
            ],
        )
    )
    return res
