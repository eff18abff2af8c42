"""One exception tree for hallq, so callers catch what they mean."""

from __future__ import annotations


class HallqError(Exception):
    """Root of every error hallq raises on purpose."""


class ConfigError(HallqError, ValueError):
    """A hall configuration file is wrong; the message says where and what to fix."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class CommandRejected(HallqError):
    """A command broke a hall rule; nothing was changed.

    `code` is machine-readable (snake_case), `message` is for a person (Chinese first).
    """

    def __init__(self, code: str, message: str, status: int = 409) -> None:
        self.code = code
        self.message = message
        self.status = status
        super().__init__(f"{code}: {message}")


class NotFound(CommandRejected):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=404)


class BadRequest(CommandRejected):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=400)


class StorageError(HallqError):
    """The event log could not be written; the command was not acknowledged."""
