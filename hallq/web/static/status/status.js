// The citizen's status page (/t/{code}): asks the controller about this one ticket every few
// seconds (as often as the answer's refresh_seconds says) and shows it, big, on a phone.
import { api, lang, setLang, tr, translatePage } from "/static/common/hallq.js";

const $ = (id) => document.getElementById(id);
const code = decodeURIComponent(location.pathname.split("/").filter(Boolean)[1] || "");

let last = null;      // the last answer about the ticket
let missing = null;   // 400 (not a code) or 404 (no such ticket today)
let offline = false;
let timer = null;
let buzzedFor = null; // the call (its time) the phone last vibrated for

async function poll() {
  clearTimeout(timer);
  timer = null;
  const r = await api("GET", `/api/status/${encodeURIComponent(code)}`, undefined, { tries: 1 });
  let next = 5;
  if (r.ok && r.data) {
    last = r.data;
    missing = null;
    offline = false;
    next = r.data.refresh_seconds;
  } else if (r.status === 400 || r.status === 404) {
    last = null;
    missing = r.status;
    offline = false;
    next = null; // a ticket that is not there does not come back
  } else {
    offline = true; // keep showing the last answer; try again soon
  }
  render();
  if (next) timer = setTimeout(poll, (document.hidden ? Math.max(next, 15) : next) * 1000);
}

function statusText(d) {
  const w = d.window;
  return {
    waiting: tr("等候中", "Waiting"),
    called: tr(`请到 ${w} 号窗口`, `Please go to window ${w}`),
    serving: tr(`办理中 · ${w} 号窗口`, `Being served at window ${w}`),
    done: tr("已办结", "Done"),
    no_show: tr("已过号", "Missed"),
    expired: tr("已过期", "Expired"),
    cancelled: tr("已作废", "Cancelled"),
  }[d.status] || d.status;
}

function waitText(minutes) {
  if (minutes === null || minutes === undefined) return "—";
  if (minutes < 1) return tr("即将叫号", "Any moment");
  const total = Math.round(minutes);
  if (total < 60) return tr(`约 ${total} 分钟`, `About ${total} min`);
  const h = Math.floor(total / 60), m = total % 60;
  return tr(`约 ${h} 小时${m ? ` ${m} 分钟` : ""}`, `About ${h} h${m ? ` ${m} min` : ""}`);
}

function hintText(d) {
  switch (d.status) {
    case "waiting":
      if (d.estimate_minutes === null) return tr("目前没有窗口办理此事项，请稍候。", "No window serves this at the moment; please wait.");
      if (d.ahead === 0) return tr("下一位就是您，请留意叫号。", "You are next: listen for your number.");
      return tr("请留意大厅屏幕和叫号广播。", "Watch the hall screens and listen for your number.");
    case "called": return tr("请携带号票和材料尽快前往。", "Please go now, with your ticket and documents.");
    case "serving": return "";
    case "done": return tr("感谢您的耐心等候，欢迎评价本次服务。", "Thank you for waiting. Please rate the service at the window.");
    case "no_show": return tr("叫号时您不在。如需顺延，请到服务台或窗口咨询。", "You were not there when called. Ask at the service desk to be put back in the queue.");
    case "expired": return tr("号票只在取号当天有效。", "A ticket is valid on the day it was taken.");
    case "cancelled": return tr("如有疑问，请到服务台咨询。", "If this is a mistake, ask at the service desk.");
    default: return "";
  }
}

function show(id, visible) { $(id).classList.toggle("hidden", !visible); }

function render() {
  translatePage();
  $("lang").textContent = lang === "en" ? "中文" : "English";
  $("lang").lang = lang === "en" ? "zh-CN" : "en";
  show("loading", last === null && missing === null);
  show("missing", missing !== null);
  show("ticket", last !== null);
  $("offline").textContent = tr("网络连接中断，正在重试…", "Connection lost; retrying…");
  show("offline", offline);
  if (missing !== null) {
    $("hall-name").textContent = tr("排队进度", "Queue status");
    $("missing-text").textContent = missing === 400
      ? tr("链接无效，请重新扫描号票上的二维码", "This link is not valid: scan the QR code on your ticket again")
      : tr("号票不存在或已过期", "Ticket not found or expired");
    document.title = $("missing-text").textContent;
    $("updated").textContent = "";
    show("auto", false); // nothing to wait for
    return;
  }
  if (last === null) return;
  const d = last;
  $("hall-name").textContent = tr(d.hall_name, d.hall_name_en);
  $("ticket").className = `card ticket ${d.status}`;
  $("number").textContent = d.number;
  $("service").textContent = tr(d.service_name, d.service_name_en);
  const state = statusText(d);
  $("state").textContent = state;
  // The window's function (综合窗口…), unless it only repeats the service's name.
  const label = d.window !== null ? tr(d.window_label, d.window_label_en) : "";
  const service = tr(d.service_name, d.service_name_en);
  $("window-label").textContent = label;
  show("window-label", Boolean(label) && !service.startsWith(label));
  show("figures", d.status === "waiting");
  if (d.status === "waiting") {
    $("ahead").textContent = tr(`${d.ahead} 人`, String(d.ahead));
    $("estimate").textContent = waitText(d.estimate_minutes);
  }
  const hint = hintText(d);
  $("hint").textContent = hint;
  show("hint", Boolean(hint));
  $("issued").textContent = d.issued_local;
  $("updated").textContent = tr(`更新于 ${d.local_time.slice(11, 19)}`, `Updated ${d.local_time.slice(11, 19)}`);
  show("auto", d.refresh_seconds !== null);
  document.title = `${d.number} · ${state}`;
  if (d.status === "called" && d.called_at !== buzzedFor) {
    buzzedFor = d.called_at; // a recall is a new call: buzz again
    try { if (navigator.vibrate) navigator.vibrate([400, 150, 400]); } catch (_) { /* not allowed */ }
  }
}

$("lang").addEventListener("click", () => {
  setLang(lang === "en" ? "zh" : "en");
  render();
});
document.addEventListener("visibilitychange", () => {
  if (!document.hidden && timer !== null) poll(); // back to the page: fresh at once
});
render();
poll();
