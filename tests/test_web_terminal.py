"""The window terminal (/window/N): its queue endpoint, and the page in a real browser.

The calling order it shows is checked against the engine itself: predicted order == the
tickets call-next then calls. In the browser: sign-in with PINs and every refusal, each
button and its shortcut, the dialogs, the away timer's warnings, live updates from another
terminal, and two terminals (or two windows) pressing at once never getting one ticket.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hallq.hall import commands as c
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.engine import Engine
from hallq.web.terminal import calling_order, window_queue
from tests.browser import LiveHall, open_page, shot
from tests.conftest import SMALL_HALL_TOML, at, rejected, run

SMALL = parse_config(SMALL_HALL_TOML, "small-hall.toml")
T0 = at(2026, 11, 23, 9, 0)

# ------------------------------------------------------------------ the calling order


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    tickets=st.lists(
        st.tuples(
            st.sampled_from(["alpha", "beta", "gamma"]),
            st.sampled_from([None, None, None, "green", "vip"]),
        ),
        max_size=25,
    ),
    window=st.sampled_from([1, 2, 3, 4]),
    warmup=st.integers(0, 4),
)
def test_predicted_order_is_the_order_call_next_takes(
    tickets: list[tuple[str, str | None]], window: int, warmup: int
) -> None:
    engine = Engine(SMALL)
    now = T0
    run(engine, c.SignIn(request_id="s", window=window, staff="s1"), now)
    # Some green tickets called first, so the anti-starvation streak is part of the case.
    for i in range(warmup):
        now += 1
        run(engine, c.IssueTicket(request_id=f"w{i}", service="alpha", category="green"), now)
        run(engine, c.IssueTicket(request_id=f"g{i}", service="gamma", category="green"), now)
        run(engine, c.CallNext(request_id=f"wc{i}", window=window), now)
    for i, (service, category) in enumerate(tickets):
        now += 1
        run(engine, c.IssueTicket(request_id=f"t{i}", service=service, category=category), now)
    w = SMALL.window(window)
    assert w is not None
    predicted = [
        t.display
        for _, t in calling_order(engine, w.tiers, engine.window_state(window).priority_streak, now)
    ]
    called = []
    for i in range(len(predicted) + 1):
        reply = run(engine, c.CallNext(request_id=f"c{i}", window=window), now)
        if "called" in reply:
            called.append(reply["called"]["number"])
    assert called == predicted


def test_queue_lists_tiers_counts_and_missed(demo_config: HallConfig) -> None:
    engine = Engine(demo_config)
    now = at(2026, 11, 23, 9, 0)
    run(engine, c.SignIn(request_id="s", window=11, staff="1011"), now)
    for i, service in enumerate(["police", "consult", "civil", "police", "tax"]):
        run(engine, c.IssueTicket(request_id=f"t{i}", service=service), now + i)
    w = demo_config.window(11)
    assert w is not None
    q = window_queue(engine, w, now + 10)
    # Window 11's tiers: consult, then civil/social/fund, then police/business/tax.
    assert [t["number"] for t in q["queue"]] == ["H001", "G001", "A001", "A002", "F001"]
    assert [t["tier"] for t in q["queue"]] == [1, 2, 3, 3, 3]
    assert q["queue_total"] == 5
    assert {s["code"]: s["waiting"] for s in q["services"]}["police"] == 2
    run(engine, c.CallNext(request_id="c1", window=11), now + 20)
    run(engine, c.Recall(request_id="r1", window=11), now + 30)
    run(engine, c.MarkNoShow(request_id="n1", window=11), now + 40)
    q = window_queue(engine, w, now + 50)
    assert [m["number"] for m in q["missed"]] == ["H001"]
    assert q["missed"][0]["reinstatable"] is True
    late = window_queue(engine, w, now + 40 + 31 * 60)
    assert late["missed"][0]["reinstatable"] is False
    assert late["missed"][0]["why_not"] == "grace_expired"
    assert (
        rejected(engine, c.ReinstateTicket(request_id="x", ticket="H001"), now + 40 + 31 * 60)
        == "grace_expired"
    )


async def test_queue_endpoint_and_unknown_windows(live_hall: LiveHall) -> None:
    await live_hall.sign_in(1)
    await live_hall.do(c.IssueTicket, service="police")
    async with aiohttp.ClientSession() as http:
        async with http.get(live_hall.url + "/api/windows/1/queue") as r:
            assert r.status == 200
            data = await r.json()
        assert [t["number"] for t in data["queue"]] == ["A001"]
        assert data["rules"]["recalls_before_no_show"] == 1
        for bad in ("99", "0", "abc", "1x", "１"):
            async with http.get(live_hall.url + f"/api/windows/{bad}/queue") as r:
                assert r.status == 404, bad
                assert (await r.json())["error"]["code"] == "window_not_found"
            async with http.get(live_hall.url + f"/window/{bad}") as r:
                assert r.status == 404
                text = await r.text()
                assert "没有" in text and 'href="/window/12"' in text
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
            async with http.get(live_hall.url + f"/evaluate/{bad}") as r:
                assert r.status == 404
                assert 'href="/evaluate/1"' in await r.text()
        async with http.get(live_hall.url + "/evaluate/12") as r:
            assert r.status == 200 and "evaluate.js" in await r.text()
        async with http.get(live_hall.url + "/api/windows/1/evaluation") as r:
            assert r.status == 200 and (await r.json())["offer"] is None
        async with http.get(live_hall.url + "/window/3") as r:
            assert r.status == 200 and "terminal.js" in await r.text()


# ------------------------------------------------------------------ in the browser


async def _terminal(browser: Any, hall: LiveHall, window: int = 1, lang: str = "zh") -> Any:
    page = await open_page(browser, f"{hall.url}/window/{window}?lang={lang}", 1366, 768)
    await page.wait_for_selector("body[data-status]:not([data-status=loading])")
    return page


async def _press(page: Any, key: str) -> str:
    """Press a shortcut and wait for its result; return the message's code."""
    before = int(await page.get_attribute("#message", "data-count") or "0")
    await page.keyboard.press(key)
    await page.wait_for_function(
        f"Number(document.querySelector('#message').dataset.count) > {before}"
    )
    return str(await page.get_attribute("#message", "data-code"))


