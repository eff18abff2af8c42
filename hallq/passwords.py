"""Password and PIN hashing with scrypt (Python's own hashlib, from OpenSSL).

A hash reads `scrypt$n$r$p$salt$digest` (base64), so the cost can be raised later
without breaking hashes already stored. No password or PIN is ever kept in clear.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

# n=2**14, r=8: 16 MiB and about 40 ms on a Raspberry Pi 4 per check, which makes
# guessing slow while a sign-in still feels instant.
N, R, P = 2**14, 8, 1
PREFIX = "scrypt$"


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


def hash_secret(secret: str) -> str:
    """A new salted hash of a password or PIN."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=N, r=R, p=P, dklen=32)
    return f"{PREFIX}{N}${R}${P}${_b64(salt)}${_b64(digest)}"


def is_hash(text: str) -> bool:
    """Whether `text` has the shape of a hash made by `hash_secret`."""
    parts = text.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return False
    try:
        n, r, p = (int(x) for x in parts[1:4])
        return n >= 2 and n & (n - 1) == 0 and r > 0 and p > 0 and len(_unb64(parts[5])) == 32
    except ValueError:
        return False


def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` matches `stored`; a malformed hash never matches."""
    if not is_hash(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    got = hashlib.scrypt(
        secret.encode("utf-8"), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=32,
        maxmem=256 * 1024 * 1024,
    )
    return hmac.compare_digest(got, _unb64(digest))
