// A hall's page: its figures now (re-read every 10 s), services and windows, and charts for a period.
import { el, tr } from "/static/common/hallq.js";
import {
  addDays, agoText, call, clockText, deviceText, errorText, hallName, minutesText, name, pill,
  startPage, stat, todayText, windowStatusText,
} from "/static/central/central.js";
import { chart } from "/static/central/chart.js";

const $ = (id) => document.getElementById(id);
const hallId = decodeURIComponent(location.pathname.split("/")[2] || "");
const REFRESH_MS = 10_000;
let detail = null;
let charts = null;
let problem = "";

export const LEVEL_COLORS = {
  very_satisfied: "#1a7f45", satisfied: "#5cb85c", basic: "#c9b037", dissatisfied: "#ee8a2d", very_dissatisfied: "#c8322f",
};
const SPARE_COLORS = ["#6f42c1", "#20a8d8", "#8a6d3b", "#999"];

function head(table, cols) {
  $(table).querySelector("thead tr").replaceChildren(...cols.map(([zh, en, cls]) => el("th", { class: cls || null }, tr(zh, en))));
}

function renderLive() {
  if (!detail) { $("updated").textContent = problem || tr("正在读取…", "Loading…"); return; }
  const h = detail.hall;
  $("hall-name").textContent = hallName(h);
  document.title = hallName(h) + " · " + tr("政务大厅监管平台", "Hall supervision");
  $("hall-status").replaceChildren(
    !h.last_seen ? pill("offline", tr("未接入", "Never connected"))
      : h.online ? pill("online", tr("在线", "Online")) : pill("bad", tr(`离线 · 最后联系 ${agoText(h.lag_seconds)}`, `Offline · last seen ${agoText(h.lag_seconds)}`)),
    h.stale_day && h.day ? el("span", { class: "muted" }, tr(` 数据日期 ${h.day}`, ` figures of ${h.day}`)) : "");
  const devices = h.devices_unhealthy.length;
  $("stats").replaceChildren(
    stat(tr("等候人数", "Waiting"), String(h.waiting), { id: "waiting" }),
    stat(tr("最长等候", "Longest wait"), minutesText(h.longest_wait_seconds), { id: "longest" }),
    stat(tr("今日办结", "Served today"), String(h.served), { id: "served", note: tr(`取号 ${h.issued} · 过号 ${h.no_shows}`, `${h.issued} issued · ${h.no_shows} no-shows`) }),
    stat(tr("平均等候", "Average wait"), minutesText(h.wait_avg_seconds), { id: "wait-avg", note: tr(`P90 ${minutesText(h.wait_p90_seconds)}`, `P90 ${minutesText(h.wait_p90_seconds)}`) }),
    stat(tr("开放窗口", "Windows open"), `${h.windows_open} / ${h.windows_total}`, { id: "windows" }),
    stat(tr("设备异常", "Device trouble"), String(devices), { id: "devices", kind: devices ? "bad" : "ok" }),
    stat(tr("待回访差评", "Bad reviews open"), el("a", { href: `/cases?hall=${encodeURIComponent(h.hall_id)}` }, String(h.cases_open)),
      { id: "cases", kind: h.cases_overdue ? "bad" : "", note: h.cases_overdue ? tr(`逾期 ${h.cases_overdue} 件`, `${h.cases_overdue} overdue`) : "" }),
  );
  $("devices-panel").classList.toggle("hidden", !devices);
  $("devices").replaceChildren(...h.devices_unhealthy.map((d) => el("li", {}, deviceText(d), d.since ? el("span", { class: "muted" }, tr(` （自 ${clockText(d.since)}）`, ` (since ${clockText(d.since)})`)) : "")));

  head("services", [["事项", "Service"], ["等候", "Waiting", "num"], ["预计等候", "Estimated wait", "num"], ["今日办结", "Served today", "num"], ["平均等候", "Average wait", "num"], ["开放窗口", "Windows open", "num"]]);
  const services = detail.services.map((s) => el("tr", { "data-service": s.code },
    el("td", {}, name(s), el("span", { class: "sub" }, ` ${s.code}`)),
    el("td", { class: "num" }, String(s.waiting ?? 0)),
    el("td", { class: "num" }, s.estimated_wait_minutes === null || s.estimated_wait_minutes === undefined ? "—" : minutesText(s.estimated_wait_minutes * 60)),
    el("td", { class: "num" }, String(s.served ?? 0)),
    el("td", { class: "num" }, minutesText(s.wait_avg_seconds ?? null)),
    el("td", { class: "num" }, String(s.windows_open ?? 0))));
  $("services").querySelector("tbody").replaceChildren(...(services.length ? services : [el("tr", {}, el("td", { colspan: 6, class: "empty" }, tr("尚无数据", "No data yet")))]));

  const thresholds = detail.away_thresholds_minutes;
  $("thresholds").textContent = tr(`暂离提醒：超过 ${thresholds.join(" / ")} 分钟`, `away alerts over ${thresholds.join(" / ")} min`);
  head("windows", [["窗口", "Window", "num"], ["名称", "Label"], ["状态", "Status"], ["工作人员", "Staff"], ["当前号", "Ticket"], ["今日办结", "Served today", "num"], ["今日暂离", "Away today", "num"]]);
  const windows = detail.windows.map((w) => {
    const current = w.status === "away" && w.since ? Math.max(0, detail.now - w.since) / 60 : 0;
    const passed = thresholds.filter((t) => current > t).length;
    return el("tr", { "data-window": w.number },
      el("td", { class: "num" }, String(w.number)),
      el("td", {}, tr(w.label, w.label_en) || "—"),
      el("td", {}, pill(w.status, windowStatusText(w.status)),
        w.status === "away" && w.since ? el("span", { class: passed ? "bad-text" : "muted" }, tr(` ${Math.floor(current)} 分钟`, ` ${Math.floor(current)} min`)) : ""),
      el("td", {}, w.staff_name || w.staff || "—", w.staff && w.staff_name ? el("span", { class: "sub" }, ` ${w.staff}`) : ""),
      el("td", {}, w.ticket || "—"),
      el("td", { class: "num" }, String(w.served ?? 0)),
      el("td", { class: "num" }, w.away_seconds ? minutesText(w.away_seconds) : "—"));
  });
  $("windows").querySelector("tbody").replaceChildren(...(windows.length ? windows : [el("tr", {}, el("td", { colspan: 7, class: "empty" }, tr("尚无数据", "No data yet")))]));
  $("updated").textContent = problem || tr(`更新于 ${clockText(detail.now)} · 每 10 秒刷新`, `Updated ${clockText(detail.now)} · refreshes every 10 s`);
  $("updated").classList.toggle("bad-text", Boolean(problem));
}

