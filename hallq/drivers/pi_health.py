"""The Raspberry Pi's own troubles as device health (kind "pi"): power, clock, storage, heat.

Each concern is one device with its own task, looking every `check_seconds` ([system]),
reading sysfs off the event loop, and reporting through the driver's health like any other
device (logged as a health change, shown on the admin page):

- "pi-power": undervoltage, from the kernel's hwmon alarm (`rpi_volt`, `in0_lcrit_alarm`)
  and the firmware's throttled flags where readable. A weak supply corrupts SD cards: once
  seen it stays a warning until the next boot even after it clears.
- "pi-clock": whether the clock has been set by NTP since boot, from adjtimex(2). The Pi has
  no battery clock and boots on the time saved at the last shutdown; while it has not been
  synchronised the controller holds the business day ([system] hold_day_until_clock_synced).
- "pi-storage": the data folder's file system nearly full (a full disk stops ticket issue).
- "pi-temperature": the CPU's temperature (`cpu-thermal`); at 85 °C the Pi slows down.

Power and temperature exist only on a Pi: elsewhere (a laptop) they are not added at all,
rather than shown as unknown or raise false alarms. Clock and storage are added everywhere.
The roots (`sys_root`, `run_root`), the adjtimex call and the disk usage call are
parameters, so tests run on a fake sysfs in a temporary folder.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import shutil
from abc import abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from hallq.drivers.base import Driver, Health
from hallq.hall.config import SystemSettings
from hallq.hall.events import Record

log = logging.getLogger("hallq.drivers.pi")

SYS = Path("/sys")
RUN = Path("/run")
KIND = "pi"

UNDERVOLTAGE_NOW = 1 << 0  # the firmware's get_throttled flags
THROTTLED_NOW = 1 << 2
SOFT_TEMP_LIMIT_NOW = 1 << 3
UNDERVOLTAGE_SINCE_BOOT = 1 << 16

STA_UNSYNC = 0x0040  # timex.status: the clock is not synchronised
MAXERROR_LIMIT_US = 16_000_000  # NTP_PHASE_LIMIT: the kernel's "no idea" maximum error
TIMESYNC_FLAG = Path("systemd/timesync/synchronized")  # under /run: touched on timesyncd's sync

HOT_CELSIUS = 85.0  # the Pi's firmware throttles the CPU from here
DISK_FULL_PERCENT = 98.0
DISK_MIN_FREE = 50 * 1024 * 1024

DiskUsage = Callable[[Path], tuple[int, int, int]]  # shutil.disk_usage: total, used, free


# ---------------------------------------------------------------- the kernel's clock


@dataclass(frozen=True)
class KernelClock:
    """What adjtimex(2) says of the system clock's discipline."""

    status: int  # STA_* flags
    maxerror: int  # microseconds

    @property
    def synchronised(self) -> bool:
        # The kernel boots with STA_UNSYNC set and the maximum error at its limit; an NTP
        # client's first adjustment clears both (timesyncd) or lowers the error and may
        # leave the flag (chrony without rtcsync, which is why timedatectl reads only the
        # error). Either one then means "set by NTP".
        return not self.status & STA_UNSYNC or self.maxerror < MAXERROR_LIMIT_US


class _Timex(ctypes.Structure):
    # struct timex up to `status`; the rest (tick, pps, tai…) is room the kernel writes into.
    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("_rest", ctypes.c_char * 256),
    ]


_libc: ctypes.CDLL | None = None


def adjtimex() -> KernelClock | None:
    """The kernel's clock status, read-only (modes 0: no privilege); None where there is none."""
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        call = _libc.adjtimex
    except (OSError, AttributeError):  # not Linux
        return None
    tx = _Timex()  # zeroed: modes 0 only reads
    if call(ctypes.byref(tx)) < 0:
        return None
    return KernelClock(status=tx.status, maxerror=tx.maxerror)


# ---------------------------------------------------------------- the monitors