async def _settled(page: Any, hall: LiveHall) -> None:
    """Wait until the page shows the controller's latest state."""
    seq = hall.writer.committed_seq
    await page.wait_for_function(
        "document.body.dataset.busy !== '1'"
        f" && Number(document.body.dataset.seq) >= {seq}"
        f" && Number(document.body.dataset.queueSeq) >= {seq}"
    )


async def test_sign_in_with_pin_and_every_refusal(live_hall: LiveHall, browser: Any) -> None:
    await asyncio.to_thread(live_hall.accounts.set_pin, "1001", "2468")
    await asyncio.to_thread(live_hall.accounts.set_pin, "1002", "1357")
    page = await _terminal(browser, live_hall, 1)
    await page.wait_for_selector("#signin:not(.hidden)")
    await shot(page, "terminal-signed-out")
    assert "1号窗口" in await page.inner_text("#signin-title")

    async def attempt(staff: str, pin: str) -> str:
        await page.fill("#signin-staff", staff)
        await page.fill("#signin-pin", pin)
        await page.evaluate("document.querySelector('#signin-error').dataset.code = 'pending'")
        await page.click("#signin-submit")
        await page.wait_for_function(
            "document.querySelector('#signin-error').dataset.code !== 'pending'"
        )
        return str(await page.get_attribute("#signin-error", "data-code"))

    assert await attempt("1001", "") == "pin_required"
    assert "PIN" in await page.inner_text("#signin-error")
    assert await attempt("1001", "1111") == "wrong_pin"
    assert "PIN 不对" in await page.inner_text("#signin-error")
    assert await attempt("9999", "") == "staff_not_found"
    assert "9999" in await page.inner_text("#signin-error")
    assert await attempt("1003", "") == "staff_not_assigned"
    await live_hall.do(c.SignIn, window=2, staff="1001")  # 1001 is the backup of window 2
    assert await attempt("1001", "2468") == "signed_in_elsewhere"
    assert "2 号窗口" in await page.inner_text("#signin-error")
    await live_hall.do(c.SignOut, window=2)
    for _ in range(5):  # five wrong tries in a row lock the PIN
        await attempt("1001", "0000")
    assert await attempt("1001", "2468") == "locked"
    assert "锁定" in await page.inner_text("#signin-error")
    await asyncio.to_thread(live_hall.accounts.unlock, "1001")
    # The backup (AB岗) of window 1 is 1002 (window 2); the right PIN signs in.
    assert await attempt("1002", "1357") == ""
    await page.wait_for_selector("#signin.hidden", state="attached")
    assert live_hall.writer.engine.window_state(1).staff == "1002"
    assert "李强" in await page.inner_text("#staff-box")
    # Take over (换岗) by 1001 while 1002 is signed in.
    await page.click("#btn-takeover")
    await page.wait_for_selector("#signin:not(.hidden)")
    assert "李强" in await page.inner_text("#signin-sub")
    assert await attempt("1001", "2468") == ""
    await page.wait_for_function("document.body.dataset.staff === '1001'")
    # Signed out elsewhere (the controller says so): the form is back.
    await live_hall.do(c.SignOut, window=1)
    await page.wait_for_selector("#signin:not(.hidden)")
    assert page.errors == []


