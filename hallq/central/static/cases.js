// 差评回访: the follow-up cases, filtered; a case gets an owner, moves open → in progress →
// closed with a note. Overdue cases (past their deadline, not closed) are shown in red.
import { el, tr } from "/static/common/hallq.js";
import {
  call, caseStatusText, errorText, hallName, isCityAdmin, pill, startPage, stat, timeText, toast,
} from "/static/central/central.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const STATUS_FILTER = [["active", "未办结", "Not closed"], ["open", "待回访", "Open"], ["in_progress", "处理中", "In progress"], ["closed", "已办结", "Closed"], ["", "全部", "All"]];
const PAGE = 100;
let data = null;
let halls = [];
let shown = PAGE;
let editing = null;
const filters = { status: params.get("status") ?? "active", hall: params.get("hall") || "" };

function levelText(c) { return tr(c.level_name, c.level_name_en); }

function staffText(c) {
  if (!c.staff) return "—";
  return c.staff_name ? `${c.staff_name} (${c.staff})` : c.staff;
}

function statusPill(c) {
  return [pill(c.status, caseStatusText(c.status)), c.overdue ? pill("overdue", tr("逾期", "Overdue")) : ""];
}

const COLUMNS = [["编号", "Case"], ["大厅", "Hall"], ["号码", "Ticket"], ["事项", "Service"], ["窗口", "Window"], ["工作人员", "Staff"],
  ["评价", "Level"], ["原因", "Reason"], ["评价时间", "Opened"], ["期限", "Deadline"], ["负责人", "Owner"], ["状态", "Status"], ["", ""]];

function row(c) {
  const open = el("button", { type: "button", class: "link", "data-open": c.case_no }, c.status === "closed" ? tr("查看", "View") : tr("处理", "Handle"));
  open.addEventListener("click", () => edit(c));
  return el("tr", { class: c.overdue ? "overdue" : null, "data-case": `${c.hall_id}/${c.case_no}` },
    el("td", { class: "nowrap" }, c.case_no),
    el("td", {}, tr(c.hall, c.hall_en)),
    el("td", {}, c.display || String(c.ticket)),
    el("td", {}, tr(c.service_name, c.service_name_en) || "—"),
    el("td", { class: "num" }, c.window === null ? "—" : String(c.window)),
    el("td", {}, staffText(c)),
    el("td", { class: "bad-text" }, levelText(c)),
    el("td", {}, c.reason || "—"),
    el("td", { class: "nowrap" }, timeText(c.opened_at)),
    el("td", { class: "deadline nowrap" }, c.deadline),
    el("td", {}, c.owner ? c.owner_name || c.owner : el("span", { class: "muted" }, tr("未指定", "nobody"))),
    el("td", { class: "nowrap" }, statusPill(c)),
    el("td", {}, open));
}

function render() {
  document.title = tr("差评回访", "Follow-ups") + " · " + tr("政务大厅监管平台", "Hall supervision");
  $("status").replaceChildren(...STATUS_FILTER.map(([v, zh, en]) => el("option", { value: v }, tr(zh, en))));
  $("status").value = filters.status;
  $("hall").replaceChildren(el("option", { value: "" }, tr("全部大厅", "All halls")), ...halls.map((h) => el("option", { value: h.hall_id }, hallName(h))));
  $("hall").value = filters.hall;
  $("hall-field").classList.toggle("hidden", !isCityAdmin());
  $("cases").querySelector("thead tr").replaceChildren(...COLUMNS.map(([zh, en]) => el("th", {}, tr(zh, en))));
  if (!data) return;
  const n = data.counts;
  $("counts").replaceChildren(
    stat(tr("待回访", "Open"), String(n.open), { id: "open" }),
    stat(tr("处理中", "In progress"), String(n.in_progress), { id: "in_progress" }),
    stat(tr("逾期未办结", "Overdue"), String(n.overdue), { id: "overdue", kind: n.overdue ? "bad" : "ok" }),
    stat(tr("已办结", "Closed"), String(n.closed), { id: "closed" }));
  const rows = data.cases.map(row);
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: COLUMNS.length, class: "empty" }, tr("没有符合条件的回访件", "No cases match"))));
  $("cases").querySelector("tbody").replaceChildren(...rows);
  $("shown").textContent = tr(`显示 ${data.cases.length} / ${data.total} 件`, `${data.cases.length} of ${data.total} cases`);
  $("more").classList.toggle("hidden", data.cases.length >= data.total);
}

