"""The citizen's status page (/t/{code}): its codes, its JSON and the page on a phone."""

from __future__ import annotations

import asyncio
import os
import re
import stat
from pathlib import Path
from typing import Any

import aiohttp

from hallq.controller.status_codes import (
    SECRET_FILE,
    StatusCodes,
    load_secret,
    normalize,
    status_path,
)
from hallq.hall import commands as c
from hallq.hall.state import Ticket
from tests.browser import LiveHall, open_page, shot
from tests.conftest import at

CODE = re.compile(r"/t/([A-Z2-7]{16})")
# Everything the status JSON may say; anything else (a name, staff, appointment) is a leak.
STATUS_FIELDS = {
    "number",
    "service",
    "service_name",
    "service_name_en",
    "status",
    "issued_at",
    "issued_local",
    "ahead",
    "estimate_minutes",
    "window",
    "window_label",
    "window_label_en",
    "called_at",
    "hall_name",
    "hall_name_en",
    "now",
    "local_time",
    "refresh_seconds",
}


def _ticket(tid: int, day: str = "2026-11-23") -> Ticket:
    return Ticket(
        id=tid,
        day=day,
        service="police",
        number=tid,
        display=f"A{tid:03d}",
        issued_at=0.0,
        order=tid,
    )


# ------------------------------------------------------------------ the codes


def test_codes_are_long_unguessable_and_differ_per_ticket_and_day(tmp_path: Path) -> None:
    codes = StatusCodes.in_dir(tmp_path)
    today = [codes.code("2026-11-23", i) for i in range(1, 501)]
    assert all(re.fullmatch(r"[A-Z2-7]{16}", x) for x in today)  # 16 × 5 bits = 80 bits
    assert len(set(today)) == len(today)
    assert codes.code("2026-11-24", 1) != today[0]
    assert codes.code("2026-11-23", 1) == today[0]  # the same ticket, the same QR
    other_hall = StatusCodes.in_dir(tmp_path / "other")
    assert other_hall.code("2026-11-23", 1) != today[0]  # the secret decides, not the number


def test_secret_is_made_once_private_and_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    first = load_secret(path)
    assert len(first) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secret(path) == first
    os.chmod(path, 0o644)  # copied with a loose mode: made private again, kept
    assert load_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("not hex\n")  # damaged: a new one (today's QRs change, the page still works)
    fresh = load_secret(path)
    assert fresh != first and len(fresh) >= 32
    assert load_secret(path) == fresh


def test_codes_normalize_as_scanned_or_typed() -> None:
    assert normalize("abcdefghijklmnop") == "ABCDEFGHIJKLMNOP"
    for bad in (
        "",
        "ABC",
        " ABCDEFGHIJKLMNOP",
        "ABCDEFGHIJKLMNO1",
        "ABCDEFGHIJKLMNOPQ",
        "ABCDEFGHIJKLMNÖP",
        "A" * 200,
    ):
        assert normalize(bad) is None, bad


async def test_find_by_code_today_only(tmp_path: Path) -> None:
    codes = StatusCodes.in_dir(tmp_path)
    day = "2026-11-23"
    tickets = {i: _ticket(i, day) for i in range(1, 11)}
    assert await codes.find(codes.code(day, 7), day, tickets) == 7
    tickets[11] = _ticket(11, day)  # issued after the first look-up: found as well
    assert await codes.find(codes.code(day, 11), day, tickets) == 11
    assert await codes.find("A" * 16, day, tickets) is None
    assert await codes.find(codes.code(day, 99), day, tickets) is None  # no such ticket today
    # The next day, yesterday's code leads nowhere, even to a ticket with the same id.
    yesterday = codes.code(day, 3)
    next_day = {i: _ticket(i, "2026-11-24") for i in range(1, 11)}
    assert await codes.find(yesterday, "2026-11-24", next_day) is None
    assert await codes.find(codes.code("2026-11-24", 3), "2026-11-24", next_day) == 3
    assert await codes.find(yesterday, None, {}) is None


async def test_a_20000_ticket_day_does_not_hold_up_the_hall(tmp_path: Path) -> None:
    """The first look-up of a big day makes 20,000 codes, in chunks between other work."""
    codes = StatusCodes.in_dir(tmp_path)
    day = "2026-11-23"
    tickets = {i: _ticket(i, day) for i in range(1, 20_001)}
    ticks = 0
    running = True

    async def other_work() -> None:  # stands for the calls the event loop must keep serving
        nonlocal ticks
        while running:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other_work())
    await asyncio.sleep(0)
    start = asyncio.get_running_loop().time()
    assert await codes.find(codes.code(day, 19_999), day, tickets) == 19_999
    first = asyncio.get_running_loop().time() - start
    running = False
    await task
    assert ticks > 10  # the loop ran other work while the codes were made
    start = asyncio.get_running_loop().time()
    for tid in (1, 5_000, 20_000):
        assert await codes.find(codes.code(day, tid), day, tickets) == tid
    later = (asyncio.get_running_loop().time() - start) / 3
    print(f"20,000 tickets: first look-up {first * 1000:.1f} ms, then {later * 1e6:.0f} µs each")


