// 报表: a month (with the configured boundary) or any dates, per hall, service, window or staff
// member; the same table as CSV (UTF-8 with BOM) and Excel.
import { el, tr } from "/static/common/hallq.js";
import { call, errorText, hallName, isCityAdmin, startPage, todayText } from "/static/central/central.js";

const $ = (id) => document.getElementById(id);
const GROUPS = [["hall", "按大厅", "Per hall"], ["service", "按事项", "Per service"], ["window", "按窗口", "Per window"], ["staff", "按工作人员", "Per staff member"]];
const KINDS = [["month", "按月", "Month"], ["range", "自定义日期", "Dates"]];
const DL_LANGS = [["both", "中文（英文）", "Chinese (English)"], ["zh", "中文", "Chinese"], ["en", "英文", "English"]];
let kind = "month";
let report = null;
let halls = [];
let monthStart = 1;
const params = new URLSearchParams(location.search);
const choice = { group: params.get("group") || "hall", hall: params.get("hall") || "", lang: "both" };

function query() {
  const q = new URLSearchParams();
  if (kind === "month") q.set("month", $("month").value);
  else { q.set("from", $("from").value); q.set("to", $("to").value); }
  q.set("group", $("group").value);
  if ($("hall").value) q.set("hall", $("hall").value);
  return q;
}

function updateLinks() {
  const q = query();
  q.set("lang", $("lang-dl").value || "both");
  $("csv").href = `/api/reports.csv?${q}`;
  $("xlsx").href = `/api/reports.xlsx?${q}`;
}

function options(select, items, value) {
  select.replaceChildren(...items.map(([v, zh, en]) => el("option", { value: v }, tr(zh, en))));
  if (value !== undefined) select.value = value;
}

function boundaryText() {
  return monthStart === 1
    ? tr("月报按自然月统计。", "A report month is a calendar month.")
    : tr(`月报周期：上月 ${monthStart} 日至本月 ${monthStart - 1} 日（在“管理”中设置）。`,
      `A report month runs from the ${monthStart}th of the month before to the ${monthStart - 1}th (set under Admin).`);
}

function cell(row, col) {
  const v = col.kind === "text" ? tr(row[col.key], row[`${col.key}_en`]) : row[col.key];
  if (v === null || v === undefined || v === "") return el("td", { class: col.kind === "text" ? null : "num" }, col.kind === "text" ? "" : "—");
  if (col.kind === "percent") return el("td", { class: "num" }, `${(v * 100).toFixed(1)}%`);
  if (col.kind === "minutes") return el("td", { class: "num" }, v.toFixed(1));
  return el("td", { class: col.kind === "text" ? null : "num" }, String(v));
}

function render() {
  document.title = tr("报表", "Reports") + " · " + tr("政务大厅监管平台", "Hall supervision");
  $("kind").replaceChildren(...KINDS.map(([id, zh, en]) => {
    const b = el("button", { type: "button", class: id === kind ? "on" : null, "data-kind": id }, tr(zh, en));
    b.addEventListener("click", () => { kind = id; render(); updateLinks(); });
    return b;
  }));
  $("month-field").classList.toggle("hidden", kind !== "month");
  $("from-field").classList.toggle("hidden", kind === "month");
  $("to-field").classList.toggle("hidden", kind === "month");
  options($("group"), GROUPS, choice.group);
  options($("lang-dl"), DL_LANGS, choice.lang);
  options($("hall"), [["", "全部大厅", "All halls"], ...halls.map((h) => [h.hall_id, hallName(h), hallName(h)])], choice.hall);
  $("hall-field").classList.toggle("hidden", !isCityAdmin());
  $("boundary").textContent = boundaryText();
  updateLinks();
  const table = $("report");
  if (!report) return;
  $("period").textContent = tr(`统计时段：${report.from} 至 ${report.to}`, `Period: ${report.from} to ${report.to}`) + (report.month ? tr(`（${report.month} 月报）`, ` (report month ${report.month})`) : "");
  table.querySelector("thead tr").replaceChildren(...report.columns.map((c) => el("th", { class: c.kind === "text" ? null : "num", "data-col": c.key }, tr(c.zh, c.en))));
  const rows = report.rows.map((r) => el("tr", {}, report.columns.map((c) => cell(r, c))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: report.columns.length, class: "empty" }, tr("此时段没有数据", "No data in this period"))));
  table.querySelector("tbody").replaceChildren(...rows, el("tr", { class: "total" }, report.columns.map((c) => cell(report.total, c))));
  $("notes").textContent = tr(
    "等候 = 首次叫号 − 取号；办理 = 结束 − 开始；评价器使用率 = 有评价的办结数 ÷ 办结数；暂离只计“请稍候”（不含暂停服务），超时按本大厅的阈值。",
    "Wait = first call − issue; service = finish − start; evaluator use rate = served tickets with an evaluation ÷ served; away counts 'back soon' spells only (not suspended), over the hall's own thresholds.");
}

async function run() {
  updateLinks();
  const r = await call("GET", `/api/reports?${query()}`);
  $("problem").classList.toggle("hidden", r.ok);
  $("problem").textContent = r.ok ? "" : errorText(r);
  if (r.ok) { report = r.data; monthStart = r.data.month_start_day; }
  render();
}

for (const id of ["month", "from", "to", "group", "hall", "lang-dl"]) {
  $(id).addEventListener("change", () => {
    Object.assign(choice, { group: $("group").value, hall: $("hall").value, lang: $("lang-dl").value });
    updateLinks();
  });
}
$("run").addEventListener("click", run);

if (await startPage("reports", render)) {
  const [h, s] = await Promise.all([call("GET", "/api/halls"), call("GET", "/api/settings")]);
  if (h.ok) halls = h.data.halls;
  if (s.ok) monthStart = s.data.month_start_day;
  const today = todayText();
  $("from").value = params.get("from") || today.slice(0, 8) + "01";
  $("to").value = params.get("to") || today;
  if (params.get("from")) kind = "range";
  // The report month that today is in, by the boundary.
  let [y, m] = today.split("-").map(Number);
  if (monthStart > 1 && Number(today.slice(8)) >= monthStart) { m += 1; if (m > 12) { m = 1; y += 1; } }
  $("month").value = params.get("month") || `${y}-${String(m).padStart(2, "0")}`;
  render();
  await run();
}
