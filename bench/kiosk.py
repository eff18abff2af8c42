"""kiosk: how soon a kiosk is ready, and what it costs while it waits for a citizen.

A real controller process (the demo hall, its real clock) and a real kiosk process
(`python -m hallq kiosk`, SDL's dummy video driver, the simulated printer) at 800×480. From
launching the kiosk to its log line "ready, the hall shown" (the services drawn from the
controller's view); then the kiosk's CPU time over an idle spell on the home screen, from
/proc (Linux).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.callnext import REPO, Controller
from bench.common import Options, percentiles, table
from hallq.hall.config import demo_config_path

READY = re.compile(r"ready, the hall shown")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _one_start(base: str, tmp: Path, n: int, idle: float) -> tuple[float, float]:
    log_path = tmp / f"kiosk-{n}.log"
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    cmd = [sys.executable, "-m", "hallq", "kiosk", "--controller", base]
    cmd += ["--windowed", "--size", "800x480"]
    with open(log_path, "wb") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
        try:
            while not READY.search(log_path.read_text(errors="replace")):
                if proc.poll() is not None or time.perf_counter() - t0 > 30:
                    raise RuntimeError(f"the kiosk did not get ready: {log_path.read_text()}")
                time.sleep(0.005)
            ready = time.perf_counter() - t0
            time.sleep(1.0)  # let the first view and the printer's status settle
            cpu0 = _cpu_seconds(proc.pid)
            time.sleep(idle)
            cpu = (_cpu_seconds(proc.pid) - cpu0) / idle
        finally:
            proc.terminate()
            proc.wait(timeout=15)
    return ready, cpu


def run(opts: Options) -> dict[str, Any]:
    starts = 2 if opts.quick else 5
    idle = 3.0 if opts.quick else 20.0
    with opts.tempdir("kiosk") as tmp:
        ctl = Controller(Path(tmp), demo_config_path().read_text(encoding="utf-8"))
        ctl.start()
        try:
            import asyncio

            import aiohttp

            async def ready() -> None:
                async with aiohttp.ClientSession() as session:
                    await ctl.wait_ready(session)

            asyncio.run(ready())
            results = [_one_start(ctl.base, Path(tmp), n, idle) for n in range(starts)]
        finally:
            ctl.stop()
    ready_s = [r[0] for r in results]
    idle_cpu = [r[1] * 100 for r in results]
    p = percentiles([s * 1000 for s in ready_s])
    print(
        f"kiosk: {starts} starts against the demo hall, 800x480, SDL dummy video, simulated "
        f"printer; idle CPU over {idle:g} s on the home screen"
    )
    print(
        table(
            ["measure", "median", "max"],
            [
                ["start to the hall shown, ms", p["p50"], p["max"]],
                [
                    "idle CPU, % of one core",
                    round(sorted(idle_cpu)[len(idle_cpu) // 2], 2),
                    round(max(idle_cpu), 2),
                ],
            ],
        )
    )
    return {"ready_ms": p, "idle_cpu_percent": idle_cpu, "idle_seconds": idle}
