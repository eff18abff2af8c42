"""Configuration changes through the controller: logged, saved atomically, reconciled at start;
and the accounts store behind the admin page and the window PINs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest
from aiohttp.test_utils import TestClient, TestServer

from hallq.controller.accounts import (
    LOCK_SECONDS,
    MAX_FAILURES,
    SESSION_IDLE_SECONDS,
    Accounts,
    LoginRefused,
)
from hallq.controller.api import accounts_key, writer_key
from hallq.controller.app import create_app
from hallq.controller.config_file import fingerprint
from hallq.drivers.base import DriverSet
from hallq.errors import BadRequest, CommandRejected
from hallq.files import write_atomically
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, config_toml, parse_config
from hallq.hall.events import ConfigChanged
from tests.conftest import SMALL_HALL_TOML, at


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def renamed(cfg: HallConfig, name: str) -> HallConfig:
    return msgspec.structs.replace(cfg, hall=msgspec.structs.replace(cfg.hall, name=name))


async def started(cfg: HallConfig, tmp_path: Path, clock: Clock) -> TestClient:  # type: ignore[type-arg]
    app = create_app(
        cfg, tmp_path / "data", clock=clock, drivers=DriverSet(), config_path=tmp_path / "hall.toml"
    )
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    return client


@pytest.fixture
def hall_file(tmp_path: Path) -> Path:
    path = tmp_path / "hall.toml"
    path.write_text(SMALL_HALL_TOML, encoding="utf-8")
    return path


async def test_a_change_is_logged_saved_and_live(
    small_config: HallConfig, tmp_path: Path, hall_file: Path
) -> None:
    client = await started(small_config, tmp_path, Clock(at(2026, 11, 23, 9, 0)))
    try:
        writer = client.app[writer_key]
        text = "# saved by a test\n" + config_toml(renamed(small_config, "新大厅"))
        reply = await writer.submit(
            c.ChangeConfig(
                request_id="cfg-1", text=text, by="admin", base_digest=writer.engine.config_digest
            )
        )
        assert reply["events"][-1]["type"] == "config_changed"
        assert reply["events"][-1]["changed"] == ["hall"]
        state = await (await client.get("/api/state?tickets=none")).json()
        assert state["hall"]["name"] == "新大厅"
        assert state["config_digest"] == writer.engine.config_digest
        for _ in range(100):  # the file is written just after the commit
            if hall_file.read_text(encoding="utf-8") == text:
                break
            await asyncio.sleep(0.02)
        assert hall_file.read_text(encoding="utf-8") == text
        assert (tmp_path / "hall.toml.bak").read_text(encoding="utf-8") == SMALL_HALL_TOML
        assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        # A bad edit is refused with the reason and changes nothing.
        bad = text.replace('prefix = "A"', 'prefix = "a1"')
        with pytest.raises(CommandRejected) as err:
            await writer.submit(c.ChangeConfig(request_id="cfg-2", text=bad))
        assert err.value.code == "invalid_config" and "prefix" in err.value.message
        assert hall_file.read_text(encoding="utf-8") == text
    finally:
        await client.close()


async def test_a_restart_keeps_the_change_and_rewrites_a_lost_file_write(
    small_config: HallConfig, tmp_path: Path, hall_file: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 0))
    client = await started(small_config, tmp_path, clock)
    text = config_toml(renamed(small_config, "改过的名字"))
    await client.app[writer_key].submit(c.ChangeConfig(request_id="cfg-1", text=text))
    await client.close()
    # A power cut between the commit and the file write: the file is still the one hallq
    # wrote before. The log wins and the file is written again.
    hall_file.write_text(SMALL_HALL_TOML, encoding="utf-8")
    write_atomically(tmp_path / "data" / "config-file.sha256", fingerprint(SMALL_HALL_TOML))
    client = await started(parse_config(SMALL_HALL_TOML), tmp_path, clock)
    try:
        assert client.app[writer_key].engine.config.hall.name == "改过的名字"
        assert hall_file.read_text(encoding="utf-8") == text
    finally:
        await client.close()


async def test_a_file_edited_by_hand_while_stopped_wins_and_is_logged(
    small_config: HallConfig, tmp_path: Path, hall_file: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 0))  # 2026: the change's time is older than the edit
    client = await started(small_config, tmp_path, clock)
    await client.app[writer_key].submit(
        c.ChangeConfig(request_id="cfg-1", text=config_toml(renamed(small_config, "网页改的")))
    )
    await client.close()
    edited = SMALL_HALL_TOML.replace('name = "测试大厅"', 'name = "手工改的"')
    write_atomically(hall_file, edited, keep_backup=True)
    client = await started(parse_config(edited), tmp_path, clock)
    try:
        writer = client.app[writer_key]
        assert writer.engine.config.hall.name == "手工改的"
        last = writer.log.read_after(0, 10_000)[-1]
        assert isinstance(last.event, ConfigChanged) and last.event.by == "file"
    finally:
        await client.close()


async def test_a_broken_hand_edit_keeps_the_last_good_configuration(
    small_config: HallConfig, tmp_path: Path, hall_file: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 0))
    client = await started(small_config, tmp_path, clock)
    await client.app[writer_key].submit(
        c.ChangeConfig(request_id="cfg-1", text=config_toml(renamed(small_config, "好的")))
    )
    await client.close()
    hall_file.write_text(SMALL_HALL_TOML + "\n[oops\n", encoding="utf-8")
    client = await started(small_config, tmp_path, clock)
    try:
        assert client.app[writer_key].engine.config.hall.name == "好的"
    finally:
        await client.close()


# ---------------------------------------------------------------- PINs at the window


async def test_sign_in_needs_the_pin_once_one_is_set(
    demo_config: HallConfig, tmp_path: Path
) -> None:
    app = create_app(
        demo_config, tmp_path, clock=Clock(at(2026, 11, 23, 9, 0)), drivers=DriverSet()
    )
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    try:
        await asyncio.to_thread(client.app[accounts_key].set_pin, "1001", "4321")

        async def sign_in(body: dict[str, object]) -> tuple[int, dict[str, object]]:
            resp = await client.post("/api/windows/1/sign-in", json={"staff": "1001", **body})
            return resp.status, await resp.json()

        status, data = await sign_in({"request_id": "s1"})
        assert status == 400 and data["error"]["code"] == "pin_required"  # type: ignore[index]
        status, data = await sign_in({"request_id": "s2", "pin": "0000"})
        assert status == 401 and data["error"]["code"] == "wrong_pin"  # type: ignore[index]
        status, data = await sign_in({"request_id": "s3", "pin": 1234})
        assert status == 400
        status, data = await sign_in({"request_id": "s4", "pin": "4321"})
        assert status == 200, data
        # No PIN ever reaches the log.
        events = await (await client.get("/api/events")).text()
        assert "4321" not in events and "pin" not in events.lower()
    finally:
        await client.close()


# ---------------------------------------------------------------- the accounts store


def test_logins_lock_after_repeated_failures_and_sessions_expire(tmp_path: Path) -> None:
    clock = Clock(1_800_000_000.0)
    acc = Accounts(tmp_path / "accounts.sqlite3", clock)
    assert acc.needs_setup()
    code = acc.setup_code()
    with pytest.raises(BadRequest):
        acc.first_admin("wrong", "chief", "correct horse")
    session = acc.first_admin(code, "chief", "correct horse")
    assert not acc.needs_setup() and session.role == "admin"
    with pytest.raises(BadRequest):
        acc.add_user("short", "staff", "1234567")  # too short a password
    for _ in range(MAX_FAILURES):
        with pytest.raises(LoginRefused) as err:
            acc.login("chief", "wrong password")
        assert err.value.code == "wrong_login"
    with pytest.raises(LoginRefused) as err:
        acc.login("chief", "correct horse")  # right, but locked now
    assert err.value.code == "locked" and err.value.status == 429
    clock.now += LOCK_SECONDS + 1
    session = acc.login("chief", "correct horse")
    assert acc.session(session.token) is not None
    clock.now += SESSION_IDLE_SECONDS + 1
    assert acc.session(session.token) is None, "an idle session expires"
    # An unknown name is refused the same way as a wrong password.
    with pytest.raises(LoginRefused) as err:
        acc.login("nobody", "whatever1")
    assert err.value.code == "wrong_login"
    with pytest.raises(CommandRejected):
        acc.delete_user("chief")  # never the last admin
    acc.close()


def test_tokens_and_secrets_are_stored_hashed(tmp_path: Path) -> None:
    acc = Accounts(tmp_path / "accounts.sqlite3")
    acc.add_user("chief", "admin", "correct horse")
    session = acc.login("chief", "correct horse")
    acc.set_pin("1001", "2468")
    acc.close()
    raw = (tmp_path / "accounts.sqlite3").read_bytes()
    for wal in tmp_path.glob("accounts.sqlite3*"):
        raw += wal.read_bytes()
    assert b"correct horse" not in raw and b"2468" not in raw
    assert session.token.encode() not in raw
    assert (tmp_path / "accounts.sqlite3").stat().st_mode & 0o077 == 0, "owner-only"
