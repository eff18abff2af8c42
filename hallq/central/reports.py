"""Reports for a period (月报 and any dates): per hall, service, window or staff member.

For each group: tickets issued, served (办结), no-shows (过号), average and p90 wait, average
service time, evaluations by level (好差评), the evaluator use rate (served tickets that got an
evaluation / served), and away time beyond the hall's thresholds (请稍候 spells only; paused
windows are not counted). Periods are hall-local days (the tables' `day` columns).

A month follows the setting `month_start_day` (1-28): with 26, "2026-11" is 2026-10-26 to
2026-11-25; with 1 it is the calendar month. The same table goes to the page (JSON), to CSV
(UTF-8 with a BOM, so that Excel in China opens it) and to XLSX.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hallq.central.db import Database
from hallq.central.queries import (
    DEFAULT_THRESHOLDS,
    Level,
    check_period,
    hall_names,
    scope_sql,
)
from hallq.errors import BadRequest, NotFound

Group = Literal["hall", "service", "window", "staff"]
GROUPS: tuple[Group, ...] = ("hall", "service", "window", "staff")
MONTH_START_KEY = "month_start_day"
MAX_REPORT_DAYS = 366
_MONTH = re.compile(r"(\d{4})-(\d{2})")

# ---------------------------------------------------------------- the monthly boundary


async def month_start_day(db: Database) -> int:
    """The day a report month starts on (1: calendar months); 1 when never set."""
    raw = await db.fetchval("SELECT value FROM settings WHERE key = $1", MONTH_START_KEY)
    try:
        day = int(raw) if raw is not None else 1
    except ValueError:
        return 1
    return day if 1 <= day <= 28 else 1


async def set_month_start_day(db: Database, day: Any) -> int:
    if not isinstance(day, int) or isinstance(day, bool) or not 1 <= day <= 28:
        raise BadRequest(
            "bad_month_start_day",
            "月报起始日为 1-28（1 = 自然月；26 = 上月26日至本月25日） / month_start_day is "
            "1-28 (1: calendar months; 26: the 26th of the month before to the 25th)",
        )
    await db.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        MONTH_START_KEY,
        str(day),
    )
    return day


def month_period(month: str, start_day: int) -> tuple[dt.date, dt.date]:
    """The first and last day of report month `month` ("YYYY-MM")."""
    m = _MONTH.fullmatch(month)
    if not m or not 1 <= int(m.group(2)) <= 12 or int(m.group(1)) < 2000:
        raise BadRequest("bad_month", f"月份须为 YYYY-MM / month must be YYYY-MM, not {month!r}")
    year, mon = int(m.group(1)), int(m.group(2))
    next_first = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    if start_day <= 1:
        return dt.date(year, mon, 1), next_first - dt.timedelta(days=1)
    prev_year, prev_mon = (year - 1, 12) if mon == 1 else (year, mon - 1)
    return dt.date(prev_year, prev_mon, start_day), dt.date(year, mon, start_day - 1)


def month_of(day: dt.date, start_day: int) -> str:
    """The report month ("YYYY-MM") that a day falls in."""
    year, mon = day.year, day.month
    if start_day > 1 and day.day >= start_day:
        year, mon = (year + 1, 1) if mon == 12 else (year, mon + 1)
    return f"{year:04d}-{mon:02d}"


# ---------------------------------------------------------------- the report


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    kind: Literal["text", "int", "minutes", "percent"]

    def header(self, lang: str) -> str:
        if lang == "en":
            return self.en
        if lang == "zh":
            return self.zh
        return f"{self.zh} ({self.en})"


@dataclass
class Report:
    start: dt.date
    end: dt.date
    group: Group
    month: str | None
    levels: list[Level]
    thresholds: list[int]
    columns: list[Column]
    rows: list[dict[str, Any]] = field(default_factory=list)
    total: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "group": self.group,
            "month": self.month,
            "levels": [lv.__dict__ for lv in self.levels],
            "away_thresholds_minutes": self.thresholds,
            "columns": [c.__dict__ for c in self.columns],
            "rows": self.rows,
            "total": self.total,
        }


_KEY_COLUMN = {"hall": None, "service": "service", "window": "window_no", "staff": "staff"}


def _minutes(seconds: Any) -> float | None:
    return round(float(seconds) / 60.0, 1) if seconds is not None else None


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _columns(group: Group, levels: list[Level], thresholds: list[int]) -> list[Column]:
    cols = [Column("hall", "大厅", "Hall", "text")]
    if group == "service":
        cols.append(Column("service", "事项", "Service", "text"))
    elif group == "window":
        cols.append(Column("window", "窗口", "Window", "text"))
    elif group == "staff":
        cols.append(Column("staff", "工作人员", "Staff", "text"))
    if group in ("window", "staff"):
        cols.append(Column("issued", "叫号数", "Tickets called", "int"))
    else:
        cols.append(Column("issued", "取号数", "Tickets issued", "int"))
    cols += [
        Column("served", "办结数", "Served", "int"),
        Column("no_shows", "过号数", "No-shows", "int"),
        Column("wait_avg", "平均等候(分钟)", "Average wait (min)", "minutes"),
        Column("wait_p90", "90%等候(分钟)", "P90 wait (min)", "minutes"),
        Column("service_avg", "平均办理(分钟)", "Average service (min)", "minutes"),
    ]
    cols += [Column(f"eval_{lv.code}", lv.name, lv.name_en or lv.code, "int") for lv in levels]
    cols += [
        Column("eval_total", "评价数", "Evaluations", "int"),
        Column("use_rate", "评价器使用率", "Evaluator use rate", "percent"),
    ]
    if group != "service":
        cols += [
            Column("away_spells", "暂离次数", "Away spells", "int"),
            Column("away_minutes", "暂离时长(分钟)", "Away time (min)", "minutes"),
        ]
        cols += [
            Column(f"away_over_{t}", f"暂离超{t}分钟次数", f"Away over {t} min", "int")
            for t in thresholds
        ]
        cols.append(
            Column(
                "away_beyond",
                "超出首个阈值的暂离(分钟)",
                "Away beyond first threshold (min)",
                "minutes",
            )
        )
    return cols


def _merge_levels(configs: Sequence[Any]) -> list[Level]:
    """Every level code the halls use, in the first hall's order; names from the first that has it."""
    seen: dict[str, Level] = {}
    for names in configs:
        for lv in names.levels:
            seen.setdefault(lv.code, lv)
    return list(seen.values())


