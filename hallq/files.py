"""Files written whole or not at all: configuration, secrets, tokens (a Pi loses power).

`write_atomically` writes a temporary file beside the target, fsyncs it, renames it over the
target and fsyncs the folder, so a reader or a pulled plug sees the old file or the new one,
never half of one (the habit of info-beamer's device SDK, docs STYLE.md).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

log = logging.getLogger("hallq.files")


def write_atomically(
    path: str | Path, data: str | bytes, keep_backup: bool = False, mode: int | None = None
) -> None:
    """Replace `path` with `data` (text is UTF-8). `keep_backup`: the file it replaces stays
    as NAME.bak; `mode`: the new file's permissions (e.g. 0o600 for a secret), set before any
    byte is written."""
    path = Path(path)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if keep_backup and path.exists():
            _keep_backup(path)
        os.replace(tmp, path)  # `path` is the old file until this instant, then the new one
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself is durable only once the folder is
    finally:
        os.close(dir_fd)


def _keep_backup(path: Path) -> None:
    """Keep the current file as NAME.bak without `path` ever being missing: a second link
    to it replaces the backup (a copy where the file system has no hard links)."""
    backup = path.with_name(path.name + ".bak")
    link = path.with_name(f".{path.name}.bak.tmp")
    with contextlib.suppress(OSError):
        os.unlink(link)
    try:
        os.link(path, link)
    except OSError:
        try:
            shutil.copy2(path, link)
        except OSError as e:
            log.warning("no backup of %s kept: %s", path, e)
            return
    os.replace(link, backup)
