"""The central server's pages and JSON API, on SQLite and PostgreSQL: the first-run set-up,
logins (CSRF, lockout, expiry), a hall manager kept to their hall on every endpoint, the
overview and a hall's page with its charts, 回访 cases, and the admin of halls, tokens,
users and settings.

The hall data is made by inserting rows straight into the tables (the schema's contract),
so these tests do not depend on the ingest side. Other central web tests import the helpers.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from hallq.central import accounts, halls
from hallq.central.app import create_central_app, db_key
from hallq.central.db import Database
from hallq.errors import CommandRejected
from tests.conftest import at

Client = TestClient[web.Request, web.Application]
PASSWORD = "city admin 2026"
T0 = at(2026, 11, 23, 10, 0)  # Monday 10:00 in Shanghai

HALL_TOML = """\
[hall]
id = "{hall_id}"
name = "{name}"
name_en = "{name_en}"
timezone = "Asia/Shanghai"

[[services]]
code = "alpha"
name = "户籍办理"
name_en = "Household registration"
prefix = "A"

[[services]]
code = "beta"
name = "社保缴费"
name_en = "Social insurance"
prefix = "B"

[[windows]]
number = 1
label = "户籍窗口"
label_en = "Registration"
tiers = [["alpha"]]

[[windows]]
number = 2
label = "综合窗口"
label_en = "Composite"
tiers = [["alpha", "beta"]]

[away]
thresholds_minutes = {thresholds}
"""


class Clock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# ---------------------------------------------------------------- building the data


def live_figures(**over: Any) -> dict[str, Any]:
    """A hall's `live` JSON (the contract in the spec), with some figures changed."""
    live: dict[str, Any] = {
        "seq": 120,
        "ts": T0 - 30,
        "day": "2026-11-23",
        "open": True,
        "issued": 40,
        "served": 30,
        "no_shows": 2,
        "waiting": 7,
        "oldest_waiting_issued_at": T0 - 1500,
        "wait_avg_seconds": 300.0,
        "wait_p90_seconds": 720.0,
        "service_avg_seconds": 420.0,
        "windows_open": 2,
        "windows_total": 2,
        "devices_unhealthy": [],
        "services": [
            {"code": "alpha", "name": "户籍办理", "name_en": "Household registration",
             "waiting": 5, "served": 20, "estimated_wait_minutes": 12.5, "windows_open": 2,
             "wait_avg_seconds": 320.0},
            {"code": "beta", "name": "社保缴费", "name_en": "Social insurance", "waiting": 2,
             "served": 10, "estimated_wait_minutes": None, "windows_open": 1,
             "wait_avg_seconds": None},
        ],
        "windows": [
            {"number": 1, "label": "户籍窗口", "label_en": "Registration", "status": "serving",
             "staff": "1001", "staff_name": "张三", "ticket": "A012", "served": 18,
             "away_seconds": 120.0, "since": T0 - 200},
            {"number": 2, "label": "综合窗口", "label_en": "Composite", "status": "away",
             "staff": "1002", "staff_name": "李四", "ticket": None, "served": 12,
             "away_seconds": 1500.0, "since": T0 - 1200},
        ],
    }  # fmt: skip
    live.update(over)
    return live


async def add_hall(
    db: Database,
    hall_id: str,
    name: str = "",
    name_en: str = "",
    *,
    live: dict[str, Any] | None = None,
    last_seen: float | None = None,
    thresholds: str = "[15, 30, 60]",
    config: bool = True,
) -> None:
    text = (
        HALL_TOML.format(
            hall_id=hall_id, name=name or hall_id, name_en=name_en, thresholds=thresholds
        )
        if config
        else ""
    )
    digest = hashlib.sha256(text.encode()).hexdigest() if text else ""
    await db.execute(
        "INSERT INTO halls (hall_id, name, name_en, created_at, last_seen, last_event_ts,"
        " config_text, live, config_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        hall_id,
        name,
        name_en,
        T0 - 86400,
        last_seen,
        last_seen,
        text,
        json.dumps(live) if live is not None else "{}",
        digest,
    )


async def add_ticket(
    db: Database,
    hall_id: str,
    ticket: int,
    day: str,
    service: str,
    status: str,
    issued_at: float,
    *,
    wait: float | None = None,
    service_seconds: float | None = None,
    window: int | None = None,
    staff: str | None = None,
    evaluation: str | None = None,
) -> None:
    first_called = issued_at + wait if wait is not None else None
    await db.execute(
        "INSERT INTO tickets (hall_id, ticket, day, service, number, display, status, issued_at,"
        " first_called_at, wait_seconds, service_seconds, window_no, staff, evaluation)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        hall_id,
        ticket,
        day,
        service,
        ticket,
        f"{service[0].upper()}{ticket:03d}",
        status,
        issued_at,
        first_called,
        wait,
        service_seconds,
        window,
        staff,
        evaluation,
    )


async def add_evaluation(
    db: Database,
    hall_id: str,
    seq: int,
    day: str,
    ticket: int,
    level: str,
    *,
    service: str = "alpha",
    window: int | None = 1,
    staff: str | None = "1001",
    ts: float = T0,
) -> None:
    bad = int(level in ("dissatisfied", "very_dissatisfied"))
    await db.execute(
        "INSERT INTO evaluations (hall_id, seq, ts, day, ticket, service, window_no, staff, level,"
        " bad) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        hall_id,
        seq,
        ts,
        day,
        ticket,
        service,
        window,
        staff,
        level,
        bad,
    )


