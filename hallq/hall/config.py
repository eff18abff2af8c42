"""Hall configuration (TOML): the model, its defaults and its validation.

Every rule the hall carries is a setting here. `load_config(path)` returns a checked
`HallConfig` or raises `ConfigError` whose lines name the file, the line where it can be
found, the field, and what is allowed.
"""

from __future__ import annotations

import itertools
import re
import tomllib
from collections.abc import Container
from dataclasses import dataclass
from datetime import date, time
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from hallq.errors import ConfigError
from hallq.hall.shipping import MAX_BATCH_RECORDS
from hallq.hall.tomllines import line_of

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Base for config tables: unknown keys are errors (a typo must not pass silently)."""


class HallInfo(_Section, kw_only=True):
    id: str
    name: str
    name_en: str = ""
    timezone: str = "Asia/Shanghai"
    footer: str = ""
    footer_en: str = ""
    # How phones on the hall's network reach the controller, for the ticket's QR code
    # (e.g. "http://10.0.0.2:8080"); empty: the address the kiosk uses.
    public_url: str = ""


class Season(_Section, kw_only=True):
    """A timetable that replaces the usual one between two dates each year (e.g. 夏季作息)."""

    name: str
    from_: str = msgspec.field(name="from")
    to: str
    sessions: list[str]
    weekdays: dict[Weekday, list[str]] = {}


class Hours(_Section, kw_only=True):
    workdays: list[Weekday] = msgspec.field(
        default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"]
    )
    sessions: list[str] = msgspec.field(default_factory=lambda: ["08:40-11:50", "13:10-16:50"])
    weekdays: dict[Weekday, list[str]] = {}
    issue_cutoff_minutes: int = 30
    holidays: list[str] = []
    makeup_workdays: list[str] = []
    seasons: list[Season] = []


class Guide(_Section, kw_only=True):
    """办事指南: what the citizen is told once (一次性告知)."""

    materials: list[str] = []
    materials_en: list[str] = []
    time_limit: str = ""
    fee: str = ""
    legal_basis: str = ""
    notes: str = ""


class Service(_Section, kw_only=True):
    code: str
    name: str
    name_en: str = ""
    prefix: str
    number_width: int = 3
    daily_quota: int | None = None
    session_quota: int | None = None
    service_minutes: float = 10.0
    enabled: bool = True
    guide: Guide = msgspec.field(default_factory=Guide)


class Window(_Section, kw_only=True):
    number: int
    label: str
    label_en: str = ""
    tiers: list[list[str]]
    backup: int | None = None


class PriorityCategory(_Section, kw_only=True):
    """A priority class such as 绿色通道; lower rank is called first, all before normal."""

    code: str
    name: str
    name_en: str = ""
    rank: int = 1
    bypass_quota: bool = True


class QueueRules(_Section, kw_only=True):
    max_priority_in_row: int = 3
    transfer_to_front: bool = False


class NoShowRules(_Section, kw_only=True):
    recalls_before_no_show: int = 1
    grace_minutes: int = 30
    reinstate_places_back: int = 3
    max_reinstatements: int = 1


class AppointmentRules(_Section, kw_only=True):
    early_minutes: int = 30
    late_minutes: int = 15
    late_arrival: Literal["walk_in", "refuse"] = "walk_in"
    # 最多跑一次: what the kiosk offers a citizen whose wait would run past closing, e.g.
    # "扫描门口二维码或拨打 12345 预约明天的号". Empty: a general suggestion to book another day.
    booking_advice: str = ""
    booking_advice_en: str = ""


class AwayRules(_Section, kw_only=True):
    thresholds_minutes: list[int] = msgspec.field(default_factory=lambda: [15, 30, 60])


class EvaluationLevel(_Section, kw_only=True):
    code: str
    name: str
    name_en: str = ""
    bad: bool = False


DEFAULT_LEVELS = [
    EvaluationLevel(code="very_satisfied", name="非常满意", name_en="Very satisfied"),
    EvaluationLevel(code="satisfied", name="满意", name_en="Satisfied"),
    EvaluationLevel(code="basic", name="基本满意", name_en="Fairly satisfied"),
    EvaluationLevel(code="dissatisfied", name="不满意", name_en="Dissatisfied", bad=True),
    EvaluationLevel(
        code="very_dissatisfied", name="非常不满意", name_en="Very dissatisfied", bad=True
    ),
]


class EvaluationRules(_Section, kw_only=True):
    levels: list[EvaluationLevel] = msgspec.field(default_factory=lambda: list(DEFAULT_LEVELS))
    bad_review_reasons: list[str] = msgspec.field(
        default_factory=lambda: ["等候时间长", "服务态度", "办事效率", "材料要求不清楚", "其他"]
    )
    window_minutes: int = 10


class Staff(_Section, kw_only=True):
    id: str
    name: str
    windows: list[int] = []


ScreenLayout = Literal["hall", "window-top", "led"]


class Screen(_Section, kw_only=True):
    """A hall screen (`/screen/{id}`): a TV or monitor showing one layout."""

    id: str
    name: str = ""
    layout: ScreenLayout = "hall"
    window: int | None = None  # window-top: the window it hangs over
    windows: list[int] = []  # hall: the windows shown (empty: all)
    services: list[str] = []  # hall: the services shown (empty: all)
    theme: Literal["dark", "light", "contrast"] = "dark"
    language: Literal["zh", "en", "zh+en"] = "zh+en"
    # When the screen is lit: spans such as "08:00-17:30" on the days the hall is open.
    # Empty: from `lead_minutes` before the first session to 10 minutes after the last.
    on_hours: list[str] = []
    lead_minutes: int = 30
    recent_calls: int = 6


class Notice(_Section, kw_only=True):
    """A notice (公告) scrolled on screens, shown between two dates and in daily spans."""

    text: str
    text_en: str = ""
    screens: list[str] = []  # screen ids; empty: every screen that shows notices
    starts: str = ""  # "2026-11-20" (first day shown); empty: already
    ends: str = ""  # "2026-11-30" (last day shown); empty: until removed
    hours: list[str] = []  # daily spans such as "08:00-12:00"; empty: all day


class LedBoard(_Section, kw_only=True):
    """One LED board on a bus: above a window (`window`), or a hall board (no window)."""

    address: int
    window: int | None = None
    width: int = 16


class LedBus(_Section, kw_only=True):
    """An RS-485 bus of LED boards (条屏)."""

    name: str = "led"
    port: str = "sim"  # "sim", a device (/dev/ttyUSB0) or a pyserial URL (socket://10.0.0.9:4001)
    framing: str = "a0-90"
    baudrate: int = 9600
    language: str = "zh"
    brightness: int | None = None  # 0-100 %, where the board's framing can set it
    boards: list[LedBoard] = []
    # When the boards are lit, as a screen's `on_hours`: spans on the days the hall is open.
    # Empty: from `lead_minutes` before the first session to 10 minutes after the last.
    on_hours: list[str] = []
    lead_minutes: int = 30


def _default_evaluator_levels() -> dict[str, str]:
    from hallq.drivers.keypad import DEFAULT_EVALUATOR_LEVELS  # keypad.py imports this module

    return {str(key): level for key, level in DEFAULT_EVALUATOR_LEVELS.items()}


class KeypadBusConfig(_Section, kw_only=True):
    """Caller keypads (呼叫器) and evaluators (评价器) on one RS-485 bus (docs/KEYPAD.md).

    TOML table keys are text, so addresses are written as keys, decimal or hex:
    `addresses = { 1 = 1, 2 = 2 }`, `evaluator_levels = { 3 = "very_satisfied" }`;
    `keypad_addresses()` and friends give them as numbers once the file is checked.
    """

    name: str = "keypads"
    port: str = "sim"  # "sim", a device (/dev/ttyUSB1) or a pyserial URL (socket://10.0.0.9:4002)
    baudrate: int = 9600
    addresses: dict[str, int] = {}  # keypad address → window
    evaluator_address_offset: int | None = 0x80  # None: the evaluator answers at the keypad's
    evaluator_addresses: dict[str, int] = {}  # evaluator address → window, when wired apart
    evaluator_levels: dict[str, str] = msgspec.field(default_factory=_default_evaluator_levels)

    def keypad_addresses(self) -> dict[int, int]:
        return {_byte_key(k): w for k, w in self.addresses.items()}

    def evaluator_address_table(self) -> dict[int, int]:
        return {_byte_key(k): w for k, w in self.evaluator_addresses.items()}

    def evaluator_level_table(self) -> dict[int, str]:
        return {_byte_key(k): lv for k, lv in self.evaluator_levels.items()}


def _byte_key(key: str) -> int:
    """A table key as a number: "12" or "0x0C"; -1 when it is neither (reported by the check)."""
    text = key.strip().lower()
    try:
        if text.startswith("0x"):
            return int(text[2:], 16)
        return int(text) if text.isdigit() else -1
    except ValueError:
        return -1


class ButtonWindow(_Section, kw_only=True):
    """A window's GPIO buttons (BCM pin numbers); docs/BUTTONS.md."""

    window: int
    call_next: int | None = None
    recall: int | None = None
    no_show: int | None = None
    pause: int | None = None
    hold_seconds: float = 2.0


