"""回访: the follow-up of every bad review (不满意 / 非常不满意).

The ingest side opens a case for each bad evaluation (number, deadline of 5 working days by
the hall's own timetable, status 'open'); people here list them, give them an owner and move
them open (待回访) → in_progress (处理中) → closed (已办结), with a note. Who changed a case
and when is kept (updated_by, updated_at; closed_at). A case is overdue while it is not
closed and its deadline (a hall-local date) has passed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hallq.central.db import Database, Row
from hallq.central.queries import hall_names, local_day, scope_sql
from hallq.errors import BadRequest, CommandRejected, NotFound

STATUSES = ("open", "in_progress", "closed")
# Where a case may go from each status (and staying put, to change only the owner or note).
MOVES: dict[str, set[str]] = {
    "open": {"open", "in_progress", "closed"},
    "in_progress": {"in_progress", "closed"},
    "closed": set(),
}
NOTE_MAX = 2000
PAGE_MAX = 500


def _overdue_sql(today_by_hall: dict[str, str], first: int) -> tuple[str, list[Any]]:
    """'deadline < today' where today is each hall's own date (usually one date for all)."""
    by_day: dict[str, list[str]] = {}
    for hall, today in today_by_hall.items():
        by_day.setdefault(today, []).append(hall)
    parts: list[str] = []
    args: list[Any] = []
    n = first
    for today, halls in sorted(by_day.items()):
        marks = ", ".join(f"${n + 1 + i}" for i in range(len(halls)))
        parts.append(f"(deadline < ${n} AND hall_id IN ({marks}))")
        args += [today, *halls]
        n += 1 + len(halls)
    if not parts:
        return " AND 1 = 0", []
    return " AND status <> 'closed' AND (" + " OR ".join(parts) + ")", args


