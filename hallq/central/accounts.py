"""Who may read the central server: users, their sessions, lockouts and the first-run set-up.

Everything is kept in the central database (users, sessions, settings), never in a process,
so several server processes behind one proxy share the logins. Passwords and the set-up code
are stored as scrypt hashes only; a session cookie's token only as its SHA-256.

Roles: `city_admin` (市级管理员) sees and changes everything; `hall_manager` (大厅负责人) sees
only their own hall (`hall_id`), which every query and route enforces (`hall_scope`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from hallq.central.db import Database, Row
from hallq.errors import BadRequest, CommandRejected, NotFound
from hallq.logins import (
    DUMMY_HASH,
    LOCK_SECONDS,
    SESSION_MAX_SECONDS,
    after_failure,
    locked,
    setup_locked,
)

# The login policy is shared with the hall controller (hallq.logins), and named here as before.
from hallq.logins import MAX_FAILURES as MAX_FAILURES
from hallq.logins import SESSION_IDLE_SECONDS as SESSION_IDLE_SECONDS
from hallq.logins import LoginRefused as LoginRefused
from hallq.logins import check_password as check_password
from hallq.passwords import hash_secret, verify_secret

Role = Literal["city_admin", "hall_manager"]
ROLES: tuple[Role, ...] = ("city_admin", "hall_manager")

SESSION_TOUCH_SECONDS = 30  # last_seen is written at most this often (pages poll every 10 s)
SETUP_KEY = "setup_code."  # settings: one key per printed set-up code, the value its hash
SETUP_LOCK_KEY = "setup_lock"
SETUP_CODES_KEPT = 5  # several processes starting at once each print one; all of them work

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    role: Role
    hall_id: str | None
    created_at: float
    disabled: bool
    locked_until: float

    def as_json(self, now: float) -> dict[str, Any]:
        return {
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role,
            "hall_id": self.hall_id,
            "created_at": self.created_at,
            "disabled": self.disabled,
            "locked": self.locked_until > now,
        }


@dataclass(frozen=True)
class Session:
    token: str  # the cookie's value
    username: str
    display_name: str
    role: Role
    hall_id: str | None
    csrf: str
    expires: float

    @property
    def is_city_admin(self) -> bool:
        return self.role == "city_admin"


def hall_scope(session: Session) -> list[str] | None:
    """The halls a session may see: None for all (city admin), else the manager's one hall."""
    if session.role == "city_admin":
        return None
    return [session.hall_id] if session.hall_id else []


def may_see_hall(session: Session, hall_id: str) -> bool:
    scope = hall_scope(session)
    return scope is None or hall_id in scope


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


# ---------------------------------------------------------------- checks


def check_username(username: str) -> str:
    username = username.strip()
    if not USERNAME.fullmatch(username):
        raise BadRequest(
            "bad_username",
            "用户名为 1-64 个字母、数字或 . _ @ -，以字母或数字开头 / A user name is 1-64 "
            "letters, digits or . _ @ -, starting with a letter or digit",
        )
    return username


def check_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    if len(display_name) > 64 or any(ch in display_name for ch in "\r\n\t"):
        raise BadRequest(
            "bad_display_name", "姓名最多 64 个字符 / The display name is at most 64 characters"
        )
    return display_name


def _user(row: Row) -> User:
    return User(
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        hall_id=row["hall_id"],
        created_at=float(row["created_at"]),
        disabled=bool(row["disabled"]),
        locked_until=float(row["locked_until"]),
    )


# ---------------------------------------------------------------- users