class EvaluatorPins(_Section, kw_only=True):
    """A window's five evaluator keys: level code → BCM pin."""

    window: int
    pins: dict[str, int] = {}


class Buttons(_Section, kw_only=True):
    pin_factory: str | None = None  # "mock" for a simulated hall; unset: the Pi's own pins
    bounce_time: float = 0.05
    windows: list[ButtonWindow] = []
    evaluators: list[EvaluatorPins] = []


class ScheduledBroadcast(_Section, kw_only=True):
    """A broadcast said at a time on each day the hall is open, e.g. a closing notice;
    with `date`, said once on that day only (the admin page's "broadcast at a time")."""

    at: str  # "16:35", the hall's local time
    text: str
    repeats: int = 1
    date: str = ""  # "2026-11-23": that day only (even if the hall is closed); empty: daily


class Kiosk(_Section, kw_only=True):
    """A ticket kiosk (取号机) and the printer attached to it (issue 5 runs it)."""

    name: str
    printer: str = "sim"  # sim, usb:VID:PID, serial:PATH[@BAUD], tcp:HOST[:PORT], file:PATH
    paper_columns: Literal[32, 48] = 48  # 58 mm paper: 32, 80 mm: 48
    qr_native: bool = True  # False: the QR is printed as an image (printers without GS ( k)


