"""What the central pages show about halls now: the overview, a hall's page and its charts.

Read-only over the tables the ingest side keeps (schema.py is the contract): `halls.live`
for the figures of the moment, `tickets` / `evaluations` for the charts, `cases` for the
follow-ups still open. Every function takes `scope`: the halls the caller may see (None: all),
and never returns a row outside it.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from hallq.central.db import Database, Row
from hallq.errors import BadRequest, NotFound

OFFLINE_AFTER_SECONDS = 120  # a hall not heard from for this long shows as offline
DEFAULT_ZONE = "Asia/Shanghai"
MAX_CHART_DAYS = 366

DEFAULT_LEVELS: list[tuple[str, str, str, bool]] = [
    ("very_satisfied", "非常满意", "Very satisfied", False),
    ("satisfied", "满意", "Satisfied", False),
    ("basic", "基本满意", "Fairly satisfied", False),
    ("dissatisfied", "不满意", "Dissatisfied", True),
    ("very_dissatisfied", "非常不满意", "Very dissatisfied", True),
]
DEFAULT_THRESHOLDS = (15, 30, 60)


@dataclass(frozen=True)
class Level:
    code: str
    name: str
    name_en: str
    bad: bool


@dataclass(frozen=True)
class HallNames:
    """What the hall's uploaded configuration says about names, zone, levels and thresholds."""

    zone: ZoneInfo
    services: dict[str, tuple[str, str]] = field(default_factory=dict)  # code → (zh, en)
    windows: dict[int, tuple[str, str]] = field(default_factory=dict)  # number → (zh, en)
    levels: tuple[Level, ...] = tuple(Level(*lv) for lv in DEFAULT_LEVELS)
    away_thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    known: bool = False  # False: no (readable) configuration uploaded yet

    def service_name(self, code: str) -> tuple[str, str]:
        return self.services.get(code, (code, code))

    def window_label(self, number: int) -> tuple[str, str]:
        return self.windows.get(number, ("", ""))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _table(raw: dict[str, Any], key: str) -> dict[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


@lru_cache(maxsize=256)
def hall_names(config_text: str) -> HallNames:
    """Read the names leniently: a configuration from a newer hall still gives what it can."""
    try:
        raw = tomllib.loads(config_text) if config_text else {}
    except tomllib.TOMLDecodeError:
        raw = {}
    hall = _table(raw, "hall")
    try:
        zone = ZoneInfo(_text(hall.get("timezone")) or DEFAULT_ZONE)
    except (ValueError, KeyError, OSError):
        zone = ZoneInfo(DEFAULT_ZONE)
    if not raw:
        return HallNames(zone=zone)
    services = {
        s["code"]: (_text(s.get("name")) or s["code"], _text(s.get("name_en")))
        for s in raw.get("services", [])
        if isinstance(s, dict) and isinstance(s.get("code"), str)
    }
    windows = {
        w["number"]: (_text(w.get("label")), _text(w.get("label_en")))
        for w in raw.get("windows", [])
        if isinstance(w, dict) and isinstance(w.get("number"), int)
    }
    evaluation = _table(raw, "evaluation")
    levels = tuple(
        Level(
            lv["code"],
            _text(lv.get("name")) or lv["code"],
            _text(lv.get("name_en")),
            bool(lv.get("bad", False)),
        )
        for lv in evaluation.get("levels", [])
        if isinstance(lv, dict) and isinstance(lv.get("code"), str)
    )
    away = _table(raw, "away")
    thresholds = tuple(
        t
        for t in away.get("thresholds_minutes", DEFAULT_THRESHOLDS)
        if isinstance(t, int) and not isinstance(t, bool) and t > 0
    )
    return HallNames(
        zone,
        services,
        windows,
        levels or tuple(Level(*lv) for lv in DEFAULT_LEVELS),
        tuple(sorted(thresholds)) or DEFAULT_THRESHOLDS,
        known=True,
    )


# The columns the pages read (config_text, which can be long, is read only when its digest
# is new: `names_of`).
HALL_COLUMNS = (
    "hall_id, name, name_en, created_at, acked_seq, last_event_ts, last_seen, config_digest,"
    " live, live_seq"
)
_NAMES_KEPT = 1024
_names_by_digest: dict[str, HallNames] = {}  # a cache: configurations never change under a digest


async def names_of(db: Database, rows: Sequence[Row]) -> dict[str, HallNames]:
    """What each hall's configuration names (rows with hall_id and config_digest)."""
    out: dict[str, HallNames] = {}
    missing: list[str] = []
    for r in rows:
        known = _names_by_digest.get(r["config_digest"] or "")
        if known is not None:
            out[r["hall_id"]] = known
        else:
            missing.append(r["hall_id"])
    if missing:
        where, args = scope_sql(missing, 1)
        for r in await db.fetch(
            f"SELECT hall_id, config_digest, config_text FROM halls WHERE 1 = 1{where}", *args
        ):
            names = hall_names(r["config_text"] or "")
            if r["config_digest"]:
                if len(_names_by_digest) >= _NAMES_KEPT:
                    _names_by_digest.clear()
                _names_by_digest[r["config_digest"]] = names
            out[r["hall_id"]] = names
    return out


def local_day(zone: ZoneInfo, now: float) -> str:
    return dt.datetime.fromtimestamp(now, zone).date().isoformat()


def parse_day(raw: str, name: str) -> dt.date:
    """A 'YYYY-MM-DD' query parameter, or a 400 that says which and how."""
    try:
        if len(raw) != 10:
            raise ValueError
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(
            "bad_date",
            f"{name} 须为 YYYY-MM-DD 日期 / {name} must be a date YYYY-MM-DD, not {raw!r}",
        ) from None


def check_period(start: dt.date, end: dt.date, max_days: int) -> None:
    if end < start:
        raise BadRequest(
            "bad_period", "结束日期早于开始日期 / The period ends before it starts (to < from)"
        )
    if (end - start).days + 1 > max_days:
        raise BadRequest(
            "period_too_long",
            f"时段最长 {max_days} 天 / The period is at most {max_days} days",
        )


def scope_sql(
    scope: Sequence[str] | None, first: int, column: str = "hall_id"
) -> tuple[str, list[Any]]:
    """' AND hall_id IN ($n, …)' for a scope (nothing for all halls) and its parameters."""
    if scope is None:
        return "", []
    if not scope:
        return " AND 1 = 0", []
    marks = ", ".join(f"${first + i}" for i in range(len(scope)))
    return f" AND {column} IN ({marks})", list(scope)


def _live(row: Row) -> dict[str, Any]:
    try:
        live = json.loads(row["live"] or "{}")
    except ValueError:
        return {}
    return live if isinstance(live, dict) else {}


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def hall_summary(
    row: Row, names: HallNames, now: float, open_cases: int, overdue_cases: int
) -> dict[str, Any]:
    """One hall's figures for the overview, from its row (with `live`) and its open cases."""
    live = _live(row)
    last_seen = _num(row["last_seen"])
    online = last_seen is not None and now - last_seen <= OFFLINE_AFTER_SECONDS
    today = local_day(names.zone, now)
    oldest = _num(live.get("oldest_waiting_issued_at"))
    reference = now if online or last_seen is None else last_seen
    devices = live.get("devices_unhealthy")
    return {
        "hall_id": row["hall_id"],
        "name": row["name"],
        "name_en": row["name_en"],
        "online": online,
        "last_seen": last_seen,
        "lag_seconds": (now - last_seen) if last_seen is not None else None,
        "last_event_ts": _num(row["last_event_ts"]),
        "has_data": bool(live),
        "day": live.get("day"),
        "today": today,
        "stale_day": bool(live) and live.get("day") != today,
        "open": bool(live.get("open", False)),
        "waiting": int(live.get("waiting") or 0),
        "longest_wait_seconds": max(0.0, reference - oldest) if oldest is not None else None,
        "issued": int(live.get("issued") or 0),
        "served": int(live.get("served") or 0),
        "no_shows": int(live.get("no_shows") or 0),
        "wait_avg_seconds": _num(live.get("wait_avg_seconds")),
        "wait_p90_seconds": _num(live.get("wait_p90_seconds")),
        "service_avg_seconds": _num(live.get("service_avg_seconds")),
        "windows_open": int(live.get("windows_open") or 0),
        "windows_total": int(live.get("windows_total") or 0),
        "devices_unhealthy": devices if isinstance(devices, list) else [],
        "cases_open": open_cases,
        "cases_overdue": overdue_cases,
    }


async def _open_cases(
    db: Database, scope: Sequence[str] | None, today: dict[str, str]
) -> dict[str, tuple[int, int]]:
    """hall → (open cases, overdue cases); overdue: not closed and past its deadline."""
    where, args = scope_sql(scope, 1)
    rows = await db.fetch(
        "SELECT hall_id, deadline, count(*) AS n FROM cases WHERE status <> 'closed'"
        f"{where} GROUP BY hall_id, deadline",
        *args,
    )
    counts: dict[str, tuple[int, int]] = {}
    for r in rows:
        hall = r["hall_id"]
        n = int(r["n"])
        late = n if r["deadline"] < today.get(hall, "0000") else 0
        total, overdue = counts.get(hall, (0, 0))
        counts[hall] = (total + n, overdue + late)
    return counts


async def overview(db: Database, scope: Sequence[str] | None, now: float) -> list[dict[str, Any]]:
    """Every hall in scope at a glance, by name."""
    where, args = scope_sql(scope, 1)
    rows = await db.fetch(
        f"SELECT {HALL_COLUMNS} FROM halls WHERE 1 = 1{where} ORDER BY hall_id", *args
    )
    names = await names_of(db, rows)
    today = {h: local_day(n.zone, now) for h, n in names.items()}
    cases = await _open_cases(db, scope, today)
    return [
        hall_summary(r, names[r["hall_id"]], now, *cases.get(r["hall_id"], (0, 0))) for r in rows
    ]


async def hall_row(db: Database, hall_id: str, scope: Sequence[str] | None) -> Row:
    """The hall's row, or 404 when there is none or the caller may not see it."""
    if scope is not None and hall_id not in scope:
        raise NotFound("no_such_hall", f"没有大厅 {hall_id} / No hall {hall_id}")
    row = await db.fetchrow(f"SELECT {HALL_COLUMNS} FROM halls WHERE hall_id = $1", hall_id)
    if row is None:
        raise NotFound("no_such_hall", f"没有大厅 {hall_id} / No hall {hall_id}")
    return row


async def hall_detail(
    db: Database, hall_id: str, scope: Sequence[str] | None, now: float
) -> dict[str, Any]:
    """A hall's page: its summary, its services and windows now, and what its config names."""
    row = await hall_row(db, hall_id, scope)
    names = (await names_of(db, [row]))[hall_id]
    cases = await _open_cases(db, [hall_id], {hall_id: local_day(names.zone, now)})
    summary = hall_summary(row, names, now, *cases.get(hall_id, (0, 0)))
    live = _live(row)
    services = [s for s in live.get("services", []) if isinstance(s, dict)]
    windows = [w for w in live.get("windows", []) if isinstance(w, dict)]
    return {
        "hall": summary,
        "services": services,
        "windows": windows,
        "levels": [lv.__dict__ for lv in names.levels],
        "away_thresholds_minutes": list(names.away_thresholds),
        "timezone": names.zone.key,
        "now": now,
    }


def _hour(db: Database, column: str, offset_param: int) -> str:
    """The hour of the day (0-23) of an epoch column, in a zone given as an offset in seconds."""
    if db.dialect == "postgresql":
        return f"(CAST(floor(({column} + ${offset_param}) / 3600.0) AS BIGINT) % 24)"
    return f"(CAST(({column} + ${offset_param}) / 3600.0 AS INTEGER) % 24)"


def _days(start: dt.date, end: dt.date) -> list[str]:
    return [(start + dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


async def hall_charts(
    db: Database, hall_id: str, scope: Sequence[str] | None, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """The charts of a hall's page for the days start…end (hall-local dates).

    - hours: tickets issued (arrivals) per hour of the day, and the average and p90 wait of
      the tickets issued in that hour that have been called;
    - windows: tickets finished at each window;
    - evaluations: 好差评 given each day, by level.
    """
    check_period(start, end, MAX_CHART_DAYS)
    row = await hall_row(db, hall_id, scope)
    names = (await names_of(db, [row]))[hall_id]
    # The zone's offset at noon on the first day (halls in China keep one offset all year).
    noon = dt.datetime.combine(start, dt.time(12), names.zone)
    offset = float((noon.utcoffset() or dt.timedelta()).total_seconds())
    d0, d1 = start.isoformat(), end.isoformat()
    hour = _hour(db, "issued_at", 4)
    hours = await db.fetch(
        f"SELECT {hour} AS hour, count(*) AS arrivals, avg(wait_seconds) AS wait_avg,"
        f" {db.p90('wait_seconds')} AS wait_p90 FROM tickets"
        " WHERE hall_id = $1 AND day >= $2 AND day <= $3 GROUP BY 1 ORDER BY 1",
        hall_id,
        d0,
        d1,
        offset,
    )
    windows = await db.fetch(
        "SELECT window_no, count(*) AS served, avg(service_seconds) AS service_avg FROM tickets"
        " WHERE hall_id = $1 AND day >= $2 AND day <= $3 AND status = 'done'"
        " AND window_no IS NOT NULL GROUP BY window_no ORDER BY window_no",
        hall_id,
        d0,
        d1,
    )
    evaluations = await db.fetch(
        "SELECT day, level, count(*) AS n FROM evaluations"
        " WHERE hall_id = $1 AND day >= $2 AND day <= $3 GROUP BY day, level",
        hall_id,
        d0,
        d1,
    )
    by_day: dict[str, dict[str, int]] = {d: {} for d in _days(start, end)}
    for r in evaluations:
        by_day.setdefault(r["day"], {})[r["level"]] = int(r["n"])
    known = [lv.code for lv in names.levels]
    extra = sorted({lv for counts in by_day.values() for lv in counts} - set(known))
    levels = [lv.__dict__ for lv in names.levels] + [
        {"code": c, "name": c, "name_en": c, "bad": False} for c in extra
    ]
    return {
        "hall_id": hall_id,
        "from": d0,
        "to": d1,
        "hours": [
            {
                "hour": int(r["hour"]),
                "arrivals": int(r["arrivals"]),
                "wait_avg_seconds": _num(r["wait_avg"]),
                "wait_p90_seconds": _num(r["wait_p90"]),
            }
            for r in hours
        ],
        "windows": [
            {
                "window": int(r["window_no"]),
                "label": names.window_label(int(r["window_no"]))[0],
                "label_en": names.window_label(int(r["window_no"]))[1],
                "served": int(r["served"]),
                "service_avg_seconds": _num(r["service_avg"]),
            }
            for r in windows
        ],
        "levels": levels,
        "evaluations": [{"day": d, "counts": c} for d, c in sorted(by_day.items())],
    }


async def visible_halls(db: Database, scope: Sequence[str] | None) -> list[dict[str, Any]]:
    """The halls a user may pick in filters: id and names."""
    where, args = scope_sql(scope, 1)
    rows = await db.fetch(
        f"SELECT hall_id, name, name_en FROM halls WHERE 1 = 1{where} ORDER BY hall_id", *args
    )
    return [{"hall_id": r["hall_id"], "name": r["name"], "name_en": r["name_en"]} for r in rows]
