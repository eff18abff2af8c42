// 业务事项: each service's names, numbers, times and quota, and its guide (办事指南).
import { el, tr } from "/static/common/hallq.js";
import { addButton, checkInput, configPage, field, linesInput, numberInput, pageHead, textInput } from "/static/admin/ui.js";

export const id = "services";
export const zh = "业务事项";
export const en = "Services";

export function render(main) {
  main.append(pageHead(zh, en,
    "办事指南会印在号票上并显示在取号机上（一次性告知）。有号票未办结的业务不能删除，可先停用。",
    "The guide is printed on the ticket and shown on the kiosk (tell everything once). A service with live tickets cannot be removed: disable it first."));
  return configPage(main, { build });
}

function build(data, body, page) {
  data.services.forEach((s, i) => body.append(serviceCard(data, s, i, page, i === 0)));
  body.append(addButton("添加业务", "Add a service", () => {
    const used = new Set(data.services.map((s) => s.prefix));
    const prefix = "ABCDEFGHIJKLMNOPQRSTUVWXYZ".split("").find((p) => !used.has(p)) || "";
    data.services.push({ code: "", name: "", name_en: "", prefix, number_width: 3, service_minutes: 10, enabled: true,
      guide: { materials: [], materials_en: [], time_limit: "", fee: "", legal_basis: "", notes: "" } });
    page.changed();
    page.rebuild();
    const cards = body.querySelectorAll("details.card");
    cards[cards.length - 1].open = true;
  }));
}

function serviceCard(data, s, i, page, open) {
  const at = `services[${i}]`;
  s.guide = s.guide || {};
  const g = s.guide;
  const remove = el("button", { type: "button", class: "link danger" }, tr("删除", "Remove"));
  remove.addEventListener("click", (ev) => {
    ev.preventDefault();
    if (!confirm(tr(`删除业务“${s.name || s.code}”？窗口和屏幕中对它的引用也需去掉。`, `Remove the service "${s.name_en || s.name || s.code}"? Windows and screens that list it must drop it too.`))) return;
    data.services.splice(i, 1);
    for (const w of data.windows) w.tiers = w.tiers.map((t) => t.filter((c) => c !== s.code)).filter((t) => t.length);
    for (const sc of data.screens) sc.services = (sc.services || []).filter((c) => c !== s.code);
    page.changed();
    page.rebuild();
  });
  const isNew = !s.code;
  return el("details", { class: "card", "data-path": at, open: open || isNew || null },
    el("summary", {},
      el("span", { class: "title" }, `${s.prefix || "?"} · ${tr(s.name, s.name_en) || tr("新业务", "New service")}`),
      el("span", { class: "meta" }, s.code, " · ", tr(`${s.service_minutes} 分钟/件`, `${s.service_minutes} min each`)),
      s.enabled === false ? el("span", { class: "badge off" }, tr("已停用", "disabled")) : null,
      remove),
    el("span", { class: "card-error", role: "alert" }),
    el("div", { class: "grid" },
      field("名称", "Name", textInput(s, "name", `${at}.name`, { max: 60 }), { path: `${at}.name` }),
      field("英文名称", "English name", textInput(s, "name_en", `${at}.name_en`, { max: 120 }), { path: `${at}.name_en`, wide: true }),
      field("代码", "Code", textInput(s, "code", `${at}.code`, { max: 32 }), { path: `${at}.code`,
        hintZh: isNew ? "小写字母、数字和下划线，如 police" : "代码用于记录，建议不改", hintEn: isNew ? "lower-case letters, digits, _ e.g. police" : "used in the records: best left as is" }),
      field("号码前缀", "Number prefix", textInput(s, "prefix", `${at}.prefix`, { max: 2 }), { path: `${at}.prefix`, hintZh: "1-2 个大写字母", hintEn: "1-2 capital letters" }),
      field("号码位数", "Digits", numberInput(s, "number_width", `${at}.number_width`, { min: 2, max: 4 }), { path: `${at}.number_width` }),
      field("每件办理时间（分钟）", "Minutes per case", numberInput(s, "service_minutes", `${at}.service_minutes`, { float: true, min: 0.5 }), { path: `${at}.service_minutes`,
        hintZh: "用于预计等候时间的初始值", hintEn: "seeds the wait estimates" }),
      field("每日限额", "Daily quota", numberInput(s, "daily_quota", `${at}.daily_quota`, { nullable: true, min: 1 }), { path: `${at}.daily_quota`, hintZh: "留空：不限", hintEn: "empty: no limit" }),
      field("每时段限额", "Quota per session", numberInput(s, "session_quota", `${at}.session_quota`, { nullable: true, min: 1 }), { path: `${at}.session_quota`, hintZh: "留空：不限", hintEn: "empty: no limit" }),
      el("label", { class: "field check", "data-field": `${at}.enabled` }, checkInput(s, "enabled", `${at}.enabled`), el("span", {}, tr("启用（可取号）", "Enabled (tickets can be taken)")), el("span", { class: "field-error" }))),
    el("h3", { class: "guide-title" }, tr("办事指南", "Service guide")),
    el("div", { class: "grid two" },
      field("申请材料（每行一项）", "Materials (one a line)", linesInput(g, "materials", `${at}.guide.materials`), { path: `${at}.guide.materials` }),
      field("英文材料（每行一项）", "Materials in English (one a line)", linesInput(g, "materials_en", `${at}.guide.materials_en`), { path: `${at}.guide.materials_en` }),
      field("办理时限", "Time limit", textInput(g, "time_limit", `${at}.guide.time_limit`), { path: `${at}.guide.time_limit` }),
      field("收费标准", "Fee", textInput(g, "fee", `${at}.guide.fee`), { path: `${at}.guide.fee` }),
      field("办理依据", "Legal basis", textInput(g, "legal_basis", `${at}.guide.legal_basis`), { path: `${at}.guide.legal_basis` }),
      field("备注", "Notes", textInput(g, "notes", `${at}.guide.notes`), { path: `${at}.guide.notes` })));
}
