"""The central server's pages in a real browser (Chromium): the first-run set-up, login, the
overview, a hall's page with its charts, a report downloaded as CSV and XLSX, a 回访 case
closed, and a hall's uplink token issued from the admin page. Screenshots are saved as
test-artifacts/screenshots/central-*.png to look at.

The server runs on the real clock here (the browser's clock is real too), so the sample data
is made around today.
"""

from __future__ import annotations

import datetime as dt
import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from hallq.central import accounts, halls
from hallq.central.app import create_central_app, db_key
from hallq.central.db import Database
from tests.browser import ARTIFACTS, open_page, shot
from tests.test_central_web import (
    PASSWORD,
    add_away,
    add_case,
    add_evaluation,
    add_hall,
    add_staff,
    add_ticket,
    live_figures,
)

ZONE = ZoneInfo("Asia/Shanghai")
W, H = 1440, 900


@dataclass
class LiveCentral:
    url: str
    app: web.Application

    @property
    def db(self) -> Database:
        return self.app[db_key]


@pytest.fixture
async def live_central(tmp_path: Path) -> AsyncIterator[LiveCentral]:
    app = create_central_app(f"sqlite:///{tmp_path / 'central.sqlite3'}")
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield LiveCentral(str(server.make_url("")).rstrip("/"), app)
    finally:
        await server.close()


def local(day: dt.date, hour: int, minute: int = 0) -> float:
    return dt.datetime.combine(day, dt.time(hour, minute), ZONE).timestamp()


