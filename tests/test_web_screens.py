"""Hall screens (/screen/{id}) in a real browser: the hall, window-top and LED layouts, live."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from hallq.controller.api import bus_key, writer_key
from hallq.controller.app import create_app
from hallq.controller.bus import Notice
from hallq.controller.views import boards_view
from hallq.drivers.factory import build_drivers
from hallq.drivers.led import LedBus
from hallq.hall import commands as c
from hallq.hall.config import (
    HallConfig,
    config_data,
    config_from_data,
    config_toml,
    demo_config_path,
)
from tests.browser import Clock, LiveHall, open_page, shot
from tests.conftest import at

LANDSCAPE = (1920, 1080)
PORTRAIT = (1080, 1920)


# ------------------------------------------------------------------ helpers


async def open_screen(
    browser: Any, hall: LiveHall, screen: str, size: tuple[int, int] = LANDSCAPE
) -> Any:
    """A screen page whose first view has been drawn."""
    page = await open_page(browser, f"{hall.url}/screen/{screen}", *size)
    await page.wait_for_function(
        "window.__feed && window.__feed.online && window.__screen.state.view"
    )
    return page


async def issue(hall: LiveHall, service: str, n: int = 1) -> list[str]:
    numbers = []
    for _ in range(n):
        reply = await hall.do(c.IssueTicket, service=service)
        numbers.append(reply["ticket"]["number"])
    return numbers


async def call(hall: LiveHall, window: int) -> str:
    reply = await hall.do(c.CallNext, window=window)
    number: str = reply["called"]["number"]
    return number


async def text(page: Any, selector: str) -> str:
    value: str = await page.eval_on_selector(selector, "n => n.textContent")
    return value


async def wait_text(page: Any, selector: str, expected: str, timeout: float = 5000) -> None:
    await page.wait_for_function(
        "([sel, want]) => { const n = document.querySelector(sel); return !!n && n.textContent.includes(want); }",
        arg=[selector, expected],
        timeout=timeout,
    )


async def drop_feed(page: Any) -> None:
    """Close the page's feed and keep it closed, once no re-read of the view is pending.

    A re-read already scheduled would otherwise fetch the newer state over HTTP
    while the socket is down, and the test could not tell catching up from it.
    """
    await page.wait_for_function(
        "window.__feed.refreshTimer === null && !window.__feed.refreshing"
    )
    await page.evaluate("window.__feed.stopped = true; window.__feed.ws.close()")


async def change_config(hall: LiveHall, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit the running configuration as the admin page does: a ChangeConfig command."""
    data = config_data(hall.writer.engine.config)
    edit(data)
    await hall.do(c.ChangeConfig, text=config_toml(config_from_data(data)), by="test")


async def reload_view(page: Any) -> None:
    """Have the screen read the hall view now (as it does every minute by itself)."""
    await page.evaluate("window.__feed.refresh()")


