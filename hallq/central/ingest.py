"""Ingest: a hall's batch of events → the events table and the projections, in one transaction.

One `Ingestor` per server process. Under the hall's row lock (`tx.lock_hall`) a batch is
checked against what is stored (`halls.acked_seq`): records already here are skipped, so a
resent batch changes nothing; a batch that starts past the next expected record is refused
with 409 `gap` and the position to resume from. The new records are applied to the hall's
own engine (hallq.hall.engine, the same rules code as the hall's controller) and everything
they change is written: events, tickets, evaluations, away spells, staff, follow-up cases,
the hall's live figures and position. Anything that fails rolls the whole batch back.

The engines are a cache: an engine is used only if its sequence number is the one stored
under the lock; otherwise it is brought up to date from the events table, or rebuilt from
the hall's latest snapshot and the events after it. That is what lets several stateless
server processes share one PostgreSQL: whichever process takes a hall's batch catches up.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import msgspec

from hallq.central.db import Database, DatabaseError, Tx
from hallq.central.live import live_figures
from hallq.central.projection import (
    AWAY_COLUMNS,
    CASE_COLUMNS,
    EVALUATION_COLUMNS,
    EVENT_COLUMNS,
    STAFF_COLUMNS,
    TICKET_COLUMNS,
    TICKET_TYPES,
    BatchRows,
    apply_batch,
    case_number,
    case_rows,
)
from hallq.errors import BadRequest, CommandRejected, ConfigError, NotFound
from hallq.hall.config import HallConfig, parse_config
from hallq.hall.engine import Engine
from hallq.hall.events import Record, decode_event
from hallq.hall.reconfigure import config_digest, config_from_log
from hallq.hall.schedule import Timetable
from hallq.hall.shipping import (
    MAX_BATCH_RECORDS,
    MAX_CONFIG_BYTES,
    PROTOCOL,
    Batch,
    BatchReply,
    HallConfigUpload,
    Position,
)
from hallq.hall.state import STATE_VERSION, snapshot_decoder, snapshot_encoder

log = logging.getLogger("hallq.central.ingest")

SNAPSHOT_EVERY = 20_000  # events per hall between saved snapshots of its state
CATCH_UP_LIMIT = SNAPSHOT_EVERY  # further behind than this: rebuild from the snapshot
MAX_SEQ = 2**62
MAX_TS = 253_402_300_799.0  # 9999-12-31: a time the calendar can hold
_live_encoder = msgspec.json.Encoder()


class UplinkRefused(CommandRejected):
    """A batch refused for where it stands (gap, no configuration); `reply` says where."""

    def __init__(self, code: str, message: str, reply: BatchReply) -> None:
        super().__init__(code, message, 409)
        self.reply = reply


class Ingestor:
    """Takes halls' batches and configurations; keeps each hall's engine between batches."""

    def __init__(self, db: Database, max_engines: int = 5000) -> None:
        self.db = db
        self.max_engines = max_engines
        self._engines: dict[str, Engine] = {}
        self._configs: dict[str, HallConfig] = {}  # by digest
        self._timetables: dict[str, Timetable] = {}  # by digest

    # ------------------------------------------------------------ the uplink protocol

    async def position(self, hall_id: str, now: float) -> Position:
        """What this server has of the hall (and the hall was heard from: last_seen)."""
        async with self.db.transaction() as tx:
            await tx.execute("UPDATE halls SET last_seen = $2 WHERE hall_id = $1", hall_id, now)
            row = await tx.fetchrow(
                "SELECT acked_seq, config_digest, config_text <> '' AS has_config"
                " FROM halls WHERE hall_id = $1",
                hall_id,
            )
        if row is None:
            raise _no_such_hall(hall_id)
        return Position(
            hall=hall_id,
            acked=int(row["acked_seq"]),
            config_digest=row["config_digest"],
            need_config=not row["has_config"],
        )

    async def set_config(self, hall_id: str, upload: HallConfigUpload, now: float) -> Position:
        """Store the configuration in effect at the hall (it names services and windows)."""
        if len(upload.text.encode("utf-8", "surrogatepass")) > MAX_CONFIG_BYTES:
            raise BadRequest(
                "bad_config", f"the configuration is larger than {MAX_CONFIG_BYTES} bytes"
            )
        try:
            cfg = parse_config(upload.text, "上传的配置 / uploaded configuration")
        except ConfigError as err:
            raise BadRequest("bad_config", "; ".join(err.problems)) from None
        digest = config_digest(cfg)
        if upload.digest and upload.digest != digest:
            log.info(
                "hall %s sent configuration digest %s; computed here: %s (kept ours)",
                hall_id,
                upload.digest,
                digest,
            )
        self._configs[digest] = cfg
        async with self.db.transaction() as tx:
            row = await tx.lock_hall(hall_id)
            if row is None:
                raise _no_such_hall(hall_id)
            acked = int(row["acked_seq"])
            live: str | None = None
            engine = self._engines.get(hall_id)
            if engine is not None and engine.state.seq == acked:
                _switch_config(engine, cfg)
                if acked:
                    live = _encode_live(engine, row["last_event_ts"] or 0.0)
            else:
                self._engines.pop(hall_id, None)
            await tx.execute(
                "UPDATE halls SET config_text = $2, config_digest = $3, last_seen = $4,"
                " name = CASE WHEN name = '' THEN $5 ELSE name END,"
                " name_en = CASE WHEN name_en = '' THEN $6 ELSE name_en END,"
                " live = COALESCE($7, live)"
                " WHERE hall_id = $1",
                hall_id,
                upload.text,
                digest,
                now,
                cfg.hall.name.strip()[:100],
                cfg.hall.name_en.strip()[:100],
                live,
            )
        return Position(hall=hall_id, acked=acked, config_digest=digest, need_config=False)

    async def ingest(self, hall_id: str, batch: Batch, now: float) -> BatchReply:
        """Store the batch's new records and everything they change; the reply says how far."""
        check_batch(batch)
        async with self.db.transaction() as tx:
            row = await tx.lock_hall(hall_id)
            if row is None:
                raise _no_such_hall(hall_id)
            acked = int(row["acked_seq"])
            digest = str(row["config_digest"])
            has_config = bool(row["config_text"])
            need_config = not has_config or bool(
                batch.config_digest and batch.config_digest != digest
            )
            reply = BatchReply(
                hall=hall_id, acked=acked, config_digest=digest, need_config=need_config
            )
            records = batch.records[max(0, acked + 1 - batch.first) :]
            if not records:  # all here already: a resend after a lost reply, or a heartbeat
                await tx.execute("UPDATE halls SET last_seen = $2 WHERE hall_id = $1", hall_id, now)
                return reply
            if records[0].seq != acked + 1:
                raise UplinkRefused(
                    "gap",
                    f"缺少记录：本服务器已有到 {acked} 号，此批从 {records[0].seq} 号开始 / "
                    f"Records missing: this server has up to seq {acked}, the batch starts at "
                    f"{records[0].seq}; resend from {acked + 1}",
                    reply,
                )
            if not has_config:
                raise UplinkRefused(
                    "need_config",
                    "请先上传大厅配置 / Send the hall's configuration first "
                    "(PUT /api/uplink/config)",
                    reply,
                )
            engine = await self._engine_for(tx, hall_id, row)
            try:
                rows = apply_batch(engine, hall_id, records, now)
                engine.state.requests.clear()  # idempotency keys are the hall's business
                _switch_config(engine, self._config_of(hall_id, row))
                new_acked = records[-1].seq
                live = _encode_live(engine, rows.last_ts)
                await self._write(tx, hall_id, engine, rows, now)
                if new_acked // SNAPSHOT_EVERY > acked // SNAPSHOT_EVERY:
                    await save_snapshot(tx, hall_id, engine, now)
                await tx.execute(
                    "UPDATE halls SET acked_seq = $2, last_event_ts = $3, last_seen = $4,"
                    " live = $5, live_seq = $2 WHERE hall_id = $1",
                    hall_id,
                    new_acked,
                    rows.last_ts,
                    now,
                    live,
                )
            except BaseException:
                # The engine has taken records that will not be stored: it is wrong now.
                self._engines.pop(hall_id, None)
                raise
        reply.acked = new_acked
        return reply

    # ------------------------------------------------------------ reading for the public

    def timetable(self, digest: str, text: str | None) -> Timetable | None:
        """The timetable of a configuration known by digest (parsed once; text if not yet)."""
        tt = self._timetables.get(digest)
        if tt is None and text:
            cfg = self._configs.get(digest) or _parse_stored(text)
            if cfg is None:
                return None
            tt = self._timetables[digest] = Timetable(cfg)
        return tt

    def knows(self, digest: str) -> bool:
        return digest in self._timetables

    # ------------------------------------------------------------ internals

    async def _write(
        self, tx: Tx, hall_id: str, engine: Engine, rows: BatchRows, now: float
    ) -> None:
        await tx.copy_rows("events", EVENT_COLUMNS, rows.events)
        await upsert_tickets(tx, self.db.dialect, rows.tickets)
        if rows.evaluations:
            await tx.copy_rows("evaluations", EVALUATION_COLUMNS, rows.evaluations)
        if rows.away_spells:
            await tx.copy_rows("away_spells", AWAY_COLUMNS, rows.away_spells)
        if rows.staff:
            await tx.executemany(
                f"INSERT INTO staff ({', '.join(STAFF_COLUMNS)}) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (hall_id, staff) DO UPDATE SET last_seen = excluded.last_seen,"
                " name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE staff.name END",
                rows.staff,
            )
        if rows.bad_reviews:
            used: dict[str, int] = {}
            for day in sorted({b.day for b in rows.bad_reviews}):
                prefix = day.replace("-", "") + "-"
                taken = await tx.fetch(
                    "SELECT case_no FROM cases WHERE hall_id = $1 AND case_no LIKE $2",
                    hall_id,
                    prefix + "%",
                )
                used[day] = max((case_number(r["case_no"]) for r in taken), default=0)
            cases = case_rows(hall_id, rows.bad_reviews, used, engine.timetable, now)
            await tx.copy_rows("cases", CASE_COLUMNS, cases)

    def _config_of(self, hall_id: str, row: Any) -> HallConfig:
        """The hall's stored configuration, parsed once per process."""
        digest = str(row["config_digest"])
        cfg = self._configs.get(digest)
        if cfg is None:
            cfg = _parse_stored(row["config_text"])
            if cfg is None:
                raise UplinkRefused(
                    "need_config",
                    "本服务器读不懂已存的大厅配置，请重新上传 / The stored configuration cannot "
                    "be read here: send it again (PUT /api/uplink/config)",
                    BatchReply(
                        hall=hall_id,
                        acked=int(row["acked_seq"]),
                        config_digest=digest,
                        need_config=True,
                    ),
                )
            self._configs[digest] = cfg
        return cfg

    async def _engine_for(self, tx: Tx, hall_id: str, row: Any) -> Engine:
        """The hall's engine at the stored sequence number (under the hall's lock)."""
        acked = int(row["acked_seq"])
        engine = self._engines.get(hall_id)
        if engine is not None:
            seq = engine.state.seq
            del self._engines[hall_id]
            if seq == acked:
                self._engines[hall_id] = engine  # the most recently used go last
                return engine
            if seq < acked <= seq + CATCH_UP_LIMIT:
                # Another server process took the hall's batches meanwhile: follow it.
                await replay_events(tx, hall_id, engine, acked)
                if engine.state.seq == acked:
                    self._remember(hall_id, engine)
                    return engine
        cfg = self._config_of(hall_id, row)
        engine = await rebuild_engine(tx, hall_id, cfg, acked)
        self._remember(hall_id, engine)
        return engine

    def _remember(self, hall_id: str, engine: Engine) -> None:
        if len(self._engines) >= self.max_engines:
            self._engines.pop(next(iter(self._engines)))  # the one unused the longest
        self._engines[hall_id] = engine


