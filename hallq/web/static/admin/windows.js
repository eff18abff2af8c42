// 窗口: labels, the services each window calls in turn (tiers, 综合窗口) and its backup (AB岗).
import { el, tr } from "/static/common/hallq.js";
import { addButton, card, chipsInput, configPage, field, listInput, numberInput, pageHead, selectInput, serviceOptions, textInput } from "/static/admin/ui.js";

export const id = "windows";
export const zh = "窗口";
export const en = "Windows";

export function render(main) {
  main.append(pageHead(zh, en,
    "每个窗口按层级叫号：先叫第一层的业务，第一层无人等候时再叫下一层（综合窗口）。备岗窗口在本窗口离开时顶岗（AB岗）。",
    "Each window calls its tiers in turn: the first tier's services first, the next tier when none of those wait (composite windows). The backup window covers when this one is away (AB post)."));
  return configPage(main, { build });
}

function build(data, body, page) {
  body.append(el("section", { class: "panel" },
    el("h2", {}, tr("离开提醒", "Away alerts")),
    el("div", { class: "grid" },
      field("离开提醒阈值（分钟）", "Away alert thresholds (minutes)", listInput(data.away, "thresholds_minutes", "away.thresholds_minutes", { int: true, placeholder: "15, 30, 60" }),
        { path: "away.thresholds_minutes", wide: true, hintZh: "总览中离开时长到达阈值后变色", hintEn: "the overview colours the away time past each threshold" }))));
  const services = serviceOptions(data);
  data.windows.forEach((w, i) => {
    const at = `windows[${i}]`;
    const backups = [[null, "无", "None"], ...data.windows.filter((x) => x !== w).map((x) => [x.number, `${x.number} ${x.label}`, `${x.number} ${x.label_en || x.label}`])];
    const tiers = el("div", { class: "tiers", "data-path": `${at}.tiers` });
    w.tiers.forEach((tier, t) => {
      const holder = { list: tier };
      const chips = chipsInput(holder, "list", `${at}.tiers[${t}]`, services);
      chips.addEventListener("change", () => { w.tiers[t] = holder.list; });
      const drop = el("button", { type: "button", class: "link danger", title: tr("删除此层", "Remove this tier") }, "×");
      drop.addEventListener("click", () => { w.tiers.splice(t, 1); page.changed(); page.rebuild(); });
      tiers.append(el("div", { class: "tier" }, el("span", { class: "tier-name" }, tr(`第 ${t + 1} 层`, `Tier ${t + 1}`)), chips, w.tiers.length > 1 ? drop : null));
    });
    const addTier = el("button", { type: "button", class: "link" }, "+ ", tr("添加一层", "Add a tier"));
    addTier.addEventListener("click", () => { w.tiers.push([]); page.changed(); page.rebuild(); });
    body.append(card(at, tr(`${w.number} 号窗口`, `Window ${w.number}`), () => {
      if (!confirm(tr(`删除 ${w.number} 号窗口？`, `Remove window ${w.number}?`))) return;
      data.windows.splice(i, 1);
      for (const x of data.windows) if (x.backup === w.number) delete x.backup;
      for (const st of data.staff) st.windows = (st.windows || []).filter((n) => n !== w.number);
      page.changed();
      page.rebuild();
    },
    field("窗口号", "Number", numberInput(w, "number", `${at}.number`, { min: 1, max: 999 }), { path: `${at}.number` }),
    field("功能标签", "Label", textInput(w, "label", `${at}.label`, { max: 60 }), { path: `${at}.label`, hintZh: "显示在窗口上方屏", hintEn: "shown above the window" }),
    field("英文标签", "English label", textInput(w, "label_en", `${at}.label_en`, { max: 120 }), { path: `${at}.label_en` }),
    field("备岗窗口", "Backup window", selectInput(w, "backup", `${at}.backup`, backups), { path: `${at}.backup` }),
    field("叫号层级", "Service tiers", el("div", {}, tiers, addTier), { path: `${at}.tiers`, full: true, group: true })));
  });
  body.append(addButton("添加窗口", "Add a window", () => {
    const next = Math.max(0, ...data.windows.map((w) => w.number)) + 1;
    data.windows.push({ number: next, label: "", label_en: "", tiers: [[]] });
    page.changed();
    page.rebuild();
  }));
}