async def busy_hall(hall: LiveHall) -> dict[int, str]:
    """A hall mid-morning: tickets waiting for most services, calls, one window away, one paused."""
    await hall.sign_in(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
    for service, n in (
        ("police", 9),
        ("property", 5),
        ("business", 4),
        ("social", 6),
        ("fund", 3),
        ("tax", 2),
        ("civil", 2),
    ):
        await issue(hall, service, n)
    shown: dict[int, str] = {}
    for window in (1, 3, 5, 7, 2, 8, 9):
        shown[window] = await call(hall, window)
    await hall.do(c.StartService, window=3)
    await hall.do(c.StartService, window=5)
    await hall.do(c.AwayWindow, window=4)
    await hall.do(c.PauseWindow, window=6, reason="系统维护")
    return shown


async def no_overflow(page: Any) -> None:
    """Nothing pokes out: no scrollbars, every part inside the viewport, no content spilling
    out of its box (text that is too long is cut with an ellipsis inside its own box)."""
    result = await page.evaluate(
        """() => {
        const d = document.documentElement;
        const bad = [];
        const parts = '.panel, .tile, .svc, .notices, .bar, .call, .recent-item, .wt-main, .wt-head, .led-main, .led-board';
        for (const n of document.querySelectorAll(parts)) {
            const r = n.getBoundingClientRect();
            if (r.width === 0) continue;
            if (r.right > innerWidth + 1 || r.bottom > innerHeight + 1 || r.left < -1 || r.top < -1) bad.push('outside: ' + n.className);
            if (n.scrollWidth > n.clientWidth + 1 || n.scrollHeight > n.clientHeight + 1) bad.push(`spills: ${n.className} ${n.scrollWidth}x${n.scrollHeight} > ${n.clientWidth}x${n.clientHeight}`);
        }
        return {scrollW: d.scrollWidth, scrollH: d.scrollHeight, w: innerWidth, h: innerHeight, bad};
    }"""
    )
    assert result["scrollW"] <= result["w"] and result["scrollH"] <= result["h"], result
    assert result["bad"] == [], result


async def number_height(page: Any) -> float:
    box = await page.locator("#current-number").bounding_box()
    assert box is not None
    return float(box["height"])


# ------------------------------------------------------------------ the hall layout


async def test_a_call_shows_at_once_on_the_hall_screen(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "hall")
    assert await text(page, "#current-number") == ""
    await live_hall.sign_in(1, 2)
    await issue(live_hall, "police", 3)
    first = await call(live_hall, 1)
    await wait_text(page, "#current-number", first)
    assert await text(page, '[data-window="1"] .number') == first
    second = await call(live_hall, 2)
    await wait_text(page, "#current-number", second)
    await wait_text(page, "#recent", first)
    assert await text(page, '[data-window="2"] .number') == second
    assert await text(page, '[data-window="1"] .number') == first
    # The waiting count follows from the view read after the events.
    await wait_text(page, '[data-service="police"] .svc-wait b', "1")
    assert page.errors == []


async def test_recall_away_and_pause_are_shown(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "hall")
    await live_hall.sign_in(1, 2, 3)
    await issue(live_hall, "police", 2)
    number = await call(live_hall, 1)
    await wait_text(page, '[data-window="1"] .number', number)
    await live_hall.do(c.Recall, window=1)
    await page.wait_for_selector("#current-recall:not(.hidden)")
    await wait_text(page, '[data-window="1"] .state', "重呼")
    assert await text(page, "#current-number") == number
    await live_hall.do(c.AwayWindow, window=2)
    await live_hall.do(c.PauseWindow, window=3)
    await wait_text(page, '[data-window="2"] .state', "请稍候")
    await wait_text(page, '[data-window="3"] .state', "暂停服务")
    assert await text(page, '[data-window="2"] .number') == ""
    await wait_text(page, '[data-window="4"] .state', "未开放")
    await live_hall.do(c.ResumeWindow, window=2)
    await wait_text(page, '[data-window="2"] .state', "空闲")
    assert page.errors == []


async def test_the_voice_highlights_the_call_it_says(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "hall")
    await live_hall.sign_in(1, 2)
    await issue(live_hall, "police", 2)
    older = await call(live_hall, 1)
    newer = await call(live_hall, 2)
    await wait_text(page, "#current-number", newer)
    bus = live_hall.app[bus_key]
    # The voice says the calls one after the other: first the older one, shown in the list.
    bus.notify(Notice("speaking", {"ticket": older, "window": 1, "phase": "start"}))
    await page.wait_for_selector(f'.recent-item.speaking[data-number="{older}"]')
    await page.wait_for_selector('.tile.speaking[data-window="1"]')
    assert not await page.locator("#now.speaking").count()
    bus.notify(Notice("speaking", {"ticket": older, "window": 1, "phase": "end"}))
    bus.notify(Notice("speaking", {"ticket": newer, "window": 2, "phase": "start"}))
    await page.wait_for_selector("#now.speaking")
    assert not await page.locator(".recent-item.speaking").count()
    await shot(page, "screen-hall-speaking")
    bus.notify(Notice("speaking", {"ticket": newer, "window": 2, "phase": "end"}))
    await page.wait_for_function("!document.querySelector('.speaking')")
    assert page.errors == []


# ------------------------------------------------------------------ window-top


async def test_window_top_screen_shows_its_window(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "window-1")
    await wait_text(page, "#wt-state", "未开放")
    await live_hall.sign_in(1, 2)
    await wait_text(page, "#wt-state", "空闲")
    await issue(live_hall, "police", 3)
    other = await call(live_hall, 2)  # another window's call does not show here
    number = await call(live_hall, 1)
    await wait_text(page, "#current-number", number)
    assert other != number
    assert await text(page, '[data-window="1"] .number') == number
    await live_hall.do(c.Recall, window=1)
    await wait_text(page, "#wt-state", "重呼")
    await live_hall.do(c.StartService, window=1)
    await wait_text(page, "#wt-state", "正在办理")
    assert await text(page, "#current-number") == number
    await live_hall.do(c.FinishService, window=1)
    await wait_text(page, "#wt-state", "空闲")
    assert await text(page, "#current-number") == ""
    await live_hall.do(c.AwayWindow, window=1)
    await wait_text(page, "#wt-state", "请稍候")
    await live_hall.do(c.PauseWindow, window=1)
    await wait_text(page, "#wt-state", "暂停服务")
    assert page.errors == []


# ------------------------------------------------------------------ every layout, both sizes


@pytest.mark.parametrize("size", [LANDSCAPE, PORTRAIT], ids=["landscape", "portrait"])
async def test_numbers_are_big_and_nothing_overflows(
    live_hall: LiveHall, browser: Any, size: tuple[int, int]
) -> None:
    shown = await busy_hall(live_hall)
    name = "landscape" if size == LANDSCAPE else "portrait"
    page = await open_screen(browser, live_hall, "hall", size)
    await wait_text(page, "#current-number", shown[9])
    await shot(page, f"screen-hall-{name}")
    assert await number_height(page) >= 0.15 * size[1]
    await no_overflow(page)

    # The waits: minutes for a service with windows open, 暂无窗口 when none is open.
    await wait_text(page, '[data-service="police"] .svc-est', "分钟")
    assert "暂无窗口" in await text(page, '[data-service="consult"] .svc-est')

    await page.goto(f"{live_hall.url}/screen/window-1")
    await page.wait_for_function(
        "window.__feed && window.__feed.online && window.__screen.state.view"
    )
    await wait_text(page, "#current-number", shown[1])
    await shot(page, f"screen-window-top-{name}")
    assert await number_height(page) >= 0.15 * size[1]
    await no_overflow(page)

    for window, state in ((4, "away"), (6, "paused")):
        await page.goto(f"{live_hall.url}/screen/window-{window}")
        await page.wait_for_function(
            "window.__feed && window.__feed.online && window.__screen.state.view"
        )
        await page.wait_for_selector(f'#wt-main[data-status="{state}"]')
        await shot(page, f"screen-window-top-{state}-{name}")
        await no_overflow(page)

    await page.goto(f"{live_hall.url}/screen/led")
    await page.wait_for_selector("#led-none:not(.hidden)")
    await shot(page, f"screen-led-none-{name}")
    assert page.errors == []


# ------------------------------------------------------------------ settings, notices, long texts

LONG_NOTICE = (
    "今日下午 14:00 至 16:00 不动产登记系统升级，期间暂停受理抵押、转移登记业务，"
    "查询和咨询照常办理；给您带来不便，敬请谅解。请您合理安排办事时间，或通过网上办事大厅预约办理。"
)
LONG_NAME = "不动产登记（含抵押、预告、更正、异议、查封、注销登记及不动产权籍调查）"
LONG_NAME_EN = "Real Estate Registration (mortgages, advance notices, corrections, objections, seizures, cancellations and cadastral surveys)"


async def test_a_notice_changed_by_the_admin_shows_and_long_texts_fit(
    live_hall: LiveHall, browser: Any
) -> None:
    page = await open_screen(browser, live_hall, "hall")

    def edit(data: dict[str, Any]) -> None:
        data["notices"] = [
            {
                "text": LONG_NOTICE,
                "text_en": "Property registration is closed this afternoon for a system upgrade.",
                "screens": ["hall"],
            },
            {"text": "只在入口竖屏显示", "screens": ["hall-portrait"]},
            {"text": "已过期的公告", "ends": "2026-11-20"},
            {"text": "下午才显示的公告", "hours": ["13:00-17:00"]},
            {"text": "下周才开始的公告", "starts": "2026-11-30"},
        ]
        property_ = next(s for s in data["services"] if s["code"] == "property")
        property_["name"], property_["name_en"] = LONG_NAME, LONG_NAME_EN

    await change_config(live_hall, edit)
    await wait_text(page, "#notice-text", "不动产登记系统升级")
    await wait_text(page, '[data-service="property"] .svc-zh', LONG_NAME)
    notices = await text(page, "#notice-text")
    for hidden in ("只在入口竖屏显示", "已过期的公告", "下午才显示的公告", "下周才开始的公告"):
        assert hidden not in notices
    assert "system upgrade" in notices  # the screen is bilingual
    # The long notice scrolls inside its bar (a CSS animation), the long name ends in an ellipsis.
    await page.wait_for_selector("#marquee.scrolling")
    assert await page.evaluate("document.querySelector('#notice-text').getAnimations().length") == 1
    fits = await page.evaluate(
        """() => {
        const box = (s) => document.querySelector(s).getBoundingClientRect();
        const name = document.querySelector('[data-service="property"] .svc-zh');
        const row = box('[data-service="property"]'), n = name.getBoundingClientRect();
        const bar = box('#notices');
        return {
            nameInside: n.left >= row.left - 1 && n.right <= row.right + 1,
            cut: name.scrollWidth > name.clientWidth && getComputedStyle(name).textOverflow === 'ellipsis',
            barInside: bar.left >= 0 && bar.right <= innerWidth + 1 && bar.bottom <= innerHeight + 1,
        };
    }"""
    )
    assert fits == {"nameInside": True, "cut": True, "barInside": True}
    await no_overflow(page)
    await shot(page, "screen-hall-long-texts")

    # The afternoon: the afternoon notice joins in.
    live_hall.clock.now = at(2026, 11, 23, 13, 30)
    await reload_view(page)
    await wait_text(page, "#notice-text", "下午才显示的公告")

    # The same texts on the portrait screen: its own notice, not the hall's.
    portrait = await open_screen(browser, live_hall, "hall-portrait", PORTRAIT)
    await wait_text(portrait, "#notice-text", "只在入口竖屏显示")
    assert "不动产登记系统升级" not in await text(portrait, "#notice-text")
    await no_overflow(portrait)
    await shot(portrait, "screen-hall-portrait-long-texts")
    assert page.errors == [] and portrait.errors == []


async def test_screen_settings_take_effect_live(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1, 2, 3)
    await issue(live_hall, "police", 2)
    await issue(live_hall, "property", 1)
    await call(live_hall, 1)
    property_call = await call(live_hall, 3)
    page = await open_screen(browser, live_hall, "hall")
    assert await page.locator(".tile").count() == 12
    await page.wait_for_selector("body.lang-both.theme-dark")

    def edit(data: dict[str, Any]) -> None:
        hall = next(s for s in data["screens"] if s["id"] == "hall")
        hall.update(
            language="en", theme="light", windows=[3, 4], services=["property"], recent_calls=2
        )

    await change_config(live_hall, edit)
    await page.wait_for_selector("body.lang-en.theme-light")
    await page.wait_for_function("document.querySelectorAll('.tile').length === 2")
    assert await page.locator(".svc").count() == 1
    assert await text(page, "#current-number") == property_call
    assert await page.locator("#now > .caption > .bi > .en").is_visible()
    assert not await page.locator("#now > .caption > .bi > .zh").is_visible()
    await shot(page, "screen-hall-light-en")
    await no_overflow(page)

    def contrast(data: dict[str, Any]) -> None:
        hall = next(s for s in data["screens"] if s["id"] == "hall")
        hall.update(language="zh", theme="contrast", windows=[], services=[])

    await change_config(live_hall, contrast)
    await page.wait_for_selector("body.lang-zh.theme-contrast")
    await page.wait_for_function("document.querySelectorAll('.tile').length === 12")
    assert not await page.locator("#now > .caption > .bi > .en").is_visible()
    await shot(page, "screen-hall-contrast-zh")
    await no_overflow(page)
    assert page.errors == []


# ------------------------------------------------------------------ the feed drops


async def test_after_a_reconnect_the_newest_number_shows(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "hall")
    await live_hall.sign_in(1, 2)
    tickets = await issue(live_hall, "police", 6)
    first = await call(live_hall, 1)
    await wait_text(page, "#current-number", first)

    # The connection drops (and stays down while the hall goes on).
    await drop_feed(page)
    await page.wait_for_selector("#offline:not(.hidden)")
    second = await call(live_hall, 1)
    third = await call(live_hall, 2)
    await live_hall.do(c.FinishService, window=1)
    assert await text(page, "#current-number") == first  # it cannot know yet
    # Back: it catches up from its last sequence number.
    await page.evaluate("window.__feed.stopped = false; window.__feed.connect()")
    await wait_text(page, "#current-number", third)
    await page.wait_for_selector("#offline.hidden", state="attached")
    await page.wait_for_function(
        "document.querySelector('[data-window=\"1\"]').dataset.status === 'idle'"
    )
    assert await text(page, '[data-window="1"] .number') == ""
    assert await text(page, '[data-window="2"] .number') == third
    assert second in await text(page, "#recent")

    # Down again, and this time back from a fresh snapshot (as after a resync).
    await drop_feed(page)
    await page.wait_for_selector("#offline:not(.hidden)")
    fourth = await call(live_hall, 1)
    await live_hall.do(c.StartService, window=2)
    await page.evaluate(
        "window.__feed.stopped = false; window.__feed.seq = 0; window.__feed.connect()"
    )
    await wait_text(page, "#current-number", fourth)
    assert await text(page, '[data-window="1"] .number') == fourth
    await page.wait_for_function(
        "document.querySelector('[data-window=\"2\"]').dataset.status === 'serving'"
    )
    assert tickets[:4] == [first, second, third, fourth]
    assert page.errors == []


# ------------------------------------------------------------------ hours


async def test_outside_hours_the_screen_is_dark(live_hall: LiveHall, browser: Any) -> None:
    page = await open_screen(browser, live_hall, "hall")
    assert not await page.locator("body.asleep").count()
    live_hall.clock.now = at(2026, 11, 23, 20, 0)
    await reload_view(page)
    await page.wait_for_selector("body.asleep")
    assert await page.locator("#asleep").is_visible()
    assert not await page.locator("#stage").is_visible()
    assert await text(page, "#asleep-clock") == "20:00"
    assert "明天 08:40" in await text(page, "#asleep-next")
    await shot(page, "screen-asleep-landscape")

    # Saturday: no sessions, dark all day; the next opening is Monday.
    live_hall.clock.now = at(2026, 11, 28, 10, 0)
    await reload_view(page)
    await wait_text(page, "#asleep-next", "11月30日")
    assert await page.locator("body.asleep").count() == 1

    # Monday, half an hour before opening (the screen's lead_minutes): lit again.
    live_hall.clock.now = at(2026, 11, 30, 8, 15)
    await reload_view(page)
    await page.wait_for_selector("body:not(.asleep)")
    assert await page.locator("#stage").is_visible()

    # The screen's own on_hours, set by the admin, take over from the sessions.
    def edit(data: dict[str, Any]) -> None:
        next(s for s in data["screens"] if s["id"] == "hall")["on_hours"] = ["08:30-12:00"]

    await change_config(live_hall, edit)
    await page.wait_for_selector("body.asleep")
    live_hall.clock.now = at(2026, 11, 30, 8, 30)
    await reload_view(page)
    await page.wait_for_selector("body:not(.asleep)")

    portrait = await open_screen(browser, live_hall, "hall-portrait", PORTRAIT)
    live_hall.clock.now = at(2026, 11, 30, 21, 0)
    await reload_view(portrait)
    await portrait.wait_for_selector("body.asleep")
    await shot(portrait, "screen-asleep-portrait")

    # Settings changed at night are drawn while the screen is dark; it is laid out properly
    # when it lights up.
    night = await open_screen(browser, live_hall, "hall-portrait", PORTRAIT)
    await night.wait_for_selector("body.asleep")

    def fewer_windows(data: dict[str, Any]) -> None:
        next(s for s in data["screens"] if s["id"] == "hall-portrait")["windows"] = list(
            range(1, 9)
        )

    await change_config(live_hall, fewer_windows)
    await night.wait_for_function("document.querySelectorAll('.tile').length === 8")
    live_hall.clock.now = at(2026, 12, 1, 9, 0)
    await reload_view(night)
    await night.wait_for_selector("body:not(.asleep)")
    columns = (
        "getComputedStyle(document.querySelector('#windows')).gridTemplateColumns.split(' ').length"
    )
    await night.wait_for_function(f"{columns} === 4")
    await no_overflow(night)
    assert page.errors == [] and portrait.errors == [] and night.errors == []


async def test_schedule_rules(live_hall: LiveHall, browser: Any) -> None:
    """The screen's hours and the notices' dates and hours, as the page works them out."""
    page = await open_page(browser, live_hall.url + "/screen/hall", 800, 600)
    result = await page.evaluate(
        """async () => {
        const m = await import('/static/screen/schedule.js');
        const view = { hours: ['08:40-11:50', '13:10-16:50'], screens: [{ id: 'hall', layout: 'hall' }],
                       windows: [{ number: 5 }], notices: [
            { text: 'all' }, { text: 'mine', screens: ['hall'] }, { text: 'other', screens: ['x'] },
            { text: 'from', starts: '2026-11-24' }, { text: 'until', ends: '2026-11-23' },
            { text: 'noon', hours: ['11:00-12:00'] }, { text: 'night', hours: ['22:00-02:00'] } ] };
        const at = (h, mi, date = '2026-11-23') => ({ minutes: h * 60 + mi, date });
        const screen = m.resolveScreen(view, 'hall');
        const texts = (local, explicit) => m.noticesFor(view, 'hall', local, explicit).map((n) => n.text).join(',');
        return {
            before: m.isLit(screen, view, at(8, 9)), lead: m.isLit(screen, view, at(8, 10)),
            lunch: m.isLit(screen, view, at(12, 30)), tail: m.isLit(screen, view, at(16, 59)),
            after: m.isLit(screen, view, at(17, 0)),
            lead0: m.isLit({ ...screen, lead_minutes: 0 }, view, at(8, 39)),
            own: m.isLit({ ...screen, on_hours: ['07:00-08:00'] }, view, at(7, 30)),
            ownOff: m.isLit({ ...screen, on_hours: ['07:00-08:00'] }, view, at(9, 0)),
            holiday: m.isLit({ ...screen, on_hours: ['00:00-23:59'] }, { ...view, hours: [] }, at(9, 0)),
            morning: texts(at(9, 0)), noon: texts(at(11, 30)), tomorrow: texts(at(1, 0, '2026-11-24')),
            explicit: texts(at(9, 0), true),
            window5: m.resolveScreen(view, 'window-5'), window6: m.resolveScreen(view, 'window-6'),
            unknown: m.resolveScreen(view, 'lobby'), cols: m.columns('A012 请到5号窗口'),
            next: m.nextOpening({ issuing: { next_opening: '2026-11-30T08:40:00+08:00' } }, '2026-11-28'),
        };
    }"""
    )
    assert (result["before"], result["lead"], result["lunch"], result["tail"], result["after"]) == (
        False,
        True,
        True,
        True,
        False,
    )
    assert result["lead0"] is False and result["own"] is True and result["ownOff"] is False
    assert result["holiday"] is False
    assert result["morning"] == "all,mine,until"
    assert result["noon"] == "all,mine,until,noon"
    assert result["tomorrow"] == "all,mine,from,night"
    assert result["explicit"] == "mine"
    assert result["window5"]["layout"] == "window-top" and result["window5"]["window"] == 5
    assert result["window6"] is None and result["unknown"] is None
    assert result["cols"] == 16  # as hallq.drivers.ledtext.columns counts
    assert result["next"] == {"date": "2026-11-30", "hhmm": "08:40", "days": 2}


# ------------------------------------------------------------------ unknown screens, the page itself


async def test_an_unknown_screen_says_so_and_lights_up_once_configured(
    live_hall: LiveHall, browser: Any
) -> None:
    page = await open_screen(browser, live_hall, "lobby-east")
    await page.wait_for_selector("#known-screens li")
    assert await text(page, "#unknown-id") == "lobby-east"
    listed = await text(page, "#known-screens")
    for sid in ("/screen/hall", "/screen/hall-portrait", "/screen/window-1", "/screen/led"):
        assert sid in listed
    body = await page.inner_text("body")
    assert "未找到此屏幕" in body and "not configured" in body
    await shot(page, "screen-unknown")
    await page.set_viewport_size({"width": PORTRAIT[0], "height": PORTRAIT[1]})
    await shot(page, "screen-unknown-portrait")

    def edit(data: dict[str, Any]) -> None:
        data["screens"].append(
            {"id": "lobby-east", "name": "东大厅", "layout": "window-top", "window": 7}
        )

    await change_config(live_hall, edit)
    await page.wait_for_selector('#wt-main[data-window="7"]')
    assert await page.title() == "东大厅"

    # window-N needs no settings; a window the hall does not have is unknown.
    page2 = await open_screen(browser, live_hall, "window-5")
    await page2.wait_for_selector('#wt-main[data-window="5"]')
    await page2.goto(live_hall.url + "/screen/window-99")
    await page2.wait_for_selector("#known-screens li")
    assert await text(page2, "#unknown-id") == "window-99"
    assert page.errors == [] and page2.errors == []


async def test_the_screen_page_and_boards_endpoint(live_hall: LiveHall) -> None:
    async with aiohttp.ClientSession() as http:
        for path in ("/screen/hall", "/screen/no-such-screen", "/screen/"):
            async with http.get(live_hall.url + path) as r:
                assert r.status == 200 and r.content_type == "text/html"
                assert "script-src 'self'" in r.headers["Content-Security-Policy"]
                assert 'src="/static/screen/screen.js"' in await r.text()
        async with http.get(live_hall.url + "/screen", allow_redirects=False) as r:
            assert r.status == 302 and r.headers["Location"] == "/screen/"
        for name in ("screen.js", "schedule.js", "text.js", "led.js", "screen.css"):
            async with http.get(f"{live_hall.url}/static/screen/{name}") as r:
                assert r.status == 200
        async with http.get(live_hall.url + "/api/boards") as r:
            assert r.status == 200 and await r.json() == {"buses": []}


async def test_the_page_keeps_to_its_content_security_policy(
    live_hall: LiveHall, browser: Any
) -> None:
    """With the controller's CSP enforced (no inline script, no eval), the screen still works."""
    context = await browser.new_context(viewport={"width": 1280, "height": 720})
    page = await context.new_page()
    refused: list[str] = []
    page.on(
        "console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None
    )
    page.on("pageerror", lambda e: refused.append(str(e)))
    await page.goto(live_hall.url + "/screen/hall")
    await page.wait_for_selector('body[data-layout="hall"] #windows .tile')
    await live_hall.sign_in(1)
    [number] = await issue(live_hall, "police")
    await call(live_hall, 1)
    await page.wait_for_selector(f'#current-number:text-is("{number}")')
    assert refused == []
    await context.close()


# ------------------------------------------------------------------ the LED view


@pytest.fixture
async def led_hall(demo_config: HallConfig, tmp_path: Path) -> AsyncIterator[LiveHall]:
    """The demo hall with its simulated LED bus running (the other devices off)."""
    holder: dict[str, Any] = {}

    async def committed_boards() -> dict[str, Any]:
        writer = holder["app"][writer_key]
        await writer.settled()
        return boards_view(writer.engine, writer.clock())

    drivers = build_drivers(demo_config, committed_boards)  # no data dir, no submit: LED buses only
    assert [type(d) for d in drivers.drivers] == [LedBus]
    config_path = tmp_path / "hall.toml"
    config_path.write_text(demo_config_path().read_text(encoding="utf-8"), encoding="utf-8")
    clock = Clock(at(2026, 11, 23, 9, 0))
    app = create_app(
        demo_config, tmp_path / "data", clock=clock, drivers=drivers, config_path=config_path
    )
    holder["app"] = app
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield LiveHall(str(server.make_url("")).rstrip("/"), app, clock, config_path)
    finally:
        await server.close()


def led_bus(hall: LiveHall) -> LedBus:
    from hallq.controller.api import drivers_key

    bus = hall.app[drivers_key].drivers[0]
    assert isinstance(bus, LedBus)
    return bus


async def test_the_led_view_shows_what_each_board_shows(led_hall: LiveHall, browser: Any) -> None:
    bus = led_bus(led_hall)
    page = await open_screen(browser, led_hall, "led")
    await page.wait_for_function("document.querySelectorAll('.led-board').length === 13")
    await led_hall.sign_in(1, 2, 10)
    await issue(led_hall, "police", 3)
    await call(led_hall, 2)
    number = await call(led_hall, 1)
    await page.wait_for_function(
        "(n) => (document.querySelector('.led-board[data-window=\"1\"]').dataset.text || '').includes(n)",
        arg=number,
    )
    # The page shows exactly what the driver last sent each board.
    shown = await page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll('.led-board')].map((b) => [b.dataset.address, b.dataset.text]))"
    )
    await led_hall.writer.settled()
    assert shown["1"] == bus.shown[1] == f"{number} 请到1号窗口"
    assert number in bus.shown[20] and shown["20"] == bus.shown[20]
    assert shown["3"] == bus.shown[3] == ""  # window 3 is closed: its board is blank
    # A text wider than its board scrolls, as the board scrolls it: window 10's long label.
    assert shown["10"] == bus.shown[10] == "综合窗口（税务·社会事务）"
    await page.wait_for_selector(".led-board[data-address='10'] .led-strip.scrolling")
    assert not await page.locator(".led-board[data-address='1'] .led-strip.scrolling").count()

    async with aiohttp.ClientSession() as http, http.get(led_hall.url + "/api/boards") as r:
        data = await r.json()
    [only] = data["buses"]
    assert only["name"] == "led" and only["framing"] == "a0-90" and only["simulated"] is True
    by_address = {b["address"]: b for b in only["boards"]}
    assert by_address[1] == {
        "address": 1,
        "window": 1,
        "kind": "window",
        "width": 16,
        "text": bus.shown[1],
        "columns": 16,
        "known": True,
    }
    assert by_address[20]["kind"] == "hall" and by_address[20]["width"] == 64
    await shot(page, "screen-led-landscape")
    await no_overflow(page)
    await page.set_viewport_size({"width": PORTRAIT[0], "height": PORTRAIT[1]})
    await page.evaluate("window.__screen.refreshBoards()")
    await page.wait_for_function("document.querySelectorAll('.led-board').length === 13")
    await shot(page, "screen-led-portrait")
    await no_overflow(page)
    assert page.errors == []