async def build_report(
    db: Database,
    scope: Sequence[str] | None,
    start: dt.date,
    end: dt.date,
    group: str,
    hall: str | None = None,
    month: str | None = None,
) -> Report:
    """The report for days start…end, one row per `group`, over the halls in scope."""
    if group not in GROUPS:
        raise BadRequest(
            "bad_group",
            f"group 须为 {' / '.join(GROUPS)} / group must be one of {', '.join(GROUPS)}",
        )
    check_period(start, end, MAX_REPORT_DAYS)
    if hall:
        if scope is not None and hall not in scope:
            raise NotFound("no_such_hall", f"没有大厅 {hall} / No hall {hall}")
        scope = [hall]
    where, scope_args = scope_sql(scope, 3)
    hall_where, _ = scope_sql(scope, 1)
    halls = await db.fetch(
        f"SELECT hall_id, name, name_en, config_text FROM halls WHERE 1 = 1{hall_where}"
        " ORDER BY hall_id",
        *scope_args,
    )
    if hall and not halls:
        raise NotFound("no_such_hall", f"没有大厅 {hall} / No hall {hall}")
    names = {h["hall_id"]: hall_names(h["config_text"] or "") for h in halls}
    hall_label = {h["hall_id"]: (h["name"] or h["hall_id"], h["name_en"] or "") for h in halls}
    levels = _merge_levels(list(names.values())) or _merge_levels([hall_names("")])
    thresholds = sorted({t for n in names.values() for t in n.away_thresholds}) or list(
        DEFAULT_THRESHOLDS
    )
    g: Group = group
    d0, d1 = start.isoformat(), end.isoformat()
    key = _KEY_COLUMN[g]
    evals = await _evaluation_counts(db, d0, d1, where, scope_args, key)
    # A level a hall's configuration does not name (renamed since) still gets its column.
    known = {lv.code for lv in levels}
    levels += [Level(c, c, c, False) for c in sorted({r["level"] for r in evals} - known)]
    report = Report(start, end, g, month, levels, thresholds, _columns(g, levels, thresholds))
    rows: dict[tuple[str, Any], dict[str, Any]] = {}

    def row(hall_id: str, k: Any) -> dict[str, Any]:
        if (hall_id, k) not in rows:
            rows[(hall_id, k)] = _empty_row(levels, thresholds, g)
            rows[(hall_id, k)]["_hall"] = hall_id
            rows[(hall_id, k)]["_key"] = k
        return rows[(hall_id, k)]

    if g == "hall":  # every hall has its row, even one that had nothing in the period
        for h in halls:
            row(h["hall_id"], None)
    tickets = await _ticket_figures(db, d0, d1, where, scope_args, key)
    for r in tickets:
        _fill_tickets(row(r["hall_id"], r["k"] if key else None), r)
    for r in evals:
        target = row(r["hall_id"], r["k"] if key else None)
        target[f"eval_{r['level']}"] += int(r["n"])
        target["eval_total"] += int(r["n"])
    if g != "service":
        for hall_id, k, figures in await _away_figures(db, d0, d1, names, thresholds, key):
            row(hall_id, k).update(figures)
    staff_names = await _staff_names(db, hall_where, scope_args) if g == "staff" else {}
    for (hall_id, k), r in rows.items():
        _label(r, g, hall_id, k, hall_label, names, staff_names)
        r["use_rate"] = _ratio(r.pop("_served_evaluated"), r["served"])
    report.rows = sorted(rows.values(), key=_sort_key)
    for r in report.rows:
        del r["_hall"], r["_key"]
    report.total = await _total(db, d0, d1, where, scope_args, report, g)
    return report


