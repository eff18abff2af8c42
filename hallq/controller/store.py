"""The durable event log: SQLite in WAL mode, append-only, one row per event.

Synchronous level: FULL. In WAL mode, NORMAL survives a crash of the process but not a power
cut: the last committed transactions can vanish when the SD card loses power before the WAL
is synced. A hall acknowledges a ticket only after it is committed, and the citizen holds
the printed slip, so each commit must reach the card: FULL syncs the WAL on every commit.
The writer batches the commands that arrive together into one transaction, so one sync
serves many commands (group commit).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import msgspec

from hallq.errors import StorageError
from hallq.hall.events import Record, decode_event, encode_event
from hallq.hall.state import HallState, snapshot_decoder, snapshot_encoder

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq      INTEGER PRIMARY KEY,
    ts       REAL    NOT NULL,
    type     TEXT    NOT NULL,
    request  TEXT,
    command  TEXT,
    data     BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
    seq      INTEGER PRIMARY KEY,
    ts       REAL    NOT NULL,
    version  INTEGER NOT NULL,
    state    BLOB    NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    key      TEXT PRIMARY KEY,
    value    TEXT NOT NULL
);
"""


class EventLog:
    """Append and read the hall's events. One connection, used by one thread at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            self._check_version()
        except sqlite3.DatabaseError as e:
            raise StorageError(f"{self.path}: cannot open the event log: {e}") from e
        self._lock = threading.Lock()

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StorageError(
                f"{self.path} was written by a newer hallq (schema {row[0]}); upgrade hallq"
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def append(self, records: list[Record]) -> None:
        """Commit `records` in one transaction; nothing is written if anything fails."""
        if not records:
            return
        rows = [
            (
                r.seq,
                r.ts,
                r.event.__struct_config__.tag,
                r.request,
                r.command,
                encode_event(r.event),
            )
            for r in records
        ]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    "INSERT INTO events (seq, ts, type, request, command, data) VALUES (?,?,?,?,?,?)",
                    rows,
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"{self.path}: event log write failed: {e}") from e

    def last_seq(self) -> int:
        with self._lock:
            row = self._db.execute("SELECT max(seq) FROM events").fetchone()
        return int(row[0] or 0)

    def last_ts(self) -> float | None:
        """When the newest event happened (None for an empty log)."""
        with self._lock:
            row = self._db.execute("SELECT ts FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return float(row[0]) if row else None

    def read_after(self, seq: int, limit: int = 10_000) -> list[Record]:
        """Up to `limit` records with sequence numbers above `seq`, in order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, ts, request, command, data FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        return [
            Record(seq=s, ts=ts, request=rq, command=cmd, event=decode_event(d))
            for s, ts, rq, cmd, d in rows
        ]

    def read_range(self, first: int, last: int) -> list[Record]:
        return [r for r in self.read_after(first - 1, last - first + 1) if r.seq <= last]

    def iter_after(self, seq: int, batch: int = 20_000) -> Iterator[Record]:
        """Every record after `seq`, read in batches (replay at start)."""
        while True:
            chunk = self.read_after(seq, batch)
            if not chunk:
                return
            yield from chunk
            seq = chunk[-1].seq

    def save_snapshot(self, state: HallState, ts: float) -> None:
        blob = snapshot_encoder.encode(state)
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.execute(
                    "INSERT OR REPLACE INTO snapshots (seq, ts, version, state) VALUES (?,?,?,?)",
                    (state.seq, ts, state.version, blob),
                )
                # Keep the newest three: an older one is a fallback if the newest is unreadable.
                self._db.execute(
                    "DELETE FROM snapshots WHERE seq NOT IN "
                    "(SELECT seq FROM snapshots ORDER BY seq DESC LIMIT 3)"
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as e:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise StorageError(f"{self.path}: snapshot write failed: {e}") from e

    def latest_snapshot(self, version: int) -> HallState | None:
        """The newest readable snapshot of this state version, or None."""
        with self._lock:
            rows = self._db.execute(
                "SELECT state FROM snapshots WHERE version = ? ORDER BY seq DESC", (version,)
            ).fetchall()
        for (blob,) in rows:
            try:
                return snapshot_decoder.decode(blob)
            except msgspec.DecodeError:
                continue
        return None