class PiMonitor(Driver):
    """One of the Pi's concerns, looked at every `check_seconds`; hall events mean nothing to it."""

    kind = KIND

    def __init__(self, name: str, check_seconds: float) -> None:
        super().__init__(name, queue_size=1)
        self.check_seconds = check_seconds
        self._trouble: str | None = None

    def offer(self, record: Record) -> None:
        """Hall events are not the Pi's concern: nothing is queued."""

    async def handle(self, record: Record) -> None:
        """Never called: nothing is offered."""

    async def start(self) -> None:
        await self.open()
        self._task = asyncio.create_task(self._watch(), name=f"driver-{self.name}")

    def reconfigure(self, settings: SystemSettings) -> None:
        """A changed [system] section, in effect from the next look."""
        self.check_seconds = settings.check_seconds

    @abstractmethod
    async def check(self) -> Health:
        """Look once (file reads off the loop) and say how it is."""

    async def _watch(self) -> None:
        while True:
            try:
                health = await self.check()
            except Exception as e:  # an unreadable file: say so, look again next time
                if repr(e) != self._trouble:  # logged once, not at every look
                    log.warning("%s: check failed: %r", self.name, e)
                self._trouble = repr(e)
                self.failed(
                    f"{self.name} 无法读取：{e}", f"{self.name} cannot be read: {e}", "unknown"
                )
            else:
                self._trouble = None
                self.seen(health)
            await asyncio.sleep(self.check_seconds)


class PiPower(PiMonitor):
    """Undervoltage: the kernel's alarm now, the firmware's flags now and since boot."""

    UNDER = (
        "电源电压不足：请换用 5V/3A（Pi 5: 5V/5A）官方电源，电压不足会损坏存储卡",
        "Undervoltage: the power supply is too weak; use the official 5V/3A supply "
        "(Pi 5: 5V/5A), as low voltage corrupts the SD card",
    )
    SINCE_BOOT = (
        "开机以来曾出现电源电压不足：请换用 5V/3A（Pi 5: 5V/5A）官方电源",
        "Undervoltage was seen since boot: use the official 5V/3A supply (Pi 5: 5V/5A)",
    )

    def __init__(self, alarm: Path | None, throttled: Path | None, check_seconds: float) -> None:
        super().__init__("pi-power", check_seconds)
        self.alarm = alarm  # …/hwmon/hwmonN/in0_lcrit_alarm of "rpi_volt"
        self.throttled = throttled
        self.seen_low = False  # this process saw it: kept until the next boot's new process

    async def check(self) -> Health:
        now, since_boot = await asyncio.to_thread(self._read)
        self.seen_low = self.seen_low or now
        if now:
            return Health("error", *self.UNDER)
        if since_boot or self.seen_low:
            return Health("warning", *self.SINCE_BOOT)
        return Health("ok")

    def _read(self) -> tuple[bool, bool]:
        now = since_boot = False
        if self.alarm is not None:
            now = self.alarm.read_text().strip() == "1"
        flags = _throttled_flags(self.throttled)
        if flags is not None:
            now = now or bool(flags & UNDERVOLTAGE_NOW)
            since_boot = bool(flags & UNDERVOLTAGE_SINCE_BOOT)
        return now, since_boot


