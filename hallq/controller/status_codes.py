"""Codes for the citizen's status page (/t/{code}): unguessable, one per ticket and day.

A code is the HMAC-SHA256 of the business day and the ticket id under a random secret kept
in the data directory (`status-secret`, created once, mode 0600), cut to 80 bits and written
as 16 base32 letters. Without the secret a code cannot be derived from a ticket's number, and
guessing one means trying ~2^80 codes. A new business day changes every code, so yesterday's
QR leads nowhere.

Looking a code up means knowing every code of the day: they are computed lazily, cached
(code → ticket id) and dropped when the day changes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiohttp import web

from hallq.files import write_atomically
from hallq.hall.state import Ticket

log = logging.getLogger("hallq.status")

SECRET_FILE = "status-secret"
SECRET_BYTES = 32
CODE_BYTES = 10  # 80 bits: 16 base32 letters
CODE_LENGTH = 16
CODE_PATTERN = re.compile(r"[A-Z2-7]{16}")
CHUNK = 500  # codes computed between two yields to the event loop (a 20,000-ticket day)


class StatusCodes:
    """The day's status codes of one hall, from its secret."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the status secret must be at least 16 bytes")
        self._mac = hmac.new(secret, digestmod=hashlib.sha256)
        self._day: str | None = None
        self._by_code: dict[str, int] = {}
        self._by_id: dict[int, str] = {}
        self._seen = 0  # how many tickets the day had at the last scan
        self._lock = asyncio.Lock()

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> StatusCodes:
        """The codes of the hall whose data directory this is (its secret made on first use)."""
        return cls(load_secret(Path(data_dir) / SECRET_FILE))

    def code(self, day: str, ticket_id: int) -> str:
        """The ticket's code: 16 letters A-Z and 2-7."""
        mac = self._mac.copy()
        mac.update(f"{day}/{ticket_id}".encode())
        return base64.b32encode(mac.digest()[:CODE_BYTES]).decode("ascii")

    async def find(self, code: str, day: str | None, tickets: Mapping[int, Ticket]) -> int | None:
        """The id of the ticket of `day` whose code this is (`code` already normalized), or None.

        `tickets` are the day's tickets, which only grow during a day. A code not yet known
        makes the codes of the tickets issued since the last look-up; the work is cut into
        chunks so that a day of 20,000 tickets never holds up the calls.
        """
        if day is None:
            return None
        if day != self._day:
            self._day, self._by_code, self._by_id, self._seen = day, {}, {}, 0
        tid = self._by_code.get(code)
        if tid is None and len(tickets) != self._seen:
            async with self._lock:
                await self._fill(day, tickets)
            tid = self._by_code.get(code)
        if tid is None or tid not in tickets:
            return None
        # The dict found it by hashing; the decision is a constant-time comparison.
        expected = self.code(day, tid)
        return tid if hmac.compare_digest(expected, code) else None

    async def _fill(self, day: str, tickets: Mapping[int, Ticket]) -> None:
        seen = len(tickets)
        missing = [tid for tid in tickets if tid not in self._by_id]
        for start in range(0, len(missing), CHUNK):
            if day != self._day:
                return  # a new day began meanwhile: these codes are of no use
            for tid in missing[start : start + CHUNK]:
                code = self.code(day, tid)
                self._by_code[code] = tid
                self._by_id[tid] = code
            if start + CHUNK < len(missing):
                await asyncio.sleep(0)
        if day == self._day:
            self._seen = max(self._seen, seen)


def normalize(raw: str) -> str | None:
    """A code as scanned or typed (in either case) → its canonical form; None if it is none."""
    text = raw.upper()
    return text if len(text) == CODE_LENGTH and CODE_PATTERN.fullmatch(text) else None


def load_secret(path: Path) -> bytes:
    """The secret in `path`, made (random, mode 0600) if there is none or it is damaged."""
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
        if len(secret) >= SECRET_BYTES:
            if path.stat().st_mode & 0o077:
                os.chmod(path, 0o600)  # copied in with a loose mode: nobody else may read it
            return secret
        log.warning("%s is too short: making a new one (today's QR codes change)", path)
    except FileNotFoundError:
        pass
    except (OSError, UnicodeDecodeError, ValueError) as e:
        log.warning("%s is unreadable (%s): making a new one (today's QR codes change)", path, e)
    secret = secrets.token_bytes(SECRET_BYTES)
    # Whole or not at all, readable by the controller's user only: a power cut never leaves
    # half a secret.
    write_atomically(path, secret.hex() + "\n", mode=0o600)
    return secret


status_codes_key = web.AppKey("status_codes", StatusCodes)


def status_path(app: web.Application, ticket: Ticket) -> str | None:
    """The path of the ticket's status page (the ticket's QR), if the app has the page."""
    codes = app.get(status_codes_key)
    return None if codes is None else "/t/" + codes.code(ticket.day, ticket.id)


def with_status_path(
    app: web.Application, tickets: Mapping[int, Ticket], reply: dict[str, Any]
) -> dict[str, Any]:
    """A command's reply with `status_path` added to the ticket it issued, if it issued one."""
    issued = reply.get("ticket")
    if not isinstance(issued, dict):
        return reply
    tid = issued.get("id")
    t = tickets.get(tid) if isinstance(tid, int) else None
    path = status_path(app, t) if t is not None else None
    if path is None:
        return reply
    # A copy: the engine keeps the reply to answer a retried request with it.
    return {**reply, "ticket": {**issued, "status_path": path}}
