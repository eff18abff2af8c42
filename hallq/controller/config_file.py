"""The hall configuration file, kept in step with the configuration changes in the log.

The log is the truth: a change is committed as a `ConfigChanged` event first, then written
to the file atomically (a temporary file, fsync, rename, fsync of the folder), so the file is
always either the old or the new configuration, never half of one. The previous file is
kept as `NAME.bak`.

At start the two are reconciled. A fingerprint of the text hallq last wrote (or loaded) is
kept beside the data; a file that still matches it but differs from the log missed the last
write (a power cut right after the commit) and is written again from the log; a file that
matches neither was edited by hand (the technician's way) and is submitted as a change.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from hallq.files import write_atomically

log = logging.getLogger("hallq.config")

HEADER = (
    "# Hall configuration, saved by hallq's admin page ({when}).\n"
    "# Edits by hand are welcome: check them with `hallq check-config FILE`.\n"
)


def fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class ConfigFile:
    """Where the running configuration lives on disk (None: nowhere, e.g. in tests)."""

    def __init__(self, path: str | Path | None, state_dir: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.marker = Path(state_dir) / "config-file.sha256" if state_dir is not None else None

    def known(self) -> str | None:
        """The fingerprint of the text hallq last wrote to (or loaded from) the file."""
        if self.marker is None:
            return None
        try:
            return self.marker.read_text(encoding="ascii").strip() or None
        except OSError:
            return None

    def remember(self, text: str) -> None:
        if self.marker is not None:
            write_atomically(self.marker, fingerprint(text) + "\n")

    def read(self) -> str | None:
        if self.path is None:
            return None
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return None

    def save(self, text: str) -> None:
        if self.path is None:
            return
        write_atomically(self.path, text, keep_backup=True)
        self.remember(text)
        log.info("configuration saved to %s", self.path)