async def create_user(
    db: Database,
    username: str,
    password: str,
    role: str,
    hall_id: str | None,
    display_name: str,
    now: float,
) -> User:
    """Add a user; a hall manager needs their hall, a city admin has none."""
    username = check_username(username)
    display_name = check_display_name(display_name)
    if role not in ROLES:
        raise BadRequest(
            "bad_role",
            "角色为 city_admin（市级管理员）或 hall_manager（大厅负责人） / role must be "
            "city_admin or hall_manager",
        )
    hall_id = (hall_id or "").strip() or None
    if role == "hall_manager" and not hall_id:
        raise BadRequest(
            "hall_required", "大厅负责人须指定大厅 / A hall manager needs a hall (hall_id)"
        )
    if role == "city_admin":
        hall_id = None
    check_password(password)
    digest = await asyncio.to_thread(hash_secret, password)
    async with db.transaction() as tx:
        if hall_id is not None and not await tx.fetchval(
            "SELECT 1 FROM halls WHERE hall_id = $1", hall_id
        ):
            raise NotFound("no_such_hall", f"没有大厅 {hall_id} / No hall {hall_id}")
        if await tx.fetchval("SELECT 1 FROM users WHERE lower(username) = lower($1)", username):
            raise CommandRejected(
                "user_exists", f"用户 {username} 已存在 / User {username} already exists", 409
            )
        await tx.execute(
            "INSERT INTO users (username, display_name, password_hash, role, hall_id, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            username,
            display_name,
            digest,
            role,
            hall_id,
            now,
        )
        # A user made another way (the command line) ends the first-run set-up too.
        await tx.execute("DELETE FROM settings WHERE key LIKE 'setup_code.%'")
    return User(username, display_name, role, hall_id, now, False, 0.0)


async def list_users(db: Database) -> list[User]:
    rows = await db.fetch("SELECT * FROM users ORDER BY role, hall_id, username")
    return [_user(r) for r in rows]


async def get_user(db: Database, username: str) -> User:
    row = await db.fetchrow("SELECT * FROM users WHERE username = $1", username)
    if row is None:
        raise NotFound("no_such_user", f"没有用户 {username} / No user {username}")
    return _user(row)


async def set_password(db: Database, username: str, password: str) -> None:
    """A new password: the user's sessions end and a lockout is lifted."""
    check_password(password)
    digest = await asyncio.to_thread(hash_secret, password)
    async with db.transaction() as tx:
        done = await tx.fetchval(
            "UPDATE users SET password_hash = $2, failed_logins = 0, locked_until = 0"
            " WHERE username = $1 RETURNING username",
            username,
            digest,
        )
        if done is None:
            raise NotFound("no_such_user", f"没有用户 {username} / No user {username}")
        await tx.execute("DELETE FROM sessions WHERE username = $1", username)


async def set_disabled(db: Database, username: str, disabled: bool, by: str) -> None:
    """Disable (sessions end at once) or enable a user; the last city admin stays enabled."""
    async with db.transaction() as tx:
        row = await tx.fetchrow("SELECT role, disabled FROM users WHERE username = $1", username)
        if row is None:
            raise NotFound("no_such_user", f"没有用户 {username} / No user {username}")
        if disabled and username == by:
            raise CommandRejected(
                "disable_self", "不能停用自己的账号 / You cannot disable your own account", 409
            )
        if disabled and row["role"] == "city_admin":
            others = await tx.fetchval(
                "SELECT count(*) FROM users WHERE role = 'city_admin' AND disabled = 0"
                " AND username <> $1",
                username,
            )
            if not others:
                raise CommandRejected(
                    "last_admin",
                    "至少保留一个启用的市级管理员 / Keep at least one enabled city admin",
                    409,
                )
        await tx.execute(
            "UPDATE users SET disabled = $2 WHERE username = $1", username, int(disabled)
        )
        if disabled:
            await tx.execute("DELETE FROM sessions WHERE username = $1", username)


async def unlock(db: Database, username: str) -> None:
    """Lift a lockout early."""
    done = await db.fetchval(
        "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE username = $1"
        " RETURNING username",
        username,
    )
    if done is None:
        raise NotFound("no_such_user", f"没有用户 {username} / No user {username}")


