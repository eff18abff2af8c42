"""The controller's HTTP and WebSocket API, through aiohttp's test client.

The demo hall (the `demo_config` fixture) runs on a settable fake clock that starts on
Monday 2026-11-23 at 09:00 in Zaozhuang (Asia/Shanghai), in the morning session.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import string
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hallq.controller.app as app_module
from hallq.controller.api import writer_key
from hallq.controller.app import create_app
from hallq.controller.routes import COMMAND_ROUTES
from hallq.drivers.base import DriverSet
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.state import STATE_VERSION
from tests.conftest import at

Client = TestClient[web.Request, web.Application]
ClientFactory = Callable[..., Awaitable[Client]]

REQUIRED_OPERATIONS = {
    "issueTicket",
    "callNext",
    "recall",
    "markNoShow",
    "reinstateTicket",
    "transferTicket",
    "callTicket",
    "startService",
    "finishService",
    "pauseWindow",
    "awayWindow",
    "resumeWindow",
    "signIn",
    "signOut",
    "submitEvaluation",
    "getHallState",
}


class FakeClock:
    """A clock the test sets; the controller reads it for every command and view."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def set(self, y: int, m: int, d: int, h: int, mi: int) -> None:
        self.now = at(y, m, d, h, mi)


MONDAY_0900 = (2026, 11, 23, 9, 0)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(*MONDAY_0900))


@pytest.fixture
async def client(
    aiohttp_client: ClientFactory, demo_config: HallConfig, tmp_path: Path, clock: FakeClock
) -> Client:
    # The API alone: the demo's devices (boards, keypads, voice) have tests of their own.
    return await aiohttp_client(create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet()))


class Counter:
    """Unique request ids for one test."""

    def __init__(self, prefix: str = "r") -> None:
        self.prefix = prefix
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        return f"{self.prefix}-{self.n}"