def _empty_row(levels: list[Level], thresholds: list[int], group: Group) -> dict[str, Any]:
    r: dict[str, Any] = {
        "issued": 0,
        "served": 0,
        "no_shows": 0,
        "wait_avg": None,
        "wait_p90": None,
        "service_avg": None,
        "_served_evaluated": 0,
        "eval_total": 0,
        "use_rate": None,
    }
    for lv in levels:
        r[f"eval_{lv.code}"] = 0
    if group != "service":
        r.update({"away_spells": 0, "away_minutes": 0.0, "away_beyond": 0.0})
        for t in thresholds:
            r[f"away_over_{t}"] = 0
    return r


def _sort_key(r: dict[str, Any]) -> tuple[Any, ...]:
    k = r["_key"]
    return (r["_hall"], k is None, k if isinstance(k, int) else 0, str(k or ""))


async def _ticket_figures(
    db: Database, d0: str, d1: str, where: str, args: list[Any], key: str | None
) -> list[Any]:
    select_key = f", {key} AS k" if key else ""
    group_by = f", {key}" if key else ""
    return await db.fetch(
        f"SELECT hall_id{select_key}, count(*) AS issued,"
        " sum(CASE WHEN status = 'done' THEN 1 ELSE 0 END) AS served,"
        " sum(CASE WHEN status = 'no_show' THEN 1 ELSE 0 END) AS no_shows,"
        f" avg(wait_seconds) AS wait_avg, {db.p90('wait_seconds')} AS wait_p90,"
        " avg(service_seconds) AS service_avg,"
        " sum(CASE WHEN status = 'done' AND evaluation IS NOT NULL AND evaluation <> ''"
        " THEN 1 ELSE 0 END) AS served_evaluated"
        f" FROM tickets WHERE day >= $1 AND day <= $2{where}"
        f" GROUP BY hall_id{group_by}",
        d0,
        d1,
        *args,
    )


def _fill_tickets(target: dict[str, Any], r: Any) -> None:
    target["issued"] = int(r["issued"])
    target["served"] = int(r["served"] or 0)
    target["no_shows"] = int(r["no_shows"] or 0)
    target["wait_avg"] = _minutes(r["wait_avg"])
    target["wait_p90"] = _minutes(r["wait_p90"])
    target["service_avg"] = _minutes(r["service_avg"])
    target["_served_evaluated"] = int(r["served_evaluated"] or 0)


async def _evaluation_counts(
    db: Database, d0: str, d1: str, where: str, args: list[Any], key: str | None
) -> list[Any]:
    select_key = f", {key} AS k" if key else ""
    group_by = f", {key}" if key else ""
    return await db.fetch(
        f"SELECT hall_id{select_key}, level, count(*) AS n FROM evaluations"
        f" WHERE day >= $1 AND day <= $2{where} GROUP BY hall_id{group_by}, level",
        d0,
        d1,
        *args,
    )