async def add_away(
    db: Database,
    hall_id: str,
    seq: int,
    day: str,
    window: int,
    staff: str | None,
    minutes: float,
    kind: str = "away",
) -> None:
    ended = T0 + seq
    await db.execute(
        "INSERT INTO away_spells (hall_id, seq, day, window_no, staff, kind, started_at, ended_at,"
        " seconds) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        hall_id,
        seq,
        day,
        window,
        staff,
        kind,
        ended - minutes * 60,
        ended,
        minutes * 60,
    )


async def add_staff(db: Database, hall_id: str, staff: str, name: str) -> None:
    await db.execute(
        "INSERT INTO staff (hall_id, staff, name, last_seen) VALUES ($1, $2, $3, $4)",
        hall_id,
        staff,
        name,
        T0,
    )


async def add_case(
    db: Database,
    hall_id: str,
    case_no: str,
    deadline: str,
    *,
    eval_seq: int = 1,
    day: str = "2026-11-23",
    level: str = "dissatisfied",
    status: str = "open",
    reason: str = "等候时间长",
) -> None:
    await db.execute(
        "INSERT INTO cases (hall_id, case_no, eval_seq, ticket, display, day, opened_at, deadline,"
        " level, reason, service, window_no, staff, status, updated_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'alpha', 1, '1001', $11, $7)",
        hall_id,
        case_no,
        eval_seq,
        eval_seq,
        f"A{eval_seq:03d}",
        day,
        T0 - 3600,
        deadline,
        level,
        reason,
        status,
    )


# ---------------------------------------------------------------- clients and logins


async def central(aiohttp_client: Any, url: str, clock: Clock | None = None) -> Client:
    app = create_central_app(url, clock=clock or Clock())
    client: Client = await aiohttp_client(app)
    return client


def db_of(client: Client) -> Database:
    app = client.app
    assert app is not None
    return app[db_key]


async def add_user(
    client: Client,
    username: str,
    role: str = "city_admin",
    hall_id: str | None = None,
    password: str = PASSWORD,
) -> None:
    await accounts.create_user(db_of(client), username, password, role, hall_id, username, T0)


async def pre_token(client: Client) -> str:
    """The login form's token (a browser already logged in forgets its session first)."""
    r = await client.get("/api/session")
    body = await r.json()
    if body["state"] == "ok":
        client.session.cookie_jar.clear()
        body = await (await client.get("/api/session")).json()
    token: str = body["token"]
    return token


async def login(client: Client, username: str, password: str = PASSWORD) -> str:
    """Log in; the session's CSRF token (the cookie stays in the client)."""
    token = await pre_token(client)
    r = await client.post(
        "/api/login",
        json={"username": username, "password": password},
        headers={"X-CSRF-Token": token},
    )
    assert r.status == 200, await r.text()
    csrf: str = (await r.json())["csrf"]
    return csrf


async def as_user(
    aiohttp_client: Any,
    url: str,
    username: str,
    role: str = "city_admin",
    hall_id: str | None = None,
    clock: Clock | None = None,
) -> tuple[Client, str]:
    client = await central(aiohttp_client, url, clock)
    await add_user(client, username, role, hall_id)
    return client, await login(client, username)


async def second_client(aiohttp_client: Any, client: Client) -> Client:
    """Another browser on the same server (its own cookies)."""
    other: Client = await aiohttp_client(client.server)
    return other


async def error_of(response: Any) -> dict[str, Any]:
    body = await response.json()
    assert "error" in body, body
    error: dict[str, Any] = body["error"]
    assert error["message"], body
    return error


# ---------------------------------------------------------------- first run


