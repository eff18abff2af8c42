"""Ingest (hallq.central.ingest): a hall's batches → events and projections, on both databases.

The hall's events come from a real hall engine run on commands, as the uplink ships them.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from hallq.central import ingest as ingest_module
from hallq.central.db import Database
from hallq.central.halls import create_hall, list_halls
from hallq.central.ingest import Ingestor, UplinkRefused, check_batch, without_nul
from hallq.central.projection import TICKET_COLUMNS, case_number, follow_up_deadline, ticket_row
from hallq.errors import BadRequest, NotFound
from hallq.hall import commands as c
from hallq.hall import events as e
from hallq.hall.config import parse_config
from hallq.hall.engine import Engine
from hallq.hall.reconfigure import config_digest
from hallq.hall.schedule import Timetable
from hallq.hall.shipping import MAX_BATCH_RECORDS, Batch, HallConfigUpload
from tests.conftest import SMALL_HALL_TOML, at

# The small test hall, closed on Tuesday 2026-11-24 (a holiday) and open on Saturday
# 2026-11-28 (a make-up workday, 调休).
HALL_TOML = SMALL_HALL_TOML.replace(
    "issue_cutoff_minutes = 20",
    'issue_cutoff_minutes = 20\nholidays = ["2026-11-24"]\nmakeup_workdays = ["2026-11-28"]',
)
MON = (2026, 11, 23)
WED = (2026, 11, 25)
NOW = 1_800_000_000.0  # the central server's clock (received_at, last_seen)
HALL_TABLES = ("events", "tickets", "evaluations", "away_spells", "staff", "cases")


class Hall:
    """A hall's engine run on commands; its records are what its uplink would ship."""

    def __init__(self, toml: str = HALL_TOML) -> None:
        self.toml = toml
        self.config = parse_config(toml)
        self.engine = Engine(self.config)
        self.records: list[e.Record] = []
        self._n = 0

    def run(self, cmd_type: type[c.Command], when: float, **fields: Any) -> dict[str, Any]:
        self._n += 1
        out = self.engine.execute(cmd_type(request_id=f"r{self._n}", **fields), when)
        assert out.error is None, f"{cmd_type.__name__}: {out.error}"
        assert out.reply is not None
        self.records.extend(out.records)
        return out.reply

    def upload(self) -> HallConfigUpload:
        return HallConfigUpload(text=self.toml, digest=config_digest(self.config))

    def batch(self, first: int = 1, last: int | None = None) -> Batch:
        """The records first..last (sequence numbers, inclusive) as one batch."""
        last = self.records[-1].seq if last is None else last
        return Batch(
            first=first,
            records=[r for r in self.records if first <= r.seq <= last],
            config_digest=config_digest(self.config),
        )

    @property
    def seq(self) -> int:
        return self.records[-1].seq if self.records else 0


def monday(hall: Hall) -> None:
    """A realistic morning: issue, call, start, finish, evaluate (good and bad), recall,
    no-show, reinstate, transfer, away and back, a printer out of paper."""
    t = lambda minute: at(*MON, 9, minute)  # noqa: E731
    hall.run(c.SignIn, t(0), window=1, staff="1001", name="张三")
    hall.run(c.SignIn, t(0), window=2, staff="1002", name="李四")
    hall.run(c.SignIn, t(0), window=3, staff="1003", name="王五")
    for service in ("alpha", "alpha", "alpha", "beta", "beta", "gamma"):
        hall.run(c.IssueTicket, t(1), service=service)  # A001 A002 A003 B001 B002 C01: ids 1-6
    hall.run(c.CallNext, t(5), window=1)  # A001
    hall.run(c.StartService, t(6), window=1)
    hall.run(c.FinishService, t(16), window=1)
    hall.run(c.SubmitEvaluation, t(17), window=1, level="very_satisfied")
    hall.run(c.CallNext, t(18), window=1)  # A002
    hall.run(c.Recall, t(19), window=1)
    hall.run(c.MarkNoShow, t(20), window=1)
    hall.run(c.ReinstateTicket, t(25), ticket="A002")
    hall.run(c.CallNext, t(26), window=2)  # B001
    hall.run(c.TransferTicket, t(27), window=2, service="gamma", reason="走错窗口")
    hall.run(c.CallNext, t(30), window=1)  # A003 (A002 went back three places)
    hall.run(c.StartService, t(31), window=1)
    hall.run(c.FinishService, t(45), window=1)
    hall.run(c.SubmitEvaluation, t(46), window=1, level="very_dissatisfied", reason="等候时间长")
    hall.run(c.AwayWindow, at(*MON, 10, 0), window=3)
    hall.run(c.ResumeWindow, at(*MON, 10, 20), window=3)
    hall.run(c.CallNext, at(*MON, 10, 21), window=3)  # B001, now a gamma ticket
    hall.run(
        c.ReportDeviceHealth,
        at(*MON, 10, 22),
        device="printer-1",
        kind="printer",
        status="error",
        reason="缺纸",
        reason_en="Out of paper",
    )