# ------------------------------------------------------------------ the JSON


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.json()


async def test_issue_reply_and_get_ticket_carry_the_status_path(live_hall: LiveHall) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(
            live_hall.url + "/api/tickets", json={"service": "police", "request_id": "kiosk-1"}
        ) as r:
            assert r.status == 200
            issued = (await r.json())["ticket"]
        path = issued["status_path"]
        assert CODE.fullmatch(path)
        async with http.get(live_hall.url + f"/api/tickets/{issued['number']}") as r:
            assert (await r.json())["status_path"] == path
        async with http.post(  # the kiosk retries: the same ticket, the same path
            live_hall.url + "/api/tickets", json={"service": "police", "request_id": "kiosk-1"}
        ) as r:
            again = await r.json()
            assert again["repeated"] and again["ticket"]["status_path"] == path
        async with http.post(
            live_hall.url + "/api/tickets", json={"service": "police", "request_id": "kiosk-2"}
        ) as r:
            assert (await r.json())["ticket"]["status_path"] != path


def _path(hall: LiveHall, reply: dict[str, Any]) -> str:
    """The status path of the ticket a command issued (as the API adds it to the reply)."""
    t = hall.writer.engine.state.tickets[reply["ticket"]["id"]]
    path = status_path(hall.app, t)
    assert path is not None
    return path


async def test_status_json_says_place_wait_and_window_and_nothing_personal(
    live_hall: LiveHall,
) -> None:
    await live_hall.sign_in(1)
    slot = at(2026, 11, 23, 9, 10)
    await live_hall.do(
        c.BookAppointment,
        code="ZHANG2026",
        service="police",
        slot_start=slot,
        slot_end=slot + 1800,
        name="张三丰",
    )
    booked = _path(
        live_hall, await live_hall.do(c.IssueTicket, service="police", appointment="ZHANG2026")
    )
    walk_in = [
        _path(live_hall, await live_hall.do(c.IssueTicket, service="police")) for _ in range(2)
    ]
    assert len({booked, *walk_in}) == 3

    status, last = await _get(live_hall.url + "/api" + walk_in[1].replace("/t/", "/status/"))
    assert status == 200
    assert set(last) == STATUS_FIELDS
    assert last["number"] == "A003" and last["status"] == "waiting"
    assert last["ahead"] == 2
    assert last["estimate_minutes"] is not None and last["estimate_minutes"] > 0
    assert last["window"] is None and last["service_name"] == "公安服务"

    await live_hall.do(c.CallNext, window=1)  # the appointment comes first
    async with aiohttp.ClientSession() as http:
        async with http.get(live_hall.url + "/api" + booked.replace("/t/", "/status/")) as r:
            raw = await r.text()
            called = await r.json()
        assert r.headers["Cache-Control"] == "no-store"
    assert called["status"] == "called" and called["window"] == 1
    assert called["window_label"] == "公安服务"
    for secret in ("ZHANG2026", "张三丰", "1001", "张敏", "staff", "appointment", "kiosk"):
        assert secret not in raw, secret
    status, moved = await _get(live_hall.url + "/api" + walk_in[1].replace("/t/", "/status/"))
    assert moved["ahead"] == 1


async def test_place_and_wait_agree_with_the_hall_view(live_hall: LiveHall) -> None:
    """The status page counts the queue as the controller does (green channel first)."""
    await live_hall.sign_in(1, 2)
    paths = []
    for category in (None, None, "green", None, None, "green"):
        reply = await live_hall.do(c.IssueTicket, service="police", category=category)
        paths.append((reply["ticket"]["number"], _path(live_hall, reply)))
    await live_hall.do(c.IssueTicket, service="social")  # another queue does not count
    await live_hall.do(c.CallNext, window=1)
    seen = []
    for number, path in paths:
        status, mine = await _get(live_hall.url + "/api" + path.replace("/t/", "/status/"))
        status2, hall = await _get(live_hall.url + f"/api/tickets/{number}")
        assert status == status2 == 200
        assert mine["status"] == hall["status"]
        if mine["status"] == "waiting":
            assert (mine["ahead"], mine["estimate_minutes"]) == (
                hall["ahead"],
                hall["estimate_minutes"],
            ), number
        seen.append(mine)
    places = sorted(m["ahead"] for m in seen if m["status"] == "waiting")
    assert places == list(range(len(places)))  # 0, 1, 2, …: each place once


