"""The evaluator page (/evaluate/N): what it offers, and the citizen's taps in a real browser."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from hallq.errors import CommandRejected
from hallq.hall import commands as c
from hallq.hall.config import HallConfig
from hallq.hall.engine import Engine
from hallq.web.terminal import OFFER_MINUTES, evaluation_offer
from tests.browser import LiveHall, open_page, shot
from tests.conftest import at, run

MM = 96 / 25.4  # CSS pixels in a millimetre


def test_offer_follows_the_window_and_the_time(demo_config: HallConfig) -> None:
    engine = Engine(demo_config)
    now = at(2026, 11, 23, 9, 0)
    w = demo_config.window(1)
    assert w is not None
    run(engine, c.SignIn(request_id="s", window=1, staff="1001"), now)
    assert evaluation_offer(engine, w, now)["offer"] is None
    run(engine, c.IssueTicket(request_id="t1", service="police"), now)
    run(engine, c.IssueTicket(request_id="t2", service="police"), now)
    run(engine, c.CallNext(request_id="c1", window=1), now + 10)
    assert evaluation_offer(engine, w, now + 20)["offer"] is None  # called, not finished
    # Call-next finishes A001 and calls A002: the evaluator asks about A001.
    run(engine, c.CallNext(request_id="c2", window=1), now + 100)
    offer = evaluation_offer(engine, w, now + 110)["offer"]
    assert offer is not None and offer["number"] == "A001" and offer["staff"] == "1001"
    limit = min(demo_config.evaluation.window_minutes, OFFER_MINUTES) * 60
    assert offer["until"] == pytest.approx(now + 100 + limit)
    assert evaluation_offer(engine, w, now + 100 + limit + 1)["offer"] is None  # too late
    run(engine, c.SubmitEvaluation(request_id="e1", level="satisfied", window=1), now + 120)
    assert evaluation_offer(engine, w, now + 130)["offer"] is None  # answered (on a keypad)
    run(engine, c.FinishService(request_id="f2", window=1), now + 200)
    assert evaluation_offer(engine, w, now + 210)["offer"]["number"] == "A002"
    other = demo_config.window(2)
    assert other is not None and evaluation_offer(engine, other, now + 210)["offer"] is None


async def _served(hall: LiveHall, window: int = 1) -> str:
    """Issue, call and finish one ticket at `window`; its number."""
    service = next(s for s in hall.writer.engine.config.window(window).tiers[0])  # type: ignore[union-attr]
    issued = await hall.do(c.IssueTicket, service=service)
    await hall.do(c.CallNext, window=window)
    await hall.do(c.StartService, window=window)
    hall.clock.advance(300)
    await hall.do(c.FinishService, window=window)
    return str(issued["ticket"]["number"])


async def _evaluator(
    browser: Any, hall: LiveHall, width: int, height: int, lang: str = "zh"
) -> Any:
    page = await open_page(browser, f"{hall.url}/evaluate/1?lang={lang}", width, height)
    await page.wait_for_selector("body[data-state=idle]")
    return page


async def _events(hall: LiveHall, kind: str) -> list[dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(hall.url + "/api/events") as r:
        data = await r.json()
    return [e for e in data["events"] if e["type"] == kind]


async def _big_enough(page: Any, selector: str) -> None:
    for box in [await b.bounding_box() for b in await page.query_selector_all(selector)]:
        assert box is not None
        assert box["width"] >= 15 * MM and box["height"] >= 15 * MM, (selector, box)


async def test_levels_after_a_service_then_thanks_then_idle(
    live_hall: LiveHall, browser: Any
) -> None:
    await live_hall.sign_in(1)
    page = await _evaluator(browser, live_hall, 1280, 800)
    assert "欢迎" in await page.inner_text("#screen-idle")
    assert "张敏" in await page.inner_text("#staff")
    await shot(page, "evaluator-idle")
    number = await _served(live_hall)
    await page.wait_for_selector("body[data-state=levels]")
    assert number in await page.inner_text("#levels-ticket")
    names = await page.eval_on_selector_all(
        ".level .level-name", "els => els.map(e => e.textContent)"
    )
    assert names == ["非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    await _big_enough(page, ".level")
    await shot(page, "evaluator-levels")
    await page.click(".level[data-level=satisfied]")
    await page.wait_for_selector("body[data-state=thanks]")
    await shot(page, "evaluator-thanks")
    assert live_hall.writer.engine.find_ticket(number).evaluation == "satisfied"
    await page.wait_for_selector("body[data-state=idle]", timeout=15000)  # a few seconds later
    # A reload offers nothing: the ticket is evaluated.
    await page.reload()
    await page.wait_for_selector("body[data-state=idle]")
    assert page.errors == []


async def test_bad_review_asks_for_a_reason(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _evaluator(browser, live_hall, 1280, 800)
    first = await _served(live_hall)
    await page.wait_for_selector("body[data-state=levels]")
    await page.click(".level[data-level=very_dissatisfied]")
    await page.wait_for_selector("body[data-state=reasons]")
    reasons = await page.eval_on_selector_all(".reason", "els => els.map(e => e.dataset.reason)")
    assert reasons == [*live_hall.writer.engine.config.evaluation.bad_review_reasons, ""]
    await _big_enough(page, ".reason")
    await shot(page, "evaluator-reasons")
    await page.click(".reason[data-reason=服务态度]")
    await page.wait_for_selector("body[data-state=thanks]")
    assert live_hall.writer.engine.find_ticket(first).evaluation == "very_dissatisfied"
    submitted = await _events(live_hall, "evaluation_submitted")
    assert submitted[-1]["reason"] == "服务态度" and submitted[-1]["bad"] is True
    # The next one: a bad level, and "skip" sends it without a reason.
    second = await _served(live_hall)
    await page.wait_for_function(
        f"document.querySelector('#levels-ticket').textContent.includes('{second}')"
    )
    await page.click(".level[data-level=dissatisfied]")
    await page.click(".reason.skip")
    await page.wait_for_selector("body[data-state=thanks]")
    submitted = await _events(live_hall, "evaluation_submitted")
    assert submitted[-1]["level"] == "dissatisfied" and submitted[-1].get("reason", "") == ""
    assert live_hall.writer.engine.find_ticket(second).evaluation == "dissatisfied"
    assert page.errors == []


async def test_one_evaluation_per_ticket(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _evaluator(browser, live_hall, 1280, 800)
    number = await _served(live_hall)
    await page.wait_for_selector("body[data-state=levels]")
    # The page misses the news (its feed stopped) that the ticket was rated meanwhile.
    await page.evaluate("window.hallqFeed.stop()")
    await live_hall.do(c.SubmitEvaluation, level="basic", ticket=number)
    await page.click(".level[data-level=very_satisfied]")
    await page.wait_for_selector("body[data-state=thanks]")
    assert "已经评价过" in await page.inner_text("#thanks-note")
    assert live_hall.writer.engine.find_ticket(number).evaluation == "basic"
    with pytest.raises(CommandRejected) as refused:
        await live_hall.do(c.SubmitEvaluation, level="satisfied", ticket=number)
    assert refused.value.code == "already_evaluated"
    assert len(await _events(live_hall, "evaluation_submitted")) == 1
    assert page.errors == []


async def test_rated_on_the_keypad_meanwhile(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _evaluator(browser, live_hall, 1280, 800)
    await _served(live_hall)
    await page.wait_for_selector("body[data-state=levels]")
    await live_hall.do(c.SubmitEvaluation, level="satisfied", window=1)  # the wired evaluator
    await page.wait_for_selector("body[data-state=thanks]")
    assert page.errors == []


async def test_reload_offers_an_unrated_ticket_within_the_time(
    live_hall: LiveHall, browser: Any
) -> None:
    await live_hall.sign_in(1)
    number = await _served(live_hall)
    page = await open_page(browser, f"{live_hall.url}/evaluate/1", 1280, 800)
    await page.wait_for_selector("body[data-state=levels]")
    assert number in await page.inner_text("#levels-ticket")
    live_hall.clock.advance(OFFER_MINUTES * 60 + 1)
    await page.reload()
    await page.wait_for_selector("body[data-state=idle]")
    assert live_hall.writer.engine.find_ticket(number).evaluation is None
    assert page.errors == []


async def test_small_tablet_in_english(live_hall: LiveHall, browser: Any) -> None:
    await live_hall.sign_in(1)
    page = await _evaluator(browser, live_hall, 800, 480, lang="en")
    assert "Welcome" in await page.inner_text("#screen-idle")
    await shot(page, "evaluator-idle-800")
    await _served(live_hall)
    await page.wait_for_selector("body[data-state=levels]")
    names = await page.eval_on_selector_all(
        ".level .level-name", "els => els.map(e => e.textContent)"
    )
    assert names[0] == "Very satisfied" and names[-1] == "Very dissatisfied"
    await _big_enough(page, ".level")
    await _big_enough(page, "#btn-lang")
    for selector in (".level", ".level-name", "h1"):  # nothing cut off or overflowing
        overflow = await page.eval_on_selector_all(
            selector, "els => els.filter(e => e.scrollWidth > e.clientWidth + 1).length"
        )
        assert overflow == 0, selector
    await shot(page, "evaluator-levels-800-en")
    await page.click(".level[data-level=dissatisfied]")
    await page.wait_for_selector("body[data-state=reasons]")
    assert "Long wait" in await page.inner_text("#reason-buttons")
    await _big_enough(page, ".reason")
    await shot(page, "evaluator-reasons-800-en")
    # Back to Chinese on the same screen: the reasons follow.
    await page.click("#btn-lang")
    assert "等候时间长" in await page.inner_text("#reason-buttons")
    await page.click(".reason[data-reason=办事效率]")
    await page.wait_for_selector("body[data-state=thanks]")
    await shot(page, "evaluator-thanks-800")
    submitted = await _events(live_hall, "evaluation_submitted")
    assert submitted[-1]["reason"] == "办事效率"
    assert page.errors == []
