// 作息与节假日: sessions, workdays, the issuing cut-off, holidays, make-up workdays and seasons.
import { el, tr } from "/static/common/hallq.js";
import { WEEKDAYS, addButton, card, chipsInput, configPage, field, linesInput, listInput, numberInput, pageHead, section, textInput } from "/static/admin/ui.js";

export const id = "hours";
export const zh = "作息与节假日";
export const en = "Hours & holidays";

export function render(main, ctx) {
  main.append(pageHead(zh, en,
    "时段写作 08:40-11:50，多个用逗号分开。闭门前若干分钟停止取号。节假日可写单日或区间 2026-10-01..2026-10-07。",
    "Write sessions as 08:40-11:50, several separated by commas. Ticket issuing stops some minutes before closing. Holidays are a day or a range 2026-10-01..2026-10-07."));
  const today = el("p", { class: "reason", id: "today-hours" });
  main.append(today);
  const showToday = () => {
    const v = ctx.feed && ctx.feed.view;
    if (v) today.textContent = tr("今天：", "Today: ") + (v.hours.length ? v.hours.join("，") : tr("不开放", "closed")) + (v.issuing.open ? "" : ` · ${v.issuing.message}`);
  };
  showToday();
  drawer = showToday;
  const cleanup = configPage(main, { build });
  return () => { drawer = null; cleanup(); };
}

let drawer = null;
export function onView() { if (drawer) drawer(); }

function build(data, body, page) {
  const h = data.hours;
  h.weekdays = h.weekdays || {};
  const usual = section("平日作息", "Usual hours");
  usual.append(el("div", { class: "grid" },
    field("工作日", "Workdays", chipsInput(h, "workdays", "hours.workdays", WEEKDAYS.map(([v, z, e]) => [v, tr(z, e)])), { path: "hours.workdays", wide: true, group: true }),
    field("办公时段", "Sessions", listInput(h, "sessions", "hours.sessions", { placeholder: "08:40-11:50, 13:10-16:50" }), { path: "hours.sessions", wide: true }),
    field("闭门前停止取号（分钟）", "Stop issuing before closing (min)", numberInput(h, "issue_cutoff_minutes", "hours.issue_cutoff_minutes", { min: 0, max: 240 }), { path: "hours.issue_cutoff_minutes" }),
    field("时区", "Time zone", textInput(data.hall, "timezone", "hall.timezone"), { path: "hall.timezone", restart: true })));
  const perDay = el("div", { class: "grid" });
  for (const [day, z, e] of WEEKDAYS) {
    const holder = { list: h.weekdays[day] || [] };
    const input = listInput(holder, "list", `hours.weekdays.${day}`, { placeholder: tr("同平日", "as usual") });
    input.addEventListener("input", () => {
      if (holder.list.length) h.weekdays[day] = holder.list; else delete h.weekdays[day];
    });
    perDay.append(field(z, e, input, { path: `hours.weekdays.${day}` }));
  }
  usual.append(el("h3", {}, tr("按星期另定时段（如周五下午不办公）", "Other sessions on some weekdays (e.g. Friday mornings only)")), perDay);

  const days = section("节假日与调休", "Holidays and make-up workdays");
  days.append(el("div", { class: "grid" },
    field("节假日（每行一个日期或区间）", "Holidays (a date or range a line)", linesInput(h, "holidays", "hours.holidays", { rows: 8, placeholder: "2026-10-01..2026-10-07" }), { path: "hours.holidays", wide: true }),
    field("调休上班日（每行一个）", "Make-up workdays (one a line)", linesInput(h, "makeup_workdays", "hours.makeup_workdays", { rows: 8, placeholder: "2026-10-10" }), { path: "hours.makeup_workdays", wide: true })));

  const seasons = section("季节作息", "Seasons");
  h.seasons = h.seasons || [];
  h.seasons.forEach((s, i) => {
    const at = `hours.seasons[${i}]`;
    seasons.append(card(at, s.name || tr("新季节", "New season"), () => { h.seasons.splice(i, 1); page.changed(); page.rebuild(); },
      field("名称", "Name", textInput(s, "name", `${at}.name`), { path: `${at}.name` }),
      field("开始（月-日）", "From (MM-DD)", textInput(s, "from", `${at}.from`, { placeholder: "06-01" }), { path: `${at}.from` }),
      field("结束（月-日）", "To (MM-DD)", textInput(s, "to", `${at}.to`, { placeholder: "09-30" }), { path: `${at}.to` }),
      field("办公时段", "Sessions", listInput(s, "sessions", `${at}.sessions`), { path: `${at}.sessions`, wide: true })));
  });
  seasons.append(addButton("添加季节作息", "Add a season", () => {
    h.seasons.push({ name: "夏季作息时间", from: "06-01", to: "09-30", sessions: [...h.sessions], weekdays: {} });
    page.changed();
    page.rebuild();
  }));
  body.append(usual, days, seasons);
}