class Voice(_Section, kw_only=True):
    """The caller voice (叫号语音); docs/VOICE.md."""

    output: str = (
        "sim"  # "sim" (WAV files and a log), "aplay", or "aplay:DEVICE" (e.g. aplay:hw:1,0)
    )
    pack: str = ""  # a voice pack folder; empty: one made with espeak-ng and kept in the cache
    language: Literal["zh", "yue", "en"] = "zh"
    speed: int = 150
    template: str = ""  # e.g. "请{ticket}号到{window}号窗口办理"; empty: the language's own
    repeats: int = 2
    volume: int = 80
    quiet_hours: list[str] = []
    quiet_mode: Literal["chime", "silent"] = "chime"
    schedule: list[ScheduledBroadcast] = []


class UplinkSettings(_Section, kw_only=True):
    """Where the controller ships its event log: the central server (docs/UPLINK.md).

    The hall's token is a secret and never lives here: it is read from `token_file`
    (relative to the controller's data folder) or the HALLQ_UPLINK_TOKEN environment variable.
    """

    url: str  # the central server, e.g. "https://hallq.example.gov.cn"
    token_file: str = "uplink.token"
    batch_records: int = 2000
    timeout_seconds: float = 10.0
    max_backoff_seconds: float = 60.0


class SystemSettings(_Section, kw_only=True):
    """The controller's own machine (the Pi): its health checks and the day rollover.

    The Pi has no battery clock: until NTP sets it, its time is the last one saved at
    shutdown, and a new business day on that clock would expire a queue. Device health
    "pi-clock", "pi-storage", "pi-power", "pi-temperature" (docs/DEPLOY.md).
    """

    hold_day_until_clock_synced: bool = True
    disk_warn_percent: int = 90  # storage used at which "pi-storage" warns (98%: error)
    temperature_warn_celsius: float = 80.0  # CPU temperature that warns (85 °C: throttling)
    check_seconds: float = 30.0  # how often each is looked at


class HallConfig(_Section, kw_only=True, dict=True):
    hall: HallInfo
    hours: Hours = msgspec.field(default_factory=Hours)
    services: list[Service]
    windows: list[Window]
    priority: list[PriorityCategory] = []
    queue: QueueRules = msgspec.field(default_factory=QueueRules)
    no_show: NoShowRules = msgspec.field(default_factory=NoShowRules)
    appointments: AppointmentRules = msgspec.field(default_factory=AppointmentRules)
    away: AwayRules = msgspec.field(default_factory=AwayRules)
    evaluation: EvaluationRules = msgspec.field(default_factory=EvaluationRules)
    staff: list[Staff] = []
    led_buses: list[LedBus] = []
    voice: Voice | None = None
    buttons: Buttons | None = None
    kiosks: list[Kiosk] = []
    keypad_buses: list[KeypadBusConfig] = []
    screens: list[Screen] = []
    notices: list[Notice] = []
    uplink: UplinkSettings | None = None
    system: SystemSettings = msgspec.field(default_factory=SystemSettings)

    # Look-ups used on every command, built once per loaded configuration.
    @cached_property
    def _index(self) -> _Indexes:
        return _Indexes(
            services={s.code: s for s in self.services},
            windows={w.number: w for w in self.windows},
            serving={
                s.code: [w for w in self.windows if any(s.code in tier for tier in w.tiers)]
                for s in self.services
            },
            categories={p.code: p for p in self.priority},
            levels={lv.code: lv for lv in self.evaluation.levels},
            zone=ZoneInfo(self.hall.timezone),
        )

    def service(self, code: str) -> Service | None:
        return self._index.services.get(code)

    def window(self, number: int) -> Window | None:
        return self._index.windows.get(number)

    def windows_serving(self, service: str) -> list[Window]:
        return self._index.serving.get(service, [])

    def category(self, code: str) -> PriorityCategory | None:
        return self._index.categories.get(code)

    def level(self, code: str) -> EvaluationLevel | None:
        return self._index.levels.get(code)

    @property
    def zone(self) -> ZoneInfo:
        return self._index.zone


@dataclass(frozen=True)
class _Indexes:
    services: dict[str, Service]
    windows: dict[int, Window]
    serving: dict[str, list[Window]]
    categories: dict[str, PriorityCategory]
    levels: dict[str, EvaluationLevel]
    zone: ZoneInfo


# ---------------------------------------------------------------- validation