async def _away_figures(
    db: Database,
    d0: str,
    d1: str,
    names: dict[str, Any],
    thresholds: list[int],
    key: str | None,
) -> list[tuple[str, Any, dict[str, Any]]]:
    """Away (请稍候) spells per group: count, minutes, spells over each threshold, and the
    minutes beyond the hall's own first threshold. Halls with the same first threshold are
    read together."""
    by_first: dict[int, list[str]] = {}
    for hall_id, n in names.items():
        by_first.setdefault(n.away_thresholds[0], []).append(hall_id)
    out: list[tuple[str, Any, dict[str, Any]]] = []
    select_key = f", {key} AS k" if key else ""
    group_by = f", {key}" if key else ""
    over = "".join(
        f", sum(CASE WHEN seconds > {t * 60} THEN 1 ELSE 0 END) AS over_{t}" for t in thresholds
    )
    for first, hall_ids in sorted(by_first.items()):
        where, args = scope_sql(hall_ids, 3)
        limit = float(first * 60)
        rows = await db.fetch(
            f"SELECT hall_id{select_key}, count(*) AS spells, sum(seconds) AS seconds{over},"
            f" sum(CASE WHEN seconds > {limit} THEN seconds - {limit} ELSE 0 END) AS beyond"
            f" FROM away_spells WHERE kind = 'away' AND day >= $1 AND day <= $2{where}"
            f" GROUP BY hall_id{group_by}",
            d0,
            d1,
            *args,
        )
        for r in rows:
            figures: dict[str, Any] = {
                "away_spells": int(r["spells"]),
                "away_minutes": _minutes(r["seconds"] or 0.0),
                "away_beyond": _minutes(r["beyond"] or 0.0),
            }
            for t in thresholds:
                figures[f"away_over_{t}"] = int(r[f"over_{t}"] or 0)
            out.append((r["hall_id"], r["k"] if key else None, figures))
    return out


async def _staff_names(db: Database, where: str, args: list[Any]) -> dict[tuple[str, str], str]:
    rows = await db.fetch(f"SELECT hall_id, staff, name FROM staff WHERE 1 = 1{where}", *args)
    return {(r["hall_id"], r["staff"]): r["name"] for r in rows}


def _label(
    r: dict[str, Any],
    group: Group,
    hall_id: str,
    k: Any,
    hall_label: dict[str, tuple[str, str]],
    names: dict[str, Any],
    staff_names: dict[tuple[str, str], str],
) -> None:
    zh, en = hall_label.get(hall_id, (hall_id, ""))
    r["hall_id"] = hall_id
    r["hall"] = zh
    r["hall_en"] = en or zh
    if group == "service":
        code = str(k or "")
        name, name_en = names[hall_id].service_name(code) if hall_id in names else (code, code)
        r["key"] = code
        r["service"] = name
        r["service_en"] = name_en or name
    elif group == "window":
        r["key"] = k
        if k is None:
            r["window"], r["window_en"] = "无窗口", "No window"
        else:
            label, label_en = names[hall_id].window_label(int(k)) if hall_id in names else ("", "")
            r["window"] = f"{k}号窗口" + (f" {label}" if label else "")
            r["window_en"] = f"Window {k}" + (f" {label_en or label}" if label_en or label else "")
    elif group == "staff":
        r["key"] = k
        if k is None:
            r["staff"], r["staff_en"] = "无工作人员", "No staff"
        else:
            name = staff_names.get((hall_id, str(k)), "")
            r["staff"] = f"{name} ({k})" if name else str(k)
            r["staff_en"] = r["staff"]
    else:
        r["key"] = hall_id


async def _total(
    db: Database,
    d0: str,
    d1: str,
    where: str,
    args: list[Any],
    report: Report,
    group: Group,
) -> dict[str, Any]:
    """The row of totals: sums, and the wait and service figures over all tickets at once."""
    total = _empty_row(report.levels, report.thresholds, group)
    figures = await _ticket_figures(db, d0, d1, where, args, None)
    for r in figures:  # one row per hall: sum them, then read the averages over all
        total["issued"] += int(r["issued"])
        total["served"] += int(r["served"] or 0)
        total["no_shows"] += int(r["no_shows"] or 0)
        total["_served_evaluated"] += int(r["served_evaluated"] or 0)
    overall = await db.fetchrow(
        f"SELECT avg(wait_seconds) AS wait_avg, {db.p90('wait_seconds')} AS wait_p90,"
        " avg(service_seconds) AS service_avg"
        f" FROM tickets WHERE day >= $1 AND day <= $2{where}",
        d0,
        d1,
        *args,
    )
    if overall is not None:
        total["wait_avg"] = _minutes(overall["wait_avg"])
        total["wait_p90"] = _minutes(overall["wait_p90"])
        total["service_avg"] = _minutes(overall["service_avg"])
    additive = [c.key for c in report.columns if c.key.startswith(("eval_", "away_"))]
    for r in report.rows:
        for k in additive:
            total[k] = (total.get(k) or 0) + (r.get(k) or 0)
    for k in additive:
        if isinstance(total[k], float):
            total[k] = round(total[k], 1)
    total["use_rate"] = _ratio(total.pop("_served_evaluated"), total["served"])
    total.update({"hall": "合计", "hall_en": "Total", "hall_id": None, "key": None})
    return total