async def list_cases(
    db: Database,
    scope: Sequence[str] | None,
    now: float,
    *,
    status: str = "",
    hall: str = "",
    overdue: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    """Cases in scope, filtered; the overdue ones first, then by deadline. Also the counts."""
    if status and status not in (*STATUSES, "active"):
        raise BadRequest(
            "bad_status",
            "status 须为 open / in_progress / closed / active（未办结） / status must be open, "
            "in_progress, closed or active (not closed)",
        )
    if not 1 <= limit <= PAGE_MAX or offset < 0:
        raise BadRequest("bad_page", f"limit 为 1-{PAGE_MAX}，offset ≥ 0 / limit is 1-{PAGE_MAX}")
    if hall:
        if scope is not None and hall not in scope:
            raise NotFound("no_such_hall", f"没有大厅 {hall} / No hall {hall}")
        scope = [hall]
    hall_where, hall_args = scope_sql(scope, 1)
    halls = await db.fetch(
        f"SELECT hall_id, name, name_en, config_text FROM halls WHERE 1 = 1{hall_where}",
        *hall_args,
    )
    if hall and not halls:
        raise NotFound("no_such_hall", f"没有大厅 {hall} / No hall {hall}")
    info = {h["hall_id"]: h for h in halls}
    names = {h["hall_id"]: hall_names(h["config_text"] or "") for h in halls}
    today = {h: local_day(n.zone, now) for h, n in names.items()}

    where, args = scope_sql(list(info), 1)
    if status == "active":
        where += " AND status <> 'closed'"
    elif status:
        args.append(status)
        where += f" AND status = ${len(args)}"
    if overdue:
        clause, more = _overdue_sql(today, len(args) + 1)
        where += clause
        args += more
    total = int(await db.fetchval(f"SELECT count(*) FROM cases WHERE 1 = 1{where}", *args) or 0)
    # Overdue first: the ones with the earliest deadline among the not-closed.
    rows = await db.fetch(
        f"SELECT * FROM cases WHERE 1 = 1{where}"
        " ORDER BY CASE WHEN status = 'closed' THEN 1 ELSE 0 END, deadline, opened_at, hall_id,"
        f" case_no LIMIT {int(limit)} OFFSET {int(offset)}",
        *args,
    )
    staff = await _staff_names(db, {(r["hall_id"], r["staff"]) for r in rows if r["staff"]})
    users = {
        u["username"]: u["display_name"]
        for u in await db.fetch("SELECT username, display_name FROM users")
    }
    counts = await _counts(db, list(info), today)
    return {
        "cases": [
            case_json(r, info[r["hall_id"]], names[r["hall_id"]], today[r["hall_id"]], staff, users)
            for r in rows
        ],
        "total": total,
        "limit": limit,
        "offset": offset,
        "counts": counts,
    }


async def _counts(db: Database, halls: list[str], today: dict[str, str]) -> dict[str, int]:
    where, args = scope_sql(halls, 1)
    rows = await db.fetch(
        f"SELECT hall_id, status, deadline, count(*) AS n FROM cases WHERE 1 = 1{where}"
        " GROUP BY hall_id, status, deadline",
        *args,
    )
    counts = {"open": 0, "in_progress": 0, "closed": 0, "overdue": 0}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + int(r["n"])
        if r["status"] != "closed" and r["deadline"] < today.get(r["hall_id"], "0000"):
            counts["overdue"] += int(r["n"])
    return counts


async def _staff_names(db: Database, keys: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
    if not keys:
        return {}
    halls = sorted({h for h, _ in keys})
    where, args = scope_sql(halls, 1)
    rows = await db.fetch(f"SELECT hall_id, staff, name FROM staff WHERE 1 = 1{where}", *args)
    return {(r["hall_id"], r["staff"]): r["name"] for r in rows}


def case_json(
    r: Row,
    hall: Row,
    names: Any,
    today: str,
    staff: dict[tuple[str, str], str],
    users: dict[str, str],
) -> dict[str, Any]:
    level = next((lv for lv in names.levels if lv.code == r["level"]), None)
    service = names.service_name(r["service"]) if r["service"] else ("", "")
    return {
        "hall_id": r["hall_id"],
        "hall": hall["name"],
        "hall_en": hall["name_en"] or hall["name"],
        "case_no": r["case_no"],
        "ticket": int(r["ticket"]),
        "display": r["display"],
        "day": r["day"],
        "opened_at": float(r["opened_at"]),
        "deadline": r["deadline"],
        "level": r["level"],
        "level_name": level.name if level else r["level"],
        "level_name_en": (level.name_en or level.name) if level else r["level"],
        "reason": r["reason"],
        "service": r["service"],
        "service_name": service[0],
        "service_name_en": service[1] or service[0],
        "window": r["window_no"],
        "staff": r["staff"],
        "staff_name": staff.get((r["hall_id"], r["staff"]), "") if r["staff"] else "",
        "owner": r["owner"],
        "owner_name": users.get(r["owner"], "") if r["owner"] else "",
        "status": r["status"],
        "note": r["note"],
        "updated_at": float(r["updated_at"]),
        "updated_by": r["updated_by"],
        "closed_at": float(r["closed_at"]) if r["closed_at"] is not None else None,
        "overdue": r["status"] != "closed" and r["deadline"] < today,
    }


async def owners(db: Database, hall_id: str) -> list[dict[str, str]]:
    """Who may own a case of the hall: enabled city admins and the hall's managers."""
    rows = await db.fetch(
        "SELECT username, display_name, role FROM users WHERE disabled = 0"
        " AND (role = 'city_admin' OR hall_id = $1) ORDER BY role DESC, username",
        hall_id,
    )
    return [
        {"username": r["username"], "display_name": r["display_name"], "role": r["role"]}
        for r in rows
    ]


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise BadRequest("bad_request", f"{name} 须为文本 / {name} must be text")
    if len(value) > limit:
        raise BadRequest(
            "bad_request", f"{name} 最多 {limit} 个字符 / {name} is at most {limit} characters"
        )
    return value.strip()


async def update_case(
    db: Database,
    scope: Sequence[str] | None,
    hall_id: str,
    case_no: str,
    body: dict[str, Any],
    by: str,
    now: float,
) -> dict[str, Any]:
    """Change a case's owner, status or note; who and when are kept."""
    unknown = set(body) - {"owner", "status", "note"}
    if unknown:
        raise BadRequest(
            "bad_request",
            f"未知字段 {', '.join(sorted(unknown))}；可改 owner、status、note / unknown fields "
            f"{', '.join(sorted(unknown))}: send owner, status or note",
        )
    owner = _text(body, "owner", 64)
    status = _text(body, "status", 20)
    note = _text(body, "note", NOTE_MAX)
    if owner is None and status is None and note is None:
        raise BadRequest("bad_request", "没有要修改的内容 / Send owner, status or note to change")
    if status is not None and status not in STATUSES:
        raise BadRequest(
            "bad_status",
            "status 须为 open（待回访）/ in_progress（处理中）/ closed（已办结） / status must "
            "be open, in_progress or closed",
        )
    if scope is not None and hall_id not in scope:
        raise NotFound("no_such_case", f"没有回访件 {case_no} / No case {case_no}")
    current = await db.fetchrow(
        "SELECT * FROM cases WHERE hall_id = $1 AND case_no = $2", hall_id, case_no
    )
    if current is None:
        raise NotFound("no_such_case", f"没有回访件 {case_no} / No case {case_no}")
    old = current["status"]
    new_status = status if status is not None else old
    if old == "closed":
        raise CommandRejected(
            "case_closed", "此件已办结，不能再修改 / This case is closed: it cannot change", 409
        )
    if new_status not in MOVES[old]:
        raise CommandRejected(
            "bad_move",
            "状态只能向前：待回访 → 处理中 → 已办结 / A case only moves forward: open → "
            "in_progress → closed",
            409,
        )
    new_note = note if note is not None else current["note"]
    if new_status == "closed" and not new_note:
        raise BadRequest(
            "note_required",
            "办结须填写回访结果 / Write what the follow-up found (note) to close the case",
        )
    new_owner = owner if owner is not None else current["owner"]
    if owner:
        allowed = {o["username"] for o in await owners(db, hall_id)}
        if owner not in allowed:
            raise BadRequest(
                "bad_owner",
                f"{owner} 不能负责此大厅的回访（须为启用的市级管理员或本大厅负责人） / {owner} "
                "cannot own this hall's cases: pick an enabled city admin or this hall's manager",
            )
    closed_at = now if new_status == "closed" else None
    # Only if nobody moved it meanwhile (two managers at once): the status is the guard.
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "UPDATE cases SET owner = $4, status = $5, note = $6, updated_at = $7,"
            " updated_by = $8, closed_at = $9"
            " WHERE hall_id = $1 AND case_no = $2 AND status = $3 RETURNING *",
            hall_id,
            case_no,
            old,
            new_owner,
            new_status,
            new_note,
            now,
            by,
            closed_at,
        )
    if row is None:
        raise CommandRejected(
            "changed_meanwhile",
            "此件刚被他人修改，请刷新后再试 / Someone changed this case meanwhile: reload and try "
            "again",
            409,
        )
    hall = await db.fetchrow(
        "SELECT hall_id, name, name_en, config_text FROM halls WHERE hall_id = $1", hall_id
    )
    assert hall is not None
    names = hall_names(hall["config_text"] or "")
    staff = await _staff_names(db, {(hall_id, row["staff"])} if row["staff"] else set())
    users = {
        u["username"]: u["display_name"]
        for u in await db.fetch("SELECT username, display_name FROM users")
    }
    return case_json(row, hall, names, local_day(names.zone, now), staff, users)
