"""End to end: a real hall controller shipping its log to a real central server over HTTP.

The central server is stopped while the hall makes 10,000 events, then started again on the
same database: every event arrives exactly once, in order, as the hall logged it. A revoked
token is refused and the hall says so in its device health. Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bench.common import SERVICE_CODES, at, bench_hall_toml
from hallq.central.app import create_central_app, db_key
from hallq.central.db import connect
from hallq.central.halls import create_hall, issue_token, revoke_token
from hallq.central.schema import migrate
from hallq.controller.api import writer_key
from hallq.controller.app import create_app
from hallq.controller.uplink import uplink_key
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DriverSet
from hallq.hall import commands as c
from hallq.hall.config import parse_config
from hallq.hall.events import encode_event

EVENTS_WHILE_DOWN = 10_000


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class CentralServer:
    """The central server on a fixed port, which can be stopped and started again."""

    def __init__(self, db_url: str) -> None:
        self.db_url = db_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        self.runner = web.AppRunner(create_central_app(self.db_url))
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


@pytest.fixture
async def central(central_db_url: str) -> AsyncIterator[tuple[CentralServer, str]]:
    """A running central server with one hall registered; its token."""
    db = await connect(central_db_url)
    await migrate(db)
    await create_hall(db, "bench-hall", "基准测试大厅", "Benchmark hall", time.time())
    token, _ = await issue_token(db, "bench-hall", "e2e", "test", time.time())
    await db.close()
    server = CentralServer(central_db_url)
    await server.start()
    yield server, token
    await server.stop()


async def start_hall(tmp_path: Path, central_url: str, token: str) -> TestClient:  # type: ignore[type-arg]
    text = bench_hall_toml() + f'\n[uplink]\nurl = "{central_url}"\n'
    data = tmp_path / "data"
    data.mkdir(parents=True, exist_ok=True)
    (data / "uplink.token").write_text(token + "\n", encoding="utf-8")
    app = create_app(parse_config(text), data, clock=Clock(at(9, 0)), drivers=DriverSet())
    uplink = app[uplink_key]
    uplink.health_delay = uplink.health_interval = 0.0  # report a problem at once, for the test
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    return client


async def make_events(writer: HallWriter, at_least: int) -> None:
    """Tickets issued, called, served and evaluated until the log grew by `at_least`."""
    start = writer.engine.state.seq
    for w in range(1, 11):
        await writer.submit(c.SignIn(request_id=f"in-{w}-{start}", window=w, staff=f"s{w}"))
    n = 0
    while writer.engine.state.seq - start < at_least:
        n += 1
        service = SERVICE_CODES[n % len(SERVICE_CODES)]
        await writer.submit(c.IssueTicket(request_id=f"i-{start}-{n}", service=service))
        if n % 3 == 0:
            w = n % 10 + 1
            await writer.submit(c.CallNext(request_id=f"c-{start}-{n}", window=w))


async def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.05)


async def acked(db_url: str) -> int:
    db = await connect(db_url)
    try:
        return int(await db.fetchval("SELECT acked_seq FROM halls WHERE hall_id = 'bench-hall'"))
    finally:
        await db.close()


async def test_every_event_arrives_once_after_the_central_server_was_down(
    central: tuple[CentralServer, str], tmp_path: Path
) -> None:
    server, token = central
    hall = await start_hall(tmp_path, server.url, token)
    writer = hall.app[writer_key]
    try:
        await make_events(writer, 200)
        await wait_for(lambda: _at(server.db_url, writer.engine.state.seq))

        await server.stop()
        await make_events(writer, EVENTS_WHILE_DOWN)
        last = writer.engine.state.seq
        assert last > 10_000
        status = await (await hall.get("/api/uplink")).json()
        assert status["status"] == "offline" and status["backlog"] > 0
        assert await acked(server.db_url) < last

        await server.start()
        await wait_for(lambda: _at(server.db_url, last), timeout=120)

        db = await connect(server.db_url)
        try:
            rows = await db.fetch(
                "SELECT seq, type, data FROM events WHERE hall_id = 'bench-hall' ORDER BY seq"
            )
        finally:
            await db.close()
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
        hall_log = writer.log.read_after(0, limit=len(rows) + 1000)
        central_seqs = {r["seq"] for r in rows}
        assert central_seqs >= {r.seq for r in hall_log if r.seq <= last}
        by_seq = {r.seq: r for r in hall_log}
        for row in rows:
            assert row["data"] == encode_event(by_seq[row["seq"]].event).decode()
        status = await (await hall.get("/api/uplink")).json()
        assert status["status"] == "ok"
    finally:
        await hall.close()


async def _at(db_url: str, seq: int) -> bool:
    return await acked(db_url) >= seq


async def test_a_revoked_token_is_refused_and_the_hall_shows_it(
    central: tuple[CentralServer, str], tmp_path: Path
) -> None:
    server, token = central
    hall = await start_hall(tmp_path, server.url, token)
    writer = hall.app[writer_key]
    try:
        await make_events(writer, 20)
        await wait_for(lambda: _at(server.db_url, writer.engine.state.seq))
        assert server.runner is not None
        db = server.runner.app[db_key]
        token_id = (await db.fetchrow("SELECT token_id FROM hall_tokens"))["token_id"]  # type: ignore[index]
        await revoke_token(db, "bench-hall", token_id, "test", time.time())
        before = await acked(server.db_url)
        await make_events(writer, 20)

        async def refused() -> bool:
            status = await (await hall.get("/api/uplink")).json()
            return bool(status["status"] == "refused")

        await wait_for(refused)
        assert await acked(server.db_url) == before

        async def shown() -> bool:
            device = writer.engine.state.devices.get("uplink")
            return device is not None and device.status == "error"

        await wait_for(shown)  # the device health the admin page and the log show
        assert "token" in writer.engine.state.devices["uplink"].reason_en.lower()
    finally:
        await hall.close()


async def test_the_demo_central_server_knows_the_demo_hall(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`hallq central run --demo`: logins, the demo hall, and its token where `hallq run` looks."""
    from hallq.central.cli import _seed_demo
    from hallq.central.halls import authenticate

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    db = await connect(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    try:
        await migrate(db)
        lines: list[str] = []
        assert await _seed_demo(db, lines) == 0
        token_file = tmp_path / "state" / "hallq" / "demo" / "uplink.token"
        token = token_file.read_text().strip()
        assert await authenticate(db, token, time.time()) == "demo-szq"
        assert token_file.stat().st_mode & 0o077 == 0
        users = {r["username"]: r["role"] for r in await db.fetch("SELECT * FROM users")}
        assert users == {"admin": "city_admin", "manager": "hall_manager"}
        # Started again: the same token stays good, nothing is added twice.
        assert await _seed_demo(db, []) == 0
        assert token_file.read_text().strip() == token
        assert await db.fetchval("SELECT count(*) FROM hall_tokens") == 1
    finally:
        await db.close()
