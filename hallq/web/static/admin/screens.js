// 屏幕与公告: the hall screens ([[screens]]) and the notices they scroll ([[notices]]).
import { el, tr } from "/static/common/hallq.js";
import { addButton, card, chipsInput, configPage, field, listInput, numberInput, pageHead, section, selectInput, serviceOptions, textInput, windowOptions } from "/static/admin/ui.js";

export const id = "screens";
export const zh = "屏幕与公告";
export const en = "Screens & notices";

const LAYOUTS = [["hall", "大厅屏", "Hall"], ["window-top", "窗口上方屏", "Above a window"], ["led", "条屏预览", "LED view"]];
const THEMES = [["dark", "深色", "Dark"], ["light", "浅色", "Light"], ["contrast", "高对比度", "High contrast"]];
const LANGUAGES = [["zh+en", "中文+英文", "Chinese + English"], ["zh", "中文", "Chinese"], ["en", "英文", "English"]];

export function render(main, ctx) {
  main.append(pageHead(zh, en,
    "保存后每块屏幕在一秒内更新。公告可限定屏幕、起止日期和每天的时段。",
    "Every screen shows a change within a second of saving. A notice can be limited to some screens, to dates and to hours of the day."));
  return configPage(main, { build: (data, body, page) => build(data, body, page, ctx) });
}

function today(ctx) {
  return ctx.feed ? ctx.feed.local().date : new Date().toISOString().slice(0, 10);
}

function build(data, body, page, ctx) {
  const screens = section("屏幕", "Screens");
  const services = serviceOptions(data);
  const windows = windowOptions(data);
  data.screens.forEach((sc, i) => {
    const at = `screens[${i}]`;
    const link = el("a", { href: `/screen/${encodeURIComponent(sc.id)}`, target: "_blank", rel: "noopener", "data-always": true }, tr("打开屏幕 ↗", "Open screen ↗"));
    const windowChoice = [[null, "—", "—"], ...windows.map(([n]) => [n, `${n}`, `${n}`])];
    screens.append(card(at, el("span", {}, `${sc.name || sc.id || tr("新屏幕", "New screen")} `, el("small", { class: "reason" }, `/screen/${sc.id}`), " ", link), () => {
      if (!confirm(tr(`删除屏幕“${sc.name || sc.id}”？`, `Remove the screen "${sc.name || sc.id}"?`))) return;
      data.screens.splice(i, 1);
      for (const n of data.notices) n.screens = (n.screens || []).filter((s) => s !== sc.id);
      page.changed();
      page.rebuild();
    },
    field("编号", "Id", textInput(sc, "id", `${at}.id`, { max: 32 }), { path: `${at}.id`, hintZh: "网址 /screen/编号，如 hall-east", hintEn: "the address /screen/ID, e.g. hall-east" }),
    field("名称", "Name", textInput(sc, "name", `${at}.name`, { max: 60 }), { path: `${at}.name` }),
    field("版式", "Layout", selectInput(sc, "layout", `${at}.layout`, LAYOUTS), { path: `${at}.layout` }),
    field("所在窗口（窗口上方屏）", "Window (above-window layout)", selectInput(sc, "window", `${at}.window`, windowChoice), { path: `${at}.window` }),
    field("主题", "Theme", selectInput(sc, "theme", `${at}.theme`, THEMES), { path: `${at}.theme` }),
    field("语言", "Language", selectInput(sc, "language", `${at}.language`, LANGUAGES), { path: `${at}.language` }),
    field("亮屏时段", "On hours", listInput(sc, "on_hours", `${at}.on_hours`, { placeholder: "08:00-17:30" }), { path: `${at}.on_hours`,
      hintZh: "留空：开门前若干分钟至闭门后 10 分钟", hintEn: "empty: from the lead minutes before opening to 10 min after closing" }),
    field("提前亮屏（分钟）", "Lead minutes", numberInput(sc, "lead_minutes", `${at}.lead_minutes`, { min: 0, max: 240 }), { path: `${at}.lead_minutes` }),
    field("显示最近叫号数", "Recent calls shown", numberInput(sc, "recent_calls", `${at}.recent_calls`, { min: 1, max: 20 }), { path: `${at}.recent_calls` }),
    field("显示的窗口（不选：全部）", "Windows shown (none: all)", chipsInput(sc, "windows", `${at}.windows`, windows), { path: `${at}.windows`, full: true, group: true }),
    field("显示的业务（不选：全部）", "Services shown (none: all)", chipsInput(sc, "services", `${at}.services`, services), { path: `${at}.services`, full: true, group: true })));
  });
  screens.append(addButton("添加屏幕", "Add a screen", () => {
    data.screens.push({ id: `screen-${data.screens.length + 1}`, name: "", layout: "hall", windows: [], services: [], theme: "dark", language: "zh+en", on_hours: [], lead_minutes: 30, recent_calls: 6 });
    page.changed();
    page.rebuild();
  }));

  const notices = section("公告", "Notices");
  notices.id = "notices";
  const screenIds = data.screens.map((s) => [s.id, s.name || s.id]);
  const day = today(ctx);
  data.notices.forEach((n, i) => {
    const at = `notices[${i}]`;
    const state = n.ends && n.ends < day ? ["off", tr("已结束", "ended")] : n.starts && n.starts > day ? ["off", tr("未开始", "not yet")] : ["on", tr("显示中", "showing")];
    notices.append(card(at, el("span", {}, tr(`公告 ${i + 1} `, `Notice ${i + 1} `), el("span", { class: `badge ${state[0] === "on" ? "restart" : "off"}` }, state[1])), () => {
      data.notices.splice(i, 1);
      page.changed();
      page.rebuild();
    },
    field("内容", "Text", textInput(n, "text", `${at}.text`, { multiline: true, rows: 2, max: 500 }), { path: `${at}.text`, wide: true }),
    field("英文内容", "English text", textInput(n, "text_en", `${at}.text_en`, { multiline: true, rows: 2, max: 1000 }), { path: `${at}.text_en`, wide: true }),
    field("开始日期", "First day", textInput(n, "starts", `${at}.starts`, { type: "date" }), { path: `${at}.starts`, hintZh: "留空：立即", hintEn: "empty: now" }),
    field("结束日期", "Last day", textInput(n, "ends", `${at}.ends`, { type: "date" }), { path: `${at}.ends`, hintZh: "留空：直到删除", hintEn: "empty: until removed" }),
    field("每天时段", "Hours of the day", listInput(n, "hours", `${at}.hours`, { placeholder: "08:00-12:00" }), { path: `${at}.hours`, hintZh: "留空：全天", hintEn: "empty: all day" }),
    field("显示在（不选：所有屏幕）", "Shown on (none: every screen)", chipsInput(n, "screens", `${at}.screens`, screenIds), { path: `${at}.screens`, full: true, group: true })));
  });
  notices.append(addButton("添加公告", "Add a notice", () => {
    data.notices.push({ text: "", text_en: "", screens: [], starts: "", ends: "", hours: [] });
    page.changed();
    page.rebuild();
    const texts = body.querySelectorAll("#notices textarea");
    if (texts.length >= 2) texts[texts.length - 2].focus();
  }));
  body.append(screens, notices);
}
