// The central server's page shell: the session (with its CSRF token), the header and menu,
// the language switch, and small formatting helpers every page uses.
import { api, bilingual, el, lang, setLang, tr, translatePage } from "/static/common/hallq.js";

export const session = { state: "unknown", username: "", display_name: "", role: "", hall_id: null, csrf: "" };

/** A city admin sees every hall and the admin page; a hall manager only their own hall. */
export function isCityAdmin() { return session.role === "city_admin"; }

export function roleName(role) {
  return role === "city_admin" ? tr("市级管理员", "City admin") : tr("大厅负责人", "Hall manager");
}

/**
 * An API call with the session's CSRF token on every change. A 401 means the session has
 * ended: back to the login, which returns here afterwards. Resolves like api().
 */
export async function call(method, path, body = undefined) {
  const headers = {};
  if (method !== "GET") headers["X-CSRF-Token"] = session.csrf;
  const r = await api(method, path, body, { headers, requestId: false, tries: method === "GET" ? 2 : 1 });
  if (r.status === 401) toLogin(true);
  return r;
}

export function toLogin(expired = false) {
  const next = location.pathname + location.search;
  location.href = `/login?next=${encodeURIComponent(next)}${expired ? "&expired=1" : ""}`;
}

// ------------------------------------------------------------------ messages
export function errorText(r) {
  if (!r.error) return "";
  if (r.status === 0) return tr("无法连接服务器", "Cannot reach the server");
  return bilingual(r.error.message || r.error.code);
}

export function toast(text, kind = "ok", ms = 4000) {
  let box = document.getElementById("toasts");
  if (!box) { box = el("div", { id: "toasts", class: "toasts", "aria-live": "polite" }); document.body.append(box); }
  const item = el("div", { class: `toast ${kind}`, role: "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

// ------------------------------------------------------------------ formatting
/** Seconds as minutes for people: "5.5 分钟", "1 小时 5 分". */
export function minutesText(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const m = seconds / 60;
  if (m < 60) return tr(`${m < 10 ? m.toFixed(1) : Math.round(m)} 分钟`, `${m < 10 ? m.toFixed(1) : Math.round(m)} min`);
  const h = Math.floor(m / 60);
  const rest = Math.round(m - h * 60);
  return tr(`${h} 小时 ${rest} 分`, `${h} h ${rest} min`);
}

export function agoText(seconds) {
  if (seconds === null || seconds === undefined) return tr("从未", "never");
  if (seconds < 90) return tr(`${Math.max(0, Math.round(seconds))} 秒前`, `${Math.max(0, Math.round(seconds))} s ago`);
  if (seconds < 5400) return tr(`${Math.round(seconds / 60)} 分钟前`, `${Math.round(seconds / 60)} min ago`);
  if (seconds < 172800) return tr(`${Math.round(seconds / 3600)} 小时前`, `${Math.round(seconds / 3600)} h ago`);
  return tr(`${Math.round(seconds / 86400)} 天前`, `${Math.round(seconds / 86400)} days ago`);
}

const ZONE = "Asia/Shanghai";

/** An epoch time as "2026-11-23 09:05" in the halls' zone. */
export function timeText(epoch, withSeconds = false) {
  if (!epoch) return "—";
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit",
    minute: "2-digit", second: withSeconds ? "2-digit" : undefined, hourCycle: "h23",
  }).formatToParts(new Date(epoch * 1000));
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}${withSeconds ? ":" + p.second : ""}`;
}

export function clockText(epoch) { return timeText(epoch, true).slice(11); }

/** Today's date (YYYY-MM-DD) in the halls' zone. */
export function todayText() { return timeText(Date.now() / 1000).slice(0, 10); }

export function addDays(day, n) {
  const d = new Date(day + "T12:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function name(obj, key = "name") {
  return tr(obj[key], obj[`${key}_en`]) || obj[key] || "";
}

export function hallName(h) { return tr(h.name, h.name_en) || h.name || h.hall_id; }

export function pill(kind, text) { return el("span", { class: `pill ${kind}` }, text); }

export function stat(label, value, opts = {}) {
  return el("div", { class: `stat${opts.kind ? " " + opts.kind : ""}`, "data-stat": opts.id || null },
    el("div", { class: "k" }, label),
    el("div", { class: "v" }, value),
    opts.note ? el("div", { class: "n" }, opts.note) : null);
}

export function caseStatusText(status) {
  return { open: tr("待回访", "Open"), in_progress: tr("处理中", "In progress"), closed: tr("已办结", "Closed") }[status] || status;
}

export function windowStatusText(status) {
  return {
    closed: tr("未开放", "Closed"), idle: tr("空闲", "Free"), calling: tr("叫号中", "Calling"),
    serving: tr("办理中", "Serving"), paused: tr("暂停服务", "Suspended"), away: tr("请稍候", "Back soon"),
  }[status] || status;
}

export function deviceText(d) {
  const what = tr(d.reason, d.reason_en) || d.status;
  return `${d.device}: ${what}`;
}

// ------------------------------------------------------------------ the shell
const MENU = [
  { id: "overview", href: "/", zh: "总览", en: "Overview", admin: true },
  { id: "hall", zh: "本大厅", en: "My hall", manager: true },
  { id: "reports", href: "/reports", zh: "报表", en: "Reports" },
  { id: "cases", href: "/cases", zh: "差评回访", en: "Follow-ups" },
  { id: "admin", href: "/admin", zh: "管理", en: "Admin", admin: true },
];

let redraw = () => {};

function buildHeader(current) {
  const header = document.getElementById("top");
  const nav = el("nav");
  for (const m of MENU) {
    if (m.admin && !isCityAdmin()) continue;
    if (m.manager && isCityAdmin()) continue;
    const href = m.id === "hall" ? `/halls/${encodeURIComponent(session.hall_id || "")}` : m.href;
    const active = current === "hall" && isCityAdmin() ? "overview" : current; // a hall is under the overview
    nav.append(el("a", { href, class: m.id === active ? "active" : null, "data-nav": m.id }, tr(m.zh, m.en)));
  }
  const langButton = el("button", { type: "button", class: "lang", id: "lang" }, lang === "en" ? "中文" : "English");
  langButton.addEventListener("click", () => {
    setLang(lang === "en" ? "zh" : "en");
    translatePage();
    buildHeader(current);
    redraw();
  });
  const out = el("button", { type: "button", class: "link", id: "logout" }, tr("退出", "Log out"));
  out.addEventListener("click", async () => {
    await api("POST", "/api/logout", {}, { headers: { "X-CSRF-Token": session.csrf }, requestId: false, tries: 1 });
    location.href = "/login";
  });
  header.replaceChildren(
    el("a", { class: "brand", href: "/" }, tr("政务大厅监管平台", "Hall supervision")),
    nav,
    el("span", { class: "spacer" }),
    el("span", { class: "who", id: "who" }, `${session.display_name || session.username} · ${roleName(session.role)}`),
    out,
    langButton,
  );
  header.className = "top";
}

/**
 * Start a page: check the session (none → the login), build the header, and call
 * `render()` now and after each language switch. Resolves to the session.
 */
export async function startPage(current, render) {
  translatePage();
  const r = await api("GET", "/api/session", undefined, { tries: 2 });
  if (!r.ok || r.data.state !== "ok") { toLogin(r.ok && r.data.expired); return null; }
  Object.assign(session, r.data);
  redraw = render;
  buildHeader(current);
  render();
  return session;
}