_SPAN = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_MONTH_DAY = re.compile(r"^(\d{2})-(\d{2})$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_HALL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_PREFIX = re.compile(r"^[A-Z]{1,2}$")


def parse_span(text: str) -> tuple[time, time]:
    """Parse "08:40-11:50" into two times; ValueError says what is wrong."""
    m = _SPAN.match(text.strip())
    if not m:
        raise ValueError(f'"{text}" is not a session; write it as "08:40-11:50"')
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(f'"{text}" has an impossible time of day')
    start, end = time(h1, m1), time(h2, m2)
    if end <= start:
        raise ValueError(f'"{text}" ends before it starts')
    return start, end


def parse_date_range(text: str) -> tuple[date, date]:
    """Parse "2026-10-01" or "2026-10-01..2026-10-08" (both ends included)."""
    parts = text.split("..")
    if len(parts) > 2:
        raise ValueError(f'"{text}" is not a date or a range "2026-10-01..2026-10-08"')
    try:
        first = date.fromisoformat(parts[0].strip())
        last = date.fromisoformat(parts[-1].strip())
    except ValueError:
        raise ValueError(
            f'"{text}" is not a date; write "2026-10-01" or "2026-10-01..2026-10-08"'
        ) from None
    if last < first:
        raise ValueError(f'"{text}" ends before it starts')
    return first, last


def parse_month_day(text: str) -> tuple[int, int]:
    m = _MONTH_DAY.match(text)
    if not m:
        raise ValueError(f'"{text}" is not a month and day; write it as "06-01"')
    month, day = int(m.group(1)), int(m.group(2))
    try:
        date(2024, month, day)  # a leap year, so 02-29 is allowed
    except ValueError:
        raise ValueError(f'"{text}" is not a day of the year') from None
    return month, day


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def _check_date(p: _Problems, path: str, value: str) -> None:
    """An optional single date ("" is allowed: no date)."""
    if value:
        try:
            date.fromisoformat(value)
        except ValueError:
            p.add(path, 'use a date such as "2026-11-30"')


def _check_sessions(p: _Problems, path: str, spans: list[str]) -> None:
    parsed: list[tuple[time, time]] = []
    for i, span in enumerate(spans):
        try:
            parsed.append(parse_span(span))
        except ValueError as e:
            p.add(f"{path}[{i}]", str(e))
    for (_, end), (start, _) in itertools.pairwise(parsed):
        if start < end:
            p.add(path, "sessions overlap or are out of order; list them from morning to evening")


def _check_semantics(cfg: HallConfig) -> list[tuple[str, str]]:
    p = _Problems()
    if not _HALL_ID.match(cfg.hall.id):
        p.add("hall.id", "use lower-case letters, digits and '-', e.g. \"zaozhuang-szq\"")
    try:
        ZoneInfo(cfg.hall.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        p.add("hall.timezone", f'unknown time zone "{cfg.hall.timezone}"; e.g. "Asia/Shanghai"')

    h = cfg.hours
    if not h.sessions:
        p.add("hours.sessions", 'a hall needs at least one session, e.g. "08:40-11:50"')
    _check_sessions(p, "hours.sessions", h.sessions)
    for day, spans in h.weekdays.items():
        _check_sessions(p, f"hours.weekdays.{day}", spans)
    if not 0 <= h.issue_cutoff_minutes <= 240:
        p.add("hours.issue_cutoff_minutes", "must be between 0 and 240 minutes")
    for field_name in ("holidays", "makeup_workdays"):
        for i, text in enumerate(getattr(h, field_name)):
            try:
                parse_date_range(text)
            except ValueError as e:
                p.add(f"hours.{field_name}[{i}]", str(e))
    for i, season in enumerate(h.seasons):
        for end in ("from_", "to"):
            try:
                parse_month_day(getattr(season, end))
            except ValueError as e:
                p.add(f"hours.seasons[{i}].{end.rstrip('_')}", str(e))
        _check_sessions(p, f"hours.seasons[{i}].sessions", season.sessions)
        for day, spans in season.weekdays.items():
            _check_sessions(p, f"hours.seasons[{i}].weekdays.{day}", spans)

    if not cfg.services:
        p.add("services", "a hall needs at least one [[services]] table")
    codes: dict[str, int] = {}
    prefixes: dict[str, int] = {}
    for i, s in enumerate(cfg.services):
        at = f"services[{i}]"
        if not _CODE.match(s.code):
            p.add(f"{at}.code", 'use lower-case letters, digits and "_", starting with a letter')
        elif s.code in codes:
            p.add(f"{at}.code", f'"{s.code}" is already used by services[{codes[s.code]}]')
        codes.setdefault(s.code, i)
        if not s.name.strip():
            p.add(f"{at}.name", "a service needs a name citizens understand")
        if not _PREFIX.match(s.prefix):
            p.add(f"{at}.prefix", 'use one or two capital letters A-Z, e.g. "A"')
        elif s.prefix in prefixes:
            p.add(
                f"{at}.prefix",
                f'"{s.prefix}" is already the prefix of services[{prefixes[s.prefix]}]; '
                "each service needs its own so that ticket numbers never collide",
            )
        prefixes.setdefault(s.prefix, i)
        if not 2 <= s.number_width <= 4:
            p.add(f"{at}.number_width", "must be 2, 3 or 4 digits")
        capacity = 10**s.number_width - 1
        for q in ("daily_quota", "session_quota"):
            value = getattr(s, q)
            if value is not None and not 1 <= value <= capacity:
                p.add(
                    f"{at}.{q}",
                    f"must be between 1 and {capacity} (the most a {s.number_width}-digit "
                    "number can count), or left out for no quota",
                )
        if not 0.5 <= s.service_minutes <= 240:
            p.add(f"{at}.service_minutes", "must be between 0.5 and 240 minutes")

    if not cfg.windows:
        p.add("windows", "a hall needs at least one [[windows]] table")
    numbers: dict[int, int] = {}
    served: set[str] = set()
    for i, w in enumerate(cfg.windows):
        at = f"windows[{i}]"
        if not 1 <= w.number <= 999:
            p.add(f"{at}.number", "must be between 1 and 999")
        elif w.number in numbers:
            p.add(f"{at}.number", f"window {w.number} is already windows[{numbers[w.number]}]")
        numbers.setdefault(w.number, i)
        if not w.tiers or not any(w.tiers):
            p.add(f"{at}.tiers", 'list the services it serves, e.g. tiers = [["police"]]')
        seen: set[str] = set()
        for t, tier in enumerate(w.tiers):
            if not tier:
                p.add(f"{at}.tiers[{t}]", "a tier cannot be empty")
            for code in tier:
                if code not in codes:
                    p.add(
                        f"{at}.tiers[{t}]",
                        f'unknown service "{code}"; known: {", ".join(codes) or "none"}',
                    )
                elif code in seen:
                    p.add(f"{at}.tiers[{t}]", f'"{code}" is listed twice for this window')
                seen.add(code)
                served.add(code)
    for i, w in enumerate(cfg.windows):
        if w.backup is None:
            continue
        if w.backup == w.number:
            p.add(f"windows[{i}].backup", "a window cannot be its own backup")
        elif w.backup not in numbers:
            p.add(f"windows[{i}].backup", f"there is no window {w.backup}")
    for i, s in enumerate(cfg.services):
        if s.enabled and s.code in codes and s.code not in served:
            p.add(f"services[{i}]", f'no window serves "{s.code}"; add it to a window\'s tiers')

    cats: set[str] = set()
    for i, c in enumerate(cfg.priority):
        if not _CODE.match(c.code):
            p.add(f"priority[{i}].code", 'use lower-case letters, digits and "_"')
        elif c.code in cats:
            p.add(f"priority[{i}].code", f'"{c.code}" is listed twice')
        cats.add(c.code)
        if not 1 <= c.rank <= 99:
            p.add(f"priority[{i}].rank", "must be between 1 (called first) and 99")

    if not 1 <= cfg.queue.max_priority_in_row <= 100:
        p.add("queue.max_priority_in_row", "must be between 1 and 100")
    ns = cfg.no_show
    if not 0 <= ns.recalls_before_no_show <= 10:
        p.add("no_show.recalls_before_no_show", "must be between 0 and 10")
    if not 0 <= ns.grace_minutes <= 480:
        p.add("no_show.grace_minutes", "must be between 0 and 480")
    if not 0 <= ns.reinstate_places_back <= 100:
        p.add("no_show.reinstate_places_back", "must be between 0 and 100")
    if not 0 <= ns.max_reinstatements <= 10:
        p.add("no_show.max_reinstatements", "must be between 0 and 10")
    ap = cfg.appointments
    for f in ("early_minutes", "late_minutes"):
        if not 0 <= getattr(ap, f) <= 240:
            p.add(f"appointments.{f}", "must be between 0 and 240")
    th = cfg.away.thresholds_minutes
    if not th or any(t <= 0 for t in th) or th != sorted(set(th)):
        p.add("away.thresholds_minutes", "list rising minutes above 0, e.g. [15, 30, 60]")
    levels = cfg.evaluation.levels
    if len(levels) != 5:
        p.add("evaluation.levels", f"好差评 has five levels; {len(levels)} are listed")
    if len({lv.code for lv in levels}) != len(levels):
        p.add("evaluation.levels", "each level needs its own code")
    if cfg.voice is not None:
        v = cfg.voice
        if not (v.output in ("sim", "sdl", "aplay") or v.output.startswith("aplay:")):
            p.add(
                "voice.output",
                'use "sim", "sdl" (pygame), "aplay" or "aplay:DEVICE" (e.g. "aplay:hw:1,0")',
            )
        if not 80 <= v.speed <= 450:
            p.add("voice.speed", "must be 80-450 words a minute")
        if not 1 <= v.repeats <= 5:
            p.add("voice.repeats", "must be 1-5")
        if not 0 <= v.volume <= 100:
            p.add("voice.volume", "must be 0-100 (per cent)")
        for i, span in enumerate(v.quiet_hours):
            try:
                parse_span(span)
            except ValueError as e:
                p.add(f"voice.quiet_hours[{i}]", str(e))
        for i, item in enumerate(v.schedule):
            if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", item.at):
                p.add(f"voice.schedule[{i}].at", 'write the time as "16:35"')
            if not 1 <= len(item.text.strip()) <= 500:
                p.add(f"voice.schedule[{i}].text", "1-500 characters")
            if not 1 <= item.repeats <= 3:
                p.add(f"voice.schedule[{i}].repeats", "must be 1-3")
            _check_date(p, f"voice.schedule[{i}].date", item.date)
        if v.template and ("{ticket}" not in v.template or "{window}" not in v.template):
            p.add("voice.template", "a template needs both {ticket} and {window}")
    kiosk_names: set[str] = set()
    for i, kiosk in enumerate(cfg.kiosks):
        if not _HALL_ID.match(kiosk.name):
            p.add(f"kiosks[{i}].name", 'use lower-case letters, digits and "-", e.g. "kiosk-1"')
        elif kiosk.name in kiosk_names:
            p.add(f"kiosks[{i}].name", f'"{kiosk.name}" is listed twice')
        kiosk_names.add(kiosk.name)
    bus_names: set[str] = set()
    for i, bus in enumerate(cfg.led_buses):
        at = f"led_buses[{i}]"
        if bus.name in bus_names:
            p.add(f"{at}.name", f'"{bus.name}" is already the name of another bus')
        bus_names.add(bus.name)
        if bus.brightness is not None and not 0 <= bus.brightness <= 100:
            p.add(f"{at}.brightness", "must be 0-100 (per cent)")
        if bus.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
            p.add(f"{at}.baudrate", "use a standard rate, e.g. 9600")
        _check_sessions(p, f"{at}.on_hours", bus.on_hours)
        if not 0 <= bus.lead_minutes <= 240:
            p.add(f"{at}.lead_minutes", "must be between 0 and 240 minutes")
        addresses: set[int] = set()
        for j, board in enumerate(bus.boards):
            if not 0 <= board.address <= 255:
                p.add(f"{at}.boards[{j}].address", "must be 0-255")
            elif board.address in addresses:
                p.add(
                    f"{at}.boards[{j}].address",
                    f"address {board.address} is used twice on this bus",
                )
            addresses.add(board.address)
            if board.window is not None and board.window not in numbers:
                p.add(f"{at}.boards[{j}].window", f"there is no window {board.window}")
            if not 4 <= board.width <= 512:
                p.add(f"{at}.boards[{j}].width", "must be 4-512 columns")
    level_codes = [lv.code for lv in levels]
    for i, kb in enumerate(cfg.keypad_buses):
        _check_keypad_bus(p, f"keypad_buses[{i}]", kb, bus_names, numbers, level_codes)
        bus_names.add(kb.name)
    staff_ids: set[str] = set()
    for i, st in enumerate(cfg.staff):
        if st.id in staff_ids:
            p.add(f"staff[{i}].id", f'"{st.id}" is listed twice')
        staff_ids.add(st.id)
        for n in st.windows:
            if n not in numbers:
                p.add(f"staff[{i}].windows", f"there is no window {n}")
    _check_screens(p, cfg, numbers)
    if cfg.uplink is not None:
        _check_uplink(p, cfg.uplink)
    _check_system(p, cfg.system)
    return p.items


def _check_system(p: _Problems, sy: SystemSettings) -> None:
    if not 50 <= sy.disk_warn_percent <= 97:
        p.add("system.disk_warn_percent", "must be 50-97 (per cent used; 98% is an error anyway)")
    if not 40 <= sy.temperature_warn_celsius <= 84:
        p.add(
            "system.temperature_warn_celsius",
            "must be 40-84 °C (the Pi throttles at 85 °C, an error anyway)",
        )
    if not 5 <= sy.check_seconds <= 3600:
        p.add("system.check_seconds", "must be 5-3600 seconds")


def _check_uplink(p: _Problems, up: UplinkSettings) -> None:
    problem = uplink_url_problem(up.url)
    if problem:
        p.add("uplink.url", problem)
    name = up.token_file.strip()
    if not name or "\n" in name or "\0" in name:
        p.add("uplink.token_file", 'the file holding the hall\'s token, e.g. "uplink.token"')
    if not 1 <= up.batch_records <= MAX_BATCH_RECORDS:
        p.add("uplink.batch_records", f"must be 1-{MAX_BATCH_RECORDS} events a batch")
    if not 0.5 <= up.timeout_seconds <= 600:
        p.add("uplink.timeout_seconds", "must be 0.5-600 seconds")
    if not 0.5 <= up.max_backoff_seconds <= 3600:
        p.add("uplink.max_backoff_seconds", "must be 0.5-3600 seconds")


def uplink_url_problem(url: str) -> str:
    """What is wrong with a central server's address ("" when nothing is)."""
    example = 'write the central server\'s address, e.g. "https://hallq.example.gov.cn"'
    text = url.strip()
    if text != url or not text.isprintable() or " " in text:
        return f"{example} (no spaces)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return example
    if parts.scheme not in ("http", "https"):
        return f"{example}: it starts with http:// or https://"
    if not parts.hostname:
        return f"{example}: the server's name is missing"
    if parts.username is not None or parts.password is not None:
        return (
            "no user or password in the address: the hall's token goes in the token file "
            "(uplink.token_file)"
        )
    if parts.query or parts.fragment:
        return f"{example}: no ?query or #fragment"
    return ""


_SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def _check_screens(p: _Problems, cfg: HallConfig, numbers: Container[int]) -> None:
    ids: set[str] = set()
    codes = {s.code for s in cfg.services}
    for i, sc in enumerate(cfg.screens):
        at = f"screens[{i}]"
        if not _SCREEN_ID.match(sc.id):
            p.add(f"{at}.id", 'use lower-case letters, digits and "-", e.g. "hall-east"')
        elif sc.id in ids:
            p.add(f"{at}.id", f'"{sc.id}" is already the id of another screen')
        ids.add(sc.id)
        if sc.layout == "window-top":
            if sc.window is None:
                p.add(f"{at}.window", "a window-top screen needs the window it hangs over")
            elif sc.window not in numbers:
                p.add(f"{at}.window", f"there is no window {sc.window}")
        for n in sc.windows:
            if n not in numbers:
                p.add(f"{at}.windows", f"there is no window {n}")
        for code in sc.services:
            if code not in codes:
                p.add(f"{at}.services", f'there is no service "{code}"')
        _check_sessions(p, f"{at}.on_hours", sc.on_hours)
        if not 0 <= sc.lead_minutes <= 240:
            p.add(f"{at}.lead_minutes", "must be between 0 and 240 minutes")
        if not 1 <= sc.recent_calls <= 20:
            p.add(f"{at}.recent_calls", "must be between 1 and 20")
    for i, nt in enumerate(cfg.notices):
        at = f"notices[{i}]"
        if not nt.text.strip():
            p.add(f"{at}.text", "a notice needs some text")
        elif len(nt.text) > 500 or len(nt.text_en) > 1000:
            p.add(f"{at}.text", "a notice is at most 500 characters (text_en: 1000)")
        for sid in nt.screens:
            if sid not in ids:
                p.add(f"{at}.screens", f'there is no screen "{sid}"')
        for end in ("starts", "ends"):
            _check_date(p, f"{at}.{end}", getattr(nt, end))
        if nt.starts and nt.ends and nt.starts > nt.ends:
            p.add(f"{at}.ends", "ends before it starts")
        _check_sessions(p, f"{at}.hours", nt.hours)


def _check_keypad_bus(
    p: _Problems,
    at: str,
    bus: KeypadBusConfig,
    names: set[str],
    windows: dict[int, int],
    levels: list[str],
) -> None:
    if not bus.name.strip():
        p.add(f"{at}.name", 'a bus needs a name, e.g. "keypads"')
    elif bus.name in names:
        p.add(f"{at}.name", f'"{bus.name}" is already the name of another bus')
    if bus.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        p.add(f"{at}.baudrate", "use a standard rate, e.g. 9600")
    offset = bus.evaluator_address_offset
    if offset is not None and not 1 <= offset <= 255:
        p.add(f"{at}.evaluator_address_offset", "must be 1-255 (often 128), or left out")
    used: dict[int, str] = {}  # address → what uses it, to find two devices at one address

    def take(address: int, what: str, path: str) -> None:
        if address in used:
            p.add(path, f"address {address} is used twice on this bus: {used[address]} and {what}")
        used.setdefault(address, what)

    for table, label in (("addresses", "keypad"), ("evaluator_addresses", "evaluator")):
        by_window: dict[int, int] = {}
        for key, window in getattr(bus, table).items():
            path = f"{at}.{table}"
            address = _byte_key(key)
            if not 0 <= address <= 255:
                p.add(path, f'"{key}" is not an address; use 0-255, e.g. {{ 1 = 1 }}')
                continue
            if window not in windows:
                p.add(path, f"address {address} maps to window {window}, which the hall lacks")
            elif window in by_window:
                p.add(
                    path,
                    f"window {window} has two {label}s: addresses {by_window[window]} and {address}",
                )
            by_window.setdefault(window, address)
            take(address, f"the {label} of window {window}", path)
    if offset is not None:  # evaluators not wired apart answer at offset + the keypad's address
        wired_apart = set(bus.evaluator_addresses.values())
        for key, window in bus.addresses.items():
            address = _byte_key(key)
            if not 0 <= address <= 255 or window in wired_apart:
                continue
            path = f"{at}.addresses"
            if address + offset > 255:
                p.add(
                    path,
                    f"the evaluator of keypad {address} would be at {address + offset}, above "
                    "255; lower evaluator_address_offset or list it in evaluator_addresses",
                )
            else:
                take(address + offset, f"the evaluator of window {window}", path)
    for key, level in bus.evaluator_levels.items():
        path = f"{at}.evaluator_levels"
        code = _byte_key(key)
        if not 0 <= code <= 255:
            p.add(
                path,
                f'"{key}" is not a key code; evaluators send 0-3, e.g. {{ 3 = "very_satisfied" }}',
            )
        if level not in levels:
            p.add(path, f'unknown level "{level}"; levels are {", ".join(levels)}')


_MSGSPEC_PATH = re.compile(r" - at `\$(?P<path>[^`]*)`$")


def _describe_type_error(message: str) -> tuple[str, str]:
    """Turn msgspec's message into (field path, plain message)."""
    path = ""
    m = _MSGSPEC_PATH.search(message)
    if m:
        path = m.group("path").lstrip(".")
        message = message[: m.start()]
    message = (
        message.replace("Expected `int | null`", "expected a whole number")
        .replace("Expected `str`", "expected text")
        .replace("Expected `int`", "expected a whole number")
        .replace("Expected `float`", "expected a number")
        .replace("Expected `bool`", "expected true or false")
        .replace("Expected `array`", "expected a list [...]")
        .replace("Expected `object`", "expected a table")
        .replace("got `str`", "got text")
        .replace("got `int`", "got a whole number")
        .replace("got `float`", "got a number")
        .replace("got `array`", "got a list")
        .replace("got `object`", "got a table")
    )
    unknown = re.match(r"Object contains unknown field `([^`]+)`", message)
    if unknown:
        path = f"{path}.{unknown.group(1)}" if path else unknown.group(1)
        message = "unknown setting (misspelt?)"
    missing = re.match(r"Object missing required field `([^`]+)`", message)
    if missing:
        path = f"{path}.{missing.group(1)}" if path else missing.group(1)
        message = "this setting is required"
    return path, message


def _allowed_fields(path: str) -> str:
    """The settings allowed in the table that holds `path`, for the error message."""
    table: Any = HallConfig
    parts = re.findall(r"[^.\[\]]+", path)
    for part in parts[:-1]:
        if part.isdigit() or table is None:
            continue
        fields = {f.encode_name: f.type for f in msgspec.structs.fields(table)}
        t = fields.get(part)
        table = _struct_in(t)
    if table is None:
        return ""
    names = [f.encode_name for f in msgspec.structs.fields(table)]
    return "; allowed: " + ", ".join(names)


def _unknown_setting(path: str) -> str:
    if path == "uplink.token":
        return (
            "the hall's token is a secret and never goes in the configuration (it is shown, "
            "exported and sent to the central server): put it in the file named by "
            "uplink.token_file (default uplink.token in the data folder) and remove it here"
        )
    return "unknown setting (misspelt?)" + _allowed_fields(path)


def _struct_in(t: Any) -> type[msgspec.Struct] | None:
    if isinstance(t, type) and issubclass(t, msgspec.Struct):
        return t
    for arg in getattr(t, "__args__", ()):
        found = _struct_in(arg)
        if found is not None:
            return found
    return None


def parse_config(text: str, source: str = "<config>") -> HallConfig:
    """Parse and check configuration text; raise ConfigError with every problem found."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{source}: not valid TOML: {e}"]) from None
    try:
        cfg = msgspec.convert(raw, HallConfig, strict=True)
    except msgspec.ValidationError as e:
        path, message = _describe_type_error(str(e))
        if message == "unknown setting (misspelt?)":
            message = _unknown_setting(path)
        raise ConfigError([_locate(text, source, path, message)]) from None
    problems = _check_semantics(cfg)
    if problems:
        raise ConfigError([_locate(text, source, path, msg) for path, msg in problems])
    return cfg


def config_from_data(data: Any, source: str = "<config>") -> HallConfig:
    """Check configuration given as JSON-like data (the admin page's edits): field paths, no lines."""
    try:
        cfg = msgspec.convert(data, HallConfig, strict=True)
    except msgspec.ValidationError as e:
        path, message = _describe_type_error(str(e))
        if message == "unknown setting (misspelt?)":
            message = _unknown_setting(path)
        raise ConfigError(
            [f"{source}: {path}: {message}" if path else f"{source}: {message}"]
        ) from None
    problems = _check_semantics(cfg)
    if problems:
        raise ConfigError([f"{source}: {path}: {msg}" for path, msg in problems])
    return cfg


def config_data(cfg: HallConfig) -> dict[str, Any]:
    """The configuration as JSON-like data, the TOML names kept ("from", not "from_")."""
    data: dict[str, Any] = _without_none(msgspec.to_builtins(cfg))
    return data


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def config_toml(cfg: HallConfig, header: str = "") -> str:
    """The configuration as TOML text that `parse_config` reads back to an equal config."""
    import tomli_w  # only the admin page writes configuration

    text = tomli_w.dumps(config_data(cfg))
    return (header + "\n" + text) if header else text


def load_config(path: str | Path) -> HallConfig:
    """Load and check a hall configuration file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{p}: no such file"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: not UTF-8 text; save the file as UTF-8"]) from None
    except OSError as e:
        raise ConfigError([f"{p}: cannot be read: {e.strerror}"]) from None
    return parse_config(text, str(p))


def _locate(text: str, source: str, path: str, message: str) -> str:
    line = line_of(text, path) if path else None
    where = f"{source}:{line}" if line else source
    field = f" {path}:" if path else ""
    return f"{where}:{field} {message}"


def demo_config_path() -> Path:
    """The demo hall shipped with hallq (config/demo-hall.toml)."""
    here = Path(__file__).resolve()
    checkout = here.parents[2] / "config" / "demo-hall.toml"
    if checkout.exists():
        return checkout
    return here.parents[1] / "data" / "demo-hall.toml"