async def test_first_run_code_in_the_log_makes_the_first_city_admin(
    aiohttp_client: Any, central_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hallq.central.web")
    client = await central(aiohttp_client, central_db_url)
    said = [r.getMessage() for r in caplog.records if "set-up code" in r.getMessage()]
    assert len(said) == 1
    code = re.search(r"set-up code (\d{8})", said[0])
    assert code is not None
    # Only its hash is kept.
    stored = await db_of(client).fetch("SELECT value FROM settings WHERE key LIKE 'setup_code.%'")
    assert len(stored) == 1 and code.group(1) not in stored[0]["value"]

    r = await client.get("/login", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/setup"
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"].startswith("/login")
    token = await pre_token(client)
    assert (await (await client.get("/api/session")).json())["state"] == "setup"

    body = {"code": "00000000", "username": "root", "password": PASSWORD, "password2": PASSWORD}
    r = await client.post("/api/setup", json=body, headers={"X-CSRF-Token": token})
    assert r.status == 400 and (await error_of(r))["code"] == "wrong_setup_code"
    r = await client.post("/api/setup", json={**body, "code": code.group(1)})
    assert r.status == 403  # no pre-session token: refused (login CSRF)
    r = await client.post(
        "/api/setup", json={**body, "code": code.group(1), "password2": "different!"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert r.status == 400 and (await error_of(r))["code"] == "passwords_differ"
    r = await client.post(
        "/api/setup", json={**body, "code": code.group(1)}, headers={"X-CSRF-Token": token}
    )
    assert r.status == 200, await r.text()
    me = await r.json()
    assert me["role"] == "city_admin" and me["username"] == "root" and me["csrf"]
    cookie = r.cookies["hallq_central"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/"
    assert (await (await client.get("/api/session")).json())["state"] == "ok"
    assert not await db_of(client).fetch("SELECT key FROM settings WHERE key LIKE 'setup_code.%'")

    # Set up once only: a second set-up is refused, /setup goes to the login.
    other = await second_client(aiohttp_client, client)
    token = await pre_token(other)
    r = await other.post(
        "/api/setup", json={**body, "code": code.group(1), "username": "intruder"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert r.status == 409 and (await error_of(r))["code"] == "already_set_up"
    r = await other.get("/setup", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login"


async def test_wrong_setup_codes_lock_the_setup(aiohttp_client: Any, central_db_url: str) -> None:
    clock = Clock()
    client = await central(aiohttp_client, central_db_url, clock)
    token = await pre_token(client)
    body = {"code": "12", "username": "root", "password": PASSWORD, "password2": PASSWORD}
    for _ in range(accounts.MAX_FAILURES):
        r = await client.post("/api/setup", json=body, headers={"X-CSRF-Token": token})
        assert r.status == 400
    r = await client.post("/api/setup", json=body, headers={"X-CSRF-Token": token})
    assert r.status == 429 and int(r.headers["Retry-After"]) > 800


async def test_a_user_made_from_the_command_line_ends_the_setup(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client = await central(aiohttp_client, central_db_url)
    assert await db_of(client).fetch("SELECT key FROM settings WHERE key LIKE 'setup_code.%'")
    await add_user(client, "root")
    assert not await db_of(client).fetch("SELECT key FROM settings WHERE key LIKE 'setup_code.%'")
    r = await client.get("/setup", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login"


async def test_no_code_is_printed_once_a_user_exists(
    aiohttp_client: Any, central_db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = await central(aiohttp_client, central_db_url)
    await add_user(client, "root")
    await client.close()
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="hallq.central.web")
    client = await central(aiohttp_client, central_db_url)
    assert not [r for r in caplog.records if "set-up code" in r.getMessage()]
    assert (await (await client.get("/api/session")).json())["state"] == "login"


# ---------------------------------------------------------------- logins and sessions


async def test_login_lockout_after_five_wrong_passwords(
    aiohttp_client: Any, central_db_url: str
) -> None:
    clock = Clock()
    client = await central(aiohttp_client, central_db_url, clock)
    await add_user(client, "root")
    token = await pre_token(client)

    async def attempt(password: str) -> Any:
        return await client.post(
            "/api/login",
            json={"username": "root", "password": password},
            headers={"X-CSRF-Token": token},
        )

    for _ in range(4):
        r = await attempt("wrong password")
        assert r.status == 401 and (await error_of(r))["code"] == "wrong_login"
    r = await attempt("wrong password")
    assert r.status == 401
    r = await attempt(PASSWORD)  # right, but the name is locked now
    assert r.status == 429
    assert (await error_of(r))["code"] == "locked"
    assert 800 < int(r.headers["Retry-After"]) <= 900
    clock.advance(14 * 60)
    assert (await attempt(PASSWORD)).status == 429
    clock.advance(61)
    r = await attempt(PASSWORD)
    assert r.status == 200
    # An unknown name says the same as a wrong password.
    other = await second_client(aiohttp_client, client)
    r = await other.post(
        "/api/login", json={"username": "nobody", "password": "x" * 9},
        headers={"X-CSRF-Token": await pre_token(other)},
    )  # fmt: skip
    assert r.status == 401 and (await error_of(r))["code"] == "wrong_login"


async def test_login_needs_the_pre_session_token(aiohttp_client: Any, central_db_url: str) -> None:
    client = await central(aiohttp_client, central_db_url)
    await add_user(client, "root")
    await pre_token(client)
    body = {"username": "root", "password": PASSWORD}
    r = await client.post("/api/login", json=body)
    assert r.status == 403 and (await error_of(r))["code"] == "csrf_missing"
    r = await client.post("/api/login", json=body, headers={"X-CSRF-Token": "x" * 40})
    assert r.status == 403 and (await error_of(r))["code"] == "csrf_failed"
    r = await client.post(
        "/api/login", json=body,
        headers={"X-CSRF-Token": await pre_token(client), "Origin": "http://evil.example"},
    )  # fmt: skip
    assert r.status == 403 and (await error_of(r))["code"] == "bad_origin"


async def test_writes_need_the_session_csrf_token(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    body = {"month_start_day": 26}
    r = await client.put("/api/settings", json=body)
    assert r.status == 403 and (await error_of(r))["code"] == "csrf_missing"
    r = await client.put("/api/settings", json=body, headers={"X-CSRF-Token": csrf + "x"})
    assert r.status == 403 and (await error_of(r))["code"] == "csrf_failed"
    r = await client.put(
        "/api/settings", json=body,
        headers={"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"},
    )  # fmt: skip
    assert r.status == 403 and (await error_of(r))["code"] == "cross_site"
    r = await client.put("/api/settings", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status == 200 and (await r.json())["month_start_day"] == 26


async def test_sessions_expire_when_idle_and_after_twelve_hours(
    aiohttp_client: Any, central_db_url: str
) -> None:
    clock = Clock()
    client, _ = await as_user(aiohttp_client, central_db_url, "root", clock=clock)
    # Used every 20 minutes: alive past 30 minutes, but never past 12 hours.
    for _ in range(35):
        clock.advance(20 * 60)
        assert (await client.get("/api/overview")).status == 200
    clock.advance(20 * 60 + 1)  # 12 h 0 min 1 s after login
    r = await client.get("/api/overview")
    assert r.status == 401 and (await error_of(r))["code"] == "session_expired"

    await login(client, "root")
    clock.advance(30 * 60 + 1)
    r = await client.get("/api/overview")
    assert r.status == 401 and (await error_of(r))["code"] == "session_expired"
    r = await client.get("/reports", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/login?next=/reports"
    assert (await (await client.get("/api/session")).json())["state"] == "login"


async def test_logout_ends_the_session(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    r = await client.post("/api/logout", json={})
    assert r.status == 403  # with the CSRF token only: another site cannot log you out
    r = await client.post("/api/logout", json={}, headers={"X-CSRF-Token": csrf})
    assert r.status == 200
    assert (await client.get("/api/overview")).status == 401
    assert not await db_of(client).fetch("SELECT * FROM sessions")


async def test_own_password_change(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    other = await second_client(aiohttp_client, client)
    await login(other, "root")
    new = "a new password 1"
    body = {"current": "wrong!!!!", "password": new, "password2": new}
    r = await client.post("/api/session/password", json=body, headers={"X-CSRF-Token": csrf})
    assert r.status == 401 and (await error_of(r))["code"] == "wrong_password"
    r = await client.post(
        "/api/session/password", json={**body, "current": PASSWORD}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 200
    assert (await client.get("/api/overview")).status == 200  # this browser: a fresh session
    assert (await other.get("/api/overview")).status == 401  # the other: ended
    await login(other, "root", new)


async def test_pages_redirect_to_login_and_carry_a_strict_csp(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client = await central(aiohttp_client, central_db_url)
    await add_user(client, "root")
    for path in ("/", "/reports", "/cases", "/admin", "/halls/h1"):
        r = await client.get(path, allow_redirects=False)
        assert r.status == 302 and r.headers["Location"].startswith("/login"), path
    r = await client.get("/api/overview")
    assert r.status == 401 and (await error_of(r))["code"] == "login_required"
    await login(client, "root")
    r = await client.get("/")
    assert r.status == 200
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "http" not in csp  # nothing from the internet
    # A logged-in visit to /login goes on to where it was asked to go, never off-site.
    r = await client.get("/login?next=/reports", allow_redirects=False)
    assert r.headers["Location"] == "/reports"
    r = await client.get("/login?next=//evil.example/x", allow_redirects=False)
    assert r.headers["Location"] == "/"
    r = await client.get("/static/common/hallq.js")
    assert r.status == 200 and "export function tr" in await r.text()
    r = await client.get("/static/central/chart.js")
    assert r.status == 200


# ---------------------------------------------------------------- a hall manager sees one hall


async def two_halls_with_cases(db: Database) -> None:
    await add_hall(db, "h1", "一号大厅", "Hall One", live=live_figures(), last_seen=T0 - 10)
    await add_hall(db, "h2", "二号大厅", "Hall Two", live=live_figures(waiting=3), last_seen=T0)
    for hall in ("h1", "h2"):
        await add_ticket(db, hall, 1, "2026-11-23", "alpha", "done", T0 - 3000, wait=60.0,
                         service_seconds=300.0, window=1, staff="1001", evaluation="dissatisfied")  # fmt: skip
        await add_evaluation(db, hall, 10, "2026-11-23", 1, "dissatisfied")
        await add_case(db, hall, "20261123-001", "2026-11-30", eval_seq=10)


async def test_a_hall_manager_gets_nothing_of_another_hall(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client = await central(aiohttp_client, central_db_url)
    db = db_of(client)
    await two_halls_with_cases(db)
    await add_user(client, "mgr1", "hall_manager", "h1")
    csrf = await login(client, "mgr1")
    h = {"X-CSRF-Token": csrf}

    # Lists hold their own hall only.
    assert [x["hall_id"] for x in (await (await client.get("/api/halls")).json())["halls"]] == [
        "h1"
    ]
    overview = await (await client.get("/api/overview")).json()
    assert [x["hall_id"] for x in overview["halls"]] == ["h1"]
    cases = await (await client.get("/api/cases?status=")).json()
    assert {c["hall_id"] for c in cases["cases"]} == {"h1"} and cases["total"] == 1
    report = await (await client.get("/api/reports?month=2026-11")).json()
    assert [r["hall_id"] for r in report["rows"]] == ["h1"] and report["total"]["issued"] == 1
    csv_text = (await (await client.get("/api/reports.csv?month=2026-11")).read()).decode(
        "utf-8-sig"
    )
    assert "一号大厅" in csv_text and "二号大厅" not in csv_text

    # Another hall: as if it did not exist.
    for path in (
        "/api/halls/h2",
        "/api/halls/h2/charts",
        "/api/halls/h2/owners",
        "/api/reports?hall=h2",
        "/api/reports.csv?hall=h2",
        "/api/reports.xlsx?hall=h2",
        "/api/cases?hall=h2",
    ):
        r = await client.get(path)
        assert r.status == 404, path
        assert (await error_of(r))["code"] == "no_such_hall", path
    r = await client.patch("/api/cases/h2/20261123-001", json={"status": "in_progress"}, headers=h)
    assert r.status == 404
    assert (await db.fetchval("SELECT status FROM cases WHERE hall_id = 'h2'")) == "open"

    # City-admin things: refused.
    for method, path in (
        ("GET", "/api/admin/halls"),
        ("POST", "/api/admin/halls"),
        ("PATCH", "/api/admin/halls/h1"),
        ("POST", "/api/admin/halls/h1/tokens"),
        ("DELETE", "/api/admin/halls/h1/tokens/abcd1234"),
        ("GET", "/api/admin/users"),
        ("POST", "/api/admin/users"),
        ("POST", "/api/admin/users/mgr1/password"),
        ("POST", "/api/admin/users/mgr1/disabled"),
        ("POST", "/api/admin/users/mgr1/unlock"),
        ("PUT", "/api/settings"),
    ):
        r = await client.request(method, path, json={}, headers=h)
        assert r.status == 403, (method, path)
        assert (await error_of(r))["code"] == "admin_only"

    # Pages: straight to their hall; another hall is a 404 page; admin a 403 page.
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/halls/h1"
    assert (await client.get("/halls/h1")).status == 200
    r = await client.get("/halls/h2")
    assert r.status == 404 and "text/html" in r.headers["Content-Type"]
    assert (await client.get("/admin")).status == 403

    # Their own hall works.
    assert (await client.get("/api/halls/h1")).status == 200
    assert (await client.get("/api/halls/h1/charts")).status == 200
    r = await client.patch("/api/cases/h1/20261123-001", json={"status": "in_progress"}, headers=h)
    assert r.status == 200


async def test_a_city_admin_sees_every_hall(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await two_halls_with_cases(db_of(client))
    overview = await (await client.get("/api/overview")).json()
    assert [x["hall_id"] for x in overview["halls"]] == ["h1", "h2"]
    cases = await (await client.get("/api/cases")).json()
    assert cases["total"] == 2
    assert (await client.get("/api/halls/h2")).status == 200
    r = await client.get("/api/halls/nope")
    assert r.status == 404


# ---------------------------------------------------------------- the overview and a hall's page


async def test_overview_figures_online_and_overdue(
    aiohttp_client: Any, central_db_url: str
) -> None:
    clock = Clock()
    client, _ = await as_user(aiohttp_client, central_db_url, "root", clock=clock)
    db = db_of(client)
    devices = [{"device": "printer-1", "kind": "printer", "status": "no_paper",
                "reason": "缺纸", "reason_en": "Out of paper", "since": T0 - 600}]  # fmt: skip
    await add_hall(
        db, "h1", "一号大厅", live=live_figures(devices_unhealthy=devices), last_seen=T0 - 30
    )
    heard = T0 - 3 * 3600
    old = live_figures(day="2026-11-20", ts=heard - 10, oldest_waiting_issued_at=heard - 600)
    await add_hall(db, "h2", "二号大厅", live=old, last_seen=heard)
    await add_hall(db, "h3", "新大厅")  # added, never reported
    await add_case(db, "h1", "20261113-001", "2026-11-20", eval_seq=1)  # overdue
    await add_case(db, "h1", "20261123-001", "2026-11-30", eval_seq=2)  # not yet due
    await add_case(db, "h1", "20261110-001", "2026-11-17", eval_seq=3, status="closed")
    await add_case(db, "h1", "20261123-002", "2026-11-23", eval_seq=4, status="in_progress")

    data = await (await client.get("/api/overview")).json()
    h1, h2, h3 = data["halls"]
    assert h1["online"] is True and h1["lag_seconds"] == pytest.approx(30)
    assert h1["waiting"] == 7 and h1["served"] == 30 and h1["issued"] == 40
    assert h1["longest_wait_seconds"] == pytest.approx(1500)
    assert h1["wait_avg_seconds"] == 300 and h1["wait_p90_seconds"] == 720
    assert (h1["windows_open"], h1["windows_total"]) == (2, 2)
    assert h1["devices_unhealthy"][0]["reason"] == "缺纸"
    # Open (and in progress) count; the one due today is not overdue yet; closed is not counted.
    assert (h1["cases_open"], h1["cases_overdue"]) == (3, 1)
    assert h2["online"] is False and h2["lag_seconds"] == pytest.approx(3 * 3600)
    assert h2["stale_day"] is True and h2["day"] == "2026-11-20"
    # Offline: the longest wait as of when it was last heard from, not growing for ever.
    assert h2["longest_wait_seconds"] == pytest.approx(600)
    assert h3["has_data"] is False and h3["online"] is False and h3["last_seen"] is None
    assert h3["waiting"] == 0 and h3["longest_wait_seconds"] is None

    clock.advance(120)  # 150 s since h1 was heard from: offline
    h1 = (await (await client.get("/api/overview")).json())["halls"][0]
    assert h1["online"] is False


async def test_hall_detail_has_services_and_windows(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await add_hall(db_of(client), "h1", "一号大厅", live=live_figures(), last_seen=T0)
    data = await (await client.get("/api/halls/h1")).json()
    assert data["hall"]["name"] == "一号大厅"
    assert [s["code"] for s in data["services"]] == ["alpha", "beta"]
    assert data["services"][0]["estimated_wait_minutes"] == 12.5
    assert data["windows"][1]["status"] == "away" and data["windows"][0]["ticket"] == "A012"
    assert data["away_thresholds_minutes"] == [15, 30, 60]
    assert [lv["code"] for lv in data["levels"]][-1] == "very_dissatisfied"


async def test_hall_charts_by_hour_window_and_day(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅", live=live_figures(), last_seen=T0)
    d = "2026-11-23"
    # 09:xx: three tickets, waits 60/120/600 s; 10:xx: one never called; 13:05: one, wait 300.
    await add_ticket(db, "h1", 1, d, "alpha", "done", at(2026, 11, 23, 9, 0), wait=60.0, window=1)
    await add_ticket(
        db, "h1", 2, d, "alpha", "done", at(2026, 11, 23, 9, 59, 59), wait=120.0, window=1
    )
    await add_ticket(
        db, "h1", 3, d, "beta", "no_show", at(2026, 11, 23, 9, 30), wait=600.0, window=2
    )
    await add_ticket(db, "h1", 4, d, "beta", "waiting", at(2026, 11, 23, 10, 0))
    await add_ticket(db, "h1", 5, d, "beta", "done", at(2026, 11, 23, 13, 5), wait=300.0, window=2)
    await add_ticket(
        db, "h1", 6, "2026-11-22", "beta", "done", at(2026, 11, 22, 9, 0), wait=9.0, window=2
    )
    await add_evaluation(db, "h1", 1, d, 1, "very_satisfied")
    await add_evaluation(db, "h1", 2, d, 2, "very_satisfied")
    await add_evaluation(db, "h1", 3, d, 5, "dissatisfied")
    await add_evaluation(db, "h1", 4, "2026-11-22", 6, "satisfied")

    data = await (await client.get("/api/halls/h1/charts?from=2026-11-23&to=2026-11-23")).json()
    hours = {h["hour"]: h for h in data["hours"]}
    assert sorted(hours) == [9, 10, 13]
    assert hours[9]["arrivals"] == 3 and hours[10]["arrivals"] == 1
    assert hours[9]["wait_avg_seconds"] == pytest.approx(260)
    assert hours[9]["wait_p90_seconds"] == pytest.approx(504)  # 120 + 0.8 × 480
    assert hours[10]["wait_avg_seconds"] is None
    assert [(w["window"], w["served"]) for w in data["windows"]] == [(1, 2), (2, 1)]
    assert data["windows"][0]["label"] == "户籍窗口"
    assert data["evaluations"] == [
        {"day": "2026-11-23", "counts": {"very_satisfied": 2, "dissatisfied": 1}}
    ]
    # A period: every day is there, even one without evaluations.
    data = await (await client.get("/api/halls/h1/charts?from=2026-11-21&to=2026-11-23")).json()
    assert [d["day"] for d in data["evaluations"]] == ["2026-11-21", "2026-11-22", "2026-11-23"]
    assert data["evaluations"][0]["counts"] == {}
    assert data["evaluations"][1]["counts"] == {"satisfied": 1}
    # Without dates: today in the hall's zone.
    data = await (await client.get("/api/halls/h1/charts")).json()
    assert data["from"] == data["to"] == "2026-11-23"
    for query, code in (
        ("from=2026-11-24&to=2026-11-23", "bad_period"),
        ("from=23.11.2026", "bad_date"),
        ("from=2025-01-01&to=2026-11-23", "period_too_long"),
    ):
        r = await client.get(f"/api/halls/h1/charts?{query}")
        assert r.status == 400, query
        assert (await error_of(r))["code"] == code


# ---------------------------------------------------------------- 回访 cases


async def test_cases_are_listed_with_overdue_first_and_filtered(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅", live=live_figures(), last_seen=T0)
    await add_hall(db, "h2", "二号大厅", live=live_figures(), last_seen=T0)
    await add_staff(db, "h1", "1001", "张三")
    await add_case(db, "h1", "20261123-001", "2026-11-30", eval_seq=1)
    await add_case(db, "h1", "20261113-001", "2026-11-20", eval_seq=2, level="very_dissatisfied")
    await add_case(db, "h2", "20261112-001", "2026-11-19", eval_seq=3, status="in_progress")
    await add_case(db, "h2", "20261101-001", "2026-11-08", eval_seq=4, status="closed")

    data = await (await client.get("/api/cases")).json()  # default: every status
    assert data["total"] == 4
    assert [(c["hall_id"], c["case_no"]) for c in data["cases"]] == [
        ("h2", "20261112-001"), ("h1", "20261113-001"), ("h1", "20261123-001"),
        ("h2", "20261101-001"),
    ]  # fmt: skip
    first = data["cases"][1]
    assert first["overdue"] is True and first["level_name"] == "非常不满意"
    assert first["service_name"] == "户籍办理" and first["staff_name"] == "张三"
    assert data["cases"][3]["overdue"] is False  # closed: never overdue
    assert data["counts"] == {"open": 2, "in_progress": 1, "closed": 1, "overdue": 2}

    async def listed(query: str) -> list[str]:
        r = await client.get(f"/api/cases?{query}")
        assert r.status == 200, await r.text()
        return [c["case_no"] for c in (await r.json())["cases"]]

    assert await listed("overdue=1") == ["20261112-001", "20261113-001"]
    assert await listed("status=active") == ["20261112-001", "20261113-001", "20261123-001"]
    assert await listed("status=closed") == ["20261101-001"]
    assert await listed("hall=h1&overdue=1") == ["20261113-001"]
    assert await listed("status=open&limit=1") == ["20261113-001"]
    assert await listed("status=open&limit=1&offset=1") == ["20261123-001"]
    for query in ("status=done", "limit=0", "limit=x", "overdue=maybe"):
        r = await client.get(f"/api/cases?{query}")
        assert r.status == 400, query


async def test_a_case_gets_an_owner_and_is_closed_with_a_note(
    aiohttp_client: Any, central_db_url: str
) -> None:
    clock = Clock()
    client = await central(aiohttp_client, central_db_url, clock)
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅", live=live_figures(), last_seen=T0)
    await add_hall(db, "h2", "二号大厅", live=live_figures(), last_seen=T0)
    await add_case(db, "h1", "20261113-001", "2026-11-20", eval_seq=2)
    await add_user(client, "mgr1", "hall_manager", "h1")
    await add_user(client, "mgr2", "hall_manager", "h2")
    await add_user(client, "root")
    csrf = await login(client, "mgr1")
    url = "/api/cases/h1/20261113-001"

    async def patch(body: dict[str, Any]) -> Any:
        return await client.patch(url, json=body, headers={"X-CSRF-Token": csrf})

    owners = await (await client.get("/api/halls/h1/owners")).json()
    assert [o["username"] for o in owners["owners"]] == ["mgr1", "root"]
    r = await patch({"owner": "mgr2"})  # a manager of another hall cannot own it
    assert r.status == 400 and (await error_of(r))["code"] == "bad_owner"
    r = await patch({"owner": "mgr1", "status": "in_progress"})
    assert r.status == 200
    case = await r.json()
    assert (case["owner"], case["status"], case["updated_by"]) == ("mgr1", "in_progress", "mgr1")
    assert case["overdue"] is True and case["closed_at"] is None
    r = await patch({"status": "open"})  # only forward
    assert r.status == 409 and (await error_of(r))["code"] == "bad_move"
    r = await patch({"status": "closed"})  # closing needs what the follow-up found
    assert r.status == 400 and (await error_of(r))["code"] == "note_required"
    r = await patch({"status": "finished"})
    assert r.status == 400 and (await error_of(r))["code"] == "bad_status"
    r = await patch({"colour": "red"})
    assert r.status == 400 and "colour" in (await error_of(r))["message"]
    r = await patch({})
    assert r.status == 400
    clock.advance(600)
    r = await patch({"status": "closed", "note": "已电话回访，群众表示理解"})
    assert r.status == 200
    case = await r.json()
    assert case["status"] == "closed" and case["overdue"] is False
    assert case["closed_at"] == pytest.approx(T0 + 600)
    assert case["updated_at"] == pytest.approx(T0 + 600)
    assert case["note"] == "已电话回访，群众表示理解"
    r = await patch({"note": "改一下"})
    assert r.status == 409 and (await error_of(r))["code"] == "case_closed"
    r = await client.patch(
        "/api/cases/h1/20991231-999", json={"status": "in_progress"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 404 and (await error_of(r))["code"] == "no_such_case"
    row = await db.fetchrow("SELECT * FROM cases WHERE hall_id = 'h1'")
    assert row is not None and row["updated_by"] == "mgr1" and row["status"] == "closed"


# ---------------------------------------------------------------- admin: halls and tokens


async def test_admin_creates_and_renames_halls(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    h = {"X-CSRF-Token": csrf}
    r = await client.post(
        "/api/admin/halls", json={"hall_id": "zz-shizhong", "name": "市中区大厅"}, headers=h
    )
    assert r.status == 201
    r = await client.post("/api/admin/halls", json={"hall_id": "zz-shizhong"}, headers=h)
    assert r.status == 409 and (await error_of(r))["code"] == "hall_exists"
    r = await client.post("/api/admin/halls", json={"hall_id": "Bad Id!"}, headers=h)
    assert r.status == 400 and (await error_of(r))["code"] == "bad_hall_id"
    r = await client.post("/api/admin/halls", json={"name": "无编号"}, headers=h)
    assert r.status == 400
    r = await client.post("/api/admin/halls", json={"hall_id": "x1", "nmae": "typo"}, headers=h)
    assert r.status == 400 and "nmae" in (await error_of(r))["message"]
    r = await client.patch(
        "/api/admin/halls/zz-shizhong", json={"name": "市中区政务服务中心", "name_en": "Shizhong"},
        headers=h,
    )  # fmt: skip
    assert r.status == 200
    r = await client.patch("/api/admin/halls/nope", json={"name": "x"}, headers=h)
    assert r.status == 404
    data = await (await client.get("/api/admin/halls")).json()
    assert [(x["hall_id"], x["name"], x["name_en"]) for x in data["halls"]] == [
        ("zz-shizhong", "市中区政务服务中心", "Shizhong")
    ]
    r = await client.post(
        "/api/admin/halls", data=b"{not json", headers={**h, "Content-Type": "application/json"}
    )
    assert r.status == 400 and (await error_of(r))["code"] == "invalid_json"


async def test_admin_issues_lists_and_revokes_tokens(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    h = {"X-CSRF-Token": csrf}
    await add_hall(db, "h1", "一号大厅")
    r = await client.post("/api/admin/halls/h1/tokens", json={"label": "一楼控制器"}, headers=h)
    assert r.status == 201
    issued = await r.json()
    token, token_id = issued["token"], issued["token_id"]
    assert issued["token_file"] == "uplink.token"
    assert issued["toml"] == f'[uplink]\nurl = "{issued["url"]}"\n'
    assert issued["url"].startswith("http://127.0.0.1:")
    assert await halls.authenticate(db, token, T0) == "h1"

    data = await (await client.get("/api/admin/halls")).json()
    listed = data["halls"][0]["tokens"]
    assert [(t["token_id"], t["label"], t["created_by"]) for t in listed] == [
        (token_id, "一楼控制器", "root")
    ]
    assert token not in json.dumps(data)  # shown once, never listed
    assert listed[0]["last_used_at"] == pytest.approx(T0)

    r = await client.delete(f"/api/admin/halls/h1/tokens/{token_id}", headers=h)
    assert r.status == 200
    assert await halls.authenticate(db, token, T0 + 5) is None
    data = await (await client.get("/api/admin/halls")).json()
    assert data["halls"][0]["tokens"][0]["revoked_by"] == "root"
    r = await client.delete("/api/admin/halls/h1/tokens/00000000", headers=h)
    assert r.status == 404 and (await error_of(r))["code"] == "no_such_token"
    r = await client.post("/api/admin/halls/nope/tokens", json={}, headers=h)
    assert r.status == 404


# ---------------------------------------------------------------- admin: users and settings


async def test_admin_manages_users(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    h = {"X-CSRF-Token": csrf}
    await add_hall(db, "h1", "一号大厅")
    new = {"username": "wang", "password": "manager pw 1", "role": "hall_manager",
           "hall_id": "h1", "display_name": "王主任"}  # fmt: skip
    for change, code in (
        ({"hall_id": ""}, "hall_required"),
        ({"hall_id": "nope"}, "no_such_hall"),
        ({"role": "god"}, "bad_role"),
        ({"password": "short"}, "weak_password"),
        ({"username": "has space"}, "bad_username"),
    ):
        r = await client.post("/api/admin/users", json={**new, **change}, headers=h)
        assert r.status in (400, 404), change
        assert (await error_of(r))["code"] == code
    r = await client.post("/api/admin/users", json=new, headers=h)
    assert r.status == 201
    assert (await r.json())["hall_id"] == "h1"
    r = await client.post("/api/admin/users", json={**new, "username": "WANG"}, headers=h)
    assert r.status == 409 and (await error_of(r))["code"] == "user_exists"
    users = (await (await client.get("/api/admin/users")).json())["users"]
    assert {(u["username"], u["role"], u["hall_id"]) for u in users} == {
        ("root", "city_admin", None), ("wang", "hall_manager", "h1")
    }  # fmt: skip
    assert "password" not in json.dumps(users)

    wang = await second_client(aiohttp_client, client)
    await login(wang, "wang", "manager pw 1")
    # A new password: the user's sessions end; the new one works.
    r = await client.post(
        "/api/admin/users/wang/password", json={"password": "fresh pw 22"}, headers=h
    )
    assert r.status == 200
    assert (await wang.get("/api/overview")).status == 401
    await login(wang, "wang", "fresh pw 22")
    # Disabled: the session ends at once and the login is refused.
    r = await client.post("/api/admin/users/wang/disabled", json={"disabled": True}, headers=h)
    assert r.status == 200
    assert (await wang.get("/api/overview")).status == 401
    token = await pre_token(wang)
    r = await wang.post(
        "/api/login", json={"username": "wang", "password": "fresh pw 22"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert r.status == 403 and (await error_of(r))["code"] == "account_disabled"
    r = await client.post("/api/admin/users/wang/disabled", json={"disabled": False}, headers=h)
    assert r.status == 200
    await login(wang, "wang", "fresh pw 22")
    # Not oneself, not with a non-boolean.
    r = await client.post("/api/admin/users/root/disabled", json={"disabled": True}, headers=h)
    assert r.status == 409 and (await error_of(r))["code"] == "disable_self"
    r = await client.post("/api/admin/users/wang/disabled", json={"disabled": "yes"}, headers=h)
    assert r.status == 400
    r = await client.post(
        "/api/admin/users/nobody/password", json={"password": "x" * 10}, headers=h
    )
    assert r.status == 404

    # Unlock lifts a lockout.
    token = await pre_token(wang)
    for _ in range(accounts.MAX_FAILURES):
        await wang.post(
            "/api/login", json={"username": "wang", "password": "nope nope"},
            headers={"X-CSRF-Token": token},
        )  # fmt: skip
    users = (await (await client.get("/api/admin/users")).json())["users"]
    assert next(u for u in users if u["username"] == "wang")["locked"] is True
    r = await client.post("/api/admin/users/wang/unlock", json={}, headers=h)
    assert r.status == 200
    await login(wang, "wang", "fresh pw 22")


async def test_last_city_admin_stays_enabled(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    await add_user(client, "second")
    r = await client.post(
        "/api/admin/users/second/disabled", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 200
    # root is now the last enabled city admin: nobody may disable it.
    with pytest.raises(CommandRejected) as refused:
        await accounts.set_disabled(db_of(client), "root", True, "second")
    assert refused.value.code == "last_admin"


async def test_settings_month_start_day(aiohttp_client: Any, central_db_url: str) -> None:
    client, csrf = await as_user(aiohttp_client, central_db_url, "root")
    h = {"X-CSRF-Token": csrf}
    assert (await (await client.get("/api/settings")).json()) == {"month_start_day": 1}
    for bad in (0, 29, "26", 2.5, True, None):
        r = await client.put("/api/settings", json={"month_start_day": bad}, headers=h)
        assert r.status == 400, bad
        assert (await error_of(r))["code"] in ("bad_month_start_day", "bad_request")
    r = await client.put("/api/settings", json={}, headers=h)
    assert r.status == 400
    r = await client.put("/api/settings", json={"month_start_day": 26}, headers=h)
    assert r.status == 200
    assert (await (await client.get("/api/settings")).json()) == {"month_start_day": 26}


async def test_create_user_for_the_cli(central_db: Database) -> None:
    await add_hall(central_db, "h1", "一号大厅")
    user = await accounts.create_user(
        central_db, "li", "long enough 1", "hall_manager", "h1", "李", T0
    )
    assert (user.username, user.role, user.hall_id, user.display_name) == (
        "li",
        "hall_manager",
        "h1",
        "李",
    )
    # A city admin has no hall, even if one is given.
    user = await accounts.create_user(
        central_db, "boss", "long enough 1", "city_admin", "h1", "", T0
    )
    assert user.hall_id is None
    stored = await central_db.fetchval("SELECT password_hash FROM users WHERE username = 'li'")
    assert stored.startswith("scrypt$") and "long enough" not in stored
    session = await accounts.login(central_db, "li", "long enough 1", T0)
    assert session.hall_id == "h1" and accounts.hall_scope(session) == ["h1"]


async def test_a_new_configuration_brings_its_names(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅", live=live_figures(), last_seen=T0)
    assert (await (await client.get("/api/halls/h1")).json())["away_thresholds_minutes"] == [
        15,
        30,
        60,
    ]
    text = HALL_TOML.format(hall_id="h1", name="一号大厅", name_en="", thresholds="[20, 40]")
    await db.execute(
        "UPDATE halls SET config_text = $1, config_digest = $2 WHERE hall_id = 'h1'",
        text.replace("户籍窗口", "户政窗口"),
        hashlib.sha256(text.encode()).hexdigest() + "-new",
    )
    data = await (await client.get("/api/halls/h1")).json()
    assert data["away_thresholds_minutes"] == [20, 40]
    await add_ticket(db, "h1", 1, "2026-11-23", "alpha", "done", T0, wait=5.0, window=1)
    charts = await (await client.get("/api/halls/h1/charts")).json()
    assert charts["windows"][0]["label"] == "户政窗口"


async def test_a_missing_hall_page_escapes_what_was_asked(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    r = await client.get("/halls/%3Cscript%3Ealert(1)%3C%2Fscript%3E")
    assert r.status == 404
    body = await r.text()
    assert "<script>" not in body and "&lt;script&gt;" in body
    assert r.headers["Content-Security-Policy"].startswith("default-src 'self'")