// ------------------------------------------------------------------ charts
const QUICK = [
  ["today", "今天", "Today", 0],
  ["yesterday", "昨天", "Yesterday", -1],
  ["7", "近 7 天", "7 days", 6],
  ["30", "近 30 天", "30 days", 29],
];
let quick = "today";

function setQuick(id) {
  quick = id;
  const today = todayText();
  const q = QUICK.find((x) => x[0] === id);
  if (id === "yesterday") { $("from").value = $("to").value = addDays(today, -1); }
  else { $("from").value = addDays(today, -q[3]); $("to").value = today; }
}

function renderQuick() {
  $("quick").replaceChildren(...QUICK.map(([id, zh, en]) => {
    const b = el("button", { type: "button", class: id === quick ? "on" : null, "data-quick": id }, tr(zh, en));
    b.addEventListener("click", () => { setQuick(id); renderQuick(); loadCharts(); });
    return b;
  }));
}

function hourRange(hours) {
  const present = hours.map((h) => h.hour);
  const lo = Math.min(8, ...present);
  const hi = Math.max(17, ...present);
  return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
}

function renderCharts() {
  renderQuick();
  if (!charts) return;
  const days = Math.round((Date.parse(charts.to) - Date.parse(charts.from)) / 86400000) + 1;
  $("chart-period").textContent = days === 1
    ? tr(`${charts.from} 全天`, `${charts.from}, the whole day`)
    : tr(`${charts.from} 至 ${charts.to}，共 ${days} 天：按小时的人数为这些天的合计，等候为这些天的平均。`,
      `${charts.from} to ${charts.to}, ${days} days: arrivals per hour are the sum over these days, waits their average.`);
  const hours = hourRange(charts.hours);
  const at = Object.fromEntries(charts.hours.map((h) => [h.hour, h]));
  const minutes = (s) => (s === null || s === undefined ? null : Math.round(s / 6) / 10);
  const labels = hours.map((h) => String(h).padStart(2, "0"));
  $("chart-waits").replaceChildren(chart({
    categories: labels, yTitle: tr("分钟", "min"), xTitle: tr("取号时段（时）", "hour of arrival"),
    series: [
      { id: "wait_avg", name: tr("平均等候", "Average"), kind: "line", color: "#1f6feb", values: hours.map((h) => minutes(at[h] && at[h].wait_avg_seconds)) },
      { id: "wait_p90", name: tr("P90 等候", "P90"), kind: "line", color: "#c8322f", dash: "5 3", values: hours.map((h) => minutes(at[h] && at[h].wait_p90_seconds)) },
    ],
  }));
  $("chart-arrivals").replaceChildren(chart({
    categories: labels, yTitle: tr("人数", "tickets"), xTitle: tr("时", "hour"),
    series: [{ id: "arrivals", name: tr("取号人数", "Tickets issued"), color: "#4b8bd6", values: hours.map((h) => (at[h] ? at[h].arrivals : 0)) }],
  }));
  $("chart-windows").replaceChildren(chart({
    categories: charts.windows.map((w) => tr(`${w.window}号`, `W${w.window}`)), yTitle: tr("办结数", "served"),
    emptyText: tr("此时段没有办结", "Nothing served in this period"),
    series: [{ id: "served", name: tr("办结数", "Served"), color: "#2f9e6a", values: charts.windows.map((w) => w.served) }],
  }));
  let spare = 0;
  $("chart-evaluations").replaceChildren(chart({
    categories: charts.evaluations.map((d) => d.day.slice(5)), stacked: true, yTitle: tr("评价数", "evaluations"), labelWidth: 44,
    emptyText: tr("此时段没有评价", "No evaluations in this period"),
    series: charts.levels.map((lv) => ({
      id: lv.code, name: tr(lv.name, lv.name_en), color: LEVEL_COLORS[lv.code] || SPARE_COLORS[spare++ % SPARE_COLORS.length],
      values: charts.evaluations.map((d) => d.counts[lv.code] || 0),
    })),
  }));
}

async function loadCharts() {
  const from = $("from").value;
  const to = $("to").value;
  const r = await call("GET", `/api/halls/${encodeURIComponent(hallId)}/charts?from=${from}&to=${to}`);
  $("chart-problem").textContent = r.ok ? "" : errorText(r);
  if (r.ok) charts = r.data;
  renderCharts();
}

async function loadLive() {
  const r = await call("GET", `/api/halls/${encodeURIComponent(hallId)}`);
  if (r.ok) { detail = r.data; problem = ""; } else problem = errorText(r);
  renderLive();
}

$("show").addEventListener("click", () => { quick = ""; loadCharts(); });

if (await startPage("hall", () => { renderLive(); renderCharts(); })) {
  setQuick("today");
  await Promise.all([loadLive(), loadCharts()]);
  setInterval(loadLive, REFRESH_MS);
}
