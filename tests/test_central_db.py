"""The central database adapter and migrations, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from hallq.central.db import Database, DatabaseError, connect, percentile, sqlite_path
from hallq.central.schema import LATEST, migrate


async def test_migrations_apply_once(central_db: Database) -> None:
    assert await migrate(central_db) == []
    assert await central_db.fetchval("SELECT max(version) FROM schema_migrations") == LATEST


async def test_numbered_parameters_and_percentile(central_db: Database) -> None:
    async with central_db.transaction() as tx:
        await tx.execute(
            "INSERT INTO halls (hall_id, name, name_en, created_at) VALUES ($1, $2, $2, $3)",
            "h1",
            "一号大厅",
            1.0,
        )
        rows = [("h1", seq, float(seq), "x", "{}", 0.0) for seq in range(1, 11)]
        await tx.copy_rows("events", ["hall_id", "seq", "ts", "type", "data", "received_at"], rows)
        locked = await tx.lock_hall("h1")
        assert locked is not None and locked["name_en"] == "一号大厅"
        assert await tx.lock_hall("nope") is None
    p90 = await central_db.fetchval(f"SELECT {central_db.p90('ts')} FROM events")
    assert p90 == pytest.approx(percentile([float(i) for i in range(1, 11)], 0.9))
    assert p90 == pytest.approx(9.1)


async def test_a_failed_transaction_leaves_nothing(central_db: Database) -> None:
    with pytest.raises(DatabaseError):
        async with central_db.transaction() as tx:
            await tx.execute(
                "INSERT INTO halls (hall_id, name, created_at) VALUES ($1, $2, $3)", "h2", "二", 1.0
            )
            await tx.execute(
                "INSERT INTO halls (hall_id, name, created_at) VALUES ($1, $2, $3)", "h2", "二", 1.0
            )
    assert await central_db.fetchval("SELECT count(*) FROM halls") == 0


async def test_bad_urls_say_what_to_write() -> None:
    with pytest.raises(DatabaseError, match="sqlite:///"):
        await connect("mysql://x")
    with pytest.raises(DatabaseError, match="cannot connect"):
        await connect("postgresql://nobody:secret@127.0.0.1:1/none")
    assert str(sqlite_path("sqlite:///data/c.sqlite3")) == "data/c.sqlite3"
    assert str(sqlite_path("sqlite:////var/lib/c.sqlite3")) == "/var/lib/c.sqlite3"
