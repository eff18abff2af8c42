"""Reports on SQLite and PostgreSQL, checked against figures worked out by hand: per hall,
service, window and staff member; p90 waits; the evaluator use rate; away spells over each
threshold (a hall's own thresholds); the monthly boundary; and the CSV and XLSX downloads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import openpyxl
import pytest

from hallq.central.db import Database
from hallq.central.reports import month_of, month_period
from hallq.errors import BadRequest
from tests.conftest import at
from tests.test_central_web import (
    Client,
    Clock,
    add_away,
    add_evaluation,
    add_hall,
    add_staff,
    add_ticket,
    as_user,
    db_of,
    error_of,
    login,
)

DAY = "2026-11-23"


async def sample(db: Database) -> None:
    """Two halls; hall h2 counts away time from 10 and 20 minutes."""
    await add_hall(db, "h1", "一号大厅", "Hall One")
    await add_hall(db, "h2", "二号大厅", "Hall Two", thresholds="[10, 20]")
    t = at(2026, 11, 23, 9, 0)
    await add_ticket(
        db,
        "h1",
        1,
        DAY,
        "alpha",
        "done",
        t,
        wait=60.0,
        service_seconds=300.0,
        window=1,
        staff="1001",
        evaluation="very_satisfied",
    )
    await add_ticket(
        db,
        "h1",
        2,
        DAY,
        "alpha",
        "done",
        t,
        wait=120.0,
        service_seconds=600.0,
        window=1,
        staff="1001",
        evaluation="dissatisfied",
    )
    await add_ticket(
        db,
        "h1",
        3,
        DAY,
        "alpha",
        "done",
        t,
        wait=180.0,
        service_seconds=420.0,
        window=2,
        staff="1002",
    )
    await add_ticket(db, "h1", 4, DAY, "alpha", "no_show", t, wait=240.0, window=2, staff="1002")
    await add_ticket(db, "h1", 5, DAY, "alpha", "expired", t)
    await add_ticket(db, "h1", 6, DAY, "beta", "done", t, wait=600.0, service_seconds=960.0,
                     window=2, staff="1002", evaluation="satisfied")  # fmt: skip
    await add_evaluation(db, "h1", 1, DAY, 1, "very_satisfied", window=1, staff="1001")
    await add_evaluation(db, "h1", 2, DAY, 2, "dissatisfied", window=1, staff="1001")
    await add_evaluation(db, "h1", 3, DAY, 6, "satisfied", service="beta", window=2, staff="1002")
    for seq, minutes in enumerate((10, 15, 20, 45), start=10):
        await add_away(db, "h1", seq, DAY, 1, "1001", minutes)
    await add_away(db, "h1", 20, DAY, 1, "1001", 90, kind="paused")  # suspended: not away time
    await add_away(db, "h1", 21, DAY, 2, "1002", 70)
    await add_staff(db, "h1", "1001", "张三")
    await add_staff(db, "h1", "1002", "李四")

    d2 = "2026-11-24"
    await add_ticket(db, "h2", 1, d2, "alpha", "done", at(2026, 11, 24, 9, 0), wait=30.0,
                     service_seconds=120.0, window=1, staff="2001", evaluation="basic")  # fmt: skip
    await add_evaluation(db, "h2", 1, d2, 1, "basic", window=1, staff="2001")
    await add_away(db, "h2", 5, d2, 1, "2001", 25)


async def get_report(client: Client, query: str) -> dict[str, Any]:
    r = await client.get(f"/api/reports?{query}")
    assert r.status == 200, await r.text()
    data: dict[str, Any] = await r.json()
    return data


def pick(row: dict[str, Any], *keys: str) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys)


TICKETS = ("issued", "served", "no_shows", "wait_avg", "wait_p90", "service_avg")
EVALS = ("eval_very_satisfied", "eval_satisfied", "eval_basic", "eval_dissatisfied",
         "eval_very_dissatisfied", "eval_total", "use_rate")  # fmt: skip


async def test_report_per_hall(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await sample(db_of(client))
    data = await get_report(client, "month=2026-11&group=hall")
    assert (data["from"], data["to"], data["month"]) == ("2026-11-01", "2026-11-30", "2026-11")
    # The away thresholds of both halls, each a column.
    assert data["away_thresholds_minutes"] == [10, 15, 20, 30, 60]
    keys = [c["key"] for c in data["columns"]]
    assert keys[:2] == ["hall", "issued"]
    assert "away_over_10" in keys and "away_over_60" in keys and "away_beyond" in keys
    assert [c["zh"] for c in data["columns"] if c["key"].startswith("eval_")][:5] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意"
    ]  # fmt: skip
    h1, h2 = data["rows"]
    assert h1["hall"] == "一号大厅" and h1["hall_en"] == "Hall One"
    # Waits 60 120 180 240 600: average 240 s; p90 = 240 + 0.6 × 360 = 456 s.
    # Service 300 600 420 960: average 570 s.
    assert pick(h1, *TICKETS) == (6, 4, 1, 4.0, 7.6, 9.5)
    assert pick(h1, *EVALS) == (1, 1, 0, 1, 0, 3, 0.75)
    # Away spells 10 15 20 45 70 min (the 90 min suspension is not one); the first threshold is 15.
    away = ("away_spells", "away_minutes", "away_over_10", "away_over_15", "away_over_20",
            "away_over_30", "away_over_60", "away_beyond")  # fmt: skip
    assert pick(h1, *away) == (5, 160.0, 4, 3, 2, 2, 1, 90.0)
    # h2: one spell of 25 min; its first threshold is 10, so 15 min beyond it.
    assert pick(h2, *TICKETS) == (1, 1, 0, 0.5, 0.5, 2.0)
    assert pick(h2, *EVALS) == (0, 0, 1, 0, 0, 1, 1.0)
    assert pick(h2, *away) == (1, 25.0, 1, 1, 1, 0, 0, 15.0)
    # The total: waits 30 60 120 180 240 600 → average 205 s, p90 = 240 + 0.5 × 360 = 420 s.
    total = data["total"]
    assert total["hall"] == "合计"
    assert pick(total, *TICKETS) == (7, 5, 1, 3.4, 7.0, 8.0)
    assert pick(total, *EVALS) == (1, 1, 1, 1, 0, 4, 0.8)
    assert pick(total, *away) == (6, 185.0, 5, 4, 3, 2, 1, 105.0)


async def test_report_per_service(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await sample(db_of(client))
    data = await get_report(client, "from=2026-11-23&to=2026-11-24&group=service")
    assert data["month"] is None
    assert [(r["hall_id"], r["key"]) for r in data["rows"]] == [
        ("h1", "alpha"), ("h1", "beta"), ("h2", "alpha")
    ]  # fmt: skip
    alpha, beta, _ = data["rows"]
    assert (alpha["service"], alpha["service_en"]) == ("户籍办理", "Household registration")
    # Waits 60 120 180 240: p90 = 180 + 0.7 × 60 = 222 s = 3.7 min; service 440 s = 7.3 min.
    assert pick(alpha, *TICKETS) == (5, 3, 1, 2.5, 3.7, 7.3)
    assert pick(alpha, *EVALS) == (1, 0, 0, 1, 0, 2, 0.6667)
    assert pick(beta, *TICKETS) == (1, 1, 0, 10.0, 10.0, 16.0)
    assert not [c for c in data["columns"] if c["key"].startswith("away")]  # not per service


async def test_report_per_window_and_staff(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await sample(db_of(client))
    away = ("away_spells", "away_minutes", "away_over_15", "away_over_30", "away_over_60",
            "away_beyond")  # fmt: skip
    data = await get_report(client, "month=2026-11&group=window&hall=h1")
    assert data["away_thresholds_minutes"] == [15, 30, 60]
    assert [c["zh"] for c in data["columns"]][1:3] == ["窗口", "叫号数"]
    w1, w2, never = data["rows"]
    assert (w1["window"], w1["window_en"]) == ("1号窗口 户籍窗口", "Window 1 Registration")
    # Window 1: waits 60 120 → p90 = 60 + 0.9 × 60 = 114 s; away 10 15 20 45 min: a spell of
    # exactly 15 minutes is not over 15; beyond 15: 5 + 30 = 35 min.
    assert pick(w1, *TICKETS) == (2, 2, 0, 1.5, 1.9, 7.5)
    assert pick(w1, *EVALS) == (1, 0, 0, 1, 0, 2, 1.0)
    assert pick(w1, *away) == (4, 90.0, 2, 1, 0, 35.0)
    # Window 2: waits 180 240 600 → average 340 s, p90 = 240 + 0.8 × 360 = 528 s.
    assert pick(w2, *TICKETS) == (3, 2, 1, 5.7, 8.8, 11.5)
    assert pick(w2, "eval_satisfied", "eval_total", "use_rate") == (1, 1, 0.5)
    assert pick(w2, *away) == (1, 70.0, 1, 1, 1, 55.0)
    assert never["window"] == "无窗口" and pick(never, "issued", "served", "wait_avg") == (
        1,
        0,
        None,
    )

    data = await get_report(client, "month=2026-11&group=staff&hall=h1")
    s1, s2, never = data["rows"]
    assert s1["staff"] == "张三 (1001)" and s2["staff"] == "李四 (1002)"
    assert pick(s1, *TICKETS) == pick(w1, *TICKETS)
    assert pick(s1, *away) == (4, 90.0, 2, 1, 0, 35.0)
    assert pick(s2, *away) == (1, 70.0, 1, 1, 1, 55.0)
    assert never["staff"] == "无工作人员"


async def test_month_boundary_from_the_setting(aiohttp_client: Any, central_db_url: str) -> None:
    clock = Clock()
    client, csrf = await as_user(aiohttp_client, central_db_url, "root", clock=clock)
    db = db_of(client)
    await add_hall(db, "h3", "三号大厅")
    for n, day in enumerate(("2026-10-25", "2026-10-26", "2026-11-25", "2026-11-26"), start=1):
        y, m, d = (int(x) for x in day.split("-"))
        await add_ticket(db, "h3", n, day, "alpha", "done", at(y, m, d, 10), wait=60.0 * n)

    data = await get_report(client, "month=2026-11")
    assert (data["from"], data["to"], data["total"]["issued"]) == ("2026-11-01", "2026-11-30", 2)
    r = await client.put(
        "/api/settings", json={"month_start_day": 26}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status == 200
    data = await get_report(client, "month=2026-11")
    assert (data["from"], data["to"]) == ("2026-10-26", "2026-11-25")
    assert data["total"]["issued"] == 2 and data["total"]["wait_avg"] == 2.5  # 120 and 180 s
    assert data["month_start_day"] == 26
    # No period given: the report month that today is in (the 23rd: "2026-11"; the 27th: "2026-12").
    assert (await get_report(client, ""))["month"] == "2026-11"
    clock.now = at(2026, 11, 27, 9)
    await login(client, "root")  # four days on: a new session
    data = await get_report(client, "")
    assert (data["month"], data["from"], data["to"]) == ("2026-12", "2026-11-26", "2026-12-25")
    assert data["total"]["issued"] == 1


def test_month_period_and_month_of() -> None:
    d = dt.date
    assert month_period("2026-11", 1) == (d(2026, 11, 1), d(2026, 11, 30))
    assert month_period("2026-02", 1) == (d(2026, 2, 1), d(2026, 2, 28))
    assert month_period("2026-12", 1) == (d(2026, 12, 1), d(2026, 12, 31))
    assert month_period("2026-11", 26) == (d(2026, 10, 26), d(2026, 11, 25))
    assert month_period("2026-01", 26) == (d(2025, 12, 26), d(2026, 1, 25))
    assert month_period("2026-03", 28) == (d(2026, 2, 28), d(2026, 3, 27))
    assert month_of(d(2026, 11, 25), 26) == "2026-11"
    assert month_of(d(2026, 11, 26), 26) == "2026-12"
    assert month_of(d(2026, 12, 26), 26) == "2027-01"
    assert month_of(d(2026, 12, 31), 1) == "2026-12"
    # Every day of a year falls in exactly the month that month_of names.
    for start_day in (1, 15, 26, 28):
        day = d(2026, 1, 1)
        while day.year == 2026:
            lo, hi = month_period(month_of(day, start_day), start_day)
            assert lo <= day <= hi
            day += dt.timedelta(days=1)
    for bad in ("2026-13", "2026-1", "26-11", "2026/11", ""):
        with pytest.raises(BadRequest):
            month_period(bad, 1)


async def test_report_bad_input_says_what_to_fix(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    for query, code in (
        ("group=floor", "bad_group"),
        ("month=2026-13", "bad_month"),
        ("month=2026-11&from=2026-11-01&to=2026-11-02", "bad_period"),
        ("from=2026-11-01", "bad_period"),
        ("from=2026-11-05&to=2026-11-01", "bad_period"),
        ("from=2024-01-01&to=2026-11-01", "period_too_long"),
        ("from=2026-11-31&to=2026-12-01", "bad_date"),
        ("hall=nope", "no_such_hall"),
    ):
        r = await client.get(f"/api/reports?{query}")
        assert r.status in (400, 404), query
        assert (await error_of(r))["code"] == code, query
    r = await client.get("/api/reports.csv?month=2026-11&lang=fr")
    assert r.status == 400 and (await error_of(r))["code"] == "bad_lang"


async def test_csv_download(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await sample(db_of(client))
    r = await client.get("/api/reports.csv?month=2026-11&group=window&hall=h1")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("text/csv")
    assert 'filename="hallq-report-2026-11-window.csv"' in r.headers["Content-Disposition"]
    raw = await r.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:4] == [
        "大厅 (Hall)",
        "窗口 (Window)",
        "叫号数 (Tickets called)",
        "办结数 (Served)",
    ]
    assert "90%等候(分钟) (P90 wait (min))" in header
    assert "评价器使用率 (Evaluator use rate)" in header
    col = {name: i for i, name in enumerate(header)}
    w1 = rows[1]
    assert w1[col["窗口 (Window)"]] == "1号窗口 户籍窗口"
    assert w1[col["90%等候(分钟) (P90 wait (min))"]] == "1.9"
    assert w1[col["暂离超15分钟次数 (Away over 15 min)"]] == "2"
    assert rows[3][col["平均等候(分钟) (Average wait (min))"]] == ""  # never called: no wait
    assert rows[-1][0] == "合计" and rows[-1][col["叫号数 (Tickets called)"]] == "6"
    assert len(rows) == 5  # header, windows 1 and 2, not called, total

    r = await client.get("/api/reports.csv?month=2026-11&lang=en")
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0][:3] == ["Hall", "Tickets issued", "Served"]
    assert rows[1][0] == "Hall One" and rows[-1][0] == "Total"
    r = await client.get("/api/reports.csv?month=2026-11&lang=zh")
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0][:3] == ["大厅", "取号数", "办结数"]


async def test_xlsx_download(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    await sample(db_of(client))
    r = await client.get("/api/reports.xlsx?month=2026-11&group=hall")
    assert r.status == 200
    assert r.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    book = openpyxl.load_workbook(io.BytesIO(await r.read()))
    assert book.sheetnames == ["报表 Report", "说明 About"]
    sheet = book["报表 Report"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    assert header[0] == "大厅 (Hall)" and all(c.font.bold for c in sheet[1])
    col = {name: i + 1 for i, name in enumerate(header)}
    assert sheet.cell(2, 1).value == "一号大厅"
    assert sheet.cell(2, col["取号数 (Tickets issued)"]).value == 6
    wait = sheet.cell(2, col["90%等候(分钟) (P90 wait (min))"])
    assert wait.value == 7.6 and wait.number_format == "0.0"
    rate = sheet.cell(2, col["评价器使用率 (Evaluator use rate)"])
    assert rate.value == 0.75 and rate.number_format == "0.0%"
    assert sheet.cell(2, col["暂离超10分钟次数 (Away over 10 min)"]).number_format == "0"
    total = sheet.cell(4, 1)
    assert total.value == "合计" and total.font.bold
    assert sheet.cell(4, col["取号数 (Tickets issued)"]).value == 7
    assert sheet.max_row == 4
    for letter in ("A", "B", "H"):
        assert (sheet.column_dimensions[letter].width or 0) >= 8
    about = book["说明 About"]
    assert about["B1"].value == "2026-11-01 … 2026-11-30"
    assert about["B4"].value == "10, 15, 20, 30, 60"


async def test_a_level_the_config_does_not_name_still_gets_a_column(
    aiohttp_client: Any, central_db_url: str
) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅", config=False)  # no configuration uploaded yet
    await add_ticket(
        db, "h1", 1, DAY, "alpha", "done", at(2026, 11, 23), wait=10.0, evaluation="meh"
    )
    await add_evaluation(db, "h1", 1, DAY, 1, "meh")
    data = await get_report(client, "month=2026-11")
    assert data["rows"][0]["eval_meh"] == 1 and data["total"]["eval_meh"] == 1
    assert [c["key"] for c in data["columns"]].count("eval_meh") == 1
    # No configuration: the default thresholds and level names.
    assert data["away_thresholds_minutes"] == [15, 30, 60]
    assert data["rows"][0]["use_rate"] == 1.0


async def test_a_name_like_a_formula_stays_text(aiohttp_client: Any, central_db_url: str) -> None:
    client, _ = await as_user(aiohttp_client, central_db_url, "root")
    db = db_of(client)
    await add_hall(db, "h1", "一号大厅")
    await add_staff(db, "h1", "1001", '=HYPERLINK("http://evil.example","点我")')
    await add_ticket(db, "h1", 1, DAY, "alpha", "done", at(2026, 11, 23), wait=10.0, staff="1001")
    r = await client.get("/api/reports.csv?month=2026-11&group=staff")
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[1][1].startswith("'=HYPERLINK(")
    r = await client.get("/api/reports.xlsx?month=2026-11&group=staff")
    sheet = openpyxl.load_workbook(io.BytesIO(await r.read())).worksheets[0]
    assert sheet.cell(2, 2).data_type == "s" and sheet.cell(2, 2).value.startswith("=HYPERLINK(")
