"""The Pi's own health as devices, on a fake sysfs in a temporary folder, and the day held
while the clock has not been set by NTP."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import pytest
from aiohttp import web

import hallq.controller.app as app_module
from hallq.controller.api import drivers_key, writer_key
from hallq.controller.app import create_app
from hallq.controller.bus import EventBus
from hallq.controller.store import EventLog
from hallq.controller.writer import HallWriter
from hallq.drivers.base import DeviceReport, DriverSet, Health
from hallq.drivers.pi_health import (
    STA_UNSYNC,
    KernelClock,
    PiClock,
    PiHealth,
    PiMonitor,
    PiStorage,
    adjtimex,
    day_rollover,
)
from hallq.errors import ConfigError
from hallq.hall import commands as c
from hallq.hall.config import HallConfig, SystemSettings, parse_config
from hallq.hall.engine import Engine
from hallq.hall.events import DayStarted
from tests.conftest import SMALL_HALL_TOML, at

UNSYNCED = KernelClock(status=STA_UNSYNC, maxerror=16_000_000)  # as the kernel boots
SYNCED = KernelClock(status=0, maxerror=120_000)  # timesyncd has set it
MB = 1024 * 1024
GB = 1024 * MB


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def pi_sysfs(root: Path, alarm: str = "0", temp: str = "45000", throttled: str = "0") -> Path:
    """A Pi 4's sysfs, as far as the monitors read it."""
    write(root / "class/hwmon/hwmon0/name", "cpu_thermal\n")
    write(root / "class/hwmon/hwmon1/name", "rpi_volt\n")
    write(root / "class/hwmon/hwmon1/in0_lcrit_alarm", alarm + "\n")
    write(root / "class/thermal/thermal_zone0/type", "cpu-thermal\n")
    write(root / "class/thermal/thermal_zone0/temp", temp + "\n")
    write(root / "devices/platform/soc/soc:firmware/get_throttled", throttled + "\n")
    return root


def laptop_sysfs(root: Path) -> Path:
    """A PC: hardware monitors and thermal zones, none of them a Pi's."""
    write(root / "class/hwmon/hwmon0/name", "acpitz\n")
    write(root / "class/hwmon/hwmon0/in0_lcrit_alarm", "1\n")  # not rpi_volt: ignored
    write(root / "class/thermal/thermal_zone0/type", "x86_pkg_temp\n")
    write(root / "class/thermal/thermal_zone0/temp", "97000\n")
    return root


class Kernel:
    """adjtimex(2) as the test sets it; counts the calls."""

    def __init__(self, clock: KernelClock | None) -> None:
        self.clock = clock
        self.calls = 0

    def __call__(self) -> KernelClock | None:
        self.calls += 1
        return self.clock


def settings(**kw: object) -> SystemSettings:
    return msgspec.structs.replace(SystemSettings(), **kw)


def monitor(health: PiHealth, name: str) -> PiMonitor:
    (found,) = [d for d in health.drivers if d.name == name]
    return found


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait for `condition` (a bound against hanging, not a timing)."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, "it never happened"
        await asyncio.sleep(0.01)


def healthy_disk(path: Path) -> tuple[int, int, int]:
    return 32 * GB, 8 * GB, 24 * GB


# ---------------------------------------------------------------- which devices


def test_a_pi_has_all_four_and_a_laptop_only_clock_and_storage(tmp_path: Path) -> None:
    pi = PiHealth(SystemSettings(), tmp_path, sys_root=pi_sysfs(tmp_path / "pi"))
    assert [d.name for d in pi.drivers] == ["pi-power", "pi-clock", "pi-storage", "pi-temperature"]
    assert {d.kind for d in pi.drivers} == {"pi"}
    laptop = PiHealth(SystemSettings(), tmp_path, sys_root=laptop_sysfs(tmp_path / "pc"))
    assert [d.name for d in laptop.drivers] == ["pi-clock", "pi-storage"]
    nothing = PiHealth(SystemSettings(), tmp_path, sys_root=tmp_path / "no-sysfs")
    assert [d.name for d in nothing.drivers] == ["pi-clock", "pi-storage"]