# ---------------------------------------------------------------- downloads


def _cell(r: dict[str, Any], col: Column, lang: str) -> Any:
    if col.kind == "text":
        value = r.get(f"{col.key}_en") if lang == "en" else r.get(col.key)
        return value if value is not None else ""
    return r.get(col.key)


def table(report: Report, lang: str) -> tuple[list[str], list[list[Any]]]:
    """The report as a header and rows of plain values (the total last)."""
    headers = [c.header(lang) for c in report.columns]
    body = [[_cell(r, c, lang) for c in report.columns] for r in [*report.rows, report.total]]
    return headers, body


def _csv_text(value: str) -> str:
    """A name a hall sent that Excel would take for a formula (=, +, -, @) stays text."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def to_csv(report: Report, lang: str = "both") -> bytes:
    """UTF-8 with a BOM: Excel in China opens it as UTF-8 rather than GBK."""
    headers, body = table(report, lang)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(headers)
    for values in body:
        writer.writerow(
            ["" if v is None else _csv_text(v) if isinstance(v, str) else v for v in values]
        )
    return out.getvalue().encode("utf-8-sig")


def _width(text: str) -> float:
    """Columns in Excel's units: a CJK character is about two."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.1 for ch in text)


def to_xlsx(report: Report, lang: str = "both", generated: str = "") -> bytes:
    """An XLSX workbook: the table (bold, frozen header; number formats) and a sheet about it."""
    import xlsxwriter

    headers, body = table(report, lang)
    out = io.BytesIO()
    book = xlsxwriter.Workbook(out, {"in_memory": True})
    head = book.add_format(
        {"bold": True, "bg_color": "#DCE6F1", "border": 1, "text_wrap": True, "valign": "top"}
    )
    formats = {
        "text": book.add_format({}),
        "int": book.add_format({"num_format": "0"}),
        "minutes": book.add_format({"num_format": "0.0"}),
        "percent": book.add_format({"num_format": "0.0%"}),
    }
    total_formats = {
        kind: book.add_format({"bold": True, "top": 1, "num_format": fmt})
        for kind, fmt in (("text", "@"), ("int", "0"), ("minutes", "0.0"), ("percent", "0.0%"))
    }
    sheet = book.add_worksheet("报表 Report" if lang != "en" else "Report")
    sheet.write_row(0, 0, headers, head)
    sheet.set_row(0, 36)
    last = len(body) - 1
    for i, values in enumerate(body):
        fmts = total_formats if i == last else formats
        for j, (value, col) in enumerate(zip(values, report.columns, strict=True)):
            if value is None or value == "":
                sheet.write_blank(i + 1, j, None, fmts[col.kind])
            elif col.kind == "text":
                sheet.write_string(i + 1, j, str(value), fmts["text"])
            else:
                sheet.write_number(i + 1, j, value, fmts[col.kind])
    for j in range(len(report.columns)):
        # Wide enough for the values; a long header wraps onto its two lines.
        longest = max([_width(str(v[j])) for v in body if v[j] is not None] or [0.0])
        header = min(_width(headers[j]) / 2 + 2, 24.0)
        sheet.set_column(j, j, max(8.0, min(40.0, max(longest + 2, header))))
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(1, last), len(headers) - 1)
    about = book.add_worksheet("说明 About")
    info = [
        ("时段 Period", f"{report.start.isoformat()} … {report.end.isoformat()}"),
        ("月份 Month", report.month or ""),
        ("分组 Group", report.group),
        ("暂离阈值(分钟) Away thresholds (min)", ", ".join(str(t) for t in report.thresholds)),
        ("生成时间 Generated", generated),
    ]
    for i, (k, v) in enumerate(info):
        about.write_string(i, 0, k, head)
        about.write_string(i, 1, v)
    about.set_column(0, 0, 36)
    about.set_column(1, 1, 30)
    book.close()
    return out.getvalue()