class PiClock(PiMonitor):
    """Has the clock been set by NTP since boot? While not, a new business day waits."""

    def __init__(
        self,
        check_seconds: float,
        hold: bool = True,
        adjtimex: Callable[[], KernelClock | None] = adjtimex,
        run_root: Path = RUN,
    ) -> None:
        super().__init__("pi-clock", check_seconds)
        self.hold = hold  # [system] hold_day_until_clock_synced
        self.adjtimex = adjtimex
        self.flag = run_root / TIMESYNC_FLAG
        self.synced_since_boot = False  # once set by NTP it stays right for days

    def reconfigure(self, settings: SystemSettings) -> None:
        super().reconfigure(settings)
        if settings.hold_day_until_clock_synced != self.hold:
            self.hold = settings.hold_day_until_clock_synced
            self._report(self.adjtimex())

    def synchronised(self) -> bool | None:
        """Set by NTP since boot (None: cannot tell, e.g. not Linux).

        Cheap (one system call, and a stat of /run until the first sync): the writer asks
        before each batch of commands.
        """
        if self.synced_since_boot:
            return True
        kernel = self.adjtimex()
        if self._note(kernel, self.flag.exists()):
            self._report(kernel)  # at once: the day may roll over in this very batch
            return True
        return None if kernel is None else False

    def allows_new_day(self) -> bool:
        """May the business day roll over now (the writer's `roll_day`)?"""
        return not self.hold or self.synchronised() is not False

    async def check(self) -> Health:
        kernel, flag = await asyncio.to_thread(lambda: (self.adjtimex(), self.flag.exists()))
        self._note(kernel, flag)
        return self._health(kernel)

    def _note(self, kernel: KernelClock | None, flag: bool) -> bool:
        """Remember a first synchronisation; whether the clock has been set since boot."""
        if not self.synced_since_boot and (flag or (kernel is not None and kernel.synchronised)):
            log.info("the clock is synchronised (NTP)")
            self.synced_since_boot = True
        return self.synced_since_boot

    def _report(self, kernel: KernelClock | None) -> None:
        self.seen(self._health(kernel))

    def _health(self, kernel: KernelClock | None) -> Health:
        if self.synced_since_boot:
            if kernel is not None and not kernel.synchronised:
                return Health(
                    "warning",
                    "时钟已长时间未与时间服务器校对：请检查网络（换日不受影响）",
                    "The clock has not been checked against NTP for hours: check the network "
                    "(the day still rolls over)",
                )
            return Health("ok")
        if kernel is None:
            return Health(
                "unknown", "无法判断时钟是否已同步", "Cannot tell whether the clock is set"
            )
        if self.hold:
            return Health(
                "error",
                "时钟未同步，暂停换日：新的营业日等待网络校时（NTP）；请检查网络和时间服务器",
                "Clock not synchronised: the new business day waits for NTP; check the "
                "network and the time server",
            )
        return Health(
            "error",
            "时钟未同步：树莓派没有电池时钟，时间可能不准；请检查网络和时间服务器",
            "Clock not synchronised: the Pi has no battery clock and its time may be wrong; "
            "check the network and the time server",
        )


