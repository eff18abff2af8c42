"""The central server's database: SQLite (embedded, the default) or PostgreSQL (asyncpg).

One small async interface over both, so the rest of the central server writes its SQL once:

- SQL is written in PostgreSQL's style with `$1, $2 …` parameters; for SQLite they become
  `?1, ?2 …` (SQLite's numbered parameters), so a parameter may be used twice.
- Types that both accept: TEXT, BIGINT, INTEGER, DOUBLE PRECISION (timestamps are seconds
  since the epoch), and INTEGER 0/1 for flags. `INSERT … ON CONFLICT … DO UPDATE/NOTHING`
  works in both (SQLite ≥ 3.24).
- `db.p90(expr)` is the 90th percentile aggregate (linear interpolation, as PostgreSQL's
  `percentile_cont(0.9)`): a built-in there, a registered aggregate in SQLite.
- `async with db.transaction() as tx:` runs statements in one transaction; `tx.lock_hall`
  serialises the writers of one hall (a row lock in PostgreSQL; SQLite has one writer).

URLs: `sqlite:///relative/path.sqlite3`, `sqlite:////absolute/path.sqlite3`,
`postgresql://user@host:5432/db` (also `postgres://`). A `?schema=NAME` on a PostgreSQL URL
puts every table in that schema (the tests use one schema each; it is created if missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit, urlunsplit

from hallq.errors import HallqError

Dialect = Literal["sqlite", "postgresql"]
T = TypeVar("T")

_PARAM = re.compile(r"\$(\d+)")


class DatabaseError(HallqError):
    """The database refused or could not be reached; the message says which and why."""


class Row(Protocol):
    """A result row: by column name or position (sqlite3.Row and asyncpg.Record both are)."""

    def __getitem__(self, key: str | int, /) -> Any: ...

    def keys(self) -> Any: ...


class Tx(Protocol):
    """Statements inside one transaction."""

    async def execute(self, sql: str, *args: Any) -> None: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any: ...

    async def copy_rows(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert many new rows at once (COPY in PostgreSQL); conflicts are errors."""
        ...

    async def lock_hall(self, hall_id: str) -> Row | None:
        """Lock the hall's row until the transaction ends; its row, or None if no such hall."""
        ...


class Database:
    """The interface; `connect(url)` returns the implementation for the URL."""

    dialect: Dialect
    url: str

    async def execute(self, sql: str, *args: Any) -> None:
        async with self.transaction() as tx:
            await tx.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as tx:
            await tx.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        raise NotImplementedError

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return row[0] if row is not None else None

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Tx]:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    def p90(self, expr: str) -> str:
        """The SQL for the 90th percentile of `expr` over a group."""
        if self.dialect == "postgresql":
            return f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {expr})"
        return f"p90({expr})"

    def describe(self) -> str:
        """The URL without a password, for logs and the admin page."""
        parts = urlsplit(self.url)
        if parts.password:
            netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
            return urlunsplit(parts._replace(netloc=netloc))
        return self.url


async def connect(url: str, *, pool_size: int = 10) -> Database:
    """Open the database at `url` (see the module's docstring for the forms)."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        return await SqliteDatabase.open(url)
    if scheme in ("postgresql", "postgres"):
        return await PostgresDatabase.open(url, pool_size)
    raise DatabaseError(
        f"unknown database URL {url!r}: use sqlite:///path/central.sqlite3 "
        "or postgresql://user@host:5432/database"
    )


# ------------------------------------------------------------------ SQLite


class _P90:
    """The 90th percentile with linear interpolation (as percentile_cont(0.9))."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(float(value))

    def finalize(self) -> float | None:
        return percentile(self.values, 0.9)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th quantile of `values` with linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def sqlite_path(url: str) -> Path:
    """`sqlite:///rel.sqlite3` → rel.sqlite3; `sqlite:////abs/x.sqlite3` → /abs/x.sqlite3."""
    rest = url.split(":", 1)[1]
    if not rest.startswith("//"):
        raise DatabaseError(f"{url!r}: write sqlite:///path/to/file.sqlite3")
    path = rest[2:].split("?", 1)[0]
    if path.startswith("/"):
        path = path[1:]  # sqlite:///x → x ; sqlite:////abs → /abs
    if not path:
        raise DatabaseError(f"{url!r}: no file named; write sqlite:///path/to/file.sqlite3")
    return Path(path)