async function load() {
  const q = new URLSearchParams({ limit: String(shown) });
  if (filters.status) q.set("status", filters.status);
  if (filters.hall) q.set("hall", filters.hall);
  if ($("overdue").checked) q.set("overdue", "1");
  const r = await call("GET", `/api/cases?${q}`);
  $("problem").classList.toggle("hidden", r.ok);
  $("problem").textContent = r.ok ? "" : errorText(r);
  if (r.ok) data = r.data;
  render();
}

// ------------------------------------------------------------------ one case
async function edit(c) {
  editing = c;
  const closed = c.status === "closed";
  $("case-title").textContent = tr(`回访件 ${c.case_no} · ${c.hall}`, `Case ${c.case_no} · ${c.hall_en}`);
  const fact = (zh, en, value) => [el("dt", {}, tr(zh, en)), el("dd", {}, value)];
  $("case-facts").replaceChildren(
    ...fact("号码", "Ticket", c.display || String(c.ticket)),
    ...fact("事项", "Service", tr(c.service_name, c.service_name_en) || "—"),
    ...fact("窗口 / 人员", "Window / staff", `${c.window ?? "—"} / ${staffText(c)}`),
    ...fact("评价", "Level", `${levelText(c)}${c.reason ? " · " + c.reason : ""}`),
    ...fact("评价时间", "Opened", timeText(c.opened_at)),
    ...fact("期限", "Deadline", el("span", { class: c.overdue ? "bad-text" : null }, c.deadline + (c.overdue ? tr("（已逾期）", " (overdue)") : ""))),
    ...(c.updated_by ? fact("最后修改", "Last change", `${c.updated_by} · ${timeText(c.updated_at)}`) : []),
    ...(c.closed_at ? fact("办结时间", "Closed", timeText(c.closed_at)) : []));
  const owner = $("case-owner");
  owner.replaceChildren(el("option", { value: "" }, tr("（未指定）", "(nobody)")));
  const r = await call("GET", `/api/halls/${encodeURIComponent(c.hall_id)}/owners`);
  const owners = r.ok ? r.data.owners : [];
  if (c.owner && !owners.some((o) => o.username === c.owner)) owners.push({ username: c.owner, display_name: c.owner_name });
  for (const o of owners) owner.append(el("option", { value: o.username }, o.display_name ? `${o.display_name} (${o.username})` : o.username));
  owner.value = c.owner;
  const allowed = { open: ["open", "in_progress", "closed"], in_progress: ["in_progress", "closed"], closed: ["closed"] }[c.status];
  $("case-status").replaceChildren(...allowed.map((s) => el("option", { value: s }, caseStatusText(s))));
  $("case-status").value = c.status;
  $("case-note").value = c.note;
  for (const id of ["case-owner", "case-status", "case-note", "case-save"]) $(id).disabled = closed;
  $("case-error").textContent = "";
  $("case-dialog").showModal();
}

$("case-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const c = editing;
  const body = { owner: $("case-owner").value, status: $("case-status").value, note: $("case-note").value };
  if (body.status === "closed" && !body.note.trim()) {
    $("case-error").textContent = tr("办结须填写回访记录", "Write the follow-up note to close the case");
    return;
  }
  const r = await call("PATCH", `/api/cases/${encodeURIComponent(c.hall_id)}/${encodeURIComponent(c.case_no)}`, body);
  if (!r.ok) { $("case-error").textContent = errorText(r); return; }
  $("case-dialog").close();
  toast(tr(`回访件 ${c.case_no} 已保存`, `Case ${c.case_no} saved`));
  await load();
});
$("case-cancel").addEventListener("click", () => $("case-dialog").close());
for (const id of ["case-owner", "case-status", "case-note"]) $(id).addEventListener("input", () => { $("case-error").textContent = ""; });

for (const id of ["status", "hall", "overdue"]) {
  $(id).addEventListener("change", () => {
    filters.status = $("status").value;
    filters.hall = $("hall").value;
    shown = PAGE;
    load();
  });
}
$("more").addEventListener("click", () => { shown += PAGE; load(); });

if (await startPage("cases", render)) {
  if (params.get("overdue") === "1") $("overdue").checked = true;
  const h = await call("GET", "/api/halls");
  if (h.ok) halls = h.data.halls;
  render();
  await load();
}