async def city(central: LiveCentral) -> dt.date:
    """Three halls around today: one busy with a device down, one quiet, one offline; a week
    of tickets and evaluations for the first; cases, one of them overdue. Returns today."""
    db = central.db
    now = dt.datetime.now(ZONE)
    today = now.date()
    ts = now.timestamp()
    devices = [{"device": "printer-1", "kind": "printer", "status": "no_paper", "reason": "缺纸",
                "reason_en": "Out of paper", "since": ts - 900}]  # fmt: skip
    busy = live_figures(
        day=today.isoformat(), ts=ts - 5, devices_unhealthy=devices, waiting=23, served=186,
        issued=214, oldest_waiting_issued_at=ts - 2150,
    )  # fmt: skip
    for w in busy["windows"]:
        w["since"] = ts - (1150 if w["status"] == "away" else 200)
    await add_hall(
        db,
        "zz-shizhong",
        "市中区政务服务中心",
        "Shizhong Service Centre",
        live=busy,
        last_seen=ts - 4,
    )
    quiet = live_figures(day=today.isoformat(), ts=ts - 60, waiting=2, served=41, issued=44,
                         oldest_waiting_issued_at=ts - 240, wait_avg_seconds=150.0,
                         wait_p90_seconds=330.0)  # fmt: skip
    await add_hall(
        db,
        "zz-xuecheng",
        "薛城区便民服务中心",
        "Xuecheng Service Centre",
        live=quiet,
        last_seen=ts - 20,
    )
    away = live_figures(day=(today - dt.timedelta(days=1)).isoformat(), ts=ts - 26010,
                        oldest_waiting_issued_at=ts - 26000 - 840, open=False)  # fmt: skip
    await add_hall(
        db, "zz-yicheng", "峄城区政务大厅", "Yicheng Hall", live=away, last_seen=ts - 26000
    )

    rng = random.Random(7)
    hall = "zz-shizhong"
    ticket = 0
    seq = 0
    levels = (
        ["very_satisfied"] * 8
        + ["satisfied"] * 4
        + ["basic"] * 2
        + ["dissatisfied", "very_dissatisfied"]
    )
    for back in range(7):
        day = today - dt.timedelta(days=back)
        for hour, count in (
            (8, 9),
            (9, 22),
            (10, 26),
            (11, 14),
            (13, 12),
            (14, 20),
            (15, 18),
            (16, 7),
        ):
            for _ in range(count if back == 0 else count // 3):
                ticket += 1
                issued = local(day, hour, rng.randrange(60))
                wait = rng.uniform(60, 300 + (hour in (9, 10, 14)) * 900)
                window = rng.choice((1, 2))
                service = "alpha" if window == 1 else rng.choice(("alpha", "beta"))
                staff = f"100{window}"
                level = rng.choice(levels) if rng.random() < 0.8 else None
                await add_ticket(db, hall, ticket, day.isoformat(), service, "done", issued,
                                 wait=wait, service_seconds=rng.uniform(180, 900), window=window,
                                 staff=staff, evaluation=level)  # fmt: skip
                if level:
                    seq += 1
                    await add_evaluation(db, hall, seq, day.isoformat(), ticket, level,
                                         service=service, window=window, staff=staff, ts=issued)  # fmt: skip
    await add_staff(db, hall, "1001", "张三")
    await add_staff(db, hall, "1002", "李四")
    for n, minutes in enumerate((8, 17, 34, 65)):
        await add_away(db, hall, 100000 + n, today.isoformat(), 2, "1002", minutes)
    await add_case(db, hall, "20261113-001", (today - dt.timedelta(days=3)).isoformat(), eval_seq=1,
                   day=(today - dt.timedelta(days=10)).isoformat(), level="very_dissatisfied")  # fmt: skip
    await add_case(
        db, hall, f"{today:%Y%m%d}-001", (today + dt.timedelta(days=7)).isoformat(), eval_seq=2
    )
    await add_case(db, "zz-xuecheng", f"{today:%Y%m%d}-001", (today + dt.timedelta(days=7)).isoformat(),
                   eval_seq=3, status="in_progress", reason="服务态度")  # fmt: skip
    return today


async def user(
    central: LiveCentral, username: str, role: str = "city_admin", hall: str | None = None
) -> None:
    names = {"root": "市数据局 王处长", "mgr": "市中区 刘主任"}
    await accounts.create_user(
        central.db, username, PASSWORD, role, hall, names.get(username, ""), 0.0
    )


async def log_in(
    browser: Any, central: LiveCentral, username: str, path: str = "/", **options: Any
) -> Any:
    page = await open_page(browser, central.url + path, W, H, locale="zh-CN", **options)
    await page.wait_for_selector("#login-form:not(.hidden)")
    await page.fill("#login-username", username)
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#top nav")
    return page


async def full_shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.evaluate("window.scrollTo(0, 0)")  # the sticky header at the top
    await page.screenshot(path=str(path), full_page=True)
    return path


# ---------------------------------------------------------------- tests


async def test_first_run_setup_then_the_empty_overview(
    live_central: LiveCentral, browser: Any
) -> None:
    page = await open_page(browser, live_central.url + "/", W, H, locale="zh-CN")
    await page.wait_for_selector("#setup-form:not(.hidden)")
    assert page.url.endswith("/setup")
    await shot(page, "central-setup")
    code = await accounts.new_setup_code(live_central.db, 0.0)
    await page.fill("#setup-code", "11111111")
    await page.fill("#setup-username", "root")
    await page.fill("#setup-password", PASSWORD)
    await page.fill("#setup-password2", PASSWORD)
    await page.click("#setup-form button[type=submit]")
    await page.wait_for_selector("#gate-message.bad")
    assert "设置码不对" in await page.inner_text("#gate-message")
    await page.fill("#setup-code", code)
    await page.click("#setup-form button[type=submit]")
    await page.wait_for_selector("#halls thead th")
    await page.wait_for_selector("#empty:not(.hidden)")
    assert "还没有大厅" in await page.inner_text("#empty")
    assert "root" in await page.inner_text("#who")
    assert page.errors == []


async def test_login_overview_and_language(live_central: LiveCentral, browser: Any) -> None:
    await city(live_central)
    await user(live_central, "root")
    page = await open_page(browser, live_central.url + "/", W, H, locale="zh-CN")
    await page.wait_for_selector("#login-form:not(.hidden)")
    await page.fill("#login-username", "root")
    await page.fill("#login-password", "wrong password")
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#gate-message.bad")
    assert "用户名或密码不对" in await page.inner_text("#gate-message")
    await shot(page, "central-login")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#halls tbody tr[data-hall='zz-yicheng']")
    rows = page.locator("#halls tbody tr")
    assert await rows.count() == 3
    busy = page.locator("tr[data-hall='zz-shizhong']")
    assert await busy.locator("td[data-k='waiting']").inner_text() == "23"
    assert "缺纸" in await busy.inner_text()
    assert await busy.locator("[data-overdue='1']").count() == 1
    assert "离线" in await page.locator("tr[data-hall='zz-yicheng']").inner_text()
    assert await page.inner_text("[data-stat='online'] .v") == "2 / 3"
    await shot(page, "central-overview")

    await page.click("#lang")
    await page.wait_for_function("document.querySelector('h1').textContent === 'All halls now'")
    assert "Out of paper" in await busy.inner_text()
    assert "Offline" in await page.locator("tr[data-hall='zz-yicheng']").inner_text()
    await shot(page, "central-overview-en")
    # Remembered on the next page.
    await page.click("a[data-nav='reports']")
    await page.wait_for_selector("#report thead th")
    assert await page.inner_text("h1") == "Reports"
    assert page.errors == []

    for path, ready, name in (
        ("/halls/zz-shizhong", "#chart-arrivals rect.bar", "central-hall-en"),
        ("/cases", "#cases tbody tr[data-case]", "central-cases-en"),
        ("/admin", "#users tbody tr", "central-admin-en"),
    ):
        await page.goto(live_central.url + path)
        await page.wait_for_selector(ready)
        await full_shot(page, name)
    assert await page.inner_text("h1") == "Admin"
    await page.goto(live_central.url + "/")
    await page.click("#lang")  # back to Chinese
    await page.wait_for_function("document.querySelector('h1').textContent === '各大厅实时总览'")
    await page.click("tr[data-hall='zz-shizhong'] td[data-k='waiting']")
    await page.wait_for_url("**/halls/zz-shizhong")
    assert page.errors == []


async def test_hall_page_with_charts(live_central: LiveCentral, browser: Any) -> None:
    await city(live_central)
    await user(live_central, "mgr", "hall_manager", "zz-shizhong")
    page = await log_in(browser, live_central, "mgr")
    # A hall manager lands on their own hall; no overview, no admin in the menu.
    await page.wait_for_url("**/halls/zz-shizhong")
    assert await page.locator("a[data-nav='overview']").count() == 0
    assert await page.locator("a[data-nav='admin']").count() == 0
    await page.wait_for_selector("#chart-arrivals svg rect.bar")
    assert await page.inner_text("#hall-name") == "市中区政务服务中心"
    assert await page.locator("#services tbody tr").count() == 2
    assert await page.locator("#windows tbody tr").count() == 2
    assert "请稍候" in await page.inner_text("#windows tr[data-window='2']")
    # Today: arrivals 08:00-16:00 as bars, waits as two lines, two windows, evaluations stacked.
    assert await page.locator("#chart-arrivals rect.bar").count() == 8
    assert await page.locator("#chart-waits path.line").count() == 2
    assert await page.locator("#chart-windows rect.bar").count() == 2
    assert await page.locator("#chart-evaluations rect.bar").count() >= 3
    arrivals = await page.locator("#chart-arrivals rect.bar").evaluate_all(
        "bars => bars.map(b => Number(b.dataset.value))"
    )
    assert arrivals == [9, 22, 26, 14, 12, 20, 18, 7]
    await full_shot(page, "central-hall")

    await page.click("[data-quick='7']")
    await page.wait_for_function(
        "document.querySelectorAll('#chart-evaluations text.x-label').length >= 7"
    )
    await page.wait_for_function(
        "Number(document.querySelector('#chart-arrivals rect.bar').dataset.value) > 9"
    )
    await full_shot(page, "central-hall-week")

    # Another hall: not found for this manager.
    other = await page.context.new_page()
    response = await other.goto(live_central.url + "/halls/zz-xuecheng")
    assert response.status == 404
    assert page.errors == []


async def test_pages_keep_to_their_content_security_policy(
    live_central: LiveCentral, browser: Any
) -> None:
    await city(live_central)
    await user(live_central, "root")
    context = await browser.new_context(viewport={"width": W, "height": H}, bypass_csp=False)
    page = await context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    await page.goto(live_central.url + "/login")
    await page.fill("#login-username", "root")
    await page.fill("#login-password", PASSWORD)
    await page.click("#login-form button[type=submit]")
    await page.wait_for_selector("#halls tbody tr")
    for path, ready in (
        ("/halls/zz-shizhong", "#chart-arrivals rect.bar"),
        ("/reports", "#report tbody tr"),
        ("/cases", "#cases tbody tr"),
        ("/admin", "#halls tbody tr"),
    ):
        await page.goto(live_central.url + path)
        await page.wait_for_selector(ready)
    assert problems == []


async def test_reports_download_csv_and_xlsx(live_central: LiveCentral, browser: Any) -> None:
    today = await city(live_central)
    await user(live_central, "root")
    page = await log_in(browser, live_central, "root", "/reports")
    await page.wait_for_selector("#report tbody tr")
    assert await page.locator("#report tbody tr").count() == 4  # three halls and the total
    await page.click("[data-kind='range']")
    await page.fill("#from", (today - dt.timedelta(days=6)).isoformat())
    await page.fill("#to", today.isoformat())
    await page.select_option("#group", "window")
    await page.select_option("#hall", "zz-shizhong")
    await page.click("#run")
    await page.wait_for_selector("#report th[data-col='window']")
    text = await page.inner_text("#report")
    assert "1号窗口 户籍窗口" in text and "合计" in text
    await full_shot(page, "central-reports")

    async with page.expect_download() as info:
        await page.click("#csv")
    download = await info.value
    raw = Path(await download.path()).read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("大厅 (Hall),窗口 (Window),叫号数 (Tickets called)")
    assert lines[1].startswith("市中区政务服务中心,1号窗口 户籍窗口,")
    assert download.suggested_filename.endswith("-window.csv")

    await page.select_option("#lang-dl", "en")
    async with page.expect_download() as info:
        await page.click("#xlsx")
    download = await info.value
    book = openpyxl.load_workbook(io.BytesIO(Path(await download.path()).read_bytes()))
    sheet = book.worksheets[0]
    assert [c.value for c in sheet[1]][:3] == ["Hall", "Window", "Tickets called"]
    assert sheet.cell(2, 1).value == "Shizhong Service Centre"
    assert sheet.freeze_panes == "A2"
    assert page.errors == []


async def test_a_case_is_assigned_and_closed(live_central: LiveCentral, browser: Any) -> None:
    await city(live_central)
    await user(live_central, "root")
    await user(live_central, "mgr", "hall_manager", "zz-shizhong")
    page = await log_in(browser, live_central, "mgr", "/cases")
    await page.wait_for_selector("#cases tbody tr[data-case]")
    # The manager sees their hall's two cases; the overdue one first, in red.
    rows = page.locator("#cases tbody tr[data-case]")
    assert await rows.count() == 2
    first = rows.nth(0)
    assert await first.get_attribute("data-case") == "zz-shizhong/20261113-001"
    assert "overdue" in (await first.get_attribute("class") or "")
    assert await page.inner_text("[data-stat='overdue'] .v") == "1"
    await full_shot(page, "central-cases")

    await first.locator("button[data-open]").click()
    await page.wait_for_selector("#case-dialog[open]")
    await page.select_option("#case-owner", "mgr")
    await page.select_option("#case-status", "closed")
    await page.click("#case-save")
    assert "回访记录" in await page.inner_text("#case-error")
    await page.fill("#case-note", "已电话回访，当事人对解释表示满意。")
    await shot(page, "central-case-dialog")
    await page.click("#case-save")
    await page.wait_for_function("!document.querySelector('#case-dialog').open")
    # "Not closed" is the default filter: the closed case leaves the list.
    await page.wait_for_function(
        "document.querySelectorAll('#cases tbody tr[data-case]').length === 1"
    )
    row = await live_central.db.fetchrow(
        "SELECT * FROM cases WHERE hall_id = 'zz-shizhong' AND case_no = '20261113-001'"
    )
    assert row is not None
    assert (row["status"], row["owner"], row["updated_by"]) == ("closed", "mgr", "mgr")
    assert row["note"] == "已电话回访，当事人对解释表示满意。" and row["closed_at"] is not None
    await page.select_option("#status", "closed")
    await page.wait_for_selector("#cases tbody tr[data-case='zz-shizhong/20261113-001']")
    assert "已办结" in await page.inner_text(
        "#cases tbody tr[data-case='zz-shizhong/20261113-001']"
    )
    await full_shot(page, "central-cases-closed")
    assert page.errors == []


async def test_admin_adds_a_hall_and_issues_its_token(
    live_central: LiveCentral, browser: Any
) -> None:
    await city(live_central)
    await user(live_central, "root")
    page = await log_in(browser, live_central, "root", "/admin")
    await page.wait_for_selector("#halls tbody tr[data-hall]")
    await page.fill("#new-hall-id", "zz-taierzhuang")
    await page.fill("#new-hall-name", "台儿庄区政务服务中心")
    await page.click("#hall-form button[type=submit]")
    await page.wait_for_selector("#tokens-panel:not(.hidden)")
    assert "zz-taierzhuang" in await page.inner_text("#tokens-hall")
    await page.fill("#token-label", "一楼控制器")
    await page.click("#token-form button[type=submit]")
    await page.wait_for_selector("#token-once")
    token = await page.input_value("#token-value")
    assert await halls.authenticate(live_central.db, token, 0.0) == "zz-taierzhuang"
    toml = await page.inner_text("#token-toml")
    assert toml.strip() == f'[uplink]\nurl = "{live_central.url}"'
    assert "uplink.token" in await page.inner_text("#token-once")
    await page.click("#token-copy")
    await page.wait_for_selector(".toast")
    await full_shot(page, "central-admin-token")
    # The token is shown once: the list has its id and label, never the token.
    token_id = await page.locator("#tokens tbody tr[data-token]").first.get_attribute("data-token")
    assert token not in await page.inner_text("#tokens")
    page.on("dialog", lambda d: d.accept())
    await page.click(f"[data-revoke='{token_id}']")
    await page.wait_for_function(
        f"document.querySelector(\"tr[data-token='{token_id}']\").textContent.includes('已吊销')"
    )
    assert await halls.authenticate(live_central.db, token, 0.0) is None

    # A hall manager for it, and the monthly boundary.
    await page.fill("#new-username", "liu")
    await page.fill("#new-display", "刘主任")
    await page.select_option("#new-role", "hall_manager")
    await page.select_option("#new-hall", "zz-taierzhuang")
    await page.fill("#new-password", "manager password")
    await page.click("#user-form button[type=submit]")
    await page.wait_for_selector("#users tr[data-user='liu']")
    created = await accounts.get_user(live_central.db, "liu")
    assert (created.role, created.hall_id) == ("hall_manager", "zz-taierzhuang")
    await page.fill("#month-start", "26")
    await page.click("#settings-form button[type=submit]")
    await page.wait_for_function(
        "document.querySelector('#month-example').textContent.includes('10 月 26 日')"
    )
    assert (
        await live_central.db.fetchval("SELECT value FROM settings WHERE key = 'month_start_day'")
        == "26"
    )
    await full_shot(page, "central-admin")
    assert page.errors == []
