"""What the kiosk shows and allows, from the hall view and the printer's status (no pygame).

The kiosk's whole state is one `KioskModel`; the UI draws it and the app changes it. The
questions a citizen's screen depends on are answered here: which services can be chosen and
what their buttons say (`tiles`), whether anything stops the kiosk before the citizen chooses
(`blocker`: controller unreachable, issuing closed, printer unable to print), and whether a
new ticket's wait runs past closing time (`late_warning`, 最多跑一次).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Literal

from hallq.drivers.printer import PrintResult
from hallq.drivers.printer_status import PrinterStatus, can_print

Lang = Literal["zh", "en"]
Screen = Literal["home", "green", "guide", "late", "appointment", "busy", "ticket"]
BlockerKind = Literal["offline", "closed", "printer"]

OFFLINE_GRACE = 3.0
"""Seconds the controller may be away before the out-of-service screen (a reconnect is quick)."""
GREEN_CODES = ("green",)
GREEN_NAME = "绿色通道"
APPOINTMENT_CODE_MAX = 16


def tr(lang: Lang, zh: str, en: str) -> str:
    return en if lang == "en" and en else zh


def named(item: dict[str, Any], lang: Lang) -> str:
    """A service's (or category's) name in the language, the Chinese when it has no English."""
    return tr(lang, str(item.get("name", "")), str(item.get("name_en") or ""))


def minutes_text(minutes: float | None, lang: Lang) -> str:
    if minutes is None:
        return tr(lang, "暂无法估计", "not known yet")
    m = max(1, math.floor(minutes + 0.5)) if minutes > 0 else 0
    if m == 0:
        return tr(lang, "无需等候", "no wait")
    return tr(lang, f"约 {m} 分钟", f"about {m} min")


@dataclass(frozen=True)
class Tile:
    """One service button on the home screen."""

    code: str
    name: str
    waiting: int
    estimate: str
    touchable: bool
    note: str = ""  # why it cannot be chosen (quota used up), or "" when it can


@dataclass(frozen=True)
class Blocker:
    """Something that stops the kiosk issuing, said before the citizen chooses."""

    kind: BlockerKind
    title: str
    detail: str
    lines: tuple[str, ...] = ()
    appointments_allowed: bool = False  # an on-time appointment may still check in (cutoff)


@dataclass(frozen=True)
class LateWarning:
    """最多跑一次: the estimated wait ends after today's last session."""

    estimate_minutes: float
    closes_at: str  # "16:50"
    ends_at: str  # "17:20", when the wait is expected to end