# ---------------------------------------------------------------- power


async def test_undervoltage_is_an_error_then_a_warning_until_the_next_boot(
    tmp_path: Path,
) -> None:
    sys_root = pi_sysfs(tmp_path / "sys")
    power = monitor(PiHealth(SystemSettings(), tmp_path, sys_root=sys_root), "pi-power")
    assert await power.check() == Health("ok")
    write(sys_root / "class/hwmon/hwmon1/in0_lcrit_alarm", "1\n")
    low = await power.check()
    assert low.status == "error"
    assert "电源电压不足" in low.reason and "5V/3A" in low.reason and "5V/5A" in low.reason
    assert "Undervoltage" in low.reason_en
    write(sys_root / "class/hwmon/hwmon1/in0_lcrit_alarm", "0\n")  # the supply recovers
    after = await power.check()
    assert after.status == "warning"
    assert "开机以来曾出现电源电压不足" in after.reason


async def test_the_firmware_flags_tell_undervoltage_now_and_since_boot(tmp_path: Path) -> None:
    sys_root = pi_sysfs(tmp_path / "sys", throttled="50000")  # since boot: under, throttled
    power = monitor(PiHealth(SystemSettings(), tmp_path, sys_root=sys_root), "pi-power")
    assert (await power.check()).status == "warning"
    write(sys_root / "devices/platform/soc/soc:firmware/get_throttled", "50005\n")
    assert (await power.check()).status == "error"


async def test_only_the_firmware_flags_are_enough_for_a_power_device(tmp_path: Path) -> None:
    sys_root = tmp_path / "sys"
    write(sys_root / "devices/platform/soc/soc:firmware/get_throttled", "1\n")
    power = monitor(PiHealth(SystemSettings(), tmp_path, sys_root=sys_root), "pi-power")
    assert (await power.check()).status == "error"


# ---------------------------------------------------------------- temperature


@pytest.mark.parametrize(
    ("temp", "status", "words"),
    [
        ("45000", "ok", ""),
        ("79999", "ok", ""),
        ("81500", "warning", "超过 80 °C"),
        ("86000", "error", "已降频"),
    ],
)
async def test_cpu_temperature(tmp_path: Path, temp: str, status: str, words: str) -> None:
    sys_root = pi_sysfs(tmp_path / "sys", temp=temp)
    health = PiHealth(settings(temperature_warn_celsius=80.0), tmp_path, sys_root=sys_root)
    found = await monitor(health, "pi-temperature").check()
    assert found.status == status
    assert words in found.reason


async def test_a_throttled_cpu_that_is_not_hot_is_a_warning(tmp_path: Path) -> None:
    sys_root = pi_sysfs(tmp_path / "sys", temp="60000", throttled="4")
    temperature = monitor(PiHealth(SystemSettings(), tmp_path, sys_root=sys_root), "pi-temperature")
    found = await temperature.check()
    assert (found.status, found.reason) == ("warning", "CPU 已降频：请改善通风")
    # Throttled for want of power: pi-power says so; the temperature is fine.
    write(sys_root / "devices/platform/soc/soc:firmware/get_throttled", "5\n")
    assert (await temperature.check()).status == "ok"


async def test_a_changed_threshold_applies_from_the_next_look(tmp_path: Path) -> None:
    sys_root = pi_sysfs(tmp_path / "sys", temp="72000")
    temperature = monitor(PiHealth(SystemSettings(), tmp_path, sys_root=sys_root), "pi-temperature")
    assert (await temperature.check()).status == "ok"
    temperature.reconfigure(settings(temperature_warn_celsius=70.0))
    assert (await temperature.check()).status == "warning"


