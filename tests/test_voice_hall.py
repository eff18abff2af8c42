"""The caller voice in the demo hall: a call is announced, in order, through the simulator."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from hallq.controller.app import create_app
from hallq.hall.config import HallConfig
from tests.conftest import at

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None,
    reason="espeak-ng is not installed (make test installs it from scripts/debian-packages.txt)",
)


async def test_a_call_and_a_recall_are_announced_in_order(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    )
    await client.post("/api/windows/5/sign-in", json={"request_id": "s", "staff": "1005"})
    for i in range(2):
        await client.post("/api/tickets", json={"request_id": f"t{i}", "service": "business"})
    await client.post("/api/windows/5/call-next", json={"request_id": "c1"})
    await client.post("/api/windows/5/recall", json={"request_id": "r1"})
    await client.post("/api/windows/5/call-next", json={"request_id": "c2"})
    log = tmp_path / "voice" / "announcements.log"
    lines: list[str] = []
    for _ in range(200):
        if log.exists():
            lines = log.read_text(encoding="utf-8").splitlines()
            if len(lines) >= 3:
                break
        await asyncio.sleep(0.02)
    said = [line.split("\t")[2].replace(" ", "") for line in lines]
    assert said == [
        "请C零零一号到五号窗口办理×2",
        "请C零零一号到五号窗口办理×2",
        "请C零零二号到五号窗口办理×2",
    ]
    assert len(list((tmp_path / "voice").glob("*.wav"))) == 3
    state = await (await client.get("/api/state")).json()
    assert {d["device"]: d["status"] for d in state["devices"]}["voice"] == "ok"