def check_batch(batch: Batch) -> None:
    """The batch's own shape: sizes, contiguous sequence numbers from `first`, sane times."""
    if batch.protocol != PROTOCOL:
        raise BadRequest(
            "bad_protocol",
            f"uplink protocol {batch.protocol} is not spoken here (this server: {PROTOCOL}); "
            "upgrade the hall or the central server",
        )
    records = batch.records
    if len(records) > MAX_BATCH_RECORDS:
        raise BadRequest(
            "batch_too_large",
            f"{len(records)} records in one batch; at most {MAX_BATCH_RECORDS}",
        )
    if not 0 < batch.first < MAX_SEQ:
        raise BadRequest("bad_batch", f"first = {batch.first}: sequence numbers start at 1")
    expected = batch.first
    for i, r in enumerate(records):
        if r.seq != expected:
            raise BadRequest(
                "bad_batch",
                f"records[{i}] has seq {r.seq}, expected {expected}: records must be "
                f"contiguous from first = {batch.first}",
            )
        if not (math.isfinite(r.ts) and 0.0 <= r.ts <= MAX_TS):
            raise BadRequest("bad_batch", f"records[{i}] (seq {r.seq}) has an impossible ts {r.ts}")
        expected += 1


def without_nul(batch: Batch) -> Batch:
    """The batch with NUL characters taken out of its text (PostgreSQL's TEXT cannot hold them)."""

    def strip(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("\x00", "")
        if isinstance(value, list):
            return [strip(v) for v in value]
        if isinstance(value, dict):
            return {strip(k): strip(v) for k, v in value.items()}
        return value

    return msgspec.convert(strip(msgspec.to_builtins(batch)), Batch)


def _switch_config(engine: Engine, cfg: HallConfig) -> None:
    """Make `cfg` the engine's configuration (the one the hall says is in effect)."""
    if engine.config is cfg or engine.config_digest == config_digest(cfg):
        return
    engine._use_config(cfg)
    engine._reindex()  # the queues follow the services and priority ranks


def _encode_live(engine: Engine, ts: float) -> str:
    return _live_encoder.encode(live_figures(engine, ts)).decode()


def _parse_stored(text: str) -> HallConfig | None:
    """A configuration stored earlier (checked when it came; a newer hallq may be stricter)."""
    try:
        return parse_config(text, "stored configuration")
    except ConfigError:
        return config_from_log(text)


async def replay_events(tx: Tx, hall_id: str, engine: Engine, upto: int) -> None:
    """Apply the stored events after the engine's sequence number up to `upto`."""
    rows = await tx.fetch(
        "SELECT seq, ts, data FROM events WHERE hall_id = $1 AND seq > $2 AND seq <= $3"
        " ORDER BY seq",
        hall_id,
        engine.state.seq,
        upto,
    )
    for r in rows:
        engine.apply_record(
            Record(seq=int(r["seq"]), ts=float(r["ts"]), event=decode_event(r["data"]))
        )
    engine.state.requests.clear()


async def rebuild_engine(tx: Tx, hall_id: str, cfg: HallConfig, acked: int) -> Engine:
    """The hall's engine from its latest snapshot and the events after it."""
    engine = Engine(cfg)
    snap = await tx.fetchrow(
        "SELECT seq, state FROM hall_snapshots WHERE hall_id = $1 AND seq <= $2", hall_id, acked
    )
    state = snapshot_decoder.decode(snap["state"]) if snap is not None else None
    if state is not None and state.version == STATE_VERSION:  # older: replay what it lacks
        engine.restore(state)
        _switch_config(engine, cfg)
    await replay_events(tx, hall_id, engine, acked)
    if engine.state.seq != acked:
        raise DatabaseError(
            f"hall {hall_id}: the events table ends at seq {engine.state.seq} but the hall is "
            f"acknowledged up to {acked}; the database was changed by hand?"
        )
    return engine


async def save_snapshot(tx: Tx, hall_id: str, engine: Engine, now: float) -> None:
    """Keep the hall's state so that a process new to the hall replays only what follows."""
    engine.state.requests.clear()
    await tx.execute(
        "INSERT INTO hall_snapshots (hall_id, seq, state, saved_at) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (hall_id) DO UPDATE SET seq = excluded.seq, state = excluded.state,"
        " saved_at = excluded.saved_at",
        hall_id,
        engine.state.seq,
        snapshot_encoder.encode(engine.state).decode(),
        now,
    )


_TICKET_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in TICKET_COLUMNS[2:])
_TICKET_KEYS = ", ".join(TICKET_COLUMNS)
_TICKET_UPSERT_PG = (
    f"INSERT INTO tickets ({_TICKET_KEYS}) SELECT * FROM unnest("
    + ", ".join(f"${i + 1}::{t}[]" for i, t in enumerate(TICKET_TYPES))
    + f") ON CONFLICT (hall_id, ticket) DO UPDATE SET {_TICKET_UPDATE}"
)
_TICKET_UPSERT_SQLITE = (
    f"INSERT INTO tickets ({_TICKET_KEYS}) VALUES ("
    + ", ".join(f"${i + 1}" for i in range(len(TICKET_COLUMNS)))
    + f") ON CONFLICT (hall_id, ticket) DO UPDATE SET {_TICKET_UPDATE}"
)


async def upsert_tickets(tx: Tx, dialect: str, rows: list[tuple[Any, ...]]) -> None:
    """Write each ticket's latest state: one statement (arrays in PostgreSQL)."""
    if not rows:
        return
    if dialect == "postgresql":
        await tx.execute(_TICKET_UPSERT_PG, *(list(col) for col in zip(*rows, strict=True)))
    else:
        await tx.executemany(_TICKET_UPSERT_SQLITE, rows)


def _no_such_hall(hall_id: str) -> NotFound:
    return NotFound("no_such_hall", f"没有大厅 {hall_id} / No hall {hall_id}")