class SqliteDatabase(Database):
    """One connection in WAL mode, used from one worker thread; writers take turns."""

    dialect: Dialect = "sqlite"

    def __init__(self, url: str, db: sqlite3.Connection, worker: ThreadPoolExecutor) -> None:
        self.url = url
        self._db = db
        self._worker = worker
        self._lock = asyncio.Lock()  # one transaction at a time (SQLite has one writer)

    @classmethod
    async def open(cls, url: str) -> SqliteDatabase:
        path = sqlite_path(url)
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hallq-central-sqlite")

        def _open() -> sqlite3.Connection:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a crash
            db.execute("PRAGMA busy_timeout=10000")
            db.execute("PRAGMA foreign_keys=ON")
            db.create_aggregate("p90", 1, _P90)  # type: ignore[arg-type]
            return db

        try:
            db = await asyncio.get_running_loop().run_in_executor(worker, _open)
        except (sqlite3.Error, OSError) as e:
            worker.shutdown(wait=False)
            raise DatabaseError(f"cannot open {path}: {e}") from e
        return cls(url, db, worker)

    async def _run(self, fn: Callable[[], T]) -> T:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._worker, fn)
        except sqlite3.Error as e:
            raise DatabaseError(str(e)) from e

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        q = _sqlite_sql(sql)
        async with self._lock:
            return await self._run(lambda: self._db.execute(q, args).fetchall())

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        async with self._lock:
            await self._run(lambda: self._db.execute("BEGIN IMMEDIATE"))
            tx = _SqliteTx(self)
            try:
                yield tx
            except BaseException:
                await self._run(self._rollback)
                raise
            else:
                await self._run(lambda: self._db.execute("COMMIT"))

    def _rollback(self) -> None:
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    async def close(self) -> None:
        async with self._lock:
            await self._run(self._db.close)
        self._worker.shutdown(wait=True)


class _SqliteTx:
    def __init__(self, db: SqliteDatabase) -> None:
        self._owner = db
        self._db = db._db

    async def execute(self, sql: str, *args: Any) -> None:
        q = _sqlite_sql(sql)
        await self._owner._run(lambda: self._db.execute(q, args))

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        q = _sqlite_sql(sql)
        data = list(rows)
        if data:
            await self._owner._run(lambda: self._db.executemany(q, data))

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        q = _sqlite_sql(sql)
        return await self._owner._run(lambda: self._db.execute(q, args).fetchall())

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        q = _sqlite_sql(sql)
        row: Row | None = await self._owner._run(lambda: self._db.execute(q, args).fetchone())
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return row[0] if row is not None else None

    async def copy_rows(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        marks = ",".join(f"?{i + 1}" for i in range(len(columns)))
        q = f"INSERT INTO {table} ({','.join(columns)}) VALUES ({marks})"
        if rows:
            await self._owner._run(lambda: self._db.executemany(q, rows))

    async def lock_hall(self, hall_id: str) -> Row | None:
        # BEGIN IMMEDIATE already holds SQLite's write lock: this transaction is the only writer.
        return await self.fetchrow("SELECT * FROM halls WHERE hall_id = $1", hall_id)


def _sqlite_sql(sql: str) -> str:
    return _PARAM.sub(r"?\1", sql)


# ------------------------------------------------------------------ PostgreSQL


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: str, pool: Any) -> None:
        self.url = url
        self._pool = pool

    @classmethod
    async def open(cls, url: str, pool_size: int) -> PostgresDatabase:
        try:
            import asyncpg
        except ImportError as e:  # pragma: no cover - depends on the installation
            raise DatabaseError(
                "PostgreSQL needs the asyncpg package: pip install 'hallq[postgres]'"
            ) from e
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        schema = (query.pop("schema", [""]) or [""])[0]
        if schema and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
            raise DatabaseError(f"schema {schema!r}: use lower-case letters, digits and _")
        rest = "&".join(f"{k}={v}" for k, vs in query.items() for v in vs)
        dsn = urlunsplit(parts._replace(scheme="postgresql", query=rest))
        settings = {"search_path": schema} if schema else {}
        try:
            if schema:
                conn = await asyncpg.connect(dsn, timeout=10)
                try:
                    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                finally:
                    await conn.close()
            pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=pool_size,
                server_settings=settings,
                timeout=10,
                command_timeout=120,
            )
        except (TimeoutError, OSError, asyncpg.PostgresError) as e:
            shown = cls(url, None).describe()
            raise DatabaseError(f"cannot connect to {shown}: {e}") from e
        return cls(url, pool)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = await self._pool.fetch(sql, *args)
        except Exception as e:
            raise _pg_error(e) from e
        return rows

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                yield _PostgresTx(conn)
        except DatabaseError:
            raise
        except Exception as e:
            raise _pg_error(e) from e

    async def close(self) -> None:
        await self._pool.close()

    async def drop_schema(self, schema: str) -> None:
        """For tests: remove a schema made with ?schema= and everything in it."""
        await self._pool.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _pg_error(e: Exception) -> Exception:
    import asyncpg

    if isinstance(e, asyncpg.PostgresError | OSError):
        return DatabaseError(str(e))
    return e


class _PostgresTx:
    def __init__(self, conn: Any) -> None:
        self._conn = conn

    async def execute(self, sql: str, *args: Any) -> None:
        await self._conn.execute(sql, *args)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        data = list(rows)
        if data:
            await self._conn.executemany(sql, data)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        rows: list[Row] = await self._conn.fetch(sql, *args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._conn.fetchrow(sql, *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._conn.fetchval(sql, *args)

    async def copy_rows(
        self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]
    ) -> None:
        if rows:
            await self._conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def lock_hall(self, hall_id: str) -> Row | None:
        row: Row | None = await self._conn.fetchrow(
            "SELECT * FROM halls WHERE hall_id = $1 FOR UPDATE", hall_id
        )
        return row
