"""The facilities admin's endpoints through an HTTP client: set-up, logins, CSRF, roles,
configuration changes, users and PINs, printers and the voice."""

from __future__ import annotations

import asyncio
import shutil
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hallq.controller.api import accounts_key, config_file_key, writer_key
from hallq.controller.app import create_app
from hallq.drivers.base import DriverSet
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, demo_config_path
from hallq.web.admin_auth import admin_state_key
from tests.browser import Clock
from tests.conftest import at

PASSWORD = "correct horse 1"


class Admin:
    """A test client logged in (or not) to the admin page, with its CSRF token."""

    def __init__(self, client: TestClient[Any, Any], app: web.Application, clock: Clock) -> None:
        self.client = client
        self.app = app
        self.clock = clock
        self.csrf = ""

    @property
    def engine(self) -> Any:
        return self.app[writer_key].engine

    async def session(self) -> dict[str, Any]:
        r = await self.client.get("/admin/api/session")
        assert r.status == 200
        data: dict[str, Any] = await r.json()
        if data["state"] == "ok":
            self.csrf = data["csrf"]
        return data

    async def login(self, name: str, password: str) -> Any:
        self.client.session.cookie_jar.clear()  # as a new browser: logged out
        token = (await self.session())["token"]
        r = await self.client.post(
            "/admin/api/login",
            json={"name": name, "password": password},
            headers={"X-CSRF-Token": token},
        )
        if r.status == 200:
            self.csrf = (await r.json())["csrf"]
        return r

    async def setup(self, name: str = "root", password: str = PASSWORD) -> None:
        token = (await self.session())["token"]
        code = await asyncio.to_thread(self.app[accounts_key].setup_code)
        r = await self.client.post(
            "/admin/api/setup",
            json={"code": code, "name": name, "password": password, "password2": password},
            headers={"X-CSRF-Token": token},
        )
        assert r.status == 200, await r.text()
        self.csrf = (await r.json())["csrf"]

    async def call(self, method: str, path: str, body: Any = None, csrf: bool = True) -> Any:
        headers = {"X-CSRF-Token": self.csrf} if csrf and self.csrf else {}
        return await self.client.request(method, path, json=body, headers=headers)

    async def config(self) -> dict[str, Any]:
        r = await self.call("GET", "/admin/api/config")
        assert r.status == 200, await r.text()
        data: dict[str, Any] = await r.json()
        return data


