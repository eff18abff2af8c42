"""Shared fixtures: the demo hall, a small test hall, a local clock and engine helpers.

Other test files import `at`, `run`, `SMALL_HALL_TOML` from here and use the fixtures
`demo_config`, `small_config` and `make_engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from hallq.hall.commands import Command
from hallq.hall.config import HallConfig, demo_config_path, load_config, parse_config
from hallq.hall.engine import Engine

SHANGHAI = ZoneInfo("Asia/Shanghai")

# A small hall for rule tests: three services, four windows (window 3 is a composite window
# with two tiers), two priority categories, and no staff list so any staff id may sign in.
SMALL_HALL_TOML = """\
[hall]
id = "test-hall"
name = "测试大厅"
timezone = "Asia/Shanghai"

[hours]
workdays = ["mon", "tue", "wed", "thu", "fri"]
sessions = ["08:40-11:50", "13:10-16:50"]
issue_cutoff_minutes = 20

[[services]]
code = "alpha"
name = "甲事项"
prefix = "A"
service_minutes = 10

[[services]]
code = "beta"
name = "乙事项"
prefix = "B"
service_minutes = 6
daily_quota = 40
session_quota = 25

[[services]]
code = "gamma"
name = "丙事项"
prefix = "C"
number_width = 2
service_minutes = 15

[[windows]]
number = 1
label = "甲事项"
tiers = [["alpha"]]
backup = 2

[[windows]]
number = 2
label = "乙事项"
tiers = [["beta"]]
backup = 1

[[windows]]
number = 3
label = "综合窗口"
tiers = [["gamma"], ["alpha", "beta"]]
backup = 4

[[windows]]
number = 4
label = "乙丙事项"
tiers = [["beta", "gamma"]]
backup = 3

[[priority]]
code = "green"
name = "绿色通道"
rank = 1
bypass_quota = true

[[priority]]
code = "vip"
name = "重点帮办"
rank = 2
bypass_quota = false

[queue]
max_priority_in_row = 3
transfer_to_front = false

[no_show]
recalls_before_no_show = 1
grace_minutes = 30
reinstate_places_back = 3
max_reinstatements = 1

[appointments]
early_minutes = 30
late_minutes = 15
"""


def at(year: int, month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0) -> float:
    """Seconds since the epoch of a local Shanghai time (2026-11-23 is a Monday)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI).timestamp()


def run(engine: Engine, cmd: Command, now: float) -> dict[str, Any]:
    """Execute `cmd`, assert the hall accepted it, and return the reply."""
    out = engine.execute(cmd, now)
    assert out.error is None, f"{type(cmd).__name__} rejected: {out.error}"
    assert out.reply is not None
    return out.reply


def rejected(engine: Engine, cmd: Command, now: float) -> str:
    """Execute `cmd`, assert the hall refused it, and return the error code."""
    out = engine.execute(cmd, now)
    assert out.error is not None, f"{type(cmd).__name__} was accepted: {out.reply}"
    return out.error.code


@pytest.fixture(scope="session")
def demo_config() -> HallConfig:
    """config/demo-hall.toml, loaded and checked."""
    return load_config(demo_config_path())


@pytest.fixture(scope="session")
def small_config() -> HallConfig:
    """The small test hall (SMALL_HALL_TOML)."""
    return parse_config(SMALL_HALL_TOML, "small-hall.toml")


@pytest.fixture
def make_engine() -> Callable[[HallConfig], Engine]:
    """A factory of fresh engines: `make_engine(small_config)`."""
    return Engine
pytest_plugins = ["tests.browser", "tests.centraldb"]
