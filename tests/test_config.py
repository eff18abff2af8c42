"""Hall configuration: the demo loads, and every class of mistake gets a message naming
the file, the line and the field, and saying what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from hallq.cli import main
from hallq.errors import ConfigError
from hallq.hall.config import HallConfig, demo_config_path, load_config, parse_config
from tests.conftest import SMALL_HALL_TOML

SOURCE = "hall.toml"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line where `needle` occurs for the `occurrence`-th time."""
    seen = 0
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} is not in the text {occurrence} time(s)")


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, SOURCE)
    assert info.value.problems, "a ConfigError must list its problems"
    assert str(info.value) == "\n".join(info.value.problems)
    return info.value.problems


def edit(old: str, new: str, text: str = SMALL_HALL_TOML) -> str:
    assert text.count(old) == 1, f"{old!r} must occur exactly once"
    return text.replace(old, new)


def only_problem(text: str) -> str:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# ------------------------------------------------------------------ good files


def test_demo_config_loads(demo_config: HallConfig) -> None:
    cfg = demo_config
    assert cfg.hall.timezone == "Asia/Shanghai"
    assert cfg.hours.sessions == ["08:40-11:50", "13:10-16:50"]
    assert cfg.hours.issue_cutoff_minutes == 20
    assert len(cfg.windows) == 12
    assert [s.id for s in cfg.staff] == [str(n) for n in range(1001, 1013)]
    assert {p.code: p.rank for p in cfg.priority} == {"green": 1, "vip_enterprise": 2}
    assert cfg.queue.max_priority_in_row == 3
    assert cfg.no_show.recalls_before_no_show == 1
    assert cfg.no_show.reinstate_places_back == 3
    assert len(cfg.evaluation.levels) == 5
    assert any(len(w.tiers) > 1 for w in cfg.windows), "the demo has composite windows"
    # AB岗: backups are paired both ways.
    for w in cfg.windows:
        assert w.backup is not None
        partner = cfg.window(w.backup)
        assert partner is not None and partner.backup == w.number


def test_small_config_loads(small_config: HallConfig) -> None:
    assert [s.code for s in small_config.services] == ["alpha", "beta", "gamma"]
    assert small_config.staff == []
    window = small_config.window(3)
    assert window is not None and window.tiers == [["gamma"], ["alpha", "beta"]]


def test_check_config_accepts_the_demo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(demo_config_path())]) == 0
    out = capsys.readouterr().out
    assert "ok" in out and "12 windows" in out


def test_check_config_rejects_a_bad_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.toml"
    good.write_text(SMALL_HALL_TOML, encoding="utf-8")
    text = edit("daily_quota = 40", 'daily_quota = "forty"')
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    assert main(["check-config", str(good)]) == 0
    capsys.readouterr()
    assert main(["check-config", str(good), str(bad)]) != 0
    err = capsys.readouterr().err
    line = line_of(text, "daily_quota")
    assert f"{bad}:{line}: services[1].daily_quota:" in err
    assert "whole number" in err


def test_check_config_reports_a_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere.toml"
    assert main(["check-config", str(missing)]) != 0
    assert f"{missing}: no such file" in capsys.readouterr().err


# ------------------------------------------------------------------ one class of error each


def test_unknown_field_names_the_typo_and_the_allowed_settings() -> None:
    text = edit("service_minutes = 6", "service_minuts = 6")
    msg = only_problem(text)
    assert msg.startswith(
        f"{SOURCE}:{line_of(text, 'service_minuts')}: services[1].service_minuts:"
    )
    assert "unknown setting" in msg
    assert "allowed:" in msg and "service_minutes" in msg


def test_unknown_field_in_a_nested_table_lists_that_tables_settings() -> None:
    text = edit("grace_minutes = 30", "grace_minute = 30")
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'grace_minute ')}: no_show.grace_minute:")
    assert "grace_minutes" in msg and "reinstate_places_back" in msg
    assert "service_minutes" not in msg


def test_wrong_type() -> None:
    text = edit("max_priority_in_row = 3", 'max_priority_in_row = "three"')
    msg = only_problem(text)
    line = line_of(text, "max_priority_in_row")
    assert msg.startswith(f"{SOURCE}:{line}: queue.max_priority_in_row:")
    assert "expected a whole number" in msg and "got text" in msg


def test_wrong_type_of_an_optional_number_is_explained_plainly() -> None:
    text = edit("daily_quota = 40", "daily_quota = 4.5")
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'daily_quota')}: services[1].daily_quota:")
    assert "expected a whole number" in msg
    assert "`" not in msg, "no msgspec jargon in a message for facilities staff"