# ---------------------------------------------------------------- storage


@pytest.mark.parametrize(
    ("usage", "status"),
    [
        ((32 * GB, 8 * GB, 24 * GB), "ok"),
        ((32 * GB, 29 * GB, 3 * GB), "warning"),  # 90.6 %
        ((32 * GB, 31.5 * GB, 0.5 * GB), "error"),  # 98.4 %
        ((200 * MB, 150 * MB, 40 * MB), "error"),  # 79 %, but under 50 MB free
    ],
)
async def test_storage_nearly_full(
    tmp_path: Path, usage: tuple[float, float, float], status: str
) -> None:
    asked: list[Path] = []

    def disk(path: Path) -> tuple[int, int, int]:
        asked.append(path)
        total, used, free = usage
        return int(total), int(used), int(free)

    storage = PiStorage(tmp_path, warn_percent=90, check_seconds=30, usage=disk)
    found = await storage.check()
    assert found.status == status
    assert asked == [tmp_path]
    if status == "error":
        assert "存储空间将满" in found.reason and str(tmp_path) in found.reason


# ---------------------------------------------------------------- clock


async def test_an_unsynchronised_clock_is_an_error_that_holds_the_day(tmp_path: Path) -> None:
    kernel = Kernel(UNSYNCED)
    clock = PiClock(30, hold=True, adjtimex=kernel, run_root=tmp_path / "run")
    found = await clock.check()
    assert found.status == "error"
    assert found.reason.startswith("时钟未同步，暂停换日")
    assert "waits for NTP" in found.reason_en
    assert clock.allows_new_day() is False
    kernel.clock = SYNCED
    assert clock.allows_new_day() is True
    assert clock.report.health == Health("ok")  # said at once, not at the next look
    kernel.clock = UNSYNCED  # NTP unreachable for hours: the clock was set, it stays good
    assert clock.allows_new_day() is True
    later = await clock.check()
    assert later.status == "warning"
    assert "换日不受影响" in later.reason


async def test_timesyncd_s_flag_or_chrony_s_small_error_count_as_synchronised(
    tmp_path: Path,
) -> None:
    run_root = tmp_path / "run"
    write(run_root / "systemd/timesync/synchronized", "")
    assert PiClock(30, adjtimex=Kernel(UNSYNCED), run_root=run_root).synchronised() is True
    chrony = KernelClock(status=STA_UNSYNC, maxerror=40_000)  # chrony without rtcsync
    assert PiClock(30, adjtimex=Kernel(chrony), run_root=tmp_path / "no").synchronised() is True


async def test_a_clock_that_cannot_be_read_holds_nothing(tmp_path: Path) -> None:
    clock = PiClock(30, hold=True, adjtimex=Kernel(None), run_root=tmp_path / "run")
    assert (await clock.check()).status == "unknown"
    assert clock.synchronised() is None
    assert clock.allows_new_day() is True


async def test_with_hold_off_the_day_rolls_on_an_unsynchronised_clock(tmp_path: Path) -> None:
    clock = PiClock(30, hold=False, adjtimex=Kernel(UNSYNCED), run_root=tmp_path / "run")
    found = await clock.check()
    assert found.status == "error" and "暂停换日" not in found.reason
    assert clock.allows_new_day() is True
    clock.reconfigure(settings(hold_day_until_clock_synced=True))
    assert clock.allows_new_day() is False
    assert clock.report.health.reason.startswith("时钟未同步，暂停换日")


def test_the_real_adjtimex_reads_without_privilege() -> None:
    found = adjtimex()  # Linux everywhere hallq runs; None elsewhere
    assert found is None or isinstance(found.synchronised, bool)


# ---------------------------------------------------------------- as devices


