"""The facilities admin in a real browser: first run, login and lockout, session expiry,
editing the configuration (a notice reaches the hall), import and export, users and PINs,
and a screenshot of every page at 1366×768."""

from __future__ import annotations

import asyncio
import tomllib
from pathlib import Path
from typing import Any

import aiohttp

from hallq.hall import commands as c
from hallq.hall.commands import ChangeConfig
from hallq.hall.config import config_toml, demo_config_path, parse_config
from hallq.hall.reconfigure import config_digest
from tests.browser import LiveHall, open_page, shot, wait_for

PASSWORD = "hall admin 2026"
W, H = 1366, 768


async def _user(hall: LiveHall, name: str = "root", role: str = "admin") -> None:
    await asyncio.to_thread(hall.accounts.add_user, name, role, PASSWORD)


async def _login(browser: Any, hall: LiveHall, name: str = "root", page_id: str = "overview") -> Any:
    page = await open_page(browser, f"{hall.url}/admin#/{page_id}", W, H, locale="zh-CN")
    await page.wait_for_selector("#login-form:not(.hidden)")
    await page.fill("#login-name", name)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#app:not(.hidden)")
    await page.wait_for_selector(f"#main[data-page='{page_id}']")
    return page


async def _state(hall: LiveHall) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(hall.url + "/api/state?tickets=none") as r:
        data: dict[str, Any] = await r.json()
        return data


async def test_first_run_login_lockout_and_logout(live_hall: LiveHall, browser: Any) -> None:
    page = await open_page(browser, live_hall.url + "/admin", W, H)
    await page.wait_for_selector("#setup-form:not(.hidden)")
    await shot(page, "admin-setup")
    code = await asyncio.to_thread(live_hall.accounts.setup_code)
    await page.fill("#setup-code", "00000000")
    await page.fill("#setup-name", "root")
    await page.fill("#setup-password", PASSWORD)
    await page.fill("#setup-password2", PASSWORD)
    await page.click("#setup-form button[type=submit]")
    await page.wait_for_selector("#gate-message.bad")
    assert "设置码不对" in await page.inner_text("#gate-message")
    await page.fill("#setup-code", code)
    await page.fill("#setup-password", PASSWORD)
    await page.fill("#setup-password2", PASSWORD)
    await page.click("#setup-form button[type=submit]")
    await page.wait_for_selector("#windows-table tbody tr")
    assert "root" in await page.inner_text("#who")
    assert not await asyncio.to_thread(live_hall.accounts.needs_setup)

    await page.click("#logout")
    await page.wait_for_selector("#login-form:not(.hidden)")
    for _ in range(5):
        await page.fill("#login-name", "root")
        await page.fill("#login-password", "not the password")
        await page.click("#login-form button[type=submit]")
        await page.wait_for_function("!document.querySelector('#login-form button').disabled")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_function("document.querySelector('#gate-message').textContent.includes('锁定')")
    await shot(page, "admin-locked")
    await asyncio.to_thread(live_hall.accounts.unlock, "root")
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#app:not(.hidden)")
    assert page.errors == []


async def test_session_expiry_returns_to_the_login(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="services")
    live_hall.clock.advance(31 * 60)
    await page.click("nav a[data-page='users']")
    await page.wait_for_selector("#login-form:not(.hidden)")
    assert "过期" in await page.inner_text("#gate-message")
    await shot(page, "admin-expired")
    await page.fill("#login-name", "root")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#main[data-page='users'] #users table")
    assert page.errors == []


async def test_an_edited_notice_reaches_the_hall(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="screens")
    # A change without the CSRF token is refused, from the page itself too.
    status = await page.evaluate(
        """async (digest) => (await fetch('/admin/api/config', {method: 'POST',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({data: {}, base_digest: digest})})).status""",
        live_hall.writer.engine.config_digest,
    )
    assert status == 403
    text = "今天下午 15:00 起系统维护，请提前办理。"
    # The hall screen is open in another browser while the admin edits.
    screen = await open_page(browser, live_hall.url + "/screen/hall")
    await screen.wait_for_selector("#current-number", state="attached")
    box = page.locator("[data-path='notices[0].text']")
    await box.fill(text)
    await page.fill("[data-path='notices[0].ends']", "2026-11-30")
    await page.click("#save")
    await wait_for(lambda: live_hall.writer.engine.config.notices[0].text == text)
    assert live_hall.writer.engine.config.notices[0].ends == "2026-11-30"
    for _ in range(100):
        saved = tomllib.loads(live_hall.config_path.read_text(encoding="utf-8"))
        if saved["notices"][0]["text"] == text:
            break
        await asyncio.sleep(0.02)
    assert saved["notices"][0]["text"] == text
    assert (await _state(live_hall))["notices"][0]["text"] == text
    # ... and the screen shows the new notice by itself, without a reload.
    await screen.wait_for_function(
        "(t) => document.querySelector('#notice-text').textContent.includes(t)", arg=text
    )
    await shot(screen, "screen-after-admin-notice")
    assert screen.errors == []
    await page.wait_for_selector(".save-status:has-text('已保存')")
    # A mistake is shown beside its field, and nothing is saved.
    await page.fill("[data-path='screens[0].recent_calls']", "99")
    await page.click("#save")
    await page.wait_for_selector(".field.invalid [data-path='screens[0].recent_calls']")
    assert "between 1 and 20" in await page.inner_text(".problems")
    await shot(page, "admin-screens-problem")
    assert live_hall.writer.engine.config.screens[0].recent_calls == 6
    assert page.errors == []