@pytest.fixture
async def hall(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> AsyncIterator[Admin]:
    clock = Clock(at(2026, 11, 23, 9, 0))
    config_path = tmp_path / "hall.toml"
    config_path.write_text(demo_config_path().read_text(encoding="utf-8"), encoding="utf-8")
    app = create_app(
        demo_config, tmp_path / "data", clock=clock, drivers=DriverSet(), config_path=config_path
    )
    client = await aiohttp_client(app)
    yield Admin(client, app, clock)


async def _add_user(admin: Admin, name: str, role: str) -> None:
    r = await admin.call("POST", "/admin/api/users", {"name": name, "role": role, "password": PASSWORD})
    assert r.status == 201, await r.text()


# ------------------------------------------------------------------ first run and logins


async def test_first_run_needs_the_setup_code(hall: Admin) -> None:
    first = await hall.session()
    assert first["state"] == "setup" and len(first["token"]) > 20
    code = await asyncio.to_thread(hall.app[accounts_key].setup_code)
    body = {"code": code, "name": "root", "password": PASSWORD, "password2": PASSWORD}
    # Without the pre-session token (login CSRF), then with a wrong code, then mismatched.
    r = await hall.client.post("/admin/api/setup", json=body)
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_missing"
    headers = {"X-CSRF-Token": first["token"]}
    r = await hall.client.post("/admin/api/setup", json={**body, "code": "12345678"}, headers=headers)
    assert r.status == 400 and (await r.json())["error"]["code"] == "wrong_setup_code"
    r = await hall.client.post("/admin/api/setup", json={**body, "password2": "other pass"}, headers=headers)
    assert r.status == 400 and (await r.json())["error"]["code"] == "passwords_differ"
    r = await hall.client.post("/admin/api/setup", json=body, headers=headers)
    assert r.status == 200
    cookie = r.cookies["hallq_admin"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/admin"
    assert (await hall.session())["role"] == "admin"
    again = await hall.client.post("/admin/api/setup", json=body, headers=headers)
    assert again.status in (403, 409)  # the pre-session token was used up, and an admin exists


async def test_setup_code_guessing_is_slowed(hall: Admin) -> None:
    token = (await hall.session())["token"]
    body = {"code": "00000000", "name": "x", "password": PASSWORD, "password2": PASSWORD}
    codes = []
    for _ in range(6):
        r = await hall.client.post("/admin/api/setup", json=body, headers={"X-CSRF-Token": token})
        codes.append((await r.json())["error"]["code"])
    assert codes[:5] == ["wrong_setup_code"] * 5 and codes[5] == "locked"


async def test_wrong_password_five_times_locks_the_name(hall: Admin) -> None:
    await hall.setup()
    await _add_user(hall, "guide", "staff")
    statuses = [(await hall.login("guide", "wrong password")).status for _ in range(5)]
    assert statuses == [401] * 5
    r = await hall.login("guide", PASSWORD)  # even the right password, while locked
    assert r.status == 429
    assert int(r.headers["Retry-After"]) > 800
    assert "锁定" in (await r.json())["error"]["message"]
    # An admin lifts the lock early.
    assert (await hall.login("root", PASSWORD)).status == 200
    assert (await hall.call("POST", "/admin/api/users/guide/unlock")).status == 200
    assert (await hall.login("guide", PASSWORD)).status == 200


async def test_login_needs_the_pre_session_token_and_this_origin(hall: Admin) -> None:
    await hall.setup()
    hall.client.session.cookie_jar.clear()
    body = {"name": "root", "password": PASSWORD}
    r = await hall.client.post("/admin/api/login", json=body)
    assert r.status == 403
    token = (await hall.session())["token"]
    r = await hall.client.post("/admin/api/login", json=body, headers={"X-CSRF-Token": "x" * 40})
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    r = await hall.client.post(
        "/admin/api/login",
        json=body,
        headers={"X-CSRF-Token": token, "Origin": "http://evil.example"},
    )
    assert r.status == 403 and (await r.json())["error"]["code"] == "bad_origin"
    assert (await hall.login("root", PASSWORD)).status == 200


async def test_logout_ends_the_session(hall: Admin) -> None:
    await hall.setup()
    r = await hall.call("POST", "/admin/api/logout")
    assert r.status == 200
    assert (await hall.session())["state"] == "login"
    assert (await hall.call("GET", "/admin/api/config")).status == 401


async def test_session_expires_after_30_idle_minutes(hall: Admin) -> None:
    await hall.setup()
    hall.clock.advance(20 * 60)
    assert (await hall.call("GET", "/admin/api/config")).status == 200  # renews it
    hall.clock.advance(29 * 60)
    assert (await hall.call("GET", "/admin/api/config")).status == 200
    hall.clock.advance(31 * 60)
    r = await hall.call("GET", "/admin/api/config")
    assert r.status == 401 and (await r.json())["error"]["code"] == "session_expired"
    state = await hall.session()
    assert state["state"] == "login"


# ------------------------------------------------------------------ CSRF and roles


async def test_writes_without_the_csrf_token_are_refused_and_change_nothing(hall: Admin) -> None:
    await hall.setup()
    cfg = await hall.config()
    data = cfg["data"]
    data["notices"][0]["text"] = "不应保存 / must not be saved"
    body = {"data": data, "base_digest": cfg["digest"]}
    r = await hall.call("POST", "/admin/api/config", body, csrf=False)
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_missing"
    r = await hall.client.post("/admin/api/config", json=body, headers={"X-CSRF-Token": "forged"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "csrf_failed"
    r = await hall.client.post(
        "/admin/api/users",
        json={"name": "intruder", "role": "admin", "password": PASSWORD},
        headers={"X-CSRF-Token": hall.csrf, "Origin": "http://evil.example"},
    )
    assert r.status == 403 and (await r.json())["error"]["code"] == "bad_origin"
    r = await hall.client.post(
        "/admin/api/users",
        json={"name": "intruder", "role": "admin", "password": PASSWORD},
        headers={"X-CSRF-Token": hall.csrf, "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status == 403
    assert hall.engine.config_digest == cfg["digest"]
    assert "must not be saved" not in hall.app[writer_key].engine.config.notices[0].text
    users = await (await hall.call("GET", "/admin/api/users")).json()
    assert [u["name"] for u in users["users"]] == ["root"]


async def test_staff_cannot_change_the_configuration_or_users(hall: Admin) -> None:
    await hall.setup()
    await _add_user(hall, "guide", "staff")
    assert (await hall.login("guide", PASSWORD)).status == 200
    cfg = await hall.config()  # reading is allowed
    r = await hall.call("POST", "/admin/api/config", {"data": cfg["data"], "base_digest": cfg["digest"]})
    assert r.status == 403 and (await r.json())["error"]["code"] == "admin_only"
    assert (await hall.call("GET", "/admin/api/users")).status == 403
    r = await hall.call("PUT", "/admin/api/pins/1001", {"pin": "1234"})
    assert r.status == 403
    assert (await hall.call("GET", "/admin/api/config/export")).status == 200


# ------------------------------------------------------------------ configuration


async def test_a_saved_notice_reaches_the_hall_and_the_file(hall: Admin) -> None:
    await hall.setup()
    cfg = await hall.config()
    data = cfg["data"]
    data["notices"].append({"text": "今日下午三点系统维护", "text_en": "Maintenance at 15:00", "hours": ["08:00-16:00"]})
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 200, await r.text()
    reply = await r.json()
    assert reply["changed"] == ["notices"] and reply["restart_needed"] == []
    assert hall.engine.config.notices[-1].text == "今日下午三点系统维护"
    path = hall.app[config_file_key].path
    assert path is not None
    for _ in range(200):
        saved = tomllib.loads(path.read_text(encoding="utf-8"))
        if saved["notices"][-1]["text"] == "今日下午三点系统维护":
            break
        await asyncio.sleep(0.02)
    assert saved["notices"][-1]["text_en"] == "Maintenance at 15:00"
    state = await (await hall.client.get("/api/state?tickets=none")).json()
    assert state["notices"][-1]["text"] == "今日下午三点系统维护"
    assert state["config_digest"] == reply["digest"]


async def test_every_problem_comes_back_with_its_field(hall: Admin) -> None:
    await hall.setup()
    cfg = await hall.config()
    data = cfg["data"]
    data["screens"][0]["recent_calls"] = 99
    data["notices"][0]["starts"] = "2026-13-01"
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 400
    error = (await r.json())["error"]
    assert error["code"] == "invalid_config"
    assert {p["path"] for p in error["problems"]} == {"screens[0].recent_calls", "notices[0].starts"}
    data = (await hall.config())["data"]
    data["kiosks"][0]["printer"] = "lpt:1"
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 400
    assert [p["path"] for p in (await r.json())["error"]["problems"]] == ["kiosks[0].printer"]
    assert hall.engine.config_digest == cfg["digest"]


async def test_a_stale_digest_is_changed_meanwhile(hall: Admin) -> None:
    await hall.setup()
    cfg = await hall.config()
    first, second = cfg["data"], (await hall.config())["data"]
    first["services"][0]["service_minutes"] = 9
    second["services"][1]["service_minutes"] = 16
    r = await hall.call("POST", "/admin/api/config", {"data": first, "base_digest": cfg["digest"]})
    assert r.status == 200
    r = await hall.call("POST", "/admin/api/config", {"data": second, "base_digest": cfg["digest"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "config_changed_meanwhile"
    assert hall.engine.config.services[1].service_minutes == 15


async def test_removing_a_service_with_live_tickets_is_a_conflict(hall: Admin) -> None:
    await hall.setup()
    await hall.app[writer_key].submit(c.IssueTicket(request_id="t1", service="consult"))
    cfg = await hall.config()
    data = cfg["data"]
    data["services"] = [s for s in data["services"] if s["code"] != "consult"]
    for w in data["windows"]:
        w["tiers"] = [t for t in ([x for x in tier if x != "consult"] for tier in w["tiers"]) if t]
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 409 and (await r.json())["error"]["code"] == "config_conflict"


async def test_device_sections_are_saved_but_need_a_restart(hall: Admin) -> None:
    await hall.setup()
    cfg = await hall.config()
    data = cfg["data"]
    data["led_buses"][0]["brightness"] = 60
    data["voice"]["volume"] = 50
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 200
    reply = await r.json()
    assert reply["restart_needed"] == ["led_buses"]
    assert sorted(reply["changed"]) == ["led_buses", "voice"]


async def test_import_shows_line_numbered_errors_and_export_round_trips(hall: Admin) -> None:
    await hall.setup()
    r = await hall.call("GET", "/admin/api/config/export")
    assert r.status == 200
    assert r.headers["Content-Disposition"] == 'attachment; filename="hall-demo-szq-2026-11-23.toml"'
    text = await r.text()
    digest = r.headers["X-Config-Digest"]
    bad = text.replace('prefix = "B"', 'prefix = "b"')
    r = await hall.call("POST", "/admin/api/config/import", {"text": bad, "name": "mine.toml", "base_digest": digest})
    assert r.status == 400
    problem = (await r.json())["error"]["problems"][0]
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if ln == 'prefix = "b"')
    assert problem["line"] == line and problem["path"] == "services[1].prefix"
    assert problem["text"].startswith(f"mine.toml:{line}:")
    r = await hall.call("POST", "/admin/api/config/import", {"text": "[hall\n", "base_digest": digest})
    assert r.status == 400 and (await r.json())["error"]["problems"][0]["line"] == 1
    # The exported file imports back to the same configuration: nothing changes.
    r = await hall.call("POST", "/admin/api/config/import", {"text": text, "base_digest": digest})
    assert r.status == 200 and (await r.json())["changed"] == []
    assert hall.engine.config_digest == digest
    # An edited one goes through, comments kept in the saved text.
    edited = text.replace('name = "公积金"', 'name = "住房公积金"') + "\n# a hand-written note\n"
    form_less = {"text": edited, "base_digest": digest}
    r = await hall.call("POST", "/admin/api/config/import", form_less)
    assert r.status == 200 and (await r.json())["changed"] == ["services"]
    assert hall.engine.config.service("fund").name == "住房公积金"
    exported = await (await hall.call("GET", "/admin/api/config/export")).text()
    assert "# a hand-written note" in exported


async def test_import_as_a_form_upload_with_the_csrf_field(hall: Admin) -> None:
    import aiohttp

    await hall.setup()
    cfg = await hall.config()
    text = cfg["text"].replace('name = "税务"', 'name = "税务服务"')

    def form(csrf: str) -> aiohttp.FormData:
        f = aiohttp.FormData()
        f.add_field("csrf", csrf)
        f.add_field("base_digest", cfg["digest"])
        f.add_field("file", text.encode(), filename="hall.toml", content_type="application/toml")
        return f

    r = await hall.client.post("/admin/api/config/import", data=form("wrong"))
    assert r.status == 403
    r = await hall.client.post("/admin/api/config/import", data=form(hall.csrf))
    assert r.status == 200, await r.text()
    assert hall.engine.config.service("tax").name == "税务服务"


# ------------------------------------------------------------------ users and PINs


async def test_users_and_the_last_admin(hall: Admin) -> None:
    await hall.setup()
    await _add_user(hall, "second", "admin")
    r = await hall.call("POST", "/admin/api/users", {"name": "second", "role": "staff", "password": PASSWORD})
    assert r.status == 409
    assert (await hall.call("POST", "/admin/api/users/second/role", {"role": "staff"})).status == 200
    r = await hall.call("DELETE", "/admin/api/users/root")
    assert r.status == 409 and (await r.json())["error"]["code"] == "last_admin"
    r = await hall.call("POST", "/admin/api/users/second/password", {"password": "short"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "weak_password"
    assert (await hall.call("POST", "/admin/api/users/second/password", {"password": "another pass 2"})).status == 200
    assert (await hall.call("DELETE", "/admin/api/users/second")).status == 200
    users = await (await hall.call("GET", "/admin/api/users")).json()
    assert [u["name"] for u in users["users"]] == ["root"]


async def test_change_own_password(hall: Admin) -> None:
    await hall.setup()
    body = {"current": "not it at all", "password": "new password 9", "password2": "new password 9"}
    r = await hall.call("POST", "/admin/api/session/password", body)
    assert r.status == 401 and (await r.json())["error"]["code"] == "wrong_password"
    r = await hall.call("POST", "/admin/api/session/password", {**body, "current": PASSWORD})
    assert r.status == 200
    hall.csrf = (await r.json())["csrf"]
    assert (await hall.call("GET", "/admin/api/users")).status == 200  # still logged in
    assert (await hall.login("root", "new password 9")).status == 200


async def test_a_pin_set_here_is_asked_at_sign_in(hall: Admin) -> None:
    await hall.setup()
    r = await hall.call("PUT", "/admin/api/pins/1001", {"pin": "12ab"})
    assert r.status == 400
    assert (await hall.call("PUT", "/admin/api/pins/9999", {"pin": "1234"})).status == 404
    assert (await hall.call("PUT", "/admin/api/pins/1001", {"pin": "2468"})).status == 200
    users = await (await hall.call("GET", "/admin/api/users")).json()
    assert users["pins"] == ["1001"] and "2468" not in str(users)
    sign = "/api/windows/1/sign-in"
    r = await hall.client.post(sign, json={"request_id": "s1", "staff": "1001"})
    assert r.status == 400 and (await r.json())["error"]["code"] == "pin_required"
    r = await hall.client.post(sign, json={"request_id": "s2", "staff": "1001", "pin": "1111"})
    assert r.status == 401
    r = await hall.client.post(sign, json={"request_id": "s3", "staff": "1001", "pin": "2468"})
    assert r.status == 200
    assert (await hall.call("DELETE", "/admin/api/pins/1001")).status == 200
    assert (await (await hall.call("GET", "/admin/api/users")).json())["pins"] == []


# ------------------------------------------------------------------ printers and voice


async def test_printer_test_print_preview_and_health(hall: Admin) -> None:
    await hall.setup()
    r = await hall.call("POST", "/admin/api/printers/kiosk-1/test", {})
    assert r.status == 200, await r.text()
    result = await r.json()
    assert result["printed"] is True and result["paper"] == "ok"
    sim = hall.app[admin_state_key].simulators["kiosk-1"]
    assert len(sim.tickets) == 1 and sim.last_ticket.number == "A000"
    printers = (await (await hall.call("GET", "/admin/api/printers")).json())["printers"]
    assert printers[0]["health"]["status"] == "ok"
    assert printers[0]["last_test"]["printed"] is True
    sim.paper = "out"
    r = await hall.call("POST", "/admin/api/printers/kiosk-1/test", {})
    result = await r.json()
    assert result["printed"] is False and "缺纸" in result["reason"]
    state = await (await hall.client.get("/api/state?tickets=none")).json()
    device = {d["device"]: d for d in state["devices"]}["kiosk-1-printer"]
    assert device["status"] == "error" and "paper" in device["reason_en"]
    r = await hall.call("GET", "/admin/api/printers/kiosk-1/preview.png?service=property&lang=en")
    assert r.status == 200 and r.content_type == "image/png"
    png = await r.read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000
    assert (await hall.call("GET", "/admin/api/printers/nope/preview.png")).status == 404
    assert (await hall.call("GET", "/admin/api/printers/kiosk-1/preview.png?service=nope")).status == 404


async def test_no_voice_no_broadcast(hall: Admin) -> None:
    await hall.setup()
    r = await hall.call("POST", "/admin/api/voice/broadcast", {"text": "测试"})
    assert r.status == 409 and (await r.json())["error"]["code"] == "no_voice"
    r = await hall.call("POST", "/admin/api/voice/broadcast", {"text": "测试"}, csrf=False)
    assert r.status == 403


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
async def test_broadcast_and_voice_test_are_said(
    aiohttp_client: Any, demo_config: HallConfig, tmp_path: Path
) -> None:
    clock = Clock(at(2026, 11, 23, 9, 30))
    app = create_app(demo_config, tmp_path, clock=clock)
    admin = Admin(await aiohttp_client(app), app, clock)
    await admin.setup()
    await _add_user(admin, "guide", "staff")
    assert (await admin.login("guide", PASSWORD)).status == 200  # staff may broadcast
    r = await admin.call("POST", "/admin/api/voice/broadcast", {"text": "请丢失钱包的群众到服务台认领", "repeats": 2})
    assert r.status == 202, await r.text()
    assert (await admin.call("POST", "/admin/api/voice/test")).status == 202
    bad = await admin.call("POST", "/admin/api/voice/broadcast", {"text": "x", "repeats": 9})
    assert bad.status == 400
    log = tmp_path / "voice" / "announcements.log"
    lines: list[str] = []
    for _ in range(400):
        if log.exists():
            lines = log.read_text(encoding="utf-8").splitlines()
            if len(lines) >= 2:
                break
        await asyncio.sleep(0.02)
    said = [line.split("\t")[2] for line in lines]
    assert "请丢失钱包的群众到服务台认领" in said[0] and "语音测试" in said[1]


async def test_tables_reordered_by_a_browser_are_no_change(hall: Admin) -> None:
    """JavaScript lists integer-like keys in rising order: that alone changes nothing."""
    await hall.setup()
    cfg = await hall.config()
    data = cfg["data"]
    levels = data["keypad_buses"][0]["evaluator_levels"]
    data["keypad_buses"][0]["evaluator_levels"] = dict(sorted(levels.items()))
    assert list(data["keypad_buses"][0]["evaluator_levels"]) != list(levels)
    r = await hall.call("POST", "/admin/api/config", {"data": data, "base_digest": cfg["digest"]})
    assert r.status == 200 and (await r.json())["changed"] == []
    assert hall.engine.config_digest == cfg["digest"]