@dataclass
class KioskModel:
    """Everything the kiosk's screen depends on."""

    kiosk: str
    view: dict[str, Any] | None = None
    online: bool = False
    offline_since: float | None = field(default_factory=time.monotonic)
    clock_offset: float = 0.0  # the controller's clock minus this machine's, in seconds
    printer: PrinterStatus | None = None
    lang: Lang = "zh"
    screen: Screen = "home"
    service: str | None = None
    category: str | None = None
    code_entry: str = ""
    action_id: str | None = None  # made once per citizen action: the issueTicket request id
    busy_zh: str = ""
    busy_en: str = ""
    ticket: dict[str, Any] | None = None
    print_result: PrintResult | None = None
    error: tuple[str, str] | None = None  # (zh, en) shown on the current screen
    last_touch: float = field(default_factory=time.monotonic)

    # ------------------------------------------------------------ text

    def t(self, zh: str, en: str) -> str:
        return tr(self.lang, zh, en)

    # ------------------------------------------------------------ the hall

    def set_view(self, view: dict[str, Any], received_at: float | None = None) -> None:
        self.view = view
        now = time.time() if received_at is None else received_at
        if isinstance(view.get("now"), int | float):
            self.clock_offset = float(view["now"]) - now

    def set_online(self, online: bool, at: float | None = None) -> None:
        if online:
            self.offline_since = None
        elif self.online or self.offline_since is None:
            self.offline_since = time.monotonic() if at is None else at
        self.online = online

    def server_now(self, now: float | None = None) -> float:
        """Seconds since the epoch by the controller's clock."""
        return (time.time() if now is None else now) + self.clock_offset

    def local_time(self, now: float | None = None) -> datetime:
        """The hall's local time (the controller's clock and the hall's UTC offset)."""
        offset = int((self.view or {}).get("utc_offset_minutes", 480))
        return datetime.fromtimestamp(self.server_now(now), UTC).astimezone(
            timezone(timedelta(minutes=offset))
        )

    def services(self) -> list[dict[str, Any]]:
        return [s for s in (self.view or {}).get("services", []) if isinstance(s, dict)]

    def service_view(self, code: str | None) -> dict[str, Any] | None:
        return next((s for s in self.services() if s.get("code") == code), None)

    def hall_name(self) -> str:
        return named((self.view or {}).get("hall", {}), self.lang)

    def green_category(self) -> dict[str, Any] | None:
        """The hall's green channel (绿色通道): by its code or its name; None if it has none."""
        for p in (self.view or {}).get("priority", []):
            if p.get("code") in GREEN_CODES or p.get("name") == GREEN_NAME:
                return dict(p)
        return None

    def tiles(self) -> list[Tile]:
        """Every enabled service, as its button says it."""
        out = []
        for s in self.services():
            if not s.get("enabled", True):
                continue
            quota_left = s.get("quota_left")
            used_up = quota_left is not None and quota_left <= 0
            green = self.category is not None  # the green channel is not held by the quota
            note = ""
            if used_up and not green:
                note = self.t("今日号已取完", "All tickets taken today")
            out.append(
                Tile(
                    code=str(s["code"]),
                    name=named(s, self.lang),
                    waiting=int(s.get("waiting") or 0),
                    estimate=minutes_text(s.get("estimate_minutes"), self.lang),
                    touchable=not note,
                    note=note,
                )
            )
        return out

    # ------------------------------------------------------------ what stops the kiosk

    def offline(self, now: float | None = None) -> bool:
        if self.view is None:
            return True
        if self.online or self.offline_since is None:
            return False
        return (time.monotonic() if now is None else now) - self.offline_since >= OFFLINE_GRACE

    def printer_problem(self) -> tuple[str, str] | None:
        """(zh, en) when the printer cannot print now; None when it can (or is not known)."""
        if self.printer is None:
            return None
        ok, _ = can_print(self.printer)
        if ok:
            return None
        return self.printer.summary_zh, self.printer.summary_en

    def blocker(self, now: float | None = None) -> Blocker | None:
        if self.offline(now):
            return Blocker(
                "offline",
                self.t("暂停服务", "Out of service"),
                self.t(
                    "取号机正在连接服务器，请稍候或到服务台咨询",
                    "This kiosk is reconnecting; please wait or ask at the service desk",
                ),
            )
        issuing = (self.view or {}).get("issuing") or {}
        if not issuing.get("open", True):
            return self._closed(issuing)
        problem = self.printer_problem()
        if problem is not None:
            return Blocker(
                "printer",
                self.t("本机暂停出票", "This kiosk cannot print tickets now"),
                self.t(
                    f"{problem[0]}。请使用其他取号机或到服务台取号。",
                    f"{problem[1]}. Please use another kiosk or ask at the service desk.",
                ),
            )
        return None

    def _closed(self, issuing: dict[str, Any]) -> Blocker:
        code = str(issuing.get("code", ""))
        hours = [str(h) for h in (self.view or {}).get("hours", [])]
        last_start = hours[-1].split("-")[0] if hours else ""
        local = self.local_time()
        if code == "closed_day":
            title = self.t("今日不办公", "Closed today")
        elif code in ("before_opening", "between_sessions"):
            title = self.t("尚未开始取号", "Ticketing has not started yet")
        elif code == "cutoff" and last_start and f"{local:%H:%M}" < last_start:
            title = self.t("本时段取号已结束", "Ticketing has ended for this session")
        else:
            title = self.t("今日取号已结束", "Ticketing has ended for today")
        lines = []
        if hours:
            lines.append(self.t("办公时间：", "Hours: ") + "  ".join(hours))
        nxt = issuing.get("next_opening")
        if isinstance(nxt, str) and nxt:
            try:
                at = datetime.fromisoformat(nxt)
                when = (
                    f"{at:%H:%M}"
                    if at.date() == local.date()
                    else self.t(f"{at.month}月{at.day}日 {at:%H:%M}", f"{at:%d %b %H:%M}")
                )
                lines.append(self.t("下次取号时间：", "Next opening: ") + when)
            except ValueError:
                pass
        return Blocker(
            "closed",
            title,
            self.t("请在办公时间内取号，谢谢！", "Please come back during opening hours."),
            tuple(lines),
            appointments_allowed=code == "cutoff",
        )

    # ------------------------------------------------------------ 最多跑一次

    def late_warning(self, code: str | None, now: float | None = None) -> LateWarning | None:
        """A warning when a ticket taken now is expected to wait past today's last session."""
        svc = self.service_view(code)
        hours = (self.view or {}).get("hours") or []
        if svc is None or not hours or self.category is not None:
            return None
        estimate = svc.get("estimate_minutes")
        if not isinstance(estimate, int | float):
            return None
        local = self.local_time(now)
        try:
            hh, mm = (int(x) for x in str(hours[-1]).split("-")[1].split(":"))
        except (IndexError, ValueError):
            return None
        closes = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
        ends = local + timedelta(minutes=float(estimate))
        if ends <= closes:
            return None
        return LateWarning(float(estimate), f"{closes:%H:%M}", f"{ends:%H:%M}")

    # ------------------------------------------------------------ moving between screens

    def go_home(self) -> None:
        self.screen = "home"
        self.service = None
        self.category = None
        self.code_entry = ""
        self.action_id = None
        self.ticket = None
        self.print_result = None
        self.error = None

    def idle_limit(self, idle_seconds: float, ticket_seconds: float) -> float | None:
        """How long the current screen may stay untouched before going home (None: forever)."""
        if self.screen in ("home", "busy"):
            return None
        return ticket_seconds if self.screen == "ticket" else idle_seconds
