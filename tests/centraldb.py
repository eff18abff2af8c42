"""The central server's databases for tests: SQLite in a temporary folder and PostgreSQL.

`central_db_url` is parametrised over both; each PostgreSQL test gets a schema of its own
(dropped afterwards) in the database named by HALLQ_TEST_POSTGRES (default: the local
server's `test` database). Without a reachable server the PostgreSQL cases skip and say
why, except under CI (CI=true), where they must run and an unreachable server fails them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hallq.central.db import Database, DatabaseError, PostgresDatabase, connect

POSTGRES = os.environ.get("HALLQ_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
_reachable: dict[str, str | None] = {}


def postgres_problem() -> str | None:
    """None when the test server answers; otherwise why not."""
    if POSTGRES not in _reachable:

        async def probe() -> str | None:
            try:
                import asyncpg
            except ImportError:
                return "asyncpg is not installed (pip install 'hallq[postgres]')"
            try:
                conn = await asyncpg.connect(POSTGRES, timeout=5)
            except Exception as e:
                return f"no PostgreSQL at {POSTGRES}: {e}"
            await conn.close()
            return None

        _reachable[POSTGRES] = asyncio.run(probe())
    return _reachable[POSTGRES]


def need_postgres() -> None:
    problem = postgres_problem()
    if problem is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI must run the PostgreSQL tests, but {problem}")
    pytest.skip(f"PostgreSQL tests skipped: {problem} (set HALLQ_TEST_POSTGRES)")


def postgres_url(schema: str) -> str:
    sep = "&" if "?" in POSTGRES else "?"
    return f"{POSTGRES}{sep}schema={schema}"


@pytest.fixture(params=["sqlite", "postgresql"])
def central_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str] | str:
    """A database URL for the central server: each backend in turn, empty."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'central.sqlite3'}"
    need_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: asyncio.run(_drop(schema)))
    return postgres_url(schema)


async def _drop(schema: str) -> None:
    try:
        db = await connect(postgres_url(schema))
    except DatabaseError:
        return
    assert isinstance(db, PostgresDatabase)
    await db.drop_schema(schema)
    await db.close()


@pytest.fixture
async def central_db(central_db_url: str) -> AsyncIterator[Database]:
    """An open, migrated central database (each backend in turn)."""
    from hallq.central.schema import migrate

    db = await connect(central_db_url)
    await migrate(db)
    yield db
    await db.close()
