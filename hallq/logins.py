"""What a login allows, the same on the hall controller and on the central server.

The password rule, how long a session lives, and the lockout after wrong tries in a row
(passwords, PINs, set-up codes). Pure policy: where the counts and sessions are kept is each
side's own business (`hallq.controller.accounts`: a SQLite file; `hallq.central.accounts`:
the central database).
"""

from __future__ import annotations

from collections.abc import Callable

from hallq.errors import BadRequest, CommandRejected
from hallq.passwords import hash_secret

MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_FAILURES = 5  # wrong tries in a row before the name is locked
LOCK_SECONDS = 15 * 60
SESSION_IDLE_SECONDS = 30 * 60  # a session unused this long has expired
SESSION_MAX_SECONDS = 12 * 3600  # and none lives longer than a working day

# Spent on an unknown name too, so that a login's time does not tell which names exist.
DUMMY_HASH = hash_secret("not a real password")


class LoginRefused(CommandRejected):
    """A wrong name or password, or a locked account; the message says what to do."""

    def __init__(self, code: str, message: str, retry_after: float | None = None) -> None:
        super().__init__(code, message, 429 if code == "locked" else 401)
        self.retry_after = retry_after


def check_password(password: str) -> None:
    """Refuse a password too short or too long to keep."""
    if len(password) < MIN_PASSWORD:
        raise BadRequest(
            "weak_password",
            f"密码至少 {MIN_PASSWORD} 位 / The password needs at least {MIN_PASSWORD} characters",
        )
    if len(password) > MAX_PASSWORD:
        raise BadRequest(
            "weak_password",
            f"密码过长 / The password is too long ({MAX_PASSWORD} at most)",
        )


def check_repeated(password: str, again: str) -> None:
    """A new password is typed twice: refuse it when the two differ."""
    if password != again:
        raise BadRequest("passwords_differ", "两次输入的密码不一致 / The two passwords differ")


def after_failure(
    failures: int, now: float, tries: int = MAX_FAILURES, seconds: float = LOCK_SECONDS
) -> tuple[int, float]:
    """The (failures, locked_until) after one more wrong try; locked_until 0 is not locked.

    The try that reaches `tries` locks the name for `seconds`; after the lock the name gets a
    fresh set of tries.
    """
    failures += 1
    if failures >= tries:
        return 0, now + seconds
    return failures, 0.0


def _locked(until: float, now: float, message: Callable[[int], str]) -> LoginRefused:
    """A lockout's refusal: `message` of the minutes left, and when to try again."""
    return LoginRefused("locked", message(max(1, round((until - now) / 60))), until - now)


def locked(until: float, now: float, ask: str) -> LoginRefused:
    """The refusal while a name is locked; `ask` says who can lift it early."""
    return _locked(
        until,
        now,
        lambda minutes: (
            f"连续输错 {MAX_FAILURES} 次，已锁定 {minutes} 分钟 / Locked after "
            f"{MAX_FAILURES} wrong tries: wait {minutes} min or {ask}"
        ),
    )


def setup_locked(until: float, now: float) -> LoginRefused:
    """The refusal while the first-run set-up is locked after wrong set-up codes."""
    return _locked(
        until,
        now,
        lambda minutes: (
            f"设置码连续输错，请 {minutes} 分钟后再试 / Too many wrong set-up "
            f"codes: try again in {minutes} min"
        ),
    )


def wrong_current_password(e: LoginRefused) -> LoginRefused:
    """A password change checks the current one by logging in: say which was wrong."""
    if e.code == "wrong_login":
        return LoginRefused("wrong_password", "当前密码不对 / The current password is wrong")
    return e