def wednesday(hall: Hall) -> None:
    """The next open day: Monday's leftovers expire."""
    hall.run(c.IssueTicket, at(*WED, 9, 0), service="alpha")  # id 7


async def new_hall(db: Database, hall_id: str = "h1", hall: Hall | None = None) -> Ingestor:
    await create_hall(db, hall_id, "", "", 1.0)
    ingestor = Ingestor(db)
    await ingestor.set_config(hall_id, (hall or Hall()).upload(), NOW)
    return ingestor


async def dump(db: Database, *, heartbeat: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the hall data tables (and halls: without last_seen unless `heartbeat`)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in (*HALL_TABLES, "hall_snapshots", "halls"):
        rows = await db.fetch(f"SELECT * FROM {table}")
        keys = [k for k in list(rows[0].keys()) if heartbeat or k != "last_seen"] if rows else []
        out[table] = sorted((tuple(r[k] for k in keys) for r in rows), key=repr)
    return out


async def rows(db: Database, sql: str, *args: Any) -> list[dict[str, Any]]:
    return [{k: r[k] for k in list(r.keys())} for r in await db.fetch(sql, *args)]


async def hall_row(db: Database, hall_id: str = "h1") -> dict[str, Any]:
    [row] = await rows(db, "SELECT * FROM halls WHERE hall_id = $1", hall_id)
    return row


async def send_in_batches(ingestor: Ingestor, hall: Hall, size: int, hall_id: str = "h1") -> None:
    first = 1
    while first <= hall.seq:
        reply = await ingestor.ingest(hall_id, hall.batch(first, first + size - 1), NOW)
        assert reply.acked == min(first + size - 1, hall.seq)
        first += size


def hall_state(engine: Engine) -> Any:
    state = msgspec.to_builtins(engine.state)
    state["requests"] = {}
    return state


# ------------------------------------------------------------------ a day's projections


async def test_a_realistic_day_lands_in_every_table(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await send_in_batches(ingestor, hall, 5)  # tickets change across batches

    live = (await list_halls(central_db))[0]["live"]
    assert live["day"] == "2026-11-23"
    assert live["seq"] == hall.seq
    assert live["open"] is True
    assert (live["issued"], live["served"], live["no_shows"], live["waiting"]) == (6, 2, 0, 3)
    assert live["oldest_waiting_issued_at"] == at(*MON, 9, 1)
    assert live["windows_open"] == 3 and live["windows_total"] == 4
    # Waits (first called − issued): A001 4 min, A002 17, B001 25 (before its transfer), A003 29.
    assert live["wait_avg_seconds"] == pytest.approx((4 + 17 + 25 + 29) * 60 / 4)
    assert live["service_avg_seconds"] == pytest.approx((10 + 14) * 60 / 2)
    assert live["devices_unhealthy"] == [
        {
            "device": "printer-1",
            "kind": "printer",
            "status": "error",
            "reason": "缺纸",
            "reason_en": "Out of paper",
            "since": at(*MON, 10, 22),
        }
    ]
    services = {s["code"]: s for s in live["services"]}
    assert (services["alpha"]["waiting"], services["alpha"]["served"]) == (1, 2)
    assert services["gamma"]["waiting"] == 1 and services["beta"]["waiting"] == 1
    assert services["alpha"]["name"] == "甲事项"
    windows = {w["number"]: w for w in live["windows"]}
    assert windows[1]["staff_name"] == "张三" and windows[1]["served"] == 2
    assert windows[3]["ticket"] == "B001" and windows[3]["status"] == "calling"
    assert windows[3]["away_seconds"] == 1200.0
    assert windows[4]["status"] == "closed"

    wednesday(hall)
    await ingestor.ingest("h1", hall.batch(live["seq"] + 1), NOW + 1)

    tickets = {
        r["display"] + "/" + r["day"]: r
        for r in await rows(central_db, "SELECT * FROM tickets WHERE hall_id = 'h1'")
    }
    assert sorted(tickets) == [
        "A001/2026-11-23",
        "A001/2026-11-25",
        "A002/2026-11-23",
        "A003/2026-11-23",
        "B001/2026-11-23",
        "B002/2026-11-23",
        "C01/2026-11-23",
    ]
    a1 = tickets["A001/2026-11-23"]
    assert a1["status"] == "done" and a1["evaluation"] == "very_satisfied"
    assert a1["wait_seconds"] == 4 * 60 and a1["service_seconds"] == 10 * 60
    assert (a1["window_no"], a1["staff"]) == (1, "1001")
    assert a1["finished_at"] == at(*MON, 9, 16)
    a2 = tickets["A002/2026-11-23"]
    assert a2["status"] == "expired"  # no-show, reinstated, never served, then a new day
    assert a2["reinstatements"] == 1 and a2["no_show_at"] is None
    assert a2["first_called_at"] == at(*MON, 9, 18)
    b1 = tickets["B001/2026-11-23"]
    assert b1["status"] == "expired" and b1["service"] == "gamma"
    assert b1["transferred_from"] == "beta"
    assert tickets["B002/2026-11-23"]["status"] == "expired"
    assert tickets["C01/2026-11-23"]["status"] == "expired"
    assert tickets["A003/2026-11-23"]["evaluation"] == "very_dissatisfied"
    today = tickets["A001/2026-11-25"]
    assert (today["status"], today["ticket"]) == ("waiting", 7)

    evaluations = await rows(central_db, "SELECT * FROM evaluations ORDER BY seq")
    assert [
        (v["level"], v["bad"], v["service"], v["window_no"], v["staff"]) for v in evaluations
    ] == [
        ("very_satisfied", 0, "alpha", 1, "1001"),
        ("very_dissatisfied", 1, "alpha", 1, "1001"),
    ]
    assert evaluations[1]["reason"] == "等候时间长" and evaluations[1]["day"] == "2026-11-23"

    [away] = await rows(central_db, "SELECT * FROM away_spells")
    assert (away["window_no"], away["staff"], away["kind"], away["seconds"]) == (
        3,
        "1003",
        "away",
        1200.0,
    )
    assert away["started_at"] == at(*MON, 10, 0) and away["ended_at"] == at(*MON, 10, 20)
    assert away["day"] == "2026-11-23"

    staff = await rows(central_db, "SELECT staff, name FROM staff ORDER BY staff")
    assert staff == [
        {"staff": "1001", "name": "张三"},
        {"staff": "1002", "name": "李四"},
        {"staff": "1003", "name": "王五"},
    ]

    [case] = await rows(central_db, "SELECT * FROM cases")
    assert case["case_no"] == "20261123-001"
    # Tuesday 24th is a holiday: Wed, Thu, Fri, Sat 28th (调休 workday), Mon 30th.
    assert case["deadline"] == "2026-11-30"
    assert (case["status"], case["owner"], case["level"]) == ("open", "", "very_dissatisfied")
    assert (case["display"], case["ticket"], case["service"], case["staff"]) == (
        "A003",
        3,
        "alpha",
        "1001",
    )
    assert case["reason"] == "等候时间长" and case["opened_at"] == at(*MON, 9, 46)

    events = await rows(central_db, "SELECT seq, type, data, received_at FROM events ORDER BY seq")
    assert [r["seq"] for r in events] == list(range(1, hall.seq + 1))
    for stored, record in zip(events, hall.records, strict=True):
        assert stored["type"] == e.event_type(record.event)
        assert e.decode_event(stored["data"]) == record.event
    assert events[-1]["received_at"] == NOW + 1

    row = await hall_row(central_db)
    assert row["acked_seq"] == row["live_seq"] == hall.seq
    assert row["last_event_ts"] == at(*WED, 9, 0)
    assert row["name"] == "测试大厅"  # filled in from the uploaded configuration
    live = (await list_halls(central_db))[0]["live"]
    assert (live["day"], live["issued"], live["waiting"], live["served"]) == ("2026-11-25", 1, 1, 0)
    assert all(w["status"] == "closed" for w in live["windows"])


async def test_cases_are_numbered_per_day_across_batches(central_db: Database) -> None:
    hall = Hall()
    hall.run(c.SignIn, at(*MON, 9, 0), window=1, staff="1001")
    ingestor = await new_hall(central_db)
    for i in range(3):
        hall.run(c.IssueTicket, at(*MON, 9, 1 + i), service="alpha")
        hall.run(c.CallNext, at(*MON, 9, 10 + i), window=1)
        hall.run(c.FinishService, at(*MON, 9, 20 + i), window=1)
        hall.run(c.SubmitEvaluation, at(*MON, 9, 30 + i), window=1, level="dissatisfied")
        await ingestor.ingest("h1", hall.batch((await hall_row(central_db))["acked_seq"] + 1), NOW)
    cases = await rows(central_db, "SELECT case_no, deadline FROM cases ORDER BY case_no")
    assert [x["case_no"] for x in cases] == ["20261123-001", "20261123-002", "20261123-003"]
    assert {x["deadline"] for x in cases} == {"2026-11-30"}


def test_follow_up_deadlines_count_the_halls_working_days() -> None:
    timetable = Timetable(parse_config(HALL_TOML))
    assert follow_up_deadline(timetable, "2026-11-23") == "2026-11-30"  # holiday, 调休 Saturday
    assert follow_up_deadline(timetable, "2026-11-25") == "2026-12-01"  # Thu Fri Sat Mon Tue
    plain = Timetable(parse_config(SMALL_HALL_TOML))
    assert follow_up_deadline(plain, "2026-11-23") == "2026-11-30"  # Tue-Fri, then Monday
    assert follow_up_deadline(plain, "2026-11-27") == "2026-12-04"  # a Friday: the next week
    assert case_number("20261123-007") == 7 and case_number("junk") == 0


def test_ticket_rows_carry_the_waits() -> None:
    hall = Hall()
    hall.run(c.SignIn, at(*MON, 9, 0), window=1, staff="1001")
    hall.run(c.IssueTicket, at(*MON, 9, 0), service="alpha", category="green")
    hall.run(c.CallNext, at(*MON, 9, 3), window=1)
    hall.run(c.StartService, at(*MON, 9, 4), window=1)
    hall.run(c.FinishService, at(*MON, 9, 9), window=1)
    row = dict(zip(TICKET_COLUMNS, ticket_row("h1", hall.engine.state.tickets[1]), strict=True))
    assert row["wait_seconds"] == 180.0 and row["service_seconds"] == 300.0
    assert (row["status"], row["category"], row["printed"]) == ("done", "green", None)
    expired = ticket_row("h1", hall.engine.state.tickets[1], expired=True)
    assert expired[TICKET_COLUMNS.index("status")] == "expired"


# ------------------------------------------------------------------ exactly once


async def test_the_same_batch_twice_changes_nothing(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    first = await ingestor.ingest("h1", hall.batch(), NOW)
    before = await dump(central_db, heartbeat=False)
    again = await ingestor.ingest("h1", hall.batch(), NOW + 5)
    assert again == first
    assert await dump(central_db, heartbeat=False) == before
    assert (await hall_row(central_db))["last_seen"] == NOW + 5  # but the hall was heard


async def test_overlapping_batches_store_each_record_once(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    wednesday(hall)
    ingestor = await new_hall(central_db)
    n = hall.seq
    assert (await ingestor.ingest("h1", hall.batch(1, 10), NOW)).acked == 10
    assert (await ingestor.ingest("h1", hall.batch(4, 20), NOW)).acked == 20
    assert (await ingestor.ingest("h1", hall.batch(15, 25), NOW)).acked == 25
    assert (await ingestor.ingest("h1", hall.batch(1, n), NOW)).acked == n
    overlapped = await dump(central_db, heartbeat=False)

    await create_hall(central_db, "h2", "", "", 1.0)
    await ingestor.set_config("h2", hall.upload(), NOW)
    await ingestor.ingest("h2", hall.batch(), NOW)
    whole = await dump(central_db, heartbeat=False)
    for table in HALL_TABLES:
        mine = [r[1:] for r in whole[table] if r[0] == "h1"]
        other = [r[1:] for r in whole[table] if r[0] == "h2"]
        assert mine == other, table
        assert mine == [r[1:] for r in overlapped[table]], table
    assert len([r for r in whole["events"] if r[0] == "h1"]) == n


async def test_a_gap_is_refused_with_where_to_resume(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(1, 8), NOW)
    before = await dump(central_db)
    with pytest.raises(UplinkRefused) as err:
        await ingestor.ingest("h1", hall.batch(10, 20), NOW)
    assert (err.value.code, err.value.status) == ("gap", 409)
    assert err.value.reply.acked == 8
    assert "9" in err.value.message
    assert await dump(central_db) == before
    assert (await ingestor.ingest("h1", hall.batch(9, 20), NOW)).acked == 20


async def test_a_hall_without_its_configuration_is_asked_for_it(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    await create_hall(central_db, "h1", "", "", 1.0)
    ingestor = Ingestor(central_db)
    position = await ingestor.position("h1", NOW)
    assert (position.acked, position.need_config, position.config_digest) == (0, True, "")
    with pytest.raises(UplinkRefused) as err:
        await ingestor.ingest("h1", hall.batch(), NOW)
    assert err.value.code == "need_config" and err.value.reply.need_config
    assert await central_db.fetchval("SELECT count(*) FROM events") == 0
    stored = await ingestor.set_config("h1", hall.upload(), NOW)
    assert stored.config_digest == config_digest(hall.config) and not stored.need_config
    reply = await ingestor.ingest("h1", hall.batch(), NOW)
    assert reply.acked == hall.seq and not reply.need_config


async def test_a_batch_made_under_another_configuration_asks_for_it(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    batch = hall.batch()
    batch.config_digest = "0123456789abcdef"
    reply = await ingestor.ingest("h1", batch, NOW)
    assert reply.acked == hall.seq and reply.need_config  # stored, and "send your config"


async def test_position_is_a_heartbeat(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(1, 7), NOW)
    position = await ingestor.position("h1", NOW + 60)
    assert (position.hall, position.acked, position.need_config) == ("h1", 7, False)
    assert position.config_digest == config_digest(hall.config)
    assert (await hall_row(central_db))["last_seen"] == NOW + 60
    with pytest.raises(NotFound):
        await ingestor.position("nope", NOW)


# ------------------------------------------------------------------ refused, nothing written


def _records(hall: Hall) -> list[e.Record]:
    return [msgspec.structs.replace(r) for r in hall.records]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.records.pop(3), "records[3] has seq 5, expected 4"),
        (lambda b: setattr(b, "first", 2), "records[0] has seq 1, expected 2"),
        (
            lambda b: setattr(b.records[2], "ts", float("nan")),
            "records[2] (seq 3) has an impossible ts",
        ),
        (
            lambda b: setattr(b.records[1], "ts", float("inf")),
            "records[1] (seq 2) has an impossible ts",
        ),
        (lambda b: setattr(b, "first", 0), "first = 0"),
        (lambda b: setattr(b, "protocol", 99), "protocol 99"),
    ],
)
async def test_malformed_batches_are_refused_and_nothing_is_written(
    central_db: Database, change: Any, message: str
) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(1, 2), NOW)
    before = await dump(central_db)
    batch = Batch(first=1, records=_records(hall))
    change(batch)
    with pytest.raises(BadRequest) as err:
        await ingestor.ingest("h1", batch, NOW + 1)
    assert message in err.value.message
    assert err.value.status == 400
    assert await dump(central_db) == before


def test_a_batch_too_large_is_refused() -> None:
    record = e.Record(seq=1, ts=1.0, event=e.DayStarted(day="2026-11-23"))
    records = [msgspec.structs.replace(record, seq=i + 1) for i in range(MAX_BATCH_RECORDS + 1)]
    with pytest.raises(BadRequest, match="batch_too_large"):
        check_batch(Batch(first=1, records=records))
    check_batch(Batch(first=1, records=records[:-1]))


async def test_a_record_the_hall_could_not_have_made_rolls_the_batch_back(
    central_db: Database,
) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(1, 10), NOW)
    before = await dump(central_db)
    good = hall.batch(11, 20).records
    bad = e.Record(
        seq=21,
        ts=good[-1].ts + 1,
        event=e.TicketCalled(ticket=99, display="A099", service="alpha", window=1),
    )
    with pytest.raises(BadRequest) as err:
        await ingestor.ingest("h1", Batch(first=11, records=[*good, bad]), NOW)
    assert err.value.code == "bad_record"
    assert "record seq 21 cannot be applied" in err.value.message
    assert "ticket_called" in err.value.message
    assert await dump(central_db) == before
    # The engine had taken records 11-20: it was thrown away, so they apply again cleanly.
    await send_in_batches_from(ingestor, hall, 11)
    assert hall_state(ingestor._engines["h1"]) == hall_state(hall.engine)


async def send_in_batches_from(ingestor: Ingestor, hall: Hall, first: int) -> None:
    reply = await ingestor.ingest("h1", hall.batch(first), NOW)
    assert reply.acked == hall.seq


async def test_window_numbers_out_of_range_are_refused(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(), NOW)
    before = await dump(central_db)
    bad = e.Record(
        seq=hall.seq + 1, ts=at(*MON, 11), event=e.StaffSignedIn(window=2**40, staff="x")
    )
    with pytest.raises(BadRequest, match="window"):
        await ingestor.ingest("h1", Batch(first=hall.seq + 1, records=[bad]), NOW)
    assert await dump(central_db) == before


async def test_nul_characters_are_taken_out(central_db: Database) -> None:
    hall = Hall()
    hall.run(c.SignIn, at(*MON, 9, 0), window=1, staff="10\x0001", name="张\x00三")
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", without_nul(hall.batch()), NOW)
    staff = await rows(central_db, "SELECT staff, name FROM staff")
    assert staff == [{"staff": "1001", "name": "张三"}]


async def test_an_unknown_hall_is_not_found(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = Ingestor(central_db)
    with pytest.raises(NotFound):
        await ingestor.ingest("nope", hall.batch(), NOW)


# ------------------------------------------------------------------ configuration


async def test_a_bad_configuration_is_refused_with_its_problems(central_db: Database) -> None:
    await create_hall(central_db, "h1", "", "", 1.0)
    ingestor = Ingestor(central_db)
    broken = HALL_TOML.replace('prefix = "A"', 'prefix = "a1"')
    with pytest.raises(BadRequest) as err:
        await ingestor.set_config("h1", HallConfigUpload(text=broken, digest="x"), NOW)
    assert err.value.code == "bad_config"
    assert "prefix" in err.value.message
    with pytest.raises(BadRequest, match="bad_config"):
        await ingestor.set_config("h1", HallConfigUpload(text="[hall", digest="x"), NOW)
    row = await hall_row(central_db)
    assert (row["config_text"], row["config_digest"], row["name"]) == ("", "", "")


async def test_a_new_configuration_renames_services_in_the_live_figures(
    central_db: Database,
) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(), NOW)
    renamed = HALL_TOML.replace('name = "甲事项"', 'name = "户籍办理"\nname_en = "Residence"')
    upload = HallConfigUpload(text=renamed, digest="not-what-we-compute")
    position = await ingestor.set_config("h1", upload, NOW)
    assert position.config_digest == config_digest(parse_config(renamed))  # ours, not theirs
    live = (await list_halls(central_db))[0]["live"]
    alpha = next(s for s in live["services"] if s["code"] == "alpha")
    assert (alpha["name"], alpha["name_en"], alpha["waiting"]) == ("户籍办理", "Residence", 1)
    row = await hall_row(central_db)
    assert row["config_text"] == renamed
    assert row["name"] == "测试大厅"  # filled from the first upload; an admin's name stays
    # The name an admin gave is kept.
    await create_hall(central_db, "h2", "滨海中心", "", 1.0)
    await ingestor.set_config("h2", hall.upload(), NOW)
    assert (await hall_row(central_db, "h2"))["name"] == "滨海中心"


# ------------------------------------------------------------------ several server processes


async def test_a_second_process_catches_up_from_the_events(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    wednesday(hall)
    one = await new_hall(central_db)
    two = Ingestor(central_db)  # another server process on the same database
    await one.ingest("h1", hall.batch(1, 10), NOW)
    await two.ingest("h1", hall.batch(11, 20), NOW)  # builds from the events table
    await one.ingest("h1", hall.batch(21, 25), NOW)  # its engine is behind: catches up
    assert hall.seq > 26
    await two.ingest("h1", hall.batch(26), NOW)
    assert hall_state(two._engines["h1"]) == hall_state(hall.engine)
    statuses = await rows(
        central_db, "SELECT display, status FROM tickets WHERE day = '2026-11-23'"
    )
    assert {r["display"]: r["status"] for r in statuses}["A001"] == "done"
    assert {r["status"] for r in statuses} == {"done", "expired"}


async def test_snapshots_let_a_new_process_start_without_the_old_events(
    central_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest_module, "SNAPSHOT_EVERY", 10)
    hall = Hall()
    monday(hall)
    wednesday(hall)
    one = await new_hall(central_db)
    await one.ingest("h1", hall.batch(1, 6), NOW)
    assert await central_db.fetchval("SELECT count(*) FROM hall_snapshots") == 0
    await one.ingest("h1", hall.batch(7, 23), NOW)  # crosses 10 and 20: one snapshot at 23
    assert await central_db.fetchval("SELECT seq FROM hall_snapshots WHERE hall_id = 'h1'") == 23
    state = await central_db.fetchval("SELECT state FROM hall_snapshots")
    assert '"requests":{}' in state
    # Prove the snapshot is used: without the events it covers, a new process still follows.
    await central_db.execute("DELETE FROM events WHERE seq <= 23")
    two = Ingestor(central_db)
    await two.ingest("h1", hall.batch(24), NOW)
    assert hall_state(two._engines["h1"]) == hall_state(hall.engine)
    expired = await central_db.fetchval("SELECT count(*) FROM tickets WHERE status = 'expired'")
    assert expired == 4


async def test_the_engines_keep_no_request_ids(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await ingestor.ingest("h1", hall.batch(), NOW)
    assert hall.engine.state.requests  # the hall keeps them for its idempotency
    assert ingestor._engines["h1"].state.requests == {}


async def test_engines_beyond_the_cache_are_rebuilt_when_needed(central_db: Database) -> None:
    hall = Hall()
    monday(hall)
    ingestor = await new_hall(central_db)
    await create_hall(central_db, "h2", "", "", 1.0)
    await ingestor.set_config("h2", hall.upload(), NOW)
    ingestor.max_engines = 1
    for first, last in ((1, 9), (10, 19), (20, hall.seq)):
        for hall_id in ("h1", "h2"):  # each evicts the other's engine
            assert (await ingestor.ingest(hall_id, hall.batch(first, last), NOW)).acked == last
    assert list(ingestor._engines) == ["h2"]
    assert hall_state(ingestor._engines["h2"]) == hall_state(hall.engine)
    counts = await rows(central_db, "SELECT hall_id, count(*) AS n FROM tickets GROUP BY hall_id")
    assert sorted((r["hall_id"], r["n"]) for r in counts) == [("h1", 6), ("h2", 6)]