# ---------------------------------------------------------------- logins and sessions


async def login(db: Database, username: str, password: str, now: float) -> Session:
    """A new session, or LoginRefused (wrong name or password: 401; locked: 429)."""
    username = username.strip()[:64]
    row = await db.fetchrow("SELECT * FROM users WHERE username = $1", username)
    if row is not None and float(row["locked_until"]) > now:
        raise locked(float(row["locked_until"]), now, ask="ask a city admin to unlock it")
    stored = row["password_hash"] if row is not None else DUMMY_HASH
    ok = await asyncio.to_thread(verify_secret, password, stored)
    if row is None or not ok:
        if row is not None:
            await _count_failure(db, username, now)
        raise LoginRefused("wrong_login", "用户名或密码不对 / Wrong user name or password")
    if row["disabled"]:
        raise CommandRejected(
            "account_disabled",
            "此账号已停用，请联系市级管理员 / This account is disabled: ask a city admin",
            403,
        )
    await db.execute(
        "UPDATE users SET failed_logins = 0, locked_until = 0 WHERE username = $1", username
    )
    return await new_session(db, _user(row), now)


async def _count_failure(db: Database, username: str, now: float) -> None:
    async with db.transaction() as tx:
        count = await tx.fetchval(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE username = $1"
            " RETURNING failed_logins",
            username,
        )
        if count is not None and int(count) >= MAX_FAILURES:
            # Locked; after the lock the name gets a fresh set of tries.
            await tx.execute(
                "UPDATE users SET failed_logins = 0, locked_until = $2 WHERE username = $1",
                username,
                now + LOCK_SECONDS,
            )


async def new_session(db: Database, user: User, now: float) -> Session:
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    async with db.transaction() as tx:
        await tx.execute(
            "DELETE FROM sessions WHERE last_seen < $1 OR created_at < $2",
            now - SESSION_IDLE_SECONDS,
            now - SESSION_MAX_SECONDS,
        )
        await tx.execute(
            "INSERT INTO sessions (token_hash, username, csrf, created_at, last_seen)"
            " VALUES ($1, $2, $3, $4, $4)",
            token_hash(token),
            user.username,
            csrf,
            now,
        )
    expires = now + SESSION_IDLE_SECONDS
    return Session(token, user.username, user.display_name, user.role, user.hall_id, csrf, expires)


async def session(db: Database, token: str, now: float) -> Session | None:
    """The live session of a cookie, its idle time renewed; None when missing or expired."""
    if not token or len(token) > 200:
        return None
    digest = token_hash(token)
    row = await db.fetchrow(
        "SELECT s.username, s.csrf, s.created_at, s.last_seen, u.display_name, u.role,"
        " u.hall_id, u.disabled FROM sessions s JOIN users u ON u.username = s.username"
        " WHERE s.token_hash = $1",
        digest,
    )
    if row is None:
        return None
    created, last_seen = float(row["created_at"]), float(row["last_seen"])
    if (
        row["disabled"]
        or now - last_seen > SESSION_IDLE_SECONDS
        or now - created > SESSION_MAX_SECONDS
    ):
        await db.execute("DELETE FROM sessions WHERE token_hash = $1", digest)
        return None
    if now - last_seen >= SESSION_TOUCH_SECONDS:
        await db.execute("UPDATE sessions SET last_seen = $2 WHERE token_hash = $1", digest, now)
        last_seen = now
    expires = min(last_seen + SESSION_IDLE_SECONDS, created + SESSION_MAX_SECONDS)
    return Session(
        token=token,
        username=row["username"],
        display_name=row["display_name"],
        role=row["role"],
        hall_id=row["hall_id"],
        csrf=row["csrf"],
        expires=expires,
    )


async def logout(db: Database, token: str) -> None:
    await db.execute("DELETE FROM sessions WHERE token_hash = $1", token_hash(token))


# ---------------------------------------------------------------- first run


