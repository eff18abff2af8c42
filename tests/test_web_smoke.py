"""The pages' shared parts in a real browser: the index page and the feed library."""

from __future__ import annotations

from typing import Any

from hallq.hall import commands as c
from tests.browser import LiveHall, open_page, shot


async def test_index_lists_screens_windows_and_admin(live_hall: LiveHall, browser: Any) -> None:
    page = await open_page(browser, live_hall.url + "/", 1280, 900)
    await page.wait_for_selector("#windows li")
    assert await page.locator("#windows li").count() == 12
    assert "政务服务中心" in await page.inner_text("#hall-name")
    await shot(page, "index")
    await page.goto(live_hall.url + "/?lang=en")
    await page.wait_for_function("document.querySelector('#hall-name').textContent.includes('Centre')")
    assert page.errors == []


async def test_feed_library_follows_events_and_catches_up(live_hall: LiveHall, browser: Any) -> None:
    page = await open_page(browser, live_hall.url + "/")
    await page.evaluate(
        """async () => {
        const { Feed } = await import('/static/common/hallq.js');
        window.got = [];
        window.feed = new Feed({ onEvent: (ev) => window.got.push(ev.type),
                                 onView: (v) => { window.lastSeq = v.seq; } }).start();
    }"""
    )
    await page.wait_for_function("window.feed.online")
    await live_hall.sign_in(1)
    await live_hall.do(c.IssueTicket, service=live_hall.writer.engine.config.services[0].code)
    await page.wait_for_function("window.got.includes('ticket_issued')")
    # Drop the connection; what happens meanwhile arrives after the reconnect.
    await page.evaluate("window.feed.ws.close()")
    await live_hall.do(c.CallNext, window=1)
    await page.wait_for_function("window.got.includes('ticket_called')", timeout=15000)
    seq = live_hall.writer.committed_seq
    await page.wait_for_function(f"window.lastSeq >= {seq}")


async def test_pages_forbid_foreign_scripts(live_hall: LiveHall) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(live_hall.url + "/") as r:
        csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-eval" not in csp