async def test_a_stale_edit_says_changed_meanwhile(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="services")
    await page.fill("[data-path='services[0].guide.fee']", "不收费")
    # Someone else saves first.
    cfg = live_hall.writer.engine.config
    other = parse_config(config_toml(cfg).replace('name = "税务"', 'name = "税务服务"'))
    await live_hall.do(ChangeConfig, text=config_toml(other), base_digest=config_digest(cfg), by="other")
    await page.click("#save")
    await page.wait_for_selector(".notice.meanwhile")
    assert "他人修改" in await page.inner_text(".notice.meanwhile")
    await shot(page, "admin-changed-meanwhile")
    assert live_hall.writer.engine.config.services[0].guide.fee != "不收费"
    await page.click(".notice.meanwhile button")
    await page.wait_for_function("!document.querySelector('.notice')?.textContent.includes('他人')")
    assert await page.input_value("[data-path='services[5].name']") == "税务服务"


async def test_import_errors_and_export_round_trip(live_hall: LiveHall, browser: Any, tmp_path: Path) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="config")
    async with page.expect_download() as info:
        await page.click("#export")
    download = await info.value
    assert download.suggested_filename == "hall-demo-szq-2026-11-23.toml"
    exported = Path(await download.path()).read_text(encoding="utf-8")
    assert config_digest(parse_config(exported)) == live_hall.writer.engine.config_digest

    bad = exported.replace("issue_cutoff_minutes = 20", 'issue_cutoff_minutes = "twenty"')
    line = next(i for i, ln in enumerate(bad.splitlines(), 1) if "twenty" in ln)
    page.on("dialog", lambda d: asyncio.ensure_future(d.accept()))
    await page.set_input_files("#import-file", files=[{"name": "hall-bad.toml", "mimeType": "application/toml", "buffer": bad.encode()}])
    await page.click("#import")
    await page.wait_for_selector("#import-problems:not(.hidden)")
    shown = await page.inner_text("#import-problems")
    assert f"第 {line} 行" in shown and "hours.issue_cutoff_minutes" in shown
    await shot(page, "admin-import-error")

    edited = exported.replace("issue_cutoff_minutes = 20", "issue_cutoff_minutes = 25")
    await page.set_input_files("#import-file", files=[{"name": "hall.toml", "mimeType": "application/toml", "buffer": edited.encode()}])
    await page.click("#import")
    await wait_for(lambda: live_hall.writer.engine.config.hours.issue_cutoff_minutes == 25)
    await page.wait_for_function("document.querySelector('#config-text')?.textContent.includes('issue_cutoff_minutes = 25')")
    assert page.errors == []


async def test_users_page_adds_a_user_and_a_pin_that_signs_in(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="users")
    await page.wait_for_selector("#users table")
    await page.fill("#add-user [name=name]", "guide")
    await page.select_option("#add-user [name=role]", "staff")
    await page.fill("#add-user [name=password]", PASSWORD)
    await page.fill("#add-user [name=password2]", PASSWORD)
    await page.click("#add-user button[type=submit]")
    await page.wait_for_selector("tr[data-user='guide']")
    users = await asyncio.to_thread(live_hall.accounts.users)
    assert {(u.name, u.role) for u in users} == {("root", "admin"), ("guide", "staff")}

    row = page.locator("tr[data-staff='1001']")
    await row.locator("input[type=password]").fill("4321")
    await row.locator(".pin-form button").click()
    await page.wait_for_selector("tr[data-staff='1001'] .pill.ok")
    assert await page.locator(".save-status.dirty").count() == 0  # a PIN is not a config edit
    await shot(page, "admin-users-pin")
    async with aiohttp.ClientSession() as http:
        url = live_hall.url + "/api/windows/1/sign-in"
        async with http.post(url, json={"request_id": "s1", "staff": "1001"}) as r:
            assert r.status == 400 and (await r.json())["error"]["code"] == "pin_required"
        async with http.post(url, json={"request_id": "s2", "staff": "1001", "pin": "4321"}) as r:
            assert r.status == 200
    assert live_hall.writer.engine.state.windows[1].staff == "1001"
    assert page.errors == []