async def test_sign_in_errors_in_english(live_hall: LiveHall, browser: Any) -> None:
    await asyncio.to_thread(live_hall.accounts.set_pin, "1001", "2468")
    page = await _terminal(browser, live_hall, 1, lang="en")
    await page.wait_for_selector("#signin:not(.hidden)")
    assert "sign in" in (await page.inner_text("#signin-title")).lower()
    await page.fill("#signin-staff", "1001")
    await page.fill("#signin-pin", "9999")
    await page.click("#signin-submit")
    await page.wait_for_function(
        "document.querySelector('#signin-error').dataset.code === 'wrong_pin'"
    )
    assert await page.inner_text("#signin-error") == "Wrong PIN"
    await page.fill("#signin-pin", "2468")
    await page.press("#signin-pin", "Enter")
    await page.wait_for_selector("#signin.hidden", state="attached")
    assert await page.inner_text("#act-next .act-label") == "Call next"
    await live_hall.do(c.IssueTicket, service="police", category="green")
    for _ in range(3):
        await live_hall.do(c.IssueTicket, service="police")
    await page.wait_for_selector("#queue li[data-number=A004]")
    assert await _press(page, "F1") == "ok"
    assert await page.inner_text("#message") == "Called A001"
    await _settled(page, live_hall)
    assert "Green channel" in await page.inner_text("#cur-badges")
    assert await _press(page, "F3") == "recall_first"  # the button is off; the key says why
    assert await _press(page, "F7") == "not_now"
    await page.click("#act-call")
    await page.fill("#call-number", "B001")
    await page.press("#call-number", "Enter")
    await page.wait_for_function("document.querySelector('#dlg-call .error').textContent !== ''")
    assert "No ticket B001 today" in await page.inner_text("#dlg-call .error")
    await page.keyboard.press("Escape")
    # Space calls the next even with a button focused, and only that (no click on the button).
    assert await page.evaluate("document.activeElement.id") == "act-call"
    assert await _press(page, " ") == "ok"
    assert await page.get_attribute("#message", "data-called") == "A002"
    assert await page.locator("dialog[open]").count() == 0
    await shot(page, "terminal-called-en")
    # The switch back to Chinese.
    await page.click("#btn-lang")
    assert await page.inner_text("#act-next .act-label") == "叫下一位"
    assert page.errors == []
    # A window the hall does not have: a page that says so and lists the windows.
    await page.goto(live_hall.url + "/window/99")
    assert "没有 99 号窗口" in await page.inner_text("h1")
    assert await page.locator("a[href='/window/12']").count() == 1
    await shot(page, "terminal-no-such-window")


