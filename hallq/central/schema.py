"""The central server's tables, and the migrations that bring a database up to date.

Every table about a hall's data has the hall id as the first column of its primary key, so
the data can be sharded by hall later (Citus: `create_distributed_table(t, 'hall_id')`).
Times are seconds since the epoch (DOUBLE PRECISION); days are 'YYYY-MM-DD' in the hall's
own zone; flags are INTEGER 0/1. "window" is a reserved word in SQL: the column is window_no.

A migration is a list of statements, applied once, in order, in one transaction, and
recorded in schema_migrations. Never edit a released migration: add the next one.
"""

from __future__ import annotations

import time

from hallq.central.db import Database, DatabaseError

MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "halls, tokens, events, projections, cases, users",
        [
            # A hall that reports here. `live` is a JSON object of its figures after the
            # last batch (hallq/central/live.py writes it); acked_seq is how far its log is here.
            """CREATE TABLE halls (
                hall_id        TEXT PRIMARY KEY,
                name           TEXT NOT NULL,
                name_en        TEXT NOT NULL DEFAULT '',
                created_at     DOUBLE PRECISION NOT NULL,
                acked_seq      BIGINT NOT NULL DEFAULT 0,
                last_event_ts  DOUBLE PRECISION,
                last_seen      DOUBLE PRECISION,
                config_digest  TEXT NOT NULL DEFAULT '',
                config_text    TEXT NOT NULL DEFAULT '',
                live           TEXT NOT NULL DEFAULT '{}',
                live_seq       BIGINT NOT NULL DEFAULT 0
            )""",
            # The hall's uplink tokens: only a hash is kept; the token is shown once.
            """CREATE TABLE hall_tokens (
                token_hash    TEXT PRIMARY KEY,
                hall_id       TEXT NOT NULL REFERENCES halls (hall_id),
                token_id      TEXT NOT NULL,
                label         TEXT NOT NULL DEFAULT '',
                created_at    DOUBLE PRECISION NOT NULL,
                created_by    TEXT NOT NULL DEFAULT '',
                last_used_at  DOUBLE PRECISION,
                revoked_at    DOUBLE PRECISION,
                revoked_by    TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX hall_tokens_hall ON hall_tokens (hall_id)",
            # Every event of every hall, as the hall logged it (data: the event's JSON).
            """CREATE TABLE events (
                hall_id      TEXT NOT NULL,
                seq          BIGINT NOT NULL,
                ts           DOUBLE PRECISION NOT NULL,
                type         TEXT NOT NULL,
                request      TEXT,
                command      TEXT,
                data         TEXT NOT NULL,
                received_at  DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (hall_id, seq)
            )""",
            # The hall's state rebuilt by the hall's own engine, saved now and then so that
            # a server process that has not seen the hall yet does not replay everything.
            """CREATE TABLE hall_snapshots (
                hall_id   TEXT PRIMARY KEY,
                seq       BIGINT NOT NULL,
                state     TEXT NOT NULL,
                saved_at  DOUBLE PRECISION NOT NULL
            )""",
            # One row per ticket, kept up to date from the events (its latest state).
            """CREATE TABLE tickets (
                hall_id          TEXT NOT NULL,
                ticket           BIGINT NOT NULL,
                day              TEXT NOT NULL,
                service          TEXT NOT NULL,
                number           INTEGER NOT NULL,
                display          TEXT NOT NULL,
                category         TEXT,
                appointment      TEXT,
                kiosk            TEXT,
                status           TEXT NOT NULL,
                issued_at        DOUBLE PRECISION NOT NULL,
                first_called_at  DOUBLE PRECISION,
                called_at        DOUBLE PRECISION,
                started_at       DOUBLE PRECISION,
                finished_at      DOUBLE PRECISION,
                no_show_at       DOUBLE PRECISION,
                ended_at         DOUBLE PRECISION,
                wait_seconds     DOUBLE PRECISION,
                service_seconds  DOUBLE PRECISION,
                estimate_minutes DOUBLE PRECISION,
                window_no        INTEGER,
                staff            TEXT,
                evaluation       TEXT,
                transferred_from TEXT NOT NULL DEFAULT '',
                recalls          INTEGER NOT NULL DEFAULT 0,
                reinstatements   INTEGER NOT NULL DEFAULT 0,
                printed          INTEGER,
                PRIMARY KEY (hall_id, ticket)
            )""",
            "CREATE INDEX tickets_day ON tickets (hall_id, day)",
            # Each evaluation (好差评) as given.
            """CREATE TABLE evaluations (
                hall_id    TEXT NOT NULL,
                seq        BIGINT NOT NULL,
                ts         DOUBLE PRECISION NOT NULL,
                day        TEXT NOT NULL,
                ticket     BIGINT NOT NULL,
                service    TEXT NOT NULL DEFAULT '',
                window_no  INTEGER,
                staff      TEXT,
                level      TEXT NOT NULL,
                bad        INTEGER NOT NULL DEFAULT 0,
                reason     TEXT NOT NULL DEFAULT '',
                PRIMARY KEY (hall_id, seq)
            )""",
            "CREATE INDEX evaluations_day ON evaluations (hall_id, day)",
            # A window's away (请稍候) or paused (暂停服务) spell, written when it ends.
            """CREATE TABLE away_spells (
                hall_id     TEXT NOT NULL,
                seq         BIGINT NOT NULL,
                day         TEXT NOT NULL,
                window_no   INTEGER NOT NULL,
                staff       TEXT,
                kind        TEXT NOT NULL,
                started_at  DOUBLE PRECISION NOT NULL,
                ended_at    DOUBLE PRECISION NOT NULL,
                seconds     DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (hall_id, seq)
            )""",
            "CREATE INDEX away_spells_day ON away_spells (hall_id, day)",
            # The staff a hall has seen sign in, with the name they signed in with.
            """CREATE TABLE staff (
                hall_id    TEXT NOT NULL,
                staff      TEXT NOT NULL,
                name       TEXT NOT NULL DEFAULT '',
                last_seen  DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (hall_id, staff)
            )""",
            # 回访: a follow-up case for every bad review.
            """CREATE TABLE cases (
                hall_id     TEXT NOT NULL,
                case_no     TEXT NOT NULL,
                eval_seq    BIGINT NOT NULL,
                ticket      BIGINT NOT NULL,
                display     TEXT NOT NULL DEFAULT '',
                day         TEXT NOT NULL,
                opened_at   DOUBLE PRECISION NOT NULL,
                deadline    TEXT NOT NULL,
                level       TEXT NOT NULL,
                reason      TEXT NOT NULL DEFAULT '',
                service     TEXT NOT NULL DEFAULT '',
                window_no   INTEGER,
                staff       TEXT,
                owner       TEXT NOT NULL DEFAULT '',
                status      TEXT NOT NULL DEFAULT 'open',
                note        TEXT NOT NULL DEFAULT '',
                updated_at  DOUBLE PRECISION NOT NULL,
                updated_by  TEXT NOT NULL DEFAULT '',
                closed_at   DOUBLE PRECISION,
                PRIMARY KEY (hall_id, case_no),
                UNIQUE (hall_id, eval_seq)
            )""",
            "CREATE INDEX cases_status ON cases (status, deadline)",
            # People who sign in to the central server. role: city_admin | hall_manager.
            """CREATE TABLE users (
                username       TEXT PRIMARY KEY,
                display_name   TEXT NOT NULL DEFAULT '',
                password_hash  TEXT NOT NULL,
                role           TEXT NOT NULL,
                hall_id        TEXT REFERENCES halls (hall_id),
                created_at     DOUBLE PRECISION NOT NULL,
                failed_logins  INTEGER NOT NULL DEFAULT 0,
                locked_until   DOUBLE PRECISION NOT NULL DEFAULT 0,
                disabled       INTEGER NOT NULL DEFAULT 0
            )""",
            """CREATE TABLE sessions (
                token_hash  TEXT PRIMARY KEY,
                username    TEXT NOT NULL REFERENCES users (username),
                csrf        TEXT NOT NULL,
                created_at  DOUBLE PRECISION NOT NULL,
                last_seen   DOUBLE PRECISION NOT NULL
            )""",
            "CREATE INDEX sessions_user ON sessions (username)",
            # Settings of the central server, e.g. month_start_day for the monthly reports.
            """CREATE TABLE settings (
                key    TEXT PRIMARY KEY,
                value  TEXT NOT NULL
            )""",
        ],
    ),
]

LATEST = MIGRATIONS[-1][0]


async def migrate(db: Database) -> list[int]:
    """Apply the migrations the database has not had; the versions applied now."""
    async with db.transaction() as tx:
        await tx.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
    applied: list[int] = []
    for version, name, statements in MIGRATIONS:
        async with db.transaction() as tx:
            # Two servers starting at once: PostgreSQL serialises them on this lock.
            if db.dialect == "postgresql":
                await tx.execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            done = await tx.fetchval("SELECT 1 FROM schema_migrations WHERE version = $1", version)
            if done:
                continue
            for statement in statements:
                await tx.execute(statement)
            await tx.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                version,
                name,
                time.time(),
            )
            applied.append(version)
    newest = await db.fetchval("SELECT max(version) FROM schema_migrations")
    if newest is not None and int(newest) > LATEST:
        raise DatabaseError(
            f"the database was set up by a newer hallq (schema {newest}, this one knows "
            f"{LATEST}); upgrade hallq on this server"
        )
    return applied
