// 总览: every hall at a glance, re-read every 10 seconds.
import { el, tr } from "/static/common/hallq.js";
import {
  agoText, call, clockText, deviceText, errorText, hallName, minutesText, pill, startPage, stat,
} from "/static/central/central.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 10_000;
let data = null;
let problem = "";

function waitCell(h) {
  if (h.wait_avg_seconds === null) return "—";
  return `${minutesText(h.wait_avg_seconds)} / ${minutesText(h.wait_p90_seconds)}`;
}

function statusCell(h) {
  if (!h.last_seen) return [pill("offline", tr("未接入", "Never connected"))];
  if (h.online) return [pill("online", tr("在线", "Online")), el("div", { class: "sub" }, tr(`更新于 ${agoText(h.lag_seconds)}`, `updated ${agoText(h.lag_seconds)}`))];
  return [pill("bad", tr("离线", "Offline")), el("div", { class: "sub" }, tr(`最后联系 ${agoText(h.lag_seconds)}`, `last seen ${agoText(h.lag_seconds)}`))];
}

function casesCell(h) {
  if (!h.cases_open) return "0";
  return el("span", {},
    String(h.cases_open),
    h.cases_overdue ? el("span", { class: "bad-text", "data-overdue": h.cases_overdue }, tr(`（逾期 ${h.cases_overdue}）`, ` (${h.cases_overdue} overdue)`)) : null);
}

const COLUMNS = [
  ["大厅", "Hall", ""],
  ["状态", "Status", ""],
  ["等候人数", "Waiting", "num"],
  ["最长等候", "Longest wait", "num"],
  ["今日办结", "Served today", "num"],
  ["平均 / P90 等候", "Avg / P90 wait", "num"],
  ["开放窗口", "Windows open", "num"],
  ["设备异常", "Device trouble", ""],
  ["待回访差评", "Bad reviews to follow up", "num"],
];

function row(h) {
  const devices = h.devices_unhealthy.length
    ? el("ul", { class: "devices" }, h.devices_unhealthy.map((d) => el("li", {}, deviceText(d))))
    : el("span", { class: "muted" }, tr("正常", "OK"));
  const longest = h.longest_wait_seconds;
  const tr_ = el("tr", { class: `link-row${h.online ? "" : " offline"}`, "data-hall": h.hall_id },
    el("td", {}, el("a", { class: "name", href: `/halls/${encodeURIComponent(h.hall_id)}` }, hallName(h)),
      el("div", { class: "sub" }, h.hall_id, h.stale_day && h.day ? tr(` · 数据日期 ${h.day}`, ` · figures of ${h.day}`) : "",
        h.has_data && !h.open ? tr(" · 非办公时间", " · closed now") : "")),
    el("td", {}, statusCell(h)),
    el("td", { class: "num", "data-k": "waiting" }, String(h.waiting)),
    el("td", { class: `num${longest !== null && longest > 1800 ? " warn-text" : ""}` }, minutesText(longest)),
    el("td", { class: "num", "data-k": "served" }, String(h.served)),
    el("td", { class: "num" }, waitCell(h)),
    el("td", { class: "num" }, `${h.windows_open} / ${h.windows_total}`),
    el("td", {}, devices),
    el("td", { class: "num" }, casesCell(h)));
  tr_.addEventListener("click", (ev) => { if (ev.target.tagName !== "A") location.href = `/halls/${encodeURIComponent(h.hall_id)}`; });
  return tr_;
}

function render() {
  document.title = tr("总览", "Overview") + " · " + tr("政务大厅监管平台", "Hall supervision");
  $("halls").querySelector("thead tr").replaceChildren(...COLUMNS.map(([zh, en, cls]) => el("th", { class: cls || null }, tr(zh, en))));
  if (!data) { $("updated").textContent = problem || tr("正在读取…", "Loading…"); return; }
  const halls = data.halls;
  const online = halls.filter((h) => h.online).length;
  const sum = (k) => halls.reduce((a, h) => a + (h[k] || 0), 0);
  const overdue = sum("cases_overdue");
  const troubled = halls.filter((h) => h.devices_unhealthy.length).length;
  $("totals").replaceChildren(
    stat(tr("在线大厅", "Halls online"), `${online} / ${halls.length}`, { kind: online < halls.length ? "bad" : "ok", id: "online" }),
    stat(tr("等候人数", "Waiting now"), String(sum("waiting")), { id: "waiting" }),
    stat(tr("今日办结", "Served today"), String(sum("served")), { id: "served" }),
    stat(tr("设备异常的大厅", "Halls with device trouble"), String(troubled), { kind: troubled ? "bad" : "", id: "devices" }),
    stat(tr("待回访差评", "Bad reviews open"), String(sum("cases_open")), { id: "cases", note: overdue ? tr(`其中逾期 ${overdue} 件`, `${overdue} overdue`) : "" , kind: overdue ? "bad" : "" }),
  );
  $("halls").querySelector("tbody").replaceChildren(...halls.map(row));
  const empty = $("empty");
  empty.classList.toggle("hidden", halls.length > 0);
  empty.textContent = tr("还没有大厅。请在“管理”中添加大厅并发放令牌。", "No halls yet: add one and issue its token under Admin.");
  $("updated").textContent = problem || tr(`更新于 ${clockText(data.now)} · 每 10 秒刷新`, `Updated ${clockText(data.now)} · refreshes every 10 s`);
  $("updated").classList.toggle("bad-text", Boolean(problem));
}

async function load() {
  const r = await call("GET", "/api/overview");
  if (r.ok) { data = r.data; problem = ""; } else problem = errorText(r);
  render();
}

if (await startPage("overview", render)) {
  await load();
  setInterval(load, REFRESH_MS);
}
