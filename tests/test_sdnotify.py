"""systemd's notifications: readiness, status, the watchdog's pings and stopping.

A real AF_UNIX datagram socket stands in for systemd's NOTIFY_SOCKET. The controller runs as
`hallq run` (a subprocess, as systemd runs it) or in this process, where the tests can stall
its event loop and kill its writer. No test asserts how long anything took: a stall is seen
as "nothing was sent while the loop was blocked", read on the blocked loop itself.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hallq import sdnotify
from hallq.controller.api import writer_key
from hallq.controller.app import create_app
from hallq.drivers.base import DriverSet
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.serving import now_listening, systemd_key
from tests.conftest import SMALL_HALL_TOML, at

ROOT = Path(__file__).resolve().parents[1]
WAIT = 60.0  # the most any one message may take to come (a bound against hanging only)


class Systemd:
    """The service manager's end of NOTIFY_SOCKET: collects what the service sends."""

    def __init__(self, address: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.messages: list[list[str]] = []

    def drain(self) -> list[list[str]]:
        """What has arrived and not been read yet (never waits)."""
        got: list[list[str]] = []
        while True:
            try:
                data = self.sock.recv(4096)
            except BlockingIOError:
                break
            got.append(data.decode().split("\n"))
        self.messages.extend(got)
        return got

    async def expect(self, field: str, prefix: bool = False) -> list[str]:
        """Wait (on the loop, polling) for a message holding `field`; return it."""
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            for message in self.drain():
                if any(f.startswith(field) if prefix else f == field for f in message):
                    return message
            await asyncio.sleep(0.01)
        raise AssertionError(f"no {field} from the service; got {self.messages}")

    def close(self) -> None:
        self.sock.close()


def fields(messages: list[list[str]]) -> list[str]:
    return [f for m in messages for f in m]


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # A socket's path must fit in 108 bytes; pytest's tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="hq-", dir="/tmp") as d:
        yield Path(d)


@pytest.fixture
def systemd(short_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Systemd]:
    path = str(short_dir / "notify")
    manager = Systemd(path)
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # a ping every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    yield manager
    manager.close()


# ---------------------------------------------------------------- the protocol


def test_notify_sends_one_datagram_of_fields(systemd: Systemd) -> None:
    assert sdnotify.notify("READY=1", "STATUS=运行中 / running")
    assert systemd.drain() == [["READY=1", "STATUS=运行中 / running"]]


def test_notify_to_an_abstract_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"hallq-test-{uuid.uuid4()}"
    manager = Systemd("\0" + name)
    try:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        assert sdnotify.notify("WATCHDOG=1")
        assert manager.drain() == [["WATCHDOG=1"]]
    finally:
        manager.close()


def test_notify_outside_systemd_does_nothing(
    monkeypatch: pytest.MonkeyPatch, short_dir: Path
) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert not sdnotify.notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", str(short_dir / "gone"))  # systemd went away
    assert not sdnotify.notify("READY=1")
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert not sdnotify.notify("READY=1")


def test_the_watchdog_interval_is_for_this_process_only() -> None:
    mine = str(os.getpid())
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": mine}) == 0.2
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "200000", "WATCHDOG_PID": "1"}) is None
    assert sdnotify.watchdog_interval({}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert sdnotify.watchdog_interval({"WATCHDOG_USEC": "0"}) is None


# ---------------------------------------------------------------- `hallq run` under "systemd"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def answers(url: str) -> bool:
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as s, s.get(url) as r:
            return r.status == 200
    except (aiohttp.ClientError, OSError):
        return False


async def run_service(cmd: list[str], systemd: Systemd, log: Path, health: str) -> None:
    """Start a server as systemd would; READY=1 comes only once it answers; STOPPING=1 on TERM."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        try:
            ready = await systemd.expect("READY=1")
        except AssertionError:
            raise AssertionError(log.read_text(errors="replace")[-3000:]) from None
        assert await answers(health), "READY=1 before the server listened"
        assert any(f.startswith("STATUS=") for f in ready)
        for _ in range(3):
            await systemd.expect("WATCHDOG=1")
        proc.send_signal(signal.SIGTERM)
        await systemd.expect("STOPPING=1")
        assert await asyncio.to_thread(proc.wait, WAIT) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


async def test_hallq_run_tells_systemd_ready_pings_and_stopping(
    systemd: Systemd, tmp_path: Path
) -> None:
    config = tmp_path / "hall.toml"
    config.write_text(SMALL_HALL_TOML)
    port = free_port()
    cmd = [sys.executable, "-m", "hallq", "run", "--config", str(config)]
    cmd += ["--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1", "--port", str(port)]
    await run_service(cmd, systemd, tmp_path / "run.log", f"http://127.0.0.1:{port}/api/health")
    assert "running: hall test-hall" in " ".join(fields(systemd.messages))


async def test_the_central_server_tells_systemd_too(systemd: Systemd, tmp_path: Path) -> None:
    port = free_port()
    db = f"sqlite:///{tmp_path / 'central.sqlite3'}"
    cmd = [sys.executable, "-m", "hallq", "central", "run", "--db", db]
    cmd += ["--host", "127.0.0.1", "--port", str(port)]
    health = f"http://127.0.0.1:{port}/api/public/halls"
    await run_service(cmd, systemd, tmp_path / "central.log", health)


# ---------------------------------------------------------------- in this process


@pytest.fixture
async def controller(
    systemd: Systemd, small_config: HallConfig, tmp_path: Path
) -> AsyncIterator[web.Application]:
    """A controller listening on a port of its own, told so as `serve` tells it."""
    app = create_app(
        small_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30), drivers=DriverSet()
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    now_listening(app)
    try:
        yield app
    finally:
        await runner.cleanup()


async def test_ready_then_pings_and_stopping_at_shutdown(
    systemd: Systemd, small_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(
        small_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30), drivers=DriverSet()
    )
    runner = web.AppRunner(app)
    await runner.setup()  # the state is loaded here, before any site listens
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert systemd.drain() == []  # not ready until told it listens
    now_listening(app)
    await systemd.expect("READY=1")
    await systemd.expect("WATCHDOG=1")
    await systemd.expect("WATCHDOG=1")
    watchdog = app[systemd_key].watchdog
    assert watchdog is not None
    await runner.cleanup()
    assert "STOPPING=1" in fields(systemd.drain())
    pings = watchdog.pings
    await asyncio.sleep(0.3)  # a chance for a leftover ping task to give itself away
    assert watchdog.pings == pings
    assert "WATCHDOG=1" not in fields(systemd.drain())


async def test_a_stalled_loop_sends_no_pings_and_they_resume_after(
    systemd: Systemd, controller: web.Application
) -> None:
    await systemd.expect("READY=1")
    await systemd.expect("WATCHDOG=1")
    during: list[list[list[str]]] = []

    def stall() -> None:  # runs on the loop: nothing else on it runs meanwhile
        systemd.drain()  # everything sent before the stall
        time.sleep(1.5)  # over seven times the watchdog's 0.2 s
        during.append(systemd.drain())

    asyncio.get_running_loop().call_soon(stall)
    await asyncio.sleep(0)
    assert during, "the stall did not run"
    assert "WATCHDOG=1" not in fields(during[0])
    await systemd.expect("WATCHDOG=1")  # the loop runs again: so do the pings


async def test_a_dead_writer_stops_the_pings(systemd: Systemd, controller: web.Application) -> None:
    await systemd.expect("WATCHDOG=1")
    writer = controller[writer_key]
    task = writer._task
    assert task is not None
    task.cancel()  # as if it had died of a bug
    await asyncio.wait([task])
    assert not writer.running
    await systemd.expect("STATUS=事件写入任务已停止", prefix=True)
    watchdog = controller[systemd_key].watchdog
    assert watchdog is not None
    systemd.drain()
    checks = watchdog.checks
    while watchdog.checks < checks + 3:  # three more rounds, each one a ping if it were well
        await asyncio.sleep(0.05)
    assert "WATCHDOG=1" not in fields(systemd.drain())


async def test_a_wedged_writer_stops_the_pings_until_it_commits(
    systemd: Systemd, controller: web.Application
) -> None:
    await systemd.expect("WATCHDOG=1")
    writer = controller[writer_key]
    release = threading.Event()
    append = writer.log.append

    def stuck_append(records: Any) -> None:  # the SD card does not answer
        release.wait(WAIT)
        append(records)

    writer.log.append = stuck_append  # type: ignore[method-assign]
    sign_in = asyncio.create_task(writer.submit(c.SignIn(request_id="s1", window=1, staff="1001")))
    await systemd.expect("STATUS=健康检查超过", prefix=True)
    watchdog = controller[systemd_key].watchdog
    assert watchdog is not None
    systemd.drain()
    checks = watchdog.checks
    while watchdog.checks < checks + 2:
        await asyncio.sleep(0.05)
    assert "WATCHDOG=1" not in fields(systemd.drain())
    release.set()
    await sign_in
    await systemd.expect("WATCHDOG=1")
    assert any(f.startswith("STATUS=运行中") for f in fields(systemd.messages))


async def test_no_pings_for_a_watchdog_meant_for_another_process(
    systemd: Systemd, monkeypatch: pytest.MonkeyPatch, small_config: HallConfig, tmp_path: Path
) -> None:
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))  # the parent that forked us
    app = create_app(
        small_config, tmp_path, clock=lambda: at(2026, 11, 23, 9, 30), drivers=DriverSet()
    )
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    now_listening(app)
    await systemd.expect("READY=1")
    assert app[systemd_key].watchdog is None
    await asyncio.sleep(0.5)  # five ping intervals: any ping would have come
    await runner.cleanup()
    assert "WATCHDOG=1" not in fields(systemd.messages + systemd.drain())