async def test_wrong_malformed_and_yesterdays_codes(live_hall: LiveHall) -> None:
    path = _path(live_hall, await live_hall.do(c.IssueTicket, service="police"))
    code = path[3:]
    wrong = ("B" if code[0] == "A" else "A") + code[1:]
    status, body = await _get(live_hall.url + f"/api/status/{wrong}")
    assert status == 404
    assert body["error"]["code"] == "ticket_not_found"
    assert "号票不存在或已过期" in body["error"]["message"]
    status, body = await _get(live_hall.url + "/api/status/not-a-code")
    assert status == 400 and body["error"]["code"] == "invalid_code"
    status, body = await _get(live_hall.url + f"/api/status/{code.lower()}")  # typed by hand
    assert status == 200 and body["number"] == "A001"
    async with aiohttp.ClientSession() as http:
        for url, expected in ((path, 200), (f"/t/{wrong}", 404), ("/t/x", 400)):
            async with http.get(live_hall.url + url) as r:
                assert r.status == expected, url
                assert r.content_type == "text/html"
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
                assert r.headers["Referrer-Policy"] == "no-referrer"  # the code stays private
    # The next morning: a new day, and yesterday's QR leads nowhere.
    live_hall.clock.advance(24 * 3600)
    await live_hall.do(c.Tick)
    assert live_hall.writer.engine.state.day == "2026-11-24"
    status, body = await _get(live_hall.url + f"/api/status/{code}")
    assert status == 404 and body["error"]["code"] == "ticket_not_found"
    today = _path(live_hall, await live_hall.do(c.IssueTicket, service="police"))
    assert today != path
    status, body = await _get(live_hall.url + "/api" + today.replace("/t/", "/status/"))
    assert status == 200 and body["number"] == "A001"


async def test_status_endpoint_is_in_the_openapi_document(live_hall: LiveHall) -> None:
    status, doc = await _get(live_hall.url + "/api/openapi.json")
    assert status == 200
    op = doc["paths"]["/api/status/{code}"]["get"]
    assert op["operationId"] == "getTicketStatus"
    assert set(op["responses"]) == {"200", "400", "404"}
    assert set(op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]) == (
        STATUS_FIELDS
    )


# ------------------------------------------------------------------ the page on a phone

PHONE = (360, 740)


async def test_status_page_on_a_phone_follows_the_ticket(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    await live_hall.do(c.IssueTicket, service="police")  # someone before us
    path = _path(live_hall, await live_hall.do(c.IssueTicket, service="police"))
    page = await open_page(browser, live_hall.url + path, *PHONE)
    await page.wait_for_selector("#ticket:not(.hidden)")
    assert await page.inner_text("#number") == "A002"
    assert await page.inner_text("#state") == "等候中"
    assert await page.inner_text("#ahead") == "1 人"
    assert "分钟" in await page.inner_text("#estimate") or "即将" in await page.inner_text(
        "#estimate"
    )
    assert "公安服务" in await page.inner_text("#service")
    assert "枣庄市市中区政务服务中心" in await page.inner_text("#hall-name")
    # The number is the biggest thing on the page, and nothing spills over the phone's width.
    size = await page.eval_on_selector("#number", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 64
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
    await shot(page, "status-waiting")

    await live_hall.do(c.CallNext, window=1)  # A001
    await page.wait_for_function(
        "document.querySelector('#ahead').textContent === '0 人'", timeout=15000
    )
    await live_hall.do(c.CallNext, window=1)  # A002: ours; the page sees it by itself
    await page.wait_for_function(
        "document.querySelector('#state').textContent === '请到 1 号窗口'", timeout=15000
    )
    assert await page.is_hidden("#figures")
    assert await page.is_hidden("#window-label")  # "公安服务" would only repeat the service
    assert "请到 1 号窗口" in await page.title()
    await shot(page, "status-called")

    await page.click("#lang")  # English, and it stays English on the next refresh
    await page.wait_for_function(
        "document.querySelector('#state').textContent === 'Please go to window 1'"
    )
    await shot(page, "status-called-en")
    await page.click("#lang")

    await live_hall.do(c.StartService, window=1)
    await live_hall.do(c.FinishService, window=1)
    await page.wait_for_function(
        "document.querySelector('#state').textContent === '已办结'", timeout=15000
    )
    assert await page.is_hidden("#auto")  # finished: the page stops asking
    await shot(page, "status-done")
    assert page.errors == []


async def test_status_page_for_a_wrong_code_says_so(live_hall: LiveHall, browser: Any) -> None:
    page = await open_page(browser, live_hall.url + "/t/ABCDEFGHIJKLMNOP", *PHONE)
    await page.wait_for_selector("#missing:not(.hidden)")
    assert await page.inner_text("#missing-text") == "号票不存在或已过期"
    assert await page.is_hidden("#ticket")
    assert await page.is_hidden("#auto")  # it does not pretend to refresh
    await shot(page, "status-not-found")
    await page.goto(live_hall.url + "/t/oops?lang=en")
    await page.wait_for_selector("#missing:not(.hidden)")
    assert "not valid" in await page.inner_text("#missing-text")
    assert page.errors == []
