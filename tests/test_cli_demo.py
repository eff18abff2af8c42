"""The demo hall as `make run` starts it: staff signed in, a clock that can be tried at night."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hallq import cli
from hallq.controller.app import create_app
from hallq.controller.store import EventLog
from hallq.hall.config import HallConfig
from hallq.hall.events import DayStarted, Record
from hallq.hall.schedule import Timetable
from tests.conftest import at


async def test_demo_staff_sign_in_at_start(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(demo_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30))
    app.cleanup_ctx.append(cli._demo_staff(demo_config))
    client = await aiohttp_client(app)
    state = await (await client.get("/api/state")).json()
    assert {w["number"]: w["status"] for w in state["windows"]} == {n: "idle" for n in range(1, 13)}
    assert state["windows"][0]["staff"] == "1001"
    reply = await (await client.post("/api/windows/1/call-next", json={"request_id": "c"})).json()
    assert reply["ok"] is True


def test_demo_clock_runs_from_the_next_opening_when_closed(
    demo_config: HallConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sunday_night = at(2026, 11, 22, 23, 0)
    monkeypatch.setattr(time, "time", lambda: sunday_night)
    clock, note = cli._demo_clock(demo_config, tmp_path)
    assert note
    assert Timetable(demo_config).issue_status(clock()).open
    assert clock() == at(2026, 11, 23, 9, 0)  # Monday's opening (08:40) + 20 minutes


def test_demo_clock_never_runs_back_before_the_last_event(
    demo_config: HallConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = at(2026, 11, 23, 10, 15)
    log = EventLog(tmp_path / "events.sqlite3")
    log.append([Record(seq=1, ts=last, event=DayStarted(day="2026-11-23"))])
    log.close()
    monkeypatch.setattr(time, "time", lambda: at(2026, 11, 22, 23, 0))
    clock, _ = cli._demo_clock(demo_config, tmp_path)
    assert clock() > last
    assert Timetable(demo_config).issue_status(clock()).open


def test_open_hall_keeps_the_real_clock(
    demo_config: HallConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(time, "time", lambda: at(2026, 11, 23, 10, 0))
    clock, note = cli._demo_clock(demo_config, tmp_path)
    assert note == "" and clock is time.time
