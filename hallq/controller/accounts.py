"""Who may do what: admin page logins, their sessions, and the window staff's PINs.

Kept in its own SQLite file beside the event log (`accounts.sqlite3`), never in the hall
configuration: that is exported, shown on the feed and copied between halls, and a
credential must not travel with it. Passwords and PINs are stored as scrypt hashes only.

Every method is synchronous and some take ~50 ms (scrypt): call them through
`asyncio.to_thread` so the calls in the hall never wait for a login.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from hallq.errors import BadRequest, CommandRejected
from hallq.logins import DUMMY_HASH, SESSION_MAX_SECONDS, after_failure, check_password, locked

# The login policy is shared with the central server (hallq.logins), and named here as before.
from hallq.logins import LOCK_SECONDS as LOCK_SECONDS
from hallq.logins import MAX_FAILURES as MAX_FAILURES
from hallq.logins import SESSION_IDLE_SECONDS as SESSION_IDLE_SECONDS
from hallq.logins import LoginRefused as LoginRefused
from hallq.passwords import hash_secret, verify_secret

Role = Literal["admin", "staff"]
ROLES: tuple[Role, ...] = ("admin", "staff")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL CHECK (role IN ('admin', 'staff')),
    password_hash TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    staff TEXT PRIMARY KEY,
    pin_hash TEXT NOT NULL,
    set_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (
    kind TEXT NOT NULL,          -- 'login' or 'pin'
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    locked_until REAL NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY, -- the cookie's token is never stored, only its hash
    name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value (only returned at login)
    name: str
    role: Role
    csrf: str
    expires: float


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    created: float


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def check_pin(pin: str) -> None:
    if not (pin.isascii() and pin.isdigit() and 4 <= len(pin) <= 8):
        raise BadRequest("invalid_pin", "PIN 为 4-8 位数字 / A PIN is 4-8 digits")


def _check_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= 64 or any(ch in name for ch in "\r\n\t"):
        raise BadRequest("invalid_name", "用户名为 1-64 个字符 / A user name is 1-64 characters")
    return name


class Accounts:
    """The accounts file. Thread-safe: one connection, one lock (logins are rare)."""

    def __init__(self, path: str | Path, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()
        # Hashes only, but still nobody else's business: owner-only, as SQLite's WAL and
        # shared-memory files (which take the database file's mode) will be too.
        self.path.touch(mode=0o600, exist_ok=True)
        os.chmod(self.path, 0o600)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _now(self) -> float:
        return float(self.clock())

    # ------------------------------------------------------------ first run

    def needs_setup(self) -> bool:
        """No admin yet: the first visit to /admin asks for one (no password is built in)."""
        with self._lock:
            row = self._db.execute("SELECT 1 FROM users WHERE role = 'admin' LIMIT 1").fetchone()
        return row is None

    def setup_code(self) -> str:
        """A one-time code printed in the controller's log, asked for when creating the first
        admin, so that whoever reaches the page first on the network cannot claim the hall."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key = 'setup_code'").fetchone()
            if row is not None:
                return str(row[0])
            code = f"{secrets.randbelow(10**8):08d}"
            self._db.execute("INSERT INTO meta VALUES ('setup_code', ?)", (code,))
            return code

    def first_admin(self, code: str, name: str, password: str) -> Session:
        if not self.needs_setup():
            raise CommandRejected(
                "already_set_up", "管理员已创建，请登录 / An admin exists; log in", 409
            )
        if not secrets.compare_digest(code.strip(), self.setup_code()):
            raise BadRequest(
                "wrong_setup_code",
                "设置码不对：见控制器启动日志 / Wrong set-up code: it is printed in the controller's log",
            )
        self.add_user(name, "admin", password)
        with self._lock:
            self._db.execute("DELETE FROM meta WHERE key = 'setup_code'")
        return self._new_session(_check_name(name), "admin")

    # ------------------------------------------------------------ users

    def users(self) -> list[User]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name, role, created FROM users ORDER BY name"
            ).fetchall()
        return [User(r[0], r[1], r[2]) for r in rows]

    def add_user(self, name: str, role: str, password: str) -> None:
        name = _check_name(name)
        if role not in ROLES:
            raise BadRequest("invalid_role", "角色为 admin 或 staff / role must be admin or staff")
        check_password(password)
        digest = hash_secret(password)
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users VALUES (?, ?, ?, ?)", (name, role, digest, self._now())
                )
            except sqlite3.IntegrityError:
                raise CommandRejected(
                    "user_exists", f"用户 {name} 已存在 / User {name} already exists", 409
                ) from None

    def set_password(self, name: str, password: str) -> None:
        check_password(password)
        digest = hash_secret(password)
        with self._lock:
            cur = self._db.execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (digest, name)
            )
            if cur.rowcount == 0:
                raise CommandRejected("user_not_found", f"没有用户 {name} / No user {name}", 404)
            # A new password ends the user's other sessions and lifts a lockout.
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
            self._db.execute("DELETE FROM failures WHERE kind = 'login' AND name = ?", (name,))

    def set_role(self, name: str, role: str) -> None:
        if role not in ROLES:
            raise BadRequest("invalid_role", "角色为 admin 或 staff / role must be admin or staff")
        with self._lock:
            if role != "admin" and self._is_last_admin(name):
                raise CommandRejected(
                    "last_admin", "至少保留一个管理员 / Keep at least one admin", 409
                )
            cur = self._db.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
            if cur.rowcount == 0:
                raise CommandRejected("user_not_found", f"没有用户 {name} / No user {name}", 404)
            self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))

    def delete_user(self, name: str) -> None:
        with self._lock:
            if self._is_last_admin(name):
                raise CommandRejected(
                    "last_admin", "至少保留一个管理员 / Keep at least one admin", 409
                )
            cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
            if cur.rowcount == 0:
                raise CommandRejected("user_not_found", f"没有用户 {name} / No user {name}", 404)

    def _is_last_admin(self, name: str) -> bool:
        admins = [r[0] for r in self._db.execute("SELECT name FROM users WHERE role = 'admin'")]
        return admins == [name]

    # ------------------------------------------------------------ logins and sessions

    def login(self, name: str, password: str) -> Session:
        """A new session, or LoginRefused (wrong name or password, or locked)."""
        name = name.strip()[:64]
        now = self._now()
        self._check_lock("login", name, now)
        with self._lock:
            row = self._db.execute(
                "SELECT role, password_hash FROM users WHERE name = ?", (name,)
            ).fetchone()
        ok = verify_secret(password, row[1] if row else DUMMY_HASH) and row is not None
        if not ok:
            self._fail("login", name, now)
            raise LoginRefused("wrong_login", "用户名或密码不对 / Wrong user name or password")
        self._clear_failures("login", name)
        return self._new_session(name, row[0])

    def _new_session(self, name: str, role: str) -> Session:
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        now = self._now()
        with self._lock:
            self._db.execute(
                "DELETE FROM sessions WHERE last_used < ? OR created < ?",
                (now - SESSION_IDLE_SECONDS, now - SESSION_MAX_SECONDS),
            )
            self._db.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)",
                (_token_hash(token), name, csrf, now, now),
            )
        return Session(token, name, role, csrf, now + SESSION_IDLE_SECONDS)  # type: ignore[arg-type]

    def session(self, token: str) -> Session | None:
        """The live session of a cookie, its idle time renewed; None when missing or expired."""
        if not token or len(token) > 200:
            return None
        now = self._now()
        with self._lock:
            row = self._db.execute(
                "SELECT s.name, u.role, s.csrf, s.created, s.last_used FROM sessions s "
                "JOIN users u ON u.name = s.name WHERE s.token_hash = ?",
                (_token_hash(token),),
            ).fetchone()
            if row is None:
                return None
            name, role, csrf, created, last_used = row
            if now - last_used > SESSION_IDLE_SECONDS or now - created > SESSION_MAX_SECONDS:
                self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))
                return None
            self._db.execute(
                "UPDATE sessions SET last_used = ? WHERE token_hash = ?", (now, _token_hash(token))
            )
        expires = min(now + SESSION_IDLE_SECONDS, created + SESSION_MAX_SECONDS)
        return Session(token, name, role, csrf, expires)

    def logout(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (_token_hash(token),))

    # ------------------------------------------------------------ window staff PINs

    def has_pin(self, staff: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM pins WHERE staff = ?", (staff,)).fetchone()
        return row is not None

    def pins_set(self) -> set[str]:
        with self._lock:
            return {r[0] for r in self._db.execute("SELECT staff FROM pins")}

    def set_pin(self, staff: str, pin: str) -> None:
        check_pin(pin)
        digest = hash_secret(pin)
        with self._lock:
            self._db.execute(
                "INSERT INTO pins VALUES (?, ?, ?) ON CONFLICT (staff) DO UPDATE "
                "SET pin_hash = excluded.pin_hash, set_at = excluded.set_at",
                (staff, digest, self._now()),
            )
            self._db.execute("DELETE FROM failures WHERE kind = 'pin' AND name = ?", (staff,))

    def clear_pin(self, staff: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pins WHERE staff = ?", (staff,))

    def verify_pin(self, staff: str, pin: str) -> None:
        """Raise LoginRefused unless `pin` is the staff member's PIN (or none is set)."""
        now = self._now()
        with self._lock:
            row = self._db.execute("SELECT pin_hash FROM pins WHERE staff = ?", (staff,)).fetchone()
        if row is None:
            return  # no PIN set for this staff member: the hall has not asked for one
        self._check_lock("pin", staff, now)
        if not verify_secret(pin, row[0]):
            self._fail("pin", staff, now)
            raise LoginRefused("wrong_pin", "PIN 不对 / Wrong PIN")
        self._clear_failures("pin", staff)

    # ------------------------------------------------------------ lockout

    def _check_lock(self, kind: str, name: str, now: float) -> None:
        with self._lock:
            row = self._db.execute(
                "SELECT locked_until FROM failures WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
        if row is not None and row[0] > now:
            raise locked(row[0], now, ask="ask an admin")

    def _fail(self, kind: str, name: str, now: float) -> None:
        with self._lock:
            row = self._db.execute(
                "SELECT count FROM failures WHERE kind = ? AND name = ?", (kind, name)
            ).fetchone()
            count, until = after_failure(row[0] if row else 0, now)
            self._db.execute(
                "INSERT INTO failures VALUES (?, ?, ?, ?) ON CONFLICT (kind, name) DO UPDATE "
                "SET count = excluded.count, locked_until = excluded.locked_until",
                (kind, name, count, until),
            )

    def _clear_failures(self, kind: str, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM failures WHERE kind = ? AND name = ?", (kind, name))

    def unlock(self, name: str) -> None:
        """An admin lifts a lockout early."""
        with self._lock:
            self._db.execute("DELETE FROM failures WHERE name = ?", (name,))
