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


async def test_a_broadcast_is_said_after_the_calls_waiting(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    )
    await client.post("/api/windows/5/sign-in", json={"request_id": "s", "staff": "1005"})
    await client.post("/api/tickets", json={"request_id": "t", "service": "business"})
    await client.post("/api/windows/5/call-next", json={"request_id": "c"})
    r = await client.post("/api/voice/broadcast", json={"text": "请丢失钱包的群众到服务台认领"})
    assert r.status == 202
    log = tmp_path / "voice" / "announcements.log"
    kinds: list[str] = []
    for _ in range(300):
        if log.exists():
            kinds = [line.split("\t")[1] for line in log.read_text(encoding="utf-8").splitlines()]
            if len(kinds) >= 2:
                break
        await asyncio.sleep(0.02)
    assert kinds == ["call", "broadcast"]
    bad = await client.post("/api/voice/broadcast", json={"text": "  "})
    assert bad.status == 400 and (await bad.json())["error"]["code"] == "invalid_text"
    bad = await client.post("/api/voice/broadcast", json={"text": "x", "volume": 3})
    assert bad.status == 400


async def test_no_voice_no_broadcast(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    from hallq.drivers.base import DriverSet

    app = create_app(
        demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30), drivers=DriverSet()
    )
    client = await aiohttp_client(app)
    r = await client.post("/api/voice/broadcast", json={"text": "闭馆提醒"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "no_voice"


async def test_the_feed_tells_screens_when_the_voice_says_a_call(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    )
    ws = await client.ws_connect("/api/feed")
    assert (await ws.receive_json(timeout=5))["type"] == "snapshot"
    await client.post("/api/windows/5/sign-in", json={"request_id": "s", "staff": "1005"})
    await client.post("/api/tickets", json={"request_id": "t", "service": "business"})
    await client.post("/api/windows/5/call-next", json={"request_id": "c"})
    speaking: list[tuple[str, int, str]] = []
    while len(speaking) < 2:
        message = await ws.receive_json(timeout=5)
        if message["type"] == "speaking":
            speaking.append((message["ticket"], message["window"], message["phase"]))
    assert speaking == [("C001", 5, "start"), ("C001", 5, "end")]
    await ws.close()


async def test_a_scheduled_broadcast_is_said_once_at_its_time(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import msgspec

    from hallq.controller import app as app_module
    from hallq.hall.config import ScheduledBroadcast

    monkeypatch.setattr(app_module, "SCHEDULE_SECONDS", 0.02)
    assert demo_config.voice is not None
    voice = msgspec.structs.replace(
        demo_config.voice, schedule=[ScheduledBroadcast(at="16:35", text="距离下班还有十五分钟")]
    )
    config = msgspec.structs.replace(demo_config, voice=voice)
    now = [at(2026, 11, 23, 16, 34, 50)]
    client = await aiohttp_client(create_app(config, tmp_path, clock=lambda: now[0]))
    log = tmp_path / "voice" / "announcements.log"
    await asyncio.sleep(0.2)
    assert not log.exists(), "not before its time"
    now[0] = at(2026, 11, 23, 16, 35, 5)
    for _ in range(200):
        if log.exists():
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)  # the schedule is looked at many more times in this minute
    lines = log.read_text(encoding="utf-8").splitlines()
    assert [line.split("\t")[1] for line in lines] == ["broadcast"]
    assert "距离下班还有十五分钟" in lines[0]
    await client.close()


def test_a_bad_schedule_is_a_config_error_naming_the_line() -> None:
    from hallq.errors import ConfigError
    from hallq.hall.config import demo_config_path, parse_config

    text = demo_config_path().read_text(encoding="utf-8") + (
        '\n[[voice.schedule]]\nat = "4:35pm"\ntext = "闭馆提醒"\n'
    )
    with pytest.raises(ConfigError) as err:
        parse_config(text, "hall.toml")
    line = len(text.splitlines()) - 1
    assert f'hall.toml:{line}: voice.schedule[0].at: write the time as "16:35"' in str(err.value)
