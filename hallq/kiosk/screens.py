"""The kiosk's screens, drawn from a `KioskModel` onto any surface size.

`Renderer.draw(model, surface)` draws what the model says and returns the touch targets
(`Hit`s) it drew; the app hit-tests touches against them. Sizes follow the surface: one unit
is 1 px at 800×480 and 2.25 px at 1920×1080, and every button is at least 60 units high, so
a target is over 15 mm on a 7" 800×480 panel (86 dpi: 51 px) and on a 21.5" 1080p one
(102 dpi: 61 px).
"""

from __future__ import annotations

import math
from typing import Any

import pygame

from hallq.kiosk.fonts import Fonts
from hallq.kiosk.model import Blocker, KioskModel, Tile, minutes_text, named
from hallq.kiosk.widgets import Color, Hit, button, text_box

BG: Color = (241, 244, 249)
INK: Color = (20, 28, 40)
MUTED: Color = (70, 80, 96)
HEADER: Color = (10, 70, 140)
WHITE: Color = (255, 255, 255)
BLUE: Color = (16, 94, 190)
GREEN: Color = (22, 128, 60)
GREEN_DARK: Color = (12, 96, 42)
RED: Color = (190, 30, 30)
RED_BG: Color = (253, 232, 232)
AMBER_BG: Color = (255, 243, 205)
AMBER_INK: Color = (110, 66, 0)
GREY_BTN: Color = (86, 96, 112)
TILE_BORDER: Color = (150, 175, 210)