async def test_each_monitor_reports_changes_from_its_own_task(tmp_path: Path) -> None:
    sys_root = pi_sysfs(tmp_path / "sys")
    health = PiHealth(
        settings(check_seconds=0.01),
        tmp_path,
        sys_root=sys_root,
        run_root=tmp_path / "run",
        adjtimex=Kernel(SYNCED),
        usage=healthy_disk,
    )
    reports: list[tuple[str, str]] = []

    def note(r: DeviceReport) -> None:
        reports.append((r.device, r.health.status))

    for d in health.drivers:
        d.on_health(note)
        await d.start()
    try:
        await eventually(lambda: len(reports) >= 4)
        assert sorted(reports) == [
            ("pi-clock", "ok"),
            ("pi-power", "ok"),
            ("pi-storage", "ok"),
            ("pi-temperature", "ok"),
        ]
        write(sys_root / "class/thermal/thermal_zone0/temp", "90000\n")
        await eventually(lambda: ("pi-temperature", "error") in reports)
        assert len(reports) == 5  # unchanged health is not reported again
    finally:
        for d in health.drivers:
            await d.stop()


async def test_an_unreadable_file_is_unknown_and_the_monitor_goes_on(tmp_path: Path) -> None:
    sys_root = pi_sysfs(tmp_path / "sys")
    power = monitor(PiHealth(settings(check_seconds=0.01), tmp_path, sys_root=sys_root), "pi-power")
    alarm = sys_root / "class/hwmon/hwmon1/in0_lcrit_alarm"
    alarm.unlink()
    await power.start()
    try:
        await eventually(lambda: bool(power.report.health.reason))  # its first look
        unreadable = power.report.health
        assert unreadable.status == "unknown" and "pi-power" in unreadable.reason
        write(alarm, "1\n")
        await eventually(lambda: power.report.health != unreadable)
        assert power.report.health.status == "error"
    finally:
        await power.stop()


# ---------------------------------------------------------------- configuration


def test_system_settings_are_checked() -> None:
    cfg = parse_config(SMALL_HALL_TOML)
    assert cfg.system == SystemSettings()
    text = SMALL_HALL_TOML + (
        "\n[system]\nhold_day_until_clock_synced = false\ndisk_warn_percent = 99\n"
        "temperature_warn_celsius = 90.0\ncheck_seconds = 1.0\n"
    )
    with pytest.raises(ConfigError) as e:
        parse_config(text, "hall.toml")
    problems = "\n".join(e.value.problems)
    assert "system.disk_warn_percent" in problems and "50-97" in problems
    assert "system.temperature_warn_celsius" in problems and "85 °C" in problems
    assert "system.check_seconds" in problems
    ok = parse_config(SMALL_HALL_TOML + "\n[system]\nhold_day_until_clock_synced = false\n")
    assert ok.system.hold_day_until_clock_synced is False
    with pytest.raises(ConfigError, match=r"system\.hold_day"):
        parse_config(SMALL_HALL_TOML + "\n[system]\nhold_day = false\n")


# ---------------------------------------------------------------- the day held


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_writer_holds_the_day_until_the_clock_is_synchronised(
    small_config: HallConfig, tmp_path: Path
) -> None:
    kernel = Kernel(UNSYNCED)
    pi_clock = PiClock(30, hold=True, adjtimex=kernel, run_root=tmp_path / "run")
    now = FakeClock(at(2026, 11, 23, 9, 0))  # Monday
    writer = HallWriter(
        Engine(small_config),
        EventLog(tmp_path / "events.sqlite3"),
        EventBus(),
        now,
        roll_day=day_rollover([pi_clock]),
    )
    writer.load()
    await writer.start()
    try:
        first = await writer.submit(c.IssueTicket(request_id="t1", service="alpha"))
        assert writer.engine.state.day == "2026-11-23"  # the first day starts regardless
        now.now = at(2026, 11, 24, 9, 0)  # Tuesday, by a clock NTP has not confirmed
        second = await writer.submit(c.IssueTicket(request_id="t2", service="alpha"))
        assert writer.engine.state.day == "2026-11-23"
        assert second["seq"] > first["seq"]
        numbers = [t.display for t in writer.engine.state.tickets.values()]
        assert numbers == ["A001", "A002"]  # Monday's numbering goes on, nothing expired
        kernel.clock = SYNCED
        await writer.submit(c.IssueTicket(request_id="t3", service="alpha"))
        assert writer.engine.state.day == "2026-11-24"
        days = [r.event for r in writer.log.iter_after(0) if isinstance(r.event, DayStarted)]
        assert [d.day for d in days] == ["2026-11-23", "2026-11-24"]
    finally:
        await writer.stop()
        writer.log.close()


