"""The halls that report to the central server, and their uplink tokens.

A hall's token is shown once, when it is issued; only its SHA-256 is kept. The token alone
says which hall is sending (hallq.hall.shipping), so revoking it shuts that hall's uplink
out at once. `token_id` (the first 8 hex digits of the hash) names a token on the admin
page without revealing it.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

import msgspec

from hallq.central.db import Database, Row
from hallq.errors import BadRequest, CommandRejected, NotFound

HALL_ID = re.compile(r"[a-z0-9][a-z0-9-]{1,62}")
TOKEN_PREFIX = "hqt_"
TOKEN_MAX_LENGTH = 200  # a real one is 47 characters
LAST_USED_EVERY = 60.0  # seconds: last_used_at is written at most this often per token
NAME_MAX = 100
LABEL_MAX = 100


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _check_name(name: str, name_en: str) -> tuple[str, str]:
    name, name_en = name.strip(), name_en.strip()
    if len(name) > NAME_MAX or len(name_en) > NAME_MAX:
        raise BadRequest(
            "bad_name", f"名称最多 {NAME_MAX} 个字 / A name has at most {NAME_MAX} characters"
        )
    if not (name + name_en).isprintable():
        raise BadRequest("bad_name", "名称含有不可见字符 / The name has invisible characters")
    return name, name_en


async def create_hall(db: Database, hall_id: str, name: str, name_en: str, now: float) -> None:
    """Add a hall. Its name may be left empty: the hall's own configuration fills it in."""
    if not HALL_ID.fullmatch(hall_id):
        raise BadRequest(
            "bad_hall_id",
            f"大厅编号 {hall_id!r} 无效：2-63 位小写字母、数字或连字符，以字母或数字开头 / "
            "A hall id is 2-63 lower-case letters, digits or '-', starting with a letter or digit",
        )
    name, name_en = _check_name(name, name_en)
    async with db.transaction() as tx:
        if await tx.fetchval("SELECT 1 FROM halls WHERE hall_id = $1", hall_id):
            raise CommandRejected(
                "hall_exists", f"大厅 {hall_id} 已存在 / Hall {hall_id} already exists", 409
            )
        await tx.execute(
            "INSERT INTO halls (hall_id, name, name_en, created_at) VALUES ($1, $2, $3, $4)",
            hall_id,
            name,
            name_en,
            now,
        )


async def update_hall(db: Database, hall_id: str, name: str, name_en: str) -> None:
    """Rename a hall."""
    name, name_en = _check_name(name, name_en)
    async with db.transaction() as tx:
        if not await tx.fetchval("SELECT 1 FROM halls WHERE hall_id = $1", hall_id):
            raise _no_such_hall(hall_id)
        await tx.execute(
            "UPDATE halls SET name = $2, name_en = $3 WHERE hall_id = $1", hall_id, name, name_en
        )


async def list_halls(db: Database) -> list[dict[str, Any]]:
    """Every hall with its uplink position and its live figures (`live`, a dict)."""
    rows = await db.fetch(
        "SELECT hall_id, name, name_en, created_at, acked_seq, last_seen, last_event_ts,"
        " config_digest, live FROM halls ORDER BY hall_id"
    )
    halls = []
    for r in rows:
        hall = row_dict(r)
        hall["live"] = parse_live(r["live"])
        halls.append(hall)
    return halls


def row_dict(row: Row) -> dict[str, Any]:
    """A result row as a dict by column name."""
    return {key: row[key] for key in list(row.keys())}


def parse_live(text: str | None) -> dict[str, Any]:
    """A hall's `live` column as a dict ({} before its first batch)."""
    if not text:
        return {}
    try:
        live = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return {}
    return live if isinstance(live, dict) else {}


async def issue_token(
    db: Database, hall_id: str, label: str, by: str, now: float
) -> tuple[str, str]:
    """A new uplink token for the hall: (token, token_id). The token is never shown again."""
    label = label.strip()
    if len(label) > LABEL_MAX or not label.isprintable():
        raise BadRequest(
            "bad_label",
            f"备注最多 {LABEL_MAX} 个可见字符 / A label is at most {LABEL_MAX} visible characters",
        )
    async with db.transaction() as tx:
        if not await tx.fetchval("SELECT 1 FROM halls WHERE hall_id = $1", hall_id):
            raise _no_such_hall(hall_id)
        while True:
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            digest = token_hash(token)
            token_id = digest[:8]
            taken = await tx.fetchval(
                "SELECT 1 FROM hall_tokens WHERE hall_id = $1 AND token_id = $2",
                hall_id,
                token_id,
            )
            if not taken:  # two tokens of a hall with one id could not be told apart
                break
        await tx.execute(
            "INSERT INTO hall_tokens (token_hash, hall_id, token_id, label, created_at, created_by)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            digest,
            hall_id,
            token_id,
            label,
            now,
            by,
        )
    return token, token_id


async def revoke_token(db: Database, hall_id: str, token_id: str, by: str, now: float) -> None:
    """Refuse the token from now on (revoking a revoked token changes nothing)."""
    async with db.transaction() as tx:
        row = await tx.fetchrow(
            "SELECT revoked_at FROM hall_tokens WHERE hall_id = $1 AND token_id = $2",
            hall_id,
            token_id,
        )
        if row is None:
            raise NotFound(
                "no_such_token",
                f"大厅 {hall_id} 没有令牌 {token_id} / Hall {hall_id} has no token {token_id}",
            )
        if row["revoked_at"] is not None:
            return
        await tx.execute(
            "UPDATE hall_tokens SET revoked_at = $3, revoked_by = $4"
            " WHERE hall_id = $1 AND token_id = $2",
            hall_id,
            token_id,
            now,
            by,
        )


async def list_tokens(db: Database, hall_id: str) -> list[dict[str, Any]]:
    """The hall's tokens, oldest first (never the token itself)."""
    rows = await db.fetch(
        "SELECT token_id, label, created_at, created_by, last_used_at, revoked_at, revoked_by"
        " FROM hall_tokens WHERE hall_id = $1 ORDER BY created_at, token_id",
        hall_id,
    )
    return [row_dict(r) for r in rows]


async def authenticate(db: Database, token: str, now: float) -> str | None:
    """The hall the token belongs to; None when it is unknown or revoked."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > TOKEN_MAX_LENGTH:
        return None
    digest = token_hash(token)
    row = await db.fetchrow(
        "SELECT hall_id, revoked_at, last_used_at FROM hall_tokens WHERE token_hash = $1", digest
    )
    if row is None or row["revoked_at"] is not None:
        return None
    last = row["last_used_at"]
    if last is None or not 0 <= now - last < LAST_USED_EVERY:
        await db.execute(
            "UPDATE hall_tokens SET last_used_at = $2 WHERE token_hash = $1", digest, now
        )
    return str(row["hall_id"])


def _no_such_hall(hall_id: str) -> NotFound:
    return NotFound("no_such_hall", f"没有大厅 {hall_id} / No hall {hall_id}")