async def needs_setup(db: Database) -> bool:
    """No user yet: /setup asks for the set-up code printed in the server's log."""
    return not await db.fetchval("SELECT 1 FROM users LIMIT 1")


async def new_setup_code(db: Database, now: float) -> str:
    """A fresh one-time code (8 digits) for the first city admin; only its hash is kept.

    Each server process that starts with no users prints its own; any of the newest few
    works, so it does not matter which process's log the operator reads.
    """
    code = f"{secrets.randbelow(10**8):08d}"
    digest = await asyncio.to_thread(hash_secret, code)
    async with db.transaction() as tx:
        rows = await tx.fetch("SELECT key, value FROM settings WHERE key LIKE 'setup_code.%'")
        kept = sorted(rows, key=lambda r: str(r["value"]).split("$", 1)[0], reverse=True)
        for old in kept[SETUP_CODES_KEPT - 1 :]:
            await tx.execute("DELETE FROM settings WHERE key = $1", old["key"])
        await tx.execute(
            "INSERT INTO settings (key, value) VALUES ($1, $2)",
            SETUP_KEY + secrets.token_hex(4),
            f"{now:017.3f}${digest}",
        )
    return code


async def _setup_lock(db: Database) -> dict[str, float]:
    raw = await db.fetchval("SELECT value FROM settings WHERE key = $1", SETUP_LOCK_KEY)
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        data = {}
    return {"failures": float(data.get("failures", 0)), "until": float(data.get("until", 0))}


async def _save_setup_lock(db: Database, failures: float, until: float) -> None:
    await db.execute(
        "INSERT INTO settings (key, value) VALUES ($1, $2)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        SETUP_LOCK_KEY,
        json.dumps({"failures": failures, "until": until}),
    )


async def first_admin(
    db: Database, code: str, username: str, password: str, display_name: str, now: float
) -> Session:
    """The first city admin, with the set-up code from the log; then a session for them."""
    username = check_username(username)
    display_name = check_display_name(display_name)
    check_password(password)
    if not await needs_setup(db):
        raise CommandRejected("already_set_up", "已有用户，请登录 / Users exist: log in", 409)
    lock = await _setup_lock(db)
    if lock["until"] > now:
        raise setup_locked(lock["until"], now)
    rows = await db.fetch("SELECT key, value FROM settings WHERE key LIKE 'setup_code.%'")
    code = code.strip()
    matched = None
    for row in rows:
        stored = str(row["value"]).split("$", 1)[1] if "$" in str(row["value"]) else ""
        if not code:
            break
        if await asyncio.to_thread(verify_secret, code, stored):
            matched = row["key"]
            break
    if matched is None:
        await _save_setup_lock(db, *after_failure(int(lock["failures"]), now))
        raise BadRequest(
            "wrong_setup_code",
            "设置码不对：见服务器启动日志（“set-up code”） / Wrong set-up code: it is printed in "
            "the server's log at start (“set-up code”)",
        )
    digest = await asyncio.to_thread(hash_secret, password)
    async with db.transaction() as tx:
        if db.dialect == "postgresql":
            await tx.execute("LOCK TABLE users IN EXCLUSIVE MODE")  # two set-ups at once
        if await tx.fetchval("SELECT 1 FROM users LIMIT 1"):
            raise CommandRejected("already_set_up", "已有用户，请登录 / Users exist: log in", 409)
        await tx.execute(
            "INSERT INTO users (username, display_name, password_hash, role, hall_id, created_at)"
            " VALUES ($1, $2, $3, 'city_admin', NULL, $4)",
            username,
            display_name,
            digest,
            now,
        )
        await tx.execute(
            "DELETE FROM settings WHERE key LIKE 'setup_code.%' OR key = $1", SETUP_LOCK_KEY
        )
    user = User(username, display_name, "city_admin", None, now, False, 0.0)
    return await new_session(db, user, now)