async def test_staff_see_settings_read_only(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    await _user(live_hall, "guide", "staff")
    page = await _login(browser, live_hall, "guide", page_id="services")
    assert await page.locator("nav a[data-page='users']").count() == 0
    assert await page.is_disabled("[data-path='services[0].name']")
    assert await page.locator(".savebar.hidden").count() == 1
    await shot(page, "admin-staff-readonly")
    await page.click("nav a[data-page='voice']")
    await page.wait_for_selector("#broadcast-now")
    assert await page.is_enabled("#broadcast-now")  # staff may broadcast
    assert await page.is_disabled("[data-path='voice.volume']")
    # Anyone may change their own password; the session goes on with the new one.
    await page.click("#password-open")
    await page.fill("#pw-current", PASSWORD)
    await page.fill("#pw-new", "a new password 1")
    await page.fill("#pw-new2", "a new password 1")
    await page.click("#password-form button[type=submit]")
    await page.wait_for_selector("#password-dialog:not([open])", state="attached")
    await page.wait_for_selector(".toast:has-text('密码已修改')")
    await page.click("nav a[data-page='printer']")  # an API call with the renewed session
    await page.wait_for_selector("#printers button[data-action='test']")
    assert await page.locator("#app:not(.hidden)").count() == 1
    login = await asyncio.to_thread(live_hall.accounts.login, "guide", "a new password 1")
    assert login.role == "staff"
    assert page.errors == []


async def test_every_page_at_1366x768(live_hall: LiveHall, browser: Any) -> None:
    """Screenshots to look at: the overview with a busy hall, then each page in turn."""
    await live_hall.sign_in(1, 2, 3, 5, 7, 11)
    for service in ("police", "police", "property", "business", "social", "social", "consult"):
        await live_hall.do(c.IssueTicket, service=service)
    await live_hall.do(c.CallNext, window=1)
    await live_hall.do(c.CallNext, window=3)
    await live_hall.do(c.AwayWindow, window=5)
    await live_hall.do(c.PauseWindow, window=7)
    await live_hall.writer.submit(
        c.ReportDeviceHealth(
            request_id="health-1", device="kiosk-1-printer", kind="printer", status="warning",
            reason="打印机纸将用尽", reason_en="The paper roll is nearly used up",
        )
    )
    live_hall.clock.advance(17 * 60)
    await _user(live_hall)
    page = await _login(browser, live_hall)
    await page.wait_for_selector("#windows-table tbody tr")
    await page.wait_for_function("document.querySelector('#overview')?.textContent.includes('17')")
    assert await page.locator("tr[data-window='5'] .away-1").count() == 1
    await shot(page, "admin-overview")
    await page.locator("#devices-table").scroll_into_view_if_needed()
    assert "打印机纸将用尽" in await page.inner_text("#devices-table")
    await shot(page, "admin-overview-devices")
    for page_id in ("services", "windows", "screens", "hours", "voice", "printer", "users", "config"):
        await page.click(f"nav a[data-page='{page_id}']")
        await page.wait_for_selector(f"#main[data-page='{page_id}'] .form-body > *")
        if page_id == "printer":
            await page.wait_for_function("document.querySelector('img.ticket-preview')?.naturalHeight > 0")
            await page.click("button[data-action='test']")
            await page.wait_for_selector("#printers .result.ok")
            assert "测试页已打印" in await page.inner_text("#printers .result")
        await shot(page, f"admin-{page_id}")
    await page.click("#lang")
    await page.click("nav a[data-page='overview']")
    await page.wait_for_function("document.querySelector('#overview')?.textContent.includes('Waiting')")
    await shot(page, "admin-overview-en")
    await page.click("nav a[data-page='screens']")
    await page.wait_for_selector("#main[data-page='screens'] .form-body > *")
    await shot(page, "admin-screens-en")
    assert page.errors == []
    assert demo_config_path().exists()


async def test_broadcast_now_and_at_a_time(live_hall: LiveHall, browser: Any) -> None:
    await _user(live_hall)
    page = await _login(browser, live_hall, page_id="voice")
    # This test hall runs no voice driver: the page says so instead of pretending.
    await page.fill("#broadcast-text", "请丢失钱包的群众到服务台认领")
    await page.click("#broadcast-now")
    await page.wait_for_selector("#broadcast-result.bad")
    assert "叫号语音未运行" in await page.inner_text("#broadcast-result")
    await page.click("#schedule ~ button.add")
    row = page.locator(".schedule-row[data-field='voice.schedule[0]']")
    await row.locator("input[type=time]").fill("16:35")
    await row.locator("[data-path='voice.schedule[0].text']").fill("距下班还有十五分钟，请抓紧办理")
    await page.click("#save")
    await wait_for(lambda: bool(live_hall.writer.engine.config.voice and live_hall.writer.engine.config.voice.schedule))
    voice = live_hall.writer.engine.config.voice
    assert voice is not None
    item = voice.schedule[0]
    assert (item.date, item.at, item.text, item.repeats) == ("2026-11-23", "16:35", "距下班还有十五分钟，请抓紧办理", 1)
    await page.wait_for_selector(".save-status:has-text('已保存')")
    assert await page.locator(".notice.warn").count() == 0  # nothing here needs a restart
    await page.locator("#schedule").scroll_into_view_if_needed()
    await shot(page, "admin-voice-schedule")
    assert page.errors == []