@pytest.fixture
async def held_app(
    small_config: HallConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[web.Application, Kernel, FakeClock]]:
    monkeypatch.setattr(app_module, "TICK_SECONDS", 0.01)
    kernel = Kernel(UNSYNCED)
    pi_clock = PiClock(3600, hold=True, adjtimex=kernel, run_root=tmp_path / "run")
    now = FakeClock(at(2026, 11, 23, 9, 0))
    app = create_app(small_config, tmp_path, clock=now, drivers=DriverSet([pi_clock]))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        yield app, kernel, now
    finally:
        await runner.cleanup()


async def test_the_day_clock_waits_quietly_while_held(
    held_app: tuple[web.Application, Kernel, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    app, kernel, now = held_app
    writer = app[writer_key]
    # Started: the first day, and the pi-clock's first look (its error) logged.
    state = writer.engine.state
    await eventually(lambda: state.day == "2026-11-23" and "pi-clock" in state.devices)
    assert writer.engine.state.devices["pi-clock"].status == "error"
    caplog.set_level(logging.WARNING, logger="hallq.controller")
    now.now = at(2026, 11, 24, 9, 0)
    commands, calls = writer.commands, kernel.calls
    await eventually(lambda: kernel.calls >= calls + 5)  # the day clock looked five times more
    assert writer.commands == commands  # and sent nothing: no tick while held
    assert writer.engine.state.day == "2026-11-23"
    held = [r for r in caplog.records if "held until NTP" in r.getMessage()]
    assert len(held) == 1  # said once, not at every look
    kernel.clock = SYNCED
    # NTP sets the clock: the day rolls over, and the pi-clock says so at once.
    await eventually(lambda: writer.engine.state.day == "2026-11-24")
    await eventually(lambda: writer.engine.state.devices["pi-clock"].status == "ok")


async def test_turning_the_hold_off_lets_the_held_day_start(
    held_app: tuple[web.Application, Kernel, FakeClock],
) -> None:
    app, _kernel, now = held_app
    writer = app[writer_key]
    await eventually(lambda: writer.engine.state.day == "2026-11-23")
    now.now = at(2026, 11, 24, 9, 0)
    await writer.submit(c.IssueTicket(request_id="t1", service="alpha"))
    assert writer.engine.state.day == "2026-11-23"  # held
    text = SMALL_HALL_TOML + "\n[system]\nhold_day_until_clock_synced = false\n"
    await writer.submit(c.ChangeConfig(request_id="cfg", text=text, by="test"))
    # The day clock's next look rolls it over.
    await eventually(lambda: writer.engine.state.day == "2026-11-24")


def test_the_controller_watches_the_pi_on_its_own_clock_only(
    small_config: HallConfig, tmp_path: Path
) -> None:
    real = create_app(small_config, tmp_path / "real")  # the machine's clock, as `hallq run`
    names = {d.name for d in real[drivers_key].drivers}
    assert {"pi-clock", "pi-storage"} <= names
    demo = create_app(small_config, tmp_path / "demo", clock=lambda: at(2026, 11, 23, 9, 0))
    names = {d.name for d in demo[drivers_key].drivers}
    assert "pi-storage" in names and "pi-clock" not in names