def test_missing_required_field_points_at_its_table() -> None:
    text = edit('label = "乙事项"\n', "")
    msg = only_problem(text)
    # The second [[windows]] table lacks its label: the line is that table's header.
    assert msg.startswith(f"{SOURCE}:{line_of(text, '[[windows]]', 2)}: windows[1].label:")
    assert "required" in msg


def test_unknown_service_in_a_windows_tiers() -> None:
    text = edit('tiers = [["gamma"], ["alpha", "beta"]]', 'tiers = [["gamma"], ["alpha", "betta"]]')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'betta')}: windows[2].tiers[1]:")
    assert 'unknown service "betta"' in msg and "alpha, beta, gamma" in msg


def test_duplicate_prefix() -> None:
    text = edit('prefix = "C"', 'prefix = "A"')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'prefix', 3)}: services[2].prefix:")
    assert '"A" is already the prefix of services[0]' in msg


def test_bad_session_time() -> None:
    text = edit('sessions = ["08:40-11:50", "13:10-16:50"]', 'sessions = ["8:40-25:00"]')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'sessions')}: hours.sessions[0]:")
    assert "8:40-25:00" in msg and "impossible time" in msg


def test_session_written_wrongly() -> None:
    text = edit('sessions = ["08:40-11:50", "13:10-16:50"]', 'sessions = ["08:40 to 11:50"]')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'sessions')}: hours.sessions[0]:")
    assert '"08:40-11:50"' in msg


def test_overlapping_sessions() -> None:
    text = edit(
        'sessions = ["08:40-11:50", "13:10-16:50"]', 'sessions = ["08:40-12:00", "11:50-16:50"]'
    )
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'sessions')}: hours.sessions:")
    assert "overlap" in msg


def test_bad_holiday_date() -> None:
    text = edit(
        "issue_cutoff_minutes = 20",
        'issue_cutoff_minutes = 20\nholidays = ["2026-10-01", "2026-02-30"]',
    )
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'holidays')}: hours.holidays[1]:")
    assert "2026-02-30" in msg and "not a date" in msg


def test_holiday_range_backwards() -> None:
    text = edit(
        "issue_cutoff_minutes = 20",
        'issue_cutoff_minutes = 20\nholidays = ["2026-10-08..2026-10-01"]',
    )
    msg = only_problem(text)
    assert "hours.holidays[0]" in msg and "ends before it starts" in msg


def test_bad_time_zone() -> None:
    text = edit('timezone = "Asia/Shanghai"', 'timezone = "Asia/Shangai"')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'timezone')}: hall.timezone:")
    assert "Asia/Shangai" in msg and "Asia/Shanghai" in msg


def test_quota_larger_than_the_number_width_allows() -> None:
    text = edit("number_width = 2", "number_width = 2\ndaily_quota = 100")
    msg = only_problem(text)
    assert msg.startswith(
        f"{SOURCE}:{line_of(text, 'daily_quota = 100')}: services[2].daily_quota:"
    )
    assert "between 1 and 99" in msg


def test_window_backup_to_a_missing_window() -> None:
    text = edit("backup = 4", "backup = 9")
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'backup = 9')}: windows[2].backup:")
    assert "no window 9" in msg


def test_lines_stay_right_after_an_array_written_over_several_lines() -> None:
    text = edit(
        'tiers = [["gamma"], ["alpha", "beta"]]\nbackup = 4',
        'tiers = [\n  ["gamma"],\n  ["alpha", "beta"]\n]\nbackup = 9',
    )
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}:{line_of(text, 'backup = 9')}: windows[2].backup:")


def test_not_valid_toml() -> None:
    text = edit('prefix = "B"', 'prefix = "B')
    msg = only_problem(text)
    assert msg.startswith(f"{SOURCE}: not valid TOML")
    assert f"line {line_of(text, 'prefix = ' + chr(34) + 'B')}" in msg


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "missing.toml")
    assert info.value.problems == [f"{tmp_path / 'missing.toml'}: no such file"]


def test_every_problem_is_reported_at_once() -> None:
    text = edit('timezone = "Asia/Shanghai"', 'timezone = "Nowhere/City"')
    text = edit("backup = 4", "backup = 9", text)
    text = edit('prefix = "C"', 'prefix = "A"', text)
    found = problems(text)
    assert len(found) == 3
    assert any("hall.timezone" in m for m in found)
    assert any("windows[2].backup" in m for m in found)
    assert any("services[2].prefix" in m for m in found)


def test_load_config_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "hall.toml"
    path.write_text(SMALL_HALL_TOML, encoding="utf-8")
    assert load_config(path).hall.id == "test-hall"
    path.write_text(edit("backup = 4", "backup = 9"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.problems[0].startswith(f"{path}:")