class PiStorage(PiMonitor):
    """The file system holding the event log: nearly full stops the hall."""

    def __init__(
        self,
        path: Path,
        warn_percent: int,
        check_seconds: float,
        usage: DiskUsage = shutil.disk_usage,
    ) -> None:
        super().__init__("pi-storage", check_seconds)
        self.path = path
        self.warn_percent = warn_percent
        self.usage = usage

    def reconfigure(self, settings: SystemSettings) -> None:
        super().reconfigure(settings)
        self.warn_percent = settings.disk_warn_percent

    async def check(self) -> Health:
        _total, used, free = await asyncio.to_thread(self.usage, self.path)
        # As `df` counts it: the blocks kept for root are neither used nor free to us.
        percent = 100.0 * used / (used + free) if used + free else 100.0
        if percent >= DISK_FULL_PERCENT or free < DISK_MIN_FREE:
            log.error("%s: %.1f%% used, %d MB free", self.path, percent, free // 2**20)
            return Health(
                "error",
                f"存储空间将满（{self.path}）：请删除无用文件或换用更大的存储卡；写满后无法取号",
                f"Storage nearly full ({self.path}): remove unneeded files or use a larger "
                "SD card; once full, no ticket can be issued",
            )
        if percent >= self.warn_percent:
            return Health(
                "warning",
                f"存储空间已用超过 {self.warn_percent}%（{self.path}）：请及早清理",
                f"Storage over {self.warn_percent}% used ({self.path}): free some space soon",
            )
        return Health("ok")


class PiTemperature(PiMonitor):
    """The CPU's temperature, and whether the firmware is slowing it down."""

    def __init__(
        self, zone: Path, warn_celsius: float, check_seconds: float, throttled: Path | None = None
    ) -> None:
        super().__init__("pi-temperature", check_seconds)
        self.zone = zone  # /sys/class/thermal/thermal_zoneN of type cpu-thermal
        self.warn_celsius = warn_celsius
        self.throttled = throttled

    def reconfigure(self, settings: SystemSettings) -> None:
        super().reconfigure(settings)
        self.warn_celsius = settings.temperature_warn_celsius

    async def check(self) -> Health:
        celsius, flags = await asyncio.to_thread(self._read)
        # The reasons name the thresholds, not the reading: each change is logged.
        if celsius >= HOT_CELSIUS:
            return Health(
                "error",
                f"CPU 温度超过 {HOT_CELSIUS:g} °C，已降频：请改善通风，加装散热片或风扇",
                f"CPU over {HOT_CELSIUS:g} °C and slowed down: improve the airflow, add a "
                "heatsink or a fan",
            )
        if celsius >= self.warn_celsius:
            return Health(
                "warning",
                f"CPU 温度偏高（超过 {self.warn_celsius:g} °C）：请改善通风",
                f"CPU running hot (over {self.warn_celsius:g} °C): improve the airflow",
            )
        # Throttled while not hot and not under-powered (pi-power says that one).
        slowed = flags is not None and flags & (THROTTLED_NOW | SOFT_TEMP_LIMIT_NOW)
        if slowed and flags is not None and not flags & UNDERVOLTAGE_NOW:
            return Health(
                "warning",
                "CPU 已降频：请改善通风",
                "The CPU is slowed down (throttled): improve the airflow",
            )
        return Health("ok")

    def _read(self) -> tuple[float, int | None]:
        return int((self.zone / "temp").read_text()) / 1000, _throttled_flags(self.throttled)


def _throttled_flags(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(path.read_text().strip(), 16)  # the firmware driver writes it in hex
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------- this machine's set


class PiHealth:
    """The Pi's health devices this machine has: clock and storage always, power and
    temperature on a Pi. `with_clock` False: the hall runs on another clock (the demo's, a
    test's), so this machine's synchronisation neither shows nor holds the day."""

    def __init__(
        self,
        settings: SystemSettings,
        data_dir: Path | None,
        sys_root: Path = SYS,
        run_root: Path = RUN,
        adjtimex: Callable[[], KernelClock | None] = adjtimex,
        usage: DiskUsage = shutil.disk_usage,
        with_clock: bool = True,
    ) -> None:
        every = settings.check_seconds
        throttled = _find_throttled(sys_root)
        self.clock = (
            PiClock(every, settings.hold_day_until_clock_synced, adjtimex, run_root)
            if with_clock
            else None
        )
        self.storage = (
            PiStorage(data_dir, settings.disk_warn_percent, every, usage)
            if data_dir is not None
            else None
        )
        alarm = _find_undervoltage_alarm(sys_root)
        self.power = (
            PiPower(alarm, throttled, every) if alarm is not None or throttled is not None else None
        )
        zone = _find_cpu_zone(sys_root)
        self.temperature = (
            PiTemperature(zone, settings.temperature_warn_celsius, every, throttled)
            if zone is not None
            else None
        )

    @property
    def drivers(self) -> list[PiMonitor]:
        found = (self.power, self.clock, self.storage, self.temperature)
        return [d for d in found if d is not None]


def day_rollover(drivers: Iterable[Driver]) -> Callable[[], bool]:
    """The writer's `roll_day`: the pi-clock's say, or always when there is none."""
    for d in drivers:
        if isinstance(d, PiClock):
            return d.allows_new_day
    return lambda: True


def _find_undervoltage_alarm(sys_root: Path) -> Path | None:
    for hwmon in sorted((sys_root / "class" / "hwmon").glob("hwmon*")):
        try:
            if (hwmon / "name").read_text().strip() != "rpi_volt":
                continue
        except OSError:
            continue
        alarm = hwmon / "in0_lcrit_alarm"
        if alarm.exists():
            return alarm
    return None


def _find_cpu_zone(sys_root: Path) -> Path | None:
    for zone in sorted((sys_root / "class" / "thermal").glob("thermal_zone*")):
        try:
            if (zone / "type").read_text().strip() == "cpu-thermal":
                return zone
        except OSError:
            continue
    return None


def _find_throttled(sys_root: Path) -> Path | None:
    # Pi 4 and earlier: platform/soc/soc:firmware; the Pi 5's firmware node is named after
    # its bus address. One level of wildcards each: sysfs is too large to walk.
    platform = sys_root / "devices" / "platform"
    for pattern in ("*/*:firmware/get_throttled", "*/*/*:firmware/get_throttled"):
        found = sorted(platform.glob(pattern))
        if found:
            return found[0]
    return None
