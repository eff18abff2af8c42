"""Files written whole or not at all (hallq/files.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from hallq.files import write_atomically


def test_a_new_file_and_a_replaced_one_with_its_backup(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "hall.toml"
    write_atomically(path, "一\n")
    assert path.read_text(encoding="utf-8") == "一\n"
    write_atomically(path, b"two\n", keep_backup=True)
    assert path.read_bytes() == b"two\n"
    assert (tmp_path / "etc" / "hall.toml.bak").read_text(encoding="utf-8") == "一\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["hall.toml", "hall.toml.bak"]


def test_a_secret_is_never_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "uplink.token"
    path.write_text("old\n", encoding="utf-8")
    os.chmod(path, 0o644)
    write_atomically(path, "secret\n", mode=0o600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_failure_before_the_rename_leaves_the_old_file_and_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "hall.toml"
    path.write_text("old\n", encoding="utf-8")

    def power_cut(src: str, dst: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError):
        write_atomically(path, "new\n")
    assert path.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["hall.toml"]