async def test_buttons_shortcuts_and_dialogs(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    for _ in range(5):
        await live_hall.do(c.IssueTicket, service="police")
    await live_hall.do(c.IssueTicket, service="police", category="green")
    page = await _terminal(browser, live_hall, 1)
    await page.wait_for_selector("#queue li[data-number]")
    # The green channel ticket goes first; the list is in calling order.
    numbers = await page.eval_on_selector_all(
        "#queue li[data-number]", "els => els.map(e => e.dataset.number)"
    )
    assert numbers == ["A006", "A001", "A002", "A003", "A004", "A005"]
    assert await page.is_disabled("#act-recall") and await page.is_disabled("#act-finish")

    # A double click is one press: one command, one ticket called.
    await page.dblclick("#act-next")
    await page.wait_for_function("document.querySelector('#message').dataset.code === 'ok'")
    assert await page.get_attribute("#message", "data-called") == "A006"
    await _settled(page, live_hall)
    assert await page.get_attribute("#message", "data-count") == "1"
    engine = live_hall.writer.engine
    assert [t.display for t in engine.state.tickets.values() if t.calls] == ["A006"]
    assert await page.inner_text("#cur-number") == "A006"
    assert "绿色通道" in await page.inner_text("#cur-badges")
    # A no-show needs a recall first: the button waits for it.
    assert await page.is_disabled("#act-noshow")
    assert await _press(page, "F2") == "ok"
    await _settled(page, live_hall)
    assert await page.inner_text("#cur-recalls") == "1"
    assert await _press(page, "F3") == "ok"
    await _settled(page, live_hall)
    assert await page.inner_text("#cur-number") == "—"
    assert live_hall.writer.engine.find_ticket("A006").status == "no_show"

    # Reinstate the missed ticket from the list (Shift+F3).
    await page.keyboard.press("Shift+F3")
    await page.wait_for_selector("#dlg-reinstate[open]")
    await page.click("#reinstate-list button[data-number=A006]")
    await page.click("#dlg-reinstate button[type=submit]")
    await page.wait_for_selector("#dlg-reinstate:not([open])", state="attached")
    assert live_hall.writer.engine.find_ticket("A006").status == "waiting"

    # Call a ticket by number (F10); a wrong number is refused with the controller's words.
    await page.keyboard.press("F10")
    await page.wait_for_selector("#dlg-call[open]")
    await page.fill("#call-number", "A099")
    await page.press("#call-number", "Enter")
    await page.wait_for_function(
        "document.querySelector('#dlg-call .error').textContent.includes('A099')"
    )
    assert "今天没有" in await page.inner_text("#dlg-call .error")
    await page.fill("#call-number", "a003")
    await page.press("#call-number", "Enter")
    await page.wait_for_selector("#dlg-call:not([open])", state="attached")
    await _settled(page, live_hall)
    assert await page.inner_text("#cur-number") == "A003"

    # Start (F4), then the screenshot of a window serving.
    assert await _press(page, "F4") == "ok"
    await _settled(page, live_hall)
    assert live_hall.writer.engine.find_ticket("A003").status == "serving"
    assert "办理中" in await page.inner_text("#cur-status")
    await shot(page, "terminal-serving")

    # Transfer (F9): the reason is required.
    await page.keyboard.press("F9")
    await page.wait_for_selector("#dlg-transfer[open]")
    assert await page.locator("#transfer-services button[data-code=police]").count() == 0
    await page.click("#transfer-services button[data-code=social]")
    await page.click("#dlg-transfer button[type=submit]")
    assert "原因" in await page.inner_text("#dlg-transfer .error")
    await page.click("#transfer-quick button >> nth=1")
    await shot(page, "terminal-transfer-dialog")
    await page.click("#dlg-transfer button[type=submit]")
    await page.wait_for_selector("#dlg-transfer:not([open])", state="attached")
    moved = live_hall.writer.engine.find_ticket("A003")
    assert moved.service == "social" and moved.status == "waiting"

    # Finish (F5) after a call; then pause (F6) with a reason; resume (F8).
    assert await _press(page, "Space") == "ok"
    await _settled(page, live_hall)
    called = await page.inner_text("#cur-number")
    assert called in ("A006", "A001")
    assert await _press(page, "F5") == "ok"
    await _settled(page, live_hall)
    assert live_hall.writer.engine.find_ticket(called).status == "done"
    assert await page.inner_text("#served-today") == "1"
    await page.keyboard.press("F6")
    await page.wait_for_selector("#dlg-pause[open]")
    await page.click("#pause-quick button >> nth=0")
    await page.click("#dlg-pause button[type=submit]")
    await page.wait_for_selector("#dlg-pause:not([open])", state="attached")
    await _settled(page, live_hall)
    assert live_hall.writer.engine.window_state(1).status == "paused"
    assert "午间休息" in await page.inner_text("#away-panel")
    # A refused command's message is shown: away (F7) is fine, sign-in elsewhere is not.
    assert await _press(page, "F8") == "ok"
    await _settled(page, live_hall)
    assert live_hall.writer.engine.window_state(1).status == "idle"
    assert page.errors == []


async def test_away_timer_warns_at_each_threshold(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _terminal(browser, live_hall, 1)
    assert await _press(page, "F7") == "ok"
    await page.wait_for_selector("#away-panel:not(.hidden)")
    assert await page.get_attribute("#away-panel", "data-level") == "0"
    levels: list[str] = []
    for minutes in (16, 15, 30):  # past 15, 30 and 60 minutes away
        live_hall.clock.advance(minutes * 60)
        await live_hall.do(c.IssueTicket, service="property")  # any event: the page re-reads
        await _settled(page, live_hall)
        await page.wait_for_function(
            f"document.querySelector('#away-panel').dataset.level === '{len(levels) + 1}'"
        )
        levels.append(await page.inner_text("#away-warning"))
        if len(levels) == 1:
            await shot(page, "terminal-away-amber")
    await shot(page, "terminal-away-red")
    assert "15 分钟" in levels[0] and "30 分钟" in levels[1] and "60 分钟" in levels[2]
    assert "AB 岗" in levels[0]
    timer = await page.inner_text("#away-timer")
    assert timer.startswith("1:01:")
    # Buttons follow the state: no second away, no finish; resume and call next work.
    assert await page.is_disabled("#act-away") and await page.is_disabled("#act-finish")
    assert not await page.is_disabled("#act-resume")
    assert await _press(page, "F8") == "ok"
    await _settled(page, live_hall)
    assert await page.is_hidden("#away-panel")
    assert page.errors == []


async def test_another_terminals_action_shows_at_once(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _terminal(browser, live_hall, 1)
    await live_hall.do(c.IssueTicket, service="police")
    await page.wait_for_selector("#queue li[data-number=A001]")
    assert await page.inner_text("#queue-total") == "1"
    await live_hall.do(c.CallNext, window=1)
    await page.wait_for_function("document.querySelector('#cur-number').textContent === 'A001'")
    await _settled(page, live_hall)
    assert await page.locator("#queue li[data-number]").count() == 0
    await live_hall.do(c.Recall, window=1)
    await page.wait_for_function("document.querySelector('#cur-recalls').textContent === '1'")
    await live_hall.do(c.FinishService, window=1)
    await page.wait_for_function("document.querySelector('#served-today').textContent === '1'")
    assert page.errors == []


async def _called_at_once(pages: list[Any], rounds: int) -> list[str]:
    """Every page presses call next at the same moment, `rounds` times; the numbers called."""
    called: list[str] = []
    for _ in range(rounds):
        codes = await asyncio.gather(*(_press(p, "F1") for p in pages))
        assert codes == ["ok"] * len(pages)
        for p in pages:
            number = await p.get_attribute("#message", "data-called")
            assert number, "every press called a ticket (enough are waiting)"
            called.append(number)
    return called


async def test_two_terminals_one_window_never_share_a_ticket(
    live_hall: LiveHall, browser: Any
) -> None:
    await live_hall.sign_in(1)
    for _ in range(12):
        await live_hall.do(c.IssueTicket, service="police")
    a = await _terminal(browser, live_hall, 1)
    b = await _terminal(browser, live_hall, 1)
    await a.wait_for_selector("#queue li[data-number]")
    await b.wait_for_selector("#queue li[data-number]")
    called = await _called_at_once([a, b], 5)
    assert len(set(called)) == len(called) == 10
    engine = live_hall.writer.engine
    # Each was called once, at window 1; the last one is the window's ticket now.
    for number in called:
        t = engine.find_ticket(number)
        assert t.window == 1 and t.calls == 1
    current = engine.state.tickets[engine.window_state(1).ticket or 0].display
    assert current in called
    assert sorted(called) == [f"A{i:03d}" for i in range(1, 11)]
    await _settled(a, live_hall)
    await _settled(b, live_hall)
    assert await a.inner_text("#cur-number") == await b.inner_text("#cur-number") == current
    assert a.errors == b.errors == []


async def test_two_windows_at_once_never_share_a_ticket(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1, 2)
    for _ in range(10):
        await live_hall.do(c.IssueTicket, service="police")
    one = await _terminal(browser, live_hall, 1)
    two = await _terminal(browser, live_hall, 2)
    await one.wait_for_selector("#queue li[data-number]")
    await two.wait_for_selector("#queue li[data-number]")
    called = await _called_at_once([one, two], 4)
    assert len(set(called)) == len(called) == 8
    engine = live_hall.writer.engine
    by_window = {n: engine.find_ticket(n).window for n in called}
    assert sorted(w or 0 for w in by_window.values()) == [1] * 4 + [2] * 4
    assert all(engine.find_ticket(n).calls == 1 for n in called)
    assert one.errors == two.errors == []