async def post(
    client: Client, path: str, body: Any = None, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    resp = await client.post(path, json=body, **kwargs)
    data = await resp.json()
    assert isinstance(data, dict), data
    return resp.status, data


async def ok(client: Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, data = await post(client, path, body)
    assert status == 200, (path, body, data)
    assert data["ok"] is True
    assert isinstance(data["seq"], int)
    assert isinstance(data["events"], list)
    return data


async def refused(
    client: Client, path: str, body: Any, status: int, code: str | None = None
) -> dict[str, Any]:
    got, data = await post(client, path, body)
    assert got == status, (path, body, data)
    assert_error(data, code)
    return data


def assert_error(data: dict[str, Any], code: str | None = None) -> None:
    assert set(data) == {"error"}, data
    err = data["error"]
    assert isinstance(err["code"], str) and err["code"], data
    assert isinstance(err["message"], str) and err["message"], data
    if code is not None:
        assert err["code"] == code, data


async def state(client: Client, tickets: str = "all") -> dict[str, Any]:
    resp = await client.get("/api/state", params={"tickets": tickets})
    assert resp.status == 200
    data: dict[str, Any] = await resp.json()
    return data


def window_of(view: dict[str, Any], number: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = [w for w in view["windows"] if w["number"] == number]
    assert len(found) == 1
    return found[0]


def ticket_of(view: dict[str, Any], number: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [t for t in view["tickets"] if t["number"] == number]
    assert len(found) == 1, (number, [t["number"] for t in view["tickets"]])
    return found[0]


def event_types(reply: dict[str, Any]) -> list[str]:
    return [e["type"] for e in reply["events"]]


async def all_events(client: Client, page: int = 1000) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    after = 0
    while True:
        resp = await client.get("/api/events", params={"after": str(after), "limit": str(page)})
        assert resp.status == 200
        data = await resp.json()
        if not data["events"]:
            return out
        out.extend(data["events"])
        after = data["events"][-1]["seq"]


def sixty_window_config() -> HallConfig:
    windows = "\n".join(
        f'[[windows]]\nnumber = {n}\nlabel = "窗口{n}"\ntiers = [["general"]]\n'
        for n in range(1, 61)
    )
    text = f"""
[hall]
id = "test-sixty"
name = "六十窗口测试大厅"

[hours]
workdays = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
sessions = ["08:00-12:00", "13:00-18:00"]
issue_cutoff_minutes = 0

[[services]]
code = "general"
name = "综合业务"
prefix = "A"
number_width = 4
service_minutes = 5

{windows}
"""
    return parse_config(text, "sixty-windows.toml")


# ---------------------------------------------------------------- the OpenAPI document


async def test_openapi_has_every_required_operation(client: Client) -> None:
    resp = await client.get("/api/openapi.json")
    assert resp.status == 200
    doc = await resp.json()
    assert doc["openapi"].startswith("3.")
    ops: list[str] = [
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ops) == len(set(ops)), "operationIds must be unique"
    assert set(ops) >= REQUIRED_OPERATIONS, REQUIRED_OPERATIONS - set(ops)
    # Every command route is documented with its method and operationId.
    for route in COMMAND_ROUTES:
        op = doc["paths"][route.path][route.method.lower()]
        assert op["operationId"] == route.operation_id
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        # request_id: in the body or as the Idempotency-Key header, so documented, not required.
        assert "request_id" in schema["properties"] and "request_id" not in schema["required"]
        assert "4XX" in op["responses"] or "400" in op["responses"]
    assert doc["paths"]["/api/state"]["get"]["operationId"] == "getHallState"


# ---------------------------------------------------------------- a whole day through HTTP


async def test_full_flow(client: Client, clock: FakeClock) -> None:
    rid = Counter("flow")

    # 签到: staff 1001 at window 1; a stranger to window 1 is refused, the AB backup is not.
    r = await ok(client, "/api/windows/1/sign-in", {"request_id": rid(), "staff": "1001"})
    assert event_types(r) == ["staff_signed_in"]
    await refused(
        client,
        "/api/windows/2/sign-in",  # 1001 may take window 2 (AB岗), but is at window 1
        {"request_id": rid(), "staff": "1001"},
        409,
        "signed_in_elsewhere",
    )
    await refused(
        client,
        "/api/windows/2/sign-in",
        {"request_id": rid(), "staff": "1003"},
        409,
        "staff_not_assigned",
    )
    await refused(client, "/api/windows/2/sign-in", {"request_id": rid(), "staff": "9999"}, 404)
    view = await state(client)
    w1 = window_of(view, 1)
    assert (w1["status"], w1["staff"], w1["ticket"]) == ("idle", "1001", None)
    assert w1["staff_name"] == "张敏"
    assert window_of(view, 2)["status"] == "closed"

    # 取号: three police tickets, numbered in order.
    issued = []
    for _ in range(3):
        r = await ok(client, "/api/tickets", {"request_id": rid(), "service": "police"})
        assert event_types(r) == ["ticket_issued"]
        issued.append(r["ticket"])
    assert [t["number"] for t in issued] == ["A001", "A002", "A003"]
    assert issued[0]["id"] < issued[1]["id"] < issued[2]["id"]
    assert [t["ahead"] for t in issued] == [0, 1, 2]
    assert all(t["service"] == "police" for t in issued)
    view = await state(client, "waiting")
    assert [t["number"] for t in view["tickets"]] == ["A001", "A002", "A003"]
    assert view["waiting"] == 3
    police = next(s for s in view["services"] if s["code"] == "police")
    assert police["waiting"] == 3 and police["issued_today"] == 3
    resp = await client.get("/api/tickets/A002")
    assert resp.status == 200
    one = await resp.json()
    assert (one["number"], one["status"], one["ahead"]) == ("A002", "waiting", 1)

    # 叫号 → 重呼 → 过号.
    r = await ok(client, "/api/windows/1/call-next", {"request_id": rid()})
    assert r["called"]["number"] == "A001" and r["called"]["window"] == 1
    view = await state(client)
    assert window_of(view, 1)["status"] == "calling"
    assert window_of(view, 1)["ticket"]["number"] == "A001"
    assert ticket_of(view, "A001")["status"] == "called"
    assert view["recent_calls"][0]["number"] == "A001"
    # No-show needs one recall first (recalls_before_no_show = 1).
    await refused(client, "/api/windows/1/no-show", {"request_id": rid()}, 409, "recall_first")
    r = await ok(client, "/api/windows/1/recall", {"request_id": rid()})
    assert event_types(r) == ["ticket_recalled"]
    assert ticket_of(await state(client), "A001")["recalls"] == 1
    r = await ok(client, "/api/windows/1/no-show", {"request_id": rid()})
    assert event_types(r) == ["ticket_no_show"]
    view = await state(client)
    assert ticket_of(view, "A001")["status"] == "no_show"
    assert window_of(view, 1)["status"] == "idle" and window_of(view, 1)["ticket"] is None
    await refused(client, "/api/windows/1/recall", {"request_id": rid()}, 409, "no_current_ticket")

    # 过号顺延: A001 goes back in the queue behind the others (3 places back, 2 waiting).
    r = await ok(client, "/api/tickets/A001/reinstate", {"request_id": rid()})
    assert event_types(r) == ["ticket_reinstated"]
    view = await state(client, "waiting")
    queue = sorted(view["tickets"], key=lambda t: t["ahead"])
    assert [(t["number"], t["ahead"]) for t in queue] == [("A002", 0), ("A003", 1), ("A001", 2)]
    await refused(
        client, "/api/tickets/A001/reinstate", {"request_id": rid()}, 409, "ticket_not_no_show"
    )

    # Call a specific ticket, start, finish.
    r = await ok(client, "/api/windows/1/call", {"request_id": rid(), "ticket": "A003"})
    assert r["called"]["number"] == "A003"
    r = await ok(client, "/api/windows/1/start", {"request_id": rid()})
    assert event_types(r) == ["service_started"]
    view = await state(client)
    assert window_of(view, 1)["status"] == "serving"
    assert ticket_of(view, "A003")["status"] == "serving"
    await refused(client, "/api/windows/1/start", {"request_id": rid()}, 409, "already_serving")
    await refused(
        client,
        "/api/evaluations",
        {"request_id": rid(), "ticket": "A003", "level": "satisfied"},
        409,
        "not_served",
    )
    clock.now += 8 * 60  # eight minutes of service
    r = await ok(client, "/api/windows/1/finish", {"request_id": rid()})
    assert event_types(r) == ["service_finished"]
    view = await state(client)
    assert ticket_of(view, "A003")["status"] == "done"
    assert window_of(view, 1)["status"] == "idle"
    assert window_of(view, 1)["served_today"] == 1
    await refused(client, "/api/windows/1/finish", {"request_id": rid()}, 409, "no_current_ticket")

    # 好差评: once per served ticket, by the window's last finished ticket.
    await refused(
        client,
        "/api/evaluations",
        {"request_id": rid(), "window": 1, "level": "great"},
        400,
        "level_not_found",
    )
    r = await ok(
        client, "/api/evaluations", {"request_id": rid(), "window": 1, "level": "satisfied"}
    )
    assert event_types(r) == ["evaluation_submitted"]
    assert ticket_of(await state(client), "A003")["evaluation"] == "satisfied"
    await refused(
        client,
        "/api/evaluations",
        {"request_id": rid(), "ticket": "A003", "level": "satisfied"},
        409,
        "already_evaluated",
    )

    # Call next (A002, then A001 after it), transfer A002 to 综合咨询, served at window 11.
    r = await ok(client, "/api/windows/1/call-next", {"request_id": rid()})
    assert r["called"]["number"] == "A002"
    await refused(
        client,
        "/api/windows/1/transfer",
        {"request_id": rid(), "service": "nope"},
        404,
        "service_not_found",
    )
    r = await ok(
        client,
        "/api/windows/1/transfer",
        {"request_id": rid(), "service": "consult", "reason": "咨询"},
    )
    assert event_types(r) == ["ticket_transferred"]
    view = await state(client)
    a2 = ticket_of(view, "A002")
    assert (a2["service"], a2["status"], a2["transferred_from"]) == (
        "consult",
        "waiting",
        ["police"],
    )
    assert window_of(view, 1)["ticket"] is None
    await ok(client, "/api/windows/11/sign-in", {"request_id": rid(), "staff": "1011"})
    r = await ok(client, "/api/windows/11/call-next", {"request_id": rid()})
    assert r["called"]["number"] == "A002" and r["called"]["window"] == 11
    # A window with a ticket at it cannot pause.
    await refused(client, "/api/windows/11/pause", {"request_id": rid()}, 409, "window_busy")

    # 暂停服务 → 请稍候 → back; the window then calls A001.
    r = await ok(client, "/api/windows/1/pause", {"request_id": rid(), "reason": "系统维护"})
    assert event_types(r) == ["window_paused"]
    view = await state(client)
    assert (window_of(view, 1)["status"], window_of(view, 1)["reason"]) == ("paused", "系统维护")
    r = await ok(client, "/api/windows/1/away", {"request_id": rid()})
    assert event_types(r) == ["window_resumed", "window_away"]
    clock.now += 16 * 60
    view = await state(client)
    assert window_of(view, 1)["status"] == "away"
    assert window_of(view, 1)["away_thresholds_passed"] == [15]
    r = await ok(client, "/api/windows/1/resume", {"request_id": rid()})
    assert event_types(r) == ["window_resumed"]
    assert window_of(await state(client), 1)["status"] == "idle"
    r = await ok(client, "/api/windows/1/call-next", {"request_id": rid()})
    assert r["called"]["number"] == "A001"
    r = await ok(client, "/api/windows/1/finish", {"request_id": rid()})

    # 签退; a closed window cannot call.
    r = await ok(client, "/api/windows/1/sign-out", {"request_id": rid()})
    assert event_types(r) == ["staff_signed_out"]
    view = await state(client)
    assert window_of(view, 1)["status"] == "closed" and window_of(view, 1)["staff"] is None
    await refused(client, "/api/windows/1/call-next", {"request_id": rid()}, 409, "window_closed")
    # The backup (AB岗) may now take window 1.
    await ok(client, "/api/windows/1/sign-in", {"request_id": rid(), "staff": "1002"})
    assert window_of(await state(client), 1)["staff"] == "1002"

    # The whole day is in the log, in order, with no gaps.
    events = await all_events(client)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[-1]["seq"] == (await state(client))["seq"]
    statuses = {t["number"]: t["status"] for t in (await state(client))["tickets"]}
    assert statuses == {"A001": "done", "A002": "called", "A003": "done"}


# ---------------------------------------------------------------- idempotency


async def test_same_request_id_returns_first_reply(client: Client) -> None:
    body = {"request_id": "kiosk-1-0001", "service": "property"}
    first = await ok(client, "/api/tickets", body)
    assert "repeated" not in first
    again = await ok(client, "/api/tickets", body)
    assert again["repeated"] is True
    assert {k: v for k, v in again.items() if k != "repeated"} == first
    # A different body with the same id still changes nothing: the first result stands.
    third = await ok(client, "/api/tickets", {"request_id": "kiosk-1-0001", "service": "police"})
    assert third["ticket"] == first["ticket"]
    view = await state(client)
    assert [t["number"] for t in view["tickets"]] == ["B001"]
    assert view["seq"] == first["seq"]
    # The same id for another kind of command is refused, not mistaken for the first.
    await refused(
        client,
        "/api/windows/3/sign-in",
        {"request_id": "kiosk-1-0001", "staff": "1003"},
        400,
        "request_id_reused",
    )
    # A repeated call-next calls once.
    await ok(client, "/api/windows/3/sign-in", {"request_id": "s3", "staff": "1003"})
    await ok(client, "/api/tickets", {"request_id": "kiosk-1-0002", "service": "property"})
    call = await ok(client, "/api/windows/3/call-next", {"request_id": "pad-3-1"})
    again = await ok(client, "/api/windows/3/call-next", {"request_id": "pad-3-1"})
    assert again["repeated"] is True and again["called"] == call["called"]
    view = await state(client)
    assert ticket_of(view, "B001")["status"] == "called"
    assert ticket_of(view, "B002")["status"] == "waiting"


async def test_idempotency_key_header(client: Client) -> None:
    headers = {"Idempotency-Key": "hdr-0001"}
    s1, first = await post(client, "/api/tickets", {"service": "tax"}, headers=headers)
    s2, again = await post(client, "/api/tickets", {"service": "tax"}, headers=headers)
    assert (s1, s2) == (200, 200)
    assert "repeated" not in first and again["repeated"] is True
    assert again["ticket"] == first["ticket"]
    # The header and a body request_id name the same request.
    s3, third = await post(client, "/api/tickets", {"request_id": "hdr-0001", "service": "tax"})
    assert s3 == 200 and third["repeated"] is True and third["ticket"] == first["ticket"]
    view = await state(client)
    assert [t["number"] for t in view["tickets"]] == ["F001"]
    # Without either, the request is refused.
    await refused(client, "/api/tickets", {"service": "tax"}, 400, "request_id_required")


async def test_rejected_command_repeats_its_rejection(client: Client) -> None:
    body = {"request_id": "no-window", "staff": "1001"}
    a = await refused(client, "/api/windows/1/call-next", {"request_id": "cn-1"}, 409)
    b = await refused(client, "/api/windows/1/call-next", {"request_id": "cn-1"}, 409)
    assert a == b
    await ok(client, "/api/windows/1/sign-in", body)


# ---------------------------------------------------------------- concurrency


async def test_sixty_windows_call_at_once(aiohttp_client: ClientFactory, tmp_path: Path) -> None:
    clock = FakeClock(at(*MONDAY_0900))
    client = await aiohttp_client(
        create_app(sixty_window_config(), tmp_path, clock=clock, drivers=DriverSet())
    )
    for n in range(1, 61):
        await ok(client, f"/api/windows/{n}/sign-in", {"request_id": f"in-{n}", "staff": f"s{n}"})
    issued = [
        (await ok(client, "/api/tickets", {"request_id": f"t-{i}", "service": "general"}))["ticket"]
        for i in range(90)
    ]
    replies = await asyncio.gather(
        *(
            post(client, f"/api/windows/{n}/call-next", {"request_id": f"call-{n}"})
            for n in range(1, 61)
        )
    )
    assert all(status == 200 for status, _ in replies), replies
    called = [r["called"] for _, r in replies]
    assert [call["window"] for call in called] == list(range(1, 61))
    ids = [call["id"] for call in called]
    assert len(set(ids)) == 60, "a ticket was called by two windows"
    # FIFO: the sixty calls took exactly the first sixty tickets.
    assert sorted(ids) == [t["id"] for t in issued[:60]]
    view = await state(client)
    by_id = {t["id"]: t for t in view["tickets"]}
    for call in called:
        assert by_id[call["id"]]["status"] == "called"
        assert by_id[call["id"]]["window"] == call["window"]
    assert sum(1 for t in view["tickets"] if t["status"] == "waiting") == 30
    events = await all_events(client)
    calls = [e for e in events if e["type"] == "ticket_called"]
    assert len(calls) == 60 and len({e["ticket"] for e in calls}) == 60
    # Once more, the next thirty go to thirty windows and the rest find nothing.
    replies = await asyncio.gather(
        *(
            post(client, f"/api/windows/{n}/call-next", {"request_id": f"call2-{n}"})
            for n in range(1, 61)
        )
    )
    assert all(status == 200 for status, _ in replies)
    second = [r["called"]["id"] for _, r in replies if "called" in r]
    assert len(second) == 30 and len(set(second)) == 30
    assert set(second) == {t["id"] for t in issued[60:]}


# ---------------------------------------------------------------- bad input


BAD_BODIES: list[tuple[str, str, bytes | str, str | None]] = [
    ("POST", "/api/tickets", b"{not json", "invalid_json"),
    ("POST", "/api/tickets", b'["request_id", "service"]', "invalid_json"),
    ("POST", "/api/tickets", b'"just a string"', "invalid_json"),
    ("POST", "/api/tickets", b"42", "invalid_json"),
    ("POST", "/api/tickets", b"null", "invalid_json"),
    ("POST", "/api/tickets", b'{"request_id": "x", "service": NaN}', "invalid_json"),
    ("POST", "/api/tickets", b'{"request_id": "x", "service": "police"', "invalid_json"),
    ("POST", "/api/tickets", b"\xff\xfe{}", "invalid_json"),
    ("POST", "/api/tickets", "[" * 20000 + "]" * 20000, "invalid_json"),
    ("POST", "/api/tickets", b'{"service": "police"}', "request_id_required"),
    ("POST", "/api/tickets", b"", "request_id_required"),
    ("POST", "/api/tickets", b'{"request_id": 7, "service": "police"}', "request_id_required"),
    ("POST", "/api/tickets", b'{"request_id": "  ", "service": "police"}', "request_id_required"),
    ("POST", "/api/tickets", json.dumps({"request_id": "x" * 200, "service": "police"}), None),
    ("POST", "/api/tickets", b'{"request_id": "w1", "service": 5}', "invalid_request"),
    ("POST", "/api/tickets", b'{"request_id": "w2", "service": ["police"]}', "invalid_request"),
    ("POST", "/api/tickets", b'{"request_id": "w3"}', "invalid_request"),
    ("POST", "/api/tickets", b'{"request_id": "u1", "service": "police", "x": 1}', None),
    ("POST", "/api/tickets", b'{"request_id": "u2", "service": "police", "command": "tick"}', None),
    ("POST", "/api/windows/1/call-next", b'{"request_id": "u3", "window": 2}', None),
    ("POST", "/api/tickets/A001/cancel", b'{"request_id": "u4", "ticket": "A002"}', None),
    ("POST", "/api/tickets", b'{"request_id": "s1", "service": "passport"}', "service_not_found"),
    ("POST", "/api/tickets", b'{"request_id": "c1", "service": "police", "category": "x"}', None),
    ("POST", "/api/windows/99/call-next", b'{"request_id": "n1"}', "window_not_found"),
    ("POST", "/api/windows/0/call-next", b'{"request_id": "n2"}', "invalid_window"),
    ("POST", "/api/windows/abc/call-next", b'{"request_id": "n3"}', "invalid_window"),
    ("POST", "/api/windows/-1/call-next", b'{"request_id": "n4"}', "invalid_window"),
    ("POST", "/api/windows/1.5/call-next", b'{"request_id": "n5"}', "invalid_window"),
    ("POST", "/api/windows/%C2%B2/call-next", b'{"request_id": "n6"}', "invalid_window"),
    ("POST", "/api/windows/" + "9" * 5000 + "/call-next", b'{"request_id": "n7"}', None),
    ("POST", "/api/windows/1/sign-in", b'{"request_id": "i1", "staff": 1001}', "invalid_request"),
    ("POST", "/api/windows/1/sign-in", b'{"request_id": "i2"}', "invalid_request"),
    ("POST", "/api/windows/1/sign-in", b'{"request_id": "i3", "staff": " "}', "staff_required"),
    ("POST", "/api/windows/1/call", b'{"request_id": "k1", "ticket": "Z999"}', None),
    ("POST", "/api/tickets/A999/reinstate", b'{"request_id": "k2"}', "ticket_not_found"),
    ("POST", "/api/tickets/A001/reinstate", b'{"request_id": "k3", "window": "1"}', None),
    ("POST", "/api/evaluations", b'{"request_id": "e1", "level": "satisfied"}', None),
    ("POST", "/api/evaluations", b'{"request_id": "e2", "ticket": "A999", "level": "basic"}', None),
    ("POST", "/api/windows/1/transfer", b'{"request_id": "t1", "service": "x"}', None),
    ("GET", "/api/windows/1/call-next", b"", "method_not_allowed"),
    ("PUT", "/api/tickets", b"{}", "method_not_allowed"),
    ("DELETE", "/api/state", b"", "method_not_allowed"),
    ("POST", "/api/state", b"{}", "method_not_allowed"),
    ("GET", "/api/nothing-here", b"", "not_found"),
    ("POST", "/api/windows/1/explode", b'{"request_id": "z"}', "not_found"),
    ("GET", "/api/state?tickets=some", b"", "invalid_query"),
    ("GET", "/api/events?after=-1", b"", "invalid_query"),
    ("GET", "/api/events?after=abc", b"", "invalid_query"),
    ("GET", "/api/events?after=%C2%B2", b"", "invalid_query"),
    ("GET", "/api/events?after=" + "9" * 5000, b"", "invalid_query"),
    ("GET", "/api/events?limit=0", b"", "invalid_query"),
    ("GET", "/api/events?limit=99999999", b"", "invalid_query"),
    ("GET", "/api/feed?since=-5", b"", "invalid_query"),
    ("GET", "/api/feed?since=%C2%B2", b"", "invalid_query"),
    ("GET", "/api/feed?since=" + "9" * 5000, b"", "invalid_query"),
    ("GET", "/api/tickets/A999", b"", "ticket_not_found"),
]


@pytest.mark.parametrize(("method", "path", "body", "code"), BAD_BODIES)
async def test_bad_input_is_a_4xx_with_code_and_message(
    client: Client, method: str, path: str, body: bytes | str, code: str | None
) -> None:
    await ok(client, "/api/windows/1/sign-in", {"request_id": "setup-in", "staff": "1001"})
    before = (await state(client))["seq"]
    resp = await client.request(
        method, path, data=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= resp.status < 500, (resp.status, await resp.text())
    assert resp.content_type == "application/json"
    assert_error(await resp.json(), code)
    after = await state(client)
    assert after["seq"] == before, "a refused request changed the hall"


async def test_huge_body_is_refused(client: Client) -> None:
    big = json.dumps({"request_id": "big", "service": "police", "kiosk": "x" * 200_000})
    resp = await client.post("/api/tickets", data=big)
    assert 400 <= resp.status < 500
    assert_error(await resp.json())

    async def chunks() -> Any:  # no Content-Length: the size is found while reading
        for _ in range(40):
            yield b" " * 8192
        yield b'{"request_id": "big2", "service": "police"}'

    resp = await client.post(
        "/api/tickets", data=chunks(), headers={"Content-Type": "application/json"}
    )
    assert 400 <= resp.status < 500
    assert_error(await resp.json())
    assert (await state(client))["tickets"] == []


async def test_non_ascii_digit_ticket_reference_is_not_found(client: Client) -> None:
    """ "²" passes str.isdigit() but int() refuses it: the engine must still say 404."""
    await ok(client, "/api/tickets", {"request_id": "t", "service": "police"})
    resp = await client.get("/api/tickets/%C2%B2")
    assert resp.status == 404, await resp.text()
    assert_error(await resp.json(), "ticket_not_found")
    st_, data = await post(client, "/api/tickets/%C2%B2/reinstate", {"request_id": "re"})
    assert st_ == 404, data
    assert_error(data, "ticket_not_found")
    await ok(client, "/api/tickets", {"request_id": "t2", "service": "police"})


async def test_appointment_far_outside_time_is_refused(client: Client) -> None:
    """A slot time no calendar can hold is bad input (4xx), not a crash."""
    for i, slot in enumerate([1e20, -1e20, 1e300, 2.0**63]):
        st_, data = await post(
            client,
            "/api/appointments",
            {
                "request_id": f"ap-{i}",
                "code": f"ABCD{i}",
                "service": "police",
                "slot_start": slot,
                "slot_end": abs(slot) * 2,
            },
        )
        assert 400 <= st_ < 500, data
        assert_error(data)
    await ok(client, "/api/tickets", {"request_id": "after", "service": "police"})


async def test_an_appointment_is_found_by_its_code_without_personal_data(client: Client) -> None:
    await ok(
        client,
        "/api/appointments",
        {
            "request_id": "bk",
            "code": "20261123A7",
            "service": "police",
            "slot_start": at(2026, 11, 23, 9, 30),
            "slot_end": at(2026, 11, 23, 10, 0),
            "name": "王小明",
        },
    )
    resp = await client.get("/api/appointments/20261123A7")
    assert resp.status == 200
    data = await resp.json()
    assert data["service"] == "police" and data["checked_in"] is False
    assert "name" not in data and "王小明" not in json.dumps(data, ensure_ascii=False)
    resp = await client.get("/api/appointments/NOPE")
    assert resp.status == 404
    assert_error(await resp.json(), "appointment_not_found")


async def test_internal_error_fails_one_command_and_the_hall_goes_on(
    aiohttp_client: ClientFactory,
    demo_config: HallConfig,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bug in deciding one command answers 500 for it; the state is rebuilt from the log."""
    monkeypatch.setattr(app_module, "TICK_SECONDS", 3600.0)  # only commands start the new day
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    writer = client.app[writer_key]
    await ok(client, "/api/tickets", {"request_id": "t1", "service": "police"})
    # The next day: the failing command first starts the day (in memory), then breaks.
    clock.set(2026, 11, 24, 9, 0)
    real = writer.engine._deciders[c.IssueTicket]

    def broken(cmd: Any, now: float) -> Any:
        if cmd.request_id == "boom":
            raise RuntimeError("simulated bug")
        return real(cmd, now)

    writer.engine._deciders[c.IssueTicket] = broken
    status, data = await post(client, "/api/tickets", {"request_id": "boom", "service": "police"})
    assert status == 500
    assert_error(data, "internal_error")
    # The writer survived, and the half-started day was dropped with the failed command.
    view = await state(client)
    assert view["day"] == "2026-11-23"
    assert [t["number"] for t in view["tickets"]] == ["A001"]
    # Other commands go on, the new day starting once, properly logged.
    replies = await asyncio.gather(
        *(
            post(client, "/api/tickets", {"request_id": f"n{i}", "service": "police"})
            for i in range(5)
        ),
        post(client, "/api/tickets", {"request_id": "boom", "service": "police"}),
    )
    assert [s for s, _ in replies] == [200] * 5 + [500]
    assert sorted(r["ticket"]["number"] for _, r in replies[:5]) == [f"A00{i}" for i in range(1, 6)]
    events = await all_events(client)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    days = [e["day"] for e in events if e["type"] == "day_started"]
    assert days == ["2026-11-23", "2026-11-24"]
    view = await state(client)
    assert view["day"] == "2026-11-24"
    assert len(view["tickets"]) == 5


# ---------------------------------------------------------------- the event log by sequence


async def test_events_page_in_order(client: Client) -> None:
    await ok(client, "/api/windows/7/sign-in", {"request_id": "in7", "staff": "1007"})
    for i in range(23):
        await ok(client, "/api/tickets", {"request_id": f"t{i}", "service": "social"})
    for i in range(5):
        await ok(client, "/api/windows/7/call-next", {"request_id": f"c{i}"})
    seq = (await state(client))["seq"]
    got: list[dict[str, Any]] = []
    after = 0
    while True:
        resp = await client.get(f"/api/events?after={after}&limit=7")
        assert resp.status == 200
        data = await resp.json()
        assert data["last_seq"] == seq
        assert len(data["events"]) <= 7
        if not data["events"]:
            break
        assert data["events"][0]["seq"] == after + 1
        got.extend(data["events"])
        after = data["events"][-1]["seq"]
    assert [e["seq"] for e in got] == list(range(1, seq + 1))
    assert got[0]["type"] == "day_started" and got[0]["day"] == "2026-11-23"
    issued = [e for e in got if e["type"] == "ticket_issued"]
    assert [e["display"] for e in issued] == [f"D{i:03d}" for i in range(1, 24)]
    assert [e["request"] for e in issued] == [f"t{i}" for i in range(23)]
    assert all(isinstance(e["ts"], float) for e in got)
    # Reading from the middle, and past the end.
    resp = await client.get(f"/api/events?after={seq - 3}")
    assert [e["seq"] for e in (await resp.json())["events"]] == [seq - 2, seq - 1, seq]
    resp = await client.get(f"/api/events?after={seq + 100}")
    assert (await resp.json())["events"] == []


# ---------------------------------------------------------------- restart


def _comparable(view: dict[str, Any]) -> dict[str, Any]:
    """The view less what is not state: the time, and when devices were last seen (memory)."""
    out = {k: v for k, v in view.items() if k != "now"}
    out["devices"] = [{k: v for k, v in d.items() if k != "last_seen"} for d in view["devices"]]
    return out


async def test_restart_rebuilds_the_same_hall(
    aiohttp_client: ClientFactory, demo_config: HallConfig, tmp_path: Path, clock: FakeClock
) -> None:
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    rid = Counter("rs")
    first: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {}  # id: path, body, reply

    async def remember(path: str, body: dict[str, Any]) -> None:
        first[body["request_id"]] = (path, body, await ok(client, path, body))

    for n, staff in ((1, "1001"), (3, "1003"), (11, "1011")):
        await ok(client, f"/api/windows/{n}/sign-in", {"request_id": rid(), "staff": staff})
    for i, svc in enumerate(["police", "property", "consult", "police", "civil", "police"] * 3):
        await remember("/api/tickets", {"request_id": f"issue-{i}", "service": svc})
        clock.now += 30
    for n in (1, 3, 11, 1):
        await remember(f"/api/windows/{n}/call-next", {"request_id": f"call-{rid()}"})
        clock.now += 90
    await ok(client, "/api/windows/3/start", {"request_id": rid()})
    clock.now += 600
    await ok(client, "/api/windows/3/finish", {"request_id": rid()})
    await ok(client, "/api/evaluations", {"request_id": rid(), "window": 3, "level": "basic"})
    await ok(client, "/api/windows/1/recall", {"request_id": rid()})
    await ok(client, "/api/windows/1/no-show", {"request_id": rid()})
    await ok(client, "/api/windows/11/transfer", {"request_id": rid(), "service": "fund"})
    await ok(client, "/api/windows/3/away", {"request_id": rid()})
    before = await state(client)
    before_waiting = await state(client, "waiting")
    before_events = await all_events(client)
    await client.close()

    async def reopened() -> Client:
        return await aiohttp_client(
            create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
        )

    # With the snapshot written at a clean stop.
    client = await reopened()
    assert _comparable(await state(client)) == _comparable(before)
    assert _comparable(await state(client, "waiting")) == _comparable(before_waiting)
    assert await all_events(client) == before_events
    for path, body, reply in first.values():
        again = await ok(client, path, body)
        assert again["repeated"] is True
        assert {k: v for k, v in again.items() if k != "repeated"} == reply
    assert _comparable(await state(client)) == _comparable(before)
    await client.close()

    # From the log alone, as after a power cut: no snapshot to start from.
    with sqlite3.connect(tmp_path / "events.sqlite3") as db:
        db.execute("DELETE FROM snapshots")
    db.close()
    client = await reopened()
    assert _comparable(await state(client)) == _comparable(before)
    for path, body, reply in first.values():
        again = await ok(client, path, body)
        assert again["repeated"] is True
        assert {k: v for k, v in again.items() if k != "repeated"} == reply
    # Numbering goes on where it stopped.
    r = await ok(client, "/api/tickets", {"request_id": "after-restart", "service": "police"})
    assert r["ticket"]["number"] == "A010"
    assert r["ticket"]["id"] == max(t["id"] for t in before["tickets"]) + 1


async def test_request_id_reused_for_another_command_after_restart(
    aiohttp_client: ClientFactory, demo_config: HallConfig, tmp_path: Path, clock: FakeClock
) -> None:
    """A reused id is refused after a restart too: it must not answer with another command's
    result (here a sign-in "succeeding" with a ticket while the window stays closed)."""
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    await ok(client, "/api/tickets", {"request_id": "X-1", "service": "police"})
    body = {"request_id": "X-1", "staff": "1001"}
    await refused(client, "/api/windows/1/sign-in", body, 400, "request_id_reused")
    await client.close()
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    await refused(client, "/api/windows/1/sign-in", body, 400, "request_id_reused")


# ---------------------------------------------------------------- the WebSocket feed


async def _receive(ws: Any, timeout: float = 10.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def _events_until(ws: Any, seq: int) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while not got or got[-1]["seq"] < seq:
        got.append(await _receive(ws))
    return got


async def _nothing_more(ws: Any) -> None:
    with pytest.raises(asyncio.TimeoutError):
        await ws.receive(timeout=0.3)


async def test_feed_snapshot_then_events_and_resume(client: Client) -> None:
    await ok(client, "/api/windows/5/sign-in", {"request_id": "in5", "staff": "1005"})
    ws = await client.ws_connect("/api/feed")
    hello = await _receive(ws)
    assert hello["type"] == "snapshot"
    assert hello["version"] == STATE_VERSION
    assert hello["seq"] == hello["state"]["seq"] == (await state(client))["seq"]
    assert window_of(hello["state"], 5)["status"] == "idle"

    last = 0
    for i in range(4):
        last = (await ok(client, "/api/tickets", {"request_id": f"f{i}", "service": "business"}))[
            "seq"
        ]
    last = (await ok(client, "/api/windows/5/call-next", {"request_id": "fc"}))["seq"]
    got = await _events_until(ws, last)
    assert all(m["type"] == "event" for m in got)
    assert [m["seq"] for m in got] == list(range(hello["seq"] + 1, last + 1))
    assert [m["event"]["seq"] for m in got] == [m["seq"] for m in got]
    assert [m["event"]["type"] for m in got] == ["ticket_issued"] * 4 + ["ticket_called"]
    assert got[-1]["event"]["display"] == "C001"
    await _nothing_more(ws)
    await ws.close()

    # While disconnected, the hall goes on.
    missed_to = last
    for i in range(3):
        missed_to = (
            await ok(client, "/api/tickets", {"request_id": f"m{i}", "service": "business"})
        )["seq"]
    missed_to = (await ok(client, "/api/windows/5/call-next", {"request_id": "mc"}))["seq"]

    ws = await client.ws_connect(f"/api/feed?since={last}")
    got = await _events_until(ws, missed_to)
    assert all(m["type"] == "event" for m in got), "a resumed feed sends no snapshot"
    assert [m["seq"] for m in got] == list(range(last + 1, missed_to + 1))
    assert [m["event"]["type"] for m in got] == ["ticket_issued"] * 3 + [
        "service_finished",
        "ticket_called",
    ]
    await _nothing_more(ws)
    # Live again after the catch-up, with no gap and no repeat.
    live = (await ok(client, "/api/tickets", {"request_id": "live", "service": "business"}))["seq"]
    got = await _events_until(ws, live)
    assert [m["seq"] for m in got] == [missed_to + 1]
    await ws.close()

    # Resuming from the very start replays the whole log; at the head, nothing at all.
    ws = await client.ws_connect("/api/feed?since=0")
    got = await _events_until(ws, live)
    assert [m["seq"] for m in got] == list(range(1, live + 1))
    await ws.close()
    ws = await client.ws_connect(f"/api/feed?since={live}")
    await _nothing_more(ws)
    await ws.close()


async def test_feed_keeps_order_under_a_burst(client: Client) -> None:
    ws = await client.ws_connect("/api/feed")
    hello = await _receive(ws)
    replies = await asyncio.gather(
        *(
            post(client, "/api/tickets", {"request_id": f"b{i}", "service": "consult"})
            for i in range(40)
        )
    )
    assert all(s == 200 for s, _ in replies)
    top = max(r["seq"] for _, r in replies)
    got = await _events_until(ws, top)
    assert [m["seq"] for m in got] == list(range(hello["seq"] + 1, top + 1))
    numbers = [m["event"]["display"] for m in got]
    assert numbers == [f"H{i:03d}" for i in range(1, 41)]
    await ws.close()


# ---------------------------------------------------------------- the day clock


async def test_day_clock_starts_the_new_day(
    aiohttp_client: ClientFactory,
    demo_config: HallConfig,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(app_module, "TICK_SECONDS", 0.05)
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    await ok(client, "/api/windows/1/sign-in", {"request_id": "in", "staff": "1001"})
    t1 = (await ok(client, "/api/tickets", {"request_id": "t1", "service": "police"}))["ticket"]
    await ok(client, "/api/tickets", {"request_id": "t2", "service": "police"})
    await ok(client, "/api/windows/1/call-next", {"request_id": "c1"})
    ws = await client.ws_connect("/api/feed")
    hello = await _receive(ws)
    assert hello["state"]["day"] == "2026-11-23"

    clock.now = at(2026, 11, 24, 0, 0) + 5  # just past midnight: nobody sends a command
    msg = await _receive(ws, timeout=30)
    assert msg["type"] == "event" and msg["seq"] == hello["seq"] + 1
    ev = msg["event"]
    assert ev["type"] == "day_started"
    assert (ev["day"], ev["previous_day"]) == ("2026-11-24", "2026-11-23")
    assert sorted(ev["expired"]) == [t1["id"], t1["id"] + 1]
    assert ev["closed_windows"] == [1]
    assert "request" not in ev
    await ws.close()
    view = await state(client)
    assert view["day"] == "2026-11-24"
    assert view["tickets"] == []
    assert window_of(view, 1)["status"] == "closed"
    assert view["issuing"]["open"] is False
    # Only one day_started however many ticks pass.
    await asyncio.sleep(0.3)
    events = await all_events(client)
    assert [e["day"] for e in events if e["type"] == "day_started"] == ["2026-11-23", "2026-11-24"]
    # At opening, numbers start again; ticket ids go on.
    clock.set(2026, 11, 24, 8, 45)
    r = await ok(client, "/api/tickets", {"request_id": "tue-1", "service": "police"})
    assert r["ticket"]["number"] == "A001"
    assert r["ticket"]["id"] == t1["id"] + 2


# ---------------------------------------------------------------- fuzz


_FIELD_NAMES = sorted(
    {name for r in COMMAND_ROUTES for name in r.command.__struct_fields__} | {"x", ""}
)
_json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(["police", "consult", "A001", "1", "satisfied", "1001", "²", "１"])
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
_bodies = st.one_of(
    st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=6), _json, max_size=6),
    st.builds(
        lambda d, rid: {**d, "request_id": rid},
        st.dictionaries(st.sampled_from(_FIELD_NAMES), _json, max_size=5),
        st.text(alphabet=string.ascii_letters + string.digits, min_size=1, max_size=8),
    ),
    _json,
)
_path_values = st.one_of(
    st.integers(min_value=-3, max_value=1003).map(str),
    st.sampled_from(["A001", "B001", "1", "²", "abc", "", " "]),
    st.text(max_size=6),
)


def test_fuzz_command_routes_never_500(demo_config: HallConfig, tmp_path: Path) -> None:
    """Random JSON bodies (and path values) to every command route: always an answer < 500."""
    clock = FakeClock(at(*MONDAY_0900))
    loop = asyncio.new_event_loop()

    async def start() -> Client:
        client: Client = TestClient(
            TestServer(create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet()))
        )
        await client.start_server()
        return client

    client = loop.run_until_complete(start())

    async def setup() -> None:
        await ok(client, "/api/windows/1/sign-in", {"request_id": "in1", "staff": "1001"})
        await ok(client, "/api/windows/11/sign-in", {"request_id": "in11", "staff": "1011"})
        for i in range(3):
            await ok(client, "/api/tickets", {"request_id": f"t{i}", "service": "police"})
        await ok(client, "/api/windows/1/call-next", {"request_id": "c1"})

    async def send(path: str, body: Any, method: str) -> tuple[int, str]:
        resp = await asyncio.wait_for(
            client.request(method, path, data=json.dumps(body)), timeout=20
        )
        return resp.status, await resp.text()

    @settings(
        max_examples=300,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(
        route=st.sampled_from(COMMAND_ROUTES),
        body=_bodies,
        value=_path_values,
        method=st.sampled_from(["POST", "POST", "POST", "PUT", "GET"]),
    )
    def check(route: Any, body: Any, value: str, method: str) -> None:
        path = route.path
        for name in route.path_params:
            path = path.replace("{" + name + "}", quote(value, safe="") or "1")
        status, text = loop.run_until_complete(send(path, body, method))
        assert status < 500, (method, path, body, status, text)
        if status >= 400:
            assert_error(json.loads(text))

    try:
        loop.run_until_complete(setup())
        check()
        # And the hall still works.
        loop.run_until_complete(ok(client, "/api/tickets", {"request_id": "end", "service": "tax"}))
    finally:
        loop.run_until_complete(client.close())
        loop.close()


async def test_feed_client_that_leaves_is_forgotten(client: Client) -> None:
    """A screen that disconnects stops being a feed client even while the hall is quiet."""

    async def feed_clients() -> int:
        resp = await client.get("/api/health")
        n: int = (await resp.json())["feed_clients"]
        return n

    sockets = [await client.ws_connect("/api/feed") for _ in range(3)]
    for ws in sockets:
        assert (await _receive(ws))["type"] == "snapshot"
    assert await feed_clients() == 3
    for ws in sockets:
        await ws.close()
    for _ in range(100):
        if await feed_clients() == 0:
            break
        await asyncio.sleep(0.05)
    assert await feed_clients() == 0


async def test_day_clock_ignores_a_clock_stepped_back(
    aiohttp_client: ClientFactory,
    demo_config: HallConfig,
    tmp_path: Path,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Pi that boots with a stale clock: no new day, and no stream of empty ticks."""
    monkeypatch.setattr(app_module, "TICK_SECONDS", 0.02)
    client = await aiohttp_client(
        create_app(demo_config, tmp_path, clock=clock, drivers=DriverSet())
    )
    await ok(client, "/api/tickets", {"request_id": "t1", "service": "police"})

    async def health() -> dict[str, Any]:
        resp = await client.get("/api/health")
        data: dict[str, Any] = await resp.json()
        return data

    before = await health()
    clock.set(2026, 11, 22, 9, 0)  # a day back
    await asyncio.sleep(0.5)
    after = await health()
    assert after["day"] == "2026-11-23"
    assert after["seq"] == before["seq"]
    assert after["commands"] == before["commands"], "the day clock kept sending ticks"


async def test_the_kiosk_records_a_failed_print_and_the_reprint(client: Client) -> None:
    await ok(client, "/api/tickets", {"request_id": "pt-1", "service": "police"})
    body = {"request_id": "pt-2", "printed": False, "reason": "打印机缺纸", "device": "kiosk-1"}
    await ok(client, "/api/tickets/A001/print", body)
    failed = ticket_of(await state(client), "A001")
    assert (failed["printed"], failed["print_failures"], failed["status"]) == (False, 1, "waiting")
    await ok(client, "/api/tickets/A001/print", {"request_id": "pt-3", "printed": True})
    assert ticket_of(await state(client), "A001")["printed"] is True