class Renderer:
    """Draws the model; keeps nothing between frames but its fonts."""

    def __init__(self, fonts: Fonts | None = None) -> None:
        self.fonts = fonts or Fonts()

    # ------------------------------------------------------------ frame

    def draw(self, model: KioskModel, surface: pygame.Surface) -> list[Hit]:
        w, h = surface.get_size()
        self.s = min(w / 800, h / 480)
        self.w, self.h = w, h
        hits: list[Hit] = []
        surface.fill(BG)
        blocker = model.blocker()
        if blocker is not None and blocker.kind == "offline":
            self._offline(model, surface, hits, blocker)
            return hits
        if (
            blocker is not None
            and blocker.kind == "closed"
            and model.screen
            in (
                "home",
                "green",
                "guide",
                "late",
            )
        ):
            self._closed(model, surface, hits, blocker)
            return hits
        screen = model.screen
        if screen == "home":
            self._home(model, surface, hits, blocker)
        elif screen == "green":
            self._green(model, surface, hits, blocker)
        elif screen == "guide":
            self._guide(model, surface, hits, blocker)
        elif screen == "late":
            self._late(model, surface, hits)
        elif screen == "appointment":
            self._appointment(model, surface, hits, blocker)
        elif screen == "busy":
            self._busy(model, surface)
        else:
            self._ticket(model, surface, hits)
        return hits

    def u(self, units: float) -> int:
        """Units to pixels at this surface's scale."""
        return round(units * self.s)

    def _header(
        self,
        model: KioskModel,
        surface: pygame.Surface,
        hits: list[Hit],
        title: str,
        back: bool = False,
        lang_button: bool = True,
    ) -> int:
        hh = self.u(68)
        pygame.draw.rect(surface, HEADER, (0, 0, self.w, hh))
        pad = self.u(8)
        x = self.u(14)
        if back:
            rect = pygame.Rect(pad, pad, self.u(128), hh - 2 * pad)
            button(
                surface,
                self.fonts,
                hits,
                rect,
                "back",
                model.t("‹ 返回", "‹ Back"),
                fill=WHITE,
                color=HEADER,
                size=self.u(24),
            )
            x = rect.right + self.u(16)
        right = self.w - pad
        if lang_button:
            rect = pygame.Rect(0, pad, self.u(128), hh - 2 * pad)
            rect.right = right
            button(
                surface,
                self.fonts,
                hits,
                rect,
                "lang",
                "English" if model.lang == "zh" else "中文",
                fill=WHITE,
                color=HEADER,
                size=self.u(24),
            )
            right = rect.left - self.u(12)
        clock = f"{model.local_time():%H:%M}" if model.view else ""
        cw = self.u(84)
        text_box(
            surface,
            self.fonts,
            clock,
            pygame.Rect(right - cw, 0, cw, hh),
            WHITE,
            self.u(28),
            bold=True,
            align="right",
        )
        right -= cw + self.u(12)
        text_box(
            surface,
            self.fonts,
            title,
            pygame.Rect(x, 0, right - x, hh),
            WHITE,
            self.u(28),
            self.u(16),
            bold=True,
            align="left",
        )
        return hh

    def _banner(
        self,
        surface: pygame.Surface,
        y: int,
        text: str,
        fill: Color,
        ink: Color,
        height: float = 52,
    ) -> int:
        rect = pygame.Rect(self.u(12), y, self.w - self.u(24), self.u(height))
        pygame.draw.rect(surface, fill, rect, border_radius=self.u(8))
        pygame.draw.rect(surface, ink, rect, width=max(2, self.u(2)), border_radius=self.u(8))
        text_box(
            surface,
            self.fonts,
            text,
            rect.inflate(-self.u(20), -self.u(6)),
            ink,
            self.u(22),
            self.u(13),
            bold=True,
        )
        return rect.bottom

    # ------------------------------------------------------------ home and the service grid

    def _home(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker | None
    ) -> None:
        y = self._header(model, surface, hits, model.hall_name()) + self.u(10)
        can_issue = blocker is None
        if blocker is not None:
            y = self._banner(
                surface,
                y,
                f"{blocker.title}：{blocker.detail}"
                if model.lang == "zh"
                else f"{blocker.title}: {blocker.detail}",
                RED_BG,
                RED,
            ) + self.u(8)
        elif model.error is not None:
            y = self._banner(surface, y, model.t(*model.error), RED_BG, RED) + self.u(8)
        bar = self.u(90)
        self._grid(model, surface, hits, pygame.Rect(0, y, self.w, self.h - y - bar), can_issue)
        by = self.h - bar + self.u(8)
        bh = bar - self.u(18)
        green = model.green_category()
        x = self.u(12)
        if green is not None:
            rect = pygame.Rect(x, by, self.u(230), bh)
            button(
                surface,
                self.fonts,
                hits,
                rect,
                "green",
                named(green, model.lang),
                fill=GREEN,
                size=self.u(28),
                enabled=can_issue,
            )
            x = rect.right + self.u(12)
        rect = pygame.Rect(x, by, self.u(230), bh)
        button(
            surface,
            self.fonts,
            hits,
            rect,
            "appointment",
            model.t("预约签到", "Appointment check-in"),
            fill=BLUE,
            size=self.u(28),
            enabled=can_issue,
        )
        x = rect.right + self.u(16)
        hint = model.t(
            "请点击要办理的事项，查看办事指南并取号",
            "Touch a service to see its guide and take a number",
        )
        text_box(
            surface,
            self.fonts,
            hint,
            pygame.Rect(x, by, self.w - x - self.u(12), bh),
            MUTED,
            self.u(22),
            self.u(13),
            align="left",
        )

    def _grid(
        self,
        model: KioskModel,
        surface: pygame.Surface,
        hits: list[Hit],
        area: pygame.Rect,
        can_issue: bool,
    ) -> None:
        tiles = model.tiles()
        if not tiles:
            text_box(
                surface,
                self.fonts,
                model.t("暂无可办理的事项", "No services are open"),
                area,
                MUTED,
                self.u(30),
            )
            return
        wide = self.w / max(1, self.h) > 1.5
        cols = min(len(tiles), 4 if len(tiles) > 6 or wide else 3)
        if len(tiles) > 12:
            cols = 5
        rows = math.ceil(len(tiles) / cols)
        gap = self.u(10)
        left = self.u(12)
        tw = (area.w - 2 * left - gap * (cols - 1)) // cols
        th = (area.h - gap * (rows - 1)) // rows
        for i, tile in enumerate(tiles):
            r, c = divmod(i, cols)
            rect = pygame.Rect(area.x + left + c * (tw + gap), area.y + r * (th + gap), tw, th)
            self._tile(model, surface, hits, rect, tile, can_issue)

    def _tile(
        self,
        model: KioskModel,
        surface: pygame.Surface,
        hits: list[Hit],
        rect: pygame.Rect,
        tile: Tile,
        can_issue: bool,
    ) -> None:
        enabled = can_issue and tile.touchable
        fill = WHITE if enabled else (226, 230, 236)
        radius = self.u(12)
        pygame.draw.rect(surface, fill, rect, border_radius=radius)
        edge = BLUE if enabled else (170, 176, 186)
        pygame.draw.rect(surface, edge, rect, width=max(2, self.u(3)), border_radius=radius)
        pad = self.u(10)
        inner = rect.inflate(-2 * pad, -2 * pad)
        foot = max(self.u(46), inner.h * 2 // 5)
        name_rect = pygame.Rect(inner.x, inner.y, inner.w, inner.h - foot)
        text_box(
            surface,
            self.fonts,
            tile.name,
            name_rect,
            INK if enabled else MUTED,
            self.u(30),
            self.u(14),
            bold=True,
        )
        foot_rect = pygame.Rect(inner.x, inner.bottom - foot, inner.w, foot)
        pygame.draw.line(
            surface,
            (215, 222, 232),
            (inner.x, foot_rect.y - self.u(3)),
            (inner.right, foot_rect.y - self.u(3)),
            max(1, self.u(1)),
        )
        if tile.note:
            text_box(
                surface, self.fonts, tile.note, foot_rect, RED, self.u(22), self.u(12), bold=True
            )
        else:
            line = model.t(
                f"等候 {tile.waiting} 人\n{tile.estimate}",
                f"{tile.waiting} waiting\n{tile.estimate}",
            )
            text_box(
                surface,
                self.fonts,
                line,
                foot_rect,
                BLUE if enabled else MUTED,
                self.u(21),
                self.u(12),
            )
        hits.append(Hit(rect, f"service:{tile.code}", enabled))

    # ------------------------------------------------------------ green channel

    def _green(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker | None
    ) -> None:
        green = model.green_category() or {"name": "绿色通道", "name_en": "Green channel"}
        y = self._header(model, surface, hits, named(green, model.lang), back=True) + self.u(8)
        note = model.t(
            "老年人、残疾人、孕妇、现役军人等可优先办理，请选择事项并在窗口出示相关证件",
            "Priority for the elderly, disabled, pregnant and service members: choose a "
            "service and show your document at the window",
        )
        y = self._banner(surface, y, note, (226, 245, 232), GREEN_DARK, 56) + self.u(8)
        if blocker is not None:
            y = self._banner(surface, y, blocker.detail, RED_BG, RED, 44) + self.u(8)
        self._grid(
            model,
            surface,
            hits,
            pygame.Rect(0, y, self.w, self.h - y - self.u(12)),
            blocker is None,
        )

    # ------------------------------------------------------------ the guide

    def _guide(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker | None
    ) -> None:
        svc = model.service_view(model.service) or {}
        title = named(svc, model.lang)
        if model.category is not None:
            green = model.green_category() or {}
            title = f"{named(green, model.lang)} · {title}"
        top = self._header(model, surface, hits, title, back=True) + self.u(10)
        guide: dict[str, Any] = svc.get("guide") or {}
        materials = (
            guide.get("materials_en")
            if model.lang == "en" and guide.get("materials_en")
            else guide.get("materials")
        )
        items = [str(m) for m in (materials or [])]
        col_w = self.w * 56 // 100
        left = pygame.Rect(self.u(16), top, col_w - self.u(24), self.h - top - self.u(14))
        pygame.draw.rect(surface, WHITE, left, border_radius=self.u(10))
        inner = left.inflate(-self.u(24), -self.u(20))
        head = pygame.Rect(inner.x, inner.y, inner.w, self.u(34))
        text_box(
            surface,
            self.fonts,
            model.t("请准备以下材料", "Please bring"),
            head,
            INK,
            self.u(26),
            bold=True,
            align="left",
        )
        body = pygame.Rect(
            inner.x, head.bottom + self.u(8), inner.w, inner.bottom - head.bottom - self.u(8)
        )
        if items:
            text = "\n".join(f"{i}. {m}" for i, m in enumerate(items, 1))
        else:
            text = model.t("无需准备材料", "Nothing to bring")
        if guide.get("notes"):
            text += "\n" + model.t("说明：", "Notes: ") + str(guide["notes"])
        text_box(
            surface,
            self.fonts,
            text,
            body,
            INK,
            self.u(24),
            self.u(13),
            align="left",
            valign="top",
            spacing=1.3,
        )
        # The right column: time limit, fee, the queue now, and the button.
        rx = left.right + self.u(16)
        rw = self.w - rx - self.u(16)
        facts = []
        if guide.get("time_limit"):
            facts.append((model.t("办理时限", "Time limit"), str(guide["time_limit"])))
        if guide.get("fee"):
            facts.append((model.t("收费标准", "Fee"), str(guide["fee"])))
        windows = model.t("、", ", ").join(str(w) for w in svc.get("windows", []))
        queue = model.t(
            f"等候 {svc.get('waiting', 0)} 人，{minutes_text(svc.get('estimate_minutes'), 'zh')}",
            f"{svc.get('waiting', 0)} waiting, {minutes_text(svc.get('estimate_minutes'), 'en')}",
        )
        facts.append((model.t("当前排队", "Queue now"), queue))
        if windows:
            facts.append(
                (model.t("办理窗口", "Windows"), model.t(f"{windows} 号窗口", f"windows {windows}"))
            )
        btn_h = self.u(84)
        space = self.h - top - btn_h - self.u(28)
        err = model.error
        if blocker is not None:
            err = (blocker.detail, blocker.detail)
        err_h = self.u(64) if err else 0
        row_h = (space - err_h) // max(1, len(facts))
        y = top
        for label, value in facts:
            text_box(
                surface,
                self.fonts,
                label,
                pygame.Rect(rx, y, rw, self.u(24)),
                MUTED,
                self.u(19),
                align="left",
                valign="top",
            )
            text_box(
                surface,
                self.fonts,
                value,
                pygame.Rect(rx, y + self.u(24), rw, row_h - self.u(28)),
                INK,
                self.u(23),
                self.u(12),
                bold=True,
                align="left",
                valign="top",
            )
            y += row_h
        if err:
            rect = pygame.Rect(rx, y, rw, err_h - self.u(6))
            pygame.draw.rect(surface, RED_BG, rect, border_radius=self.u(8))
            text_box(
                surface,
                self.fonts,
                model.t(*err),
                rect.inflate(-self.u(12), -self.u(6)),
                RED,
                self.u(20),
                self.u(12),
                bold=True,
            )
        rect = pygame.Rect(rx, self.h - btn_h - self.u(14), rw, btn_h)
        label = model.t("取号", "Take a number")
        button(
            surface,
            self.fonts,
            hits,
            rect,
            "take",
            label,
            fill=GREEN,
            size=self.u(36),
            enabled=blocker is None,
        )

    # ------------------------------------------------------------ 最多跑一次

    def _late(self, model: KioskModel, surface: pygame.Surface, hits: list[Hit]) -> None:
        svc = model.service_view(model.service) or {}
        top = self._header(model, surface, hits, named(svc, model.lang), back=True) + self.u(12)
        warn = model.late_warning(model.service)
        panel = pygame.Rect(self.u(16), top, self.w - self.u(32), self.h - top - self.u(120))
        pygame.draw.rect(surface, AMBER_BG, panel, border_radius=self.u(12))
        pygame.draw.rect(
            surface, AMBER_INK, panel, width=max(2, self.u(3)), border_radius=self.u(12)
        )
        inner = panel.inflate(-self.u(32), -self.u(24))
        title_h = self.u(44)
        text_box(
            surface,
            self.fonts,
            model.t("今天可能办不完", "You may not be served today"),
            pygame.Rect(inner.x, inner.y, inner.w, title_h),
            AMBER_INK,
            self.u(34),
            bold=True,
            align="left",
        )
        view = model.view or {}
        advice_zh = str(view.get("booking_advice") or "")  # the hall's own (config) words
        advice_en = str(view.get("booking_advice_en") or "")
        if warn is not None:
            body = model.t(
                f"当前预计等候{minutes_text(warn.estimate_minutes, 'zh')}，约 {warn.ends_at} "
                f"才能轮到您，而今日 {warn.closes_at} 下班。\n"
                + (
                    advice_zh
                    or "为免您白跑一趟，建议预约其他时间：可在网上或到服务台预约，"
                    "届时凭预约码在本机签到，优先办理。"
                ),
                f"The wait now is {minutes_text(warn.estimate_minutes, 'en')}: your turn would "
                f"come about {warn.ends_at}, and the hall closes at {warn.closes_at}.\n"
                + (
                    advice_en
                    or advice_zh
                    or "To save you a wasted trip, book another day online or at the service "
                    "desk, then check in here with your appointment code."
                ),
            )
        else:
            body = model.t("当前等候人数较多。", "Many people are waiting now.")
        text_box(
            surface,
            self.fonts,
            body,
            pygame.Rect(
                inner.x, inner.y + title_h + self.u(8), inner.w, inner.h - title_h - self.u(8)
            ),
            INK,
            self.u(25),
            self.u(13),
            align="left",
            valign="top",
            spacing=1.3,
        )
        bh = self.u(84)
        y = self.h - bh - self.u(18)
        half = (self.w - self.u(48)) // 2
        button(
            surface,
            self.fonts,
            hits,
            pygame.Rect(self.u(16), y, half, bh),
            "home",
            model.t("预约其他时间（返回）", "Book another day (back)"),
            fill=GREY_BTN,
            size=self.u(28),
        )
        button(
            surface,
            self.fonts,
            hits,
            pygame.Rect(self.u(32) + half, y, half, bh),
            "take_anyway",
            model.t("仍要取号", "Take a number anyway"),
            fill=GREEN,
            size=self.u(32),
        )

    # ------------------------------------------------------------ appointment check-in

    def _appointment(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker | None
    ) -> None:
        top = self._header(
            model, surface, hits, model.t("预约签到", "Appointment check-in"), back=True
        ) + self.u(12)
        usable = blocker is None or (blocker.kind == "closed" and blocker.appointments_allowed)
        pad_w = self.w * 45 // 100
        lx, lw = self.u(20), self.w - pad_w - self.u(40)
        text_box(
            surface,
            self.fonts,
            model.t(
                "请输入预约码（预约短信或回执上的号码），然后按“确定”",
                "Enter your appointment code (from the booking text or receipt), then press OK",
            ),
            pygame.Rect(lx, top, lw, self.u(84)),
            INK,
            self.u(24),
            self.u(13),
            align="left",
            valign="top",
        )
        box = pygame.Rect(lx, top + self.u(96), lw, self.u(80))
        pygame.draw.rect(surface, WHITE, box, border_radius=self.u(10))
        pygame.draw.rect(surface, BLUE, box, width=max(2, self.u(3)), border_radius=self.u(10))
        shown = model.code_entry or model.t("预约码", "code")
        text_box(
            surface,
            self.fonts,
            shown,
            box.inflate(-self.u(16), -self.u(8)),
            INK if model.code_entry else (150, 156, 166),
            self.u(44),
            self.u(20),
            bold=True,
        )
        msg = model.error
        if blocker is not None and not usable:
            msg = (blocker.detail, blocker.detail)
        if msg:
            rect = pygame.Rect(lx, box.bottom + self.u(14), lw, self.h - box.bottom - self.u(30))
            pygame.draw.rect(surface, RED_BG, rect, border_radius=self.u(8))
            text_box(
                surface,
                self.fonts,
                model.t(*msg),
                rect.inflate(-self.u(16), -self.u(10)),
                RED,
                self.u(24),
                self.u(13),
                bold=True,
            )
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "ok"]
        kx = self.w - pad_w - self.u(8)
        gap = self.u(10)
        kw = (pad_w - 2 * gap) // 3
        kh = (self.h - top - self.u(14) - 3 * gap) // 4
        for i, k in enumerate(keys):
            r, c = divmod(i, 3)
            rect = pygame.Rect(kx + c * (kw + gap), top + r * (kh + gap), kw, kh)
            if k == "del":
                button(
                    surface,
                    self.fonts,
                    hits,
                    rect,
                    "key:del",
                    model.t("删除", "Delete"),
                    fill=GREY_BTN,
                    size=self.u(28),
                    enabled=usable,
                )
            elif k == "ok":
                ready = usable and len(model.code_entry) >= 4
                button(
                    surface,
                    self.fonts,
                    hits,
                    rect,
                    "key:ok",
                    model.t("确定", "OK"),
                    fill=GREEN,
                    size=self.u(30),
                    enabled=ready,
                )
            else:
                button(
                    surface,
                    self.fonts,
                    hits,
                    rect,
                    f"key:{k}",
                    k,
                    fill=WHITE,
                    color=INK,
                    size=self.u(40),
                    border=BLUE,
                    enabled=usable,
                )

    # ------------------------------------------------------------ issuing and the ticket

    def _busy(self, model: KioskModel, surface: pygame.Surface) -> None:
        self._header(model, surface, [], model.hall_name(), lang_button=False)
        text_box(
            surface,
            self.fonts,
            model.t(model.busy_zh, model.busy_en) or "…",
            pygame.Rect(0, self.u(120), self.w, self.u(120)),
            HEADER,
            self.u(48),
            bold=True,
        )
        text_box(
            surface,
            self.fonts,
            model.t("请稍候，不要离开", "Please wait a moment"),
            pygame.Rect(0, self.u(260), self.w, self.u(60)),
            MUTED,
            self.u(28),
        )

    def _ticket(self, model: KioskModel, surface: pygame.Surface, hits: list[Hit]) -> None:
        top = self._header(model, surface, hits, model.hall_name()) + self.u(10)
        ticket = model.ticket or {}
        result = model.print_result
        printed = result is not None and result.printed
        if printed:
            head, color = model.t("请取走您的号票", "Please take your ticket"), GREEN_DARK
        else:
            head, color = (
                model.t(
                    "号票未能打印，请记住您的号码",
                    "The ticket could not be printed: please remember your number",
                ),
                RED,
            )
        text_box(
            surface,
            self.fonts,
            head,
            pygame.Rect(self.u(16), top, self.w - self.u(32), self.u(56)),
            color,
            self.u(36),
            self.u(18),
            bold=True,
        )
        svc = model.service_view(str(ticket.get("service", ""))) or {}
        name = named(svc, model.lang)
        if ticket.get("category"):
            green = model.green_category() or {}
            name = f"{named(green, model.lang) or ticket['category']} · {name}"
        if ticket.get("appointment"):
            name = model.t("预约", "Appointment") + f" · {name}"
        y = top + self.u(60)
        text_box(
            surface,
            self.fonts,
            name,
            pygame.Rect(self.u(16), y, self.w - self.u(32), self.u(40)),
            INK,
            self.u(28),
            self.u(14),
            bold=True,
        )
        num_rect = pygame.Rect(self.u(16), y + self.u(42), self.w - self.u(32), self.u(150))
        text_box(
            surface,
            self.fonts,
            str(ticket.get("number", "")),
            num_rect,
            HEADER,
            self.u(150),
            bold=True,
        )
        ahead = int(ticket.get("ahead") or 0)
        wait = minutes_text(ticket.get("estimate_minutes"), model.lang)
        windows = model.t("、", ", ").join(str(w) for w in svc.get("windows", []))
        minutes = ticket.get("estimate_minutes")
        if minutes is None or minutes <= 0:
            known = minutes is not None
            phrase = model.t(
                "无需等候" if known else "等候时间暂无法估计",
                "no wait" if known else "wait not known yet",
            )
        else:
            phrase = model.t(f"预计等候{wait}", f"estimated wait {wait}")
        lines = [model.t(f"您前面还有 {ahead} 人，{phrase}", f"{ahead} ahead of you; {phrase}")]
        where = model.t(
            "请在等候区留意叫号", "Please wait in the hall for your number to be called"
        )
        if windows:
            where = model.t(
                f"请在等候区留意叫号，到 {windows} 号窗口办理",
                f"Wait in the hall for your call to window{'s' if ',' in windows else ''} {windows}",
            )
        lines.append(where)
        if not printed and result is not None and result.reason:
            lines.append(
                model.t(
                    f"（{result.reason}，已通知工作人员）",
                    f"({result.reason_en or result.reason}; staff have been told)",
                )
            )
        bh = self.u(80)
        info = pygame.Rect(
            self.u(16),
            num_rect.bottom + self.u(4),
            self.w - self.u(260),
            self.h - num_rect.bottom - self.u(18),
        )
        text_box(
            surface,
            self.fonts,
            "\n".join(lines),
            info,
            INK,
            self.u(24),
            self.u(13),
            align="left",
            valign="top",
            spacing=1.25,
        )
        rect = pygame.Rect(self.w - self.u(226), self.h - bh - self.u(14), self.u(210), bh)
        button(
            surface,
            self.fonts,
            hits,
            rect,
            "done",
            model.t("完成", "Done"),
            fill=BLUE,
            size=self.u(32),
        )

    # ------------------------------------------------------------ blocked

    def _closed(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker
    ) -> None:
        top = self._header(model, surface, hits, model.hall_name()) + self.u(20)
        text_box(
            surface,
            self.fonts,
            blocker.title,
            pygame.Rect(0, top, self.w, self.u(90)),
            RED,
            self.u(64),
            self.u(28),
            bold=True,
        )
        y = top + self.u(100)
        text = "\n".join((*blocker.lines, blocker.detail))
        text_box(
            surface,
            self.fonts,
            text,
            pygame.Rect(self.u(40), y, self.w - self.u(80), self.u(150)),
            INK,
            self.u(28),
            self.u(14),
            valign="top",
            spacing=1.35,
        )
        if blocker.appointments_allowed:
            rect = pygame.Rect(0, self.h - self.u(100), self.u(300), self.u(80))
            rect.centerx = self.w // 2
            button(
                surface,
                self.fonts,
                hits,
                rect,
                "appointment",
                model.t("预约签到", "Appointment check-in"),
                fill=BLUE,
                size=self.u(30),
            )

    def _offline(
        self, model: KioskModel, surface: pygame.Surface, hits: list[Hit], blocker: Blocker
    ) -> None:
        surface.fill((38, 44, 54))
        pad = self.u(8)
        rect = pygame.Rect(0, pad, self.u(128), self.u(52))
        rect.right = self.w - pad
        button(
            surface,
            self.fonts,
            hits,
            rect,
            "lang",
            "English" if model.lang == "zh" else "中文",
            fill=(70, 78, 92),
            size=self.u(24),
        )
        text_box(
            surface,
            self.fonts,
            blocker.title,
            pygame.Rect(0, self.h // 2 - self.u(110), self.w, self.u(100)),
            WHITE,
            self.u(72),
            bold=True,
        )
        text_box(
            surface,
            self.fonts,
            blocker.detail,
            pygame.Rect(self.u(40), self.h // 2 + self.u(10), self.w - self.u(80), self.u(90)),
            (210, 216, 226),
            self.u(28),
            self.u(14),
        )
