// The window terminal (窗口终端): sign in, call, recall, no-show, transfer, pause, away.
// Everything shown comes from the controller (the hall view over the feed, and
// /api/windows/N/queue); the page keeps no state of its own beyond the request in flight.
import {
  Feed, api, el, lang, serviceName, setLang, tr, translatePage, windowStatusText,
} from "/static/common/hallq.js";

const N = Number(location.pathname.split("/").filter(Boolean).pop());
const $ = (id) => document.getElementById(id);

let view = null; // the hall view
let win = null; // this window in it
let queue = null; // GET /api/windows/N/queue
let busy = false; // a command is in flight: a second press sends nothing
let takingOver = false; // the sign-in form opened over a signed-in window (AB岗)
let message = null; // the last result: { kind, text: () => string, code, called }
let messageCount = 0;

// ------------------------------------------------------------------ texts

/** A controller message "中文 / English" in the page's language. */
function say(text) {
  if (!text) return "";
  const i = text.indexOf(" / ");
  if (i < 0) return text;
  return lang === "en" ? text.slice(i + 3) : text.slice(0, i);
}

// Fallbacks for errors whose message is not bilingual (the controller's usually is).
const ERRORS = {
  offline: ["无法连接控制器，请检查网络", "Cannot reach the controller: check the network"],
  pin_required: ["请输入 PIN", "Enter your PIN"],
  wrong_pin: ["PIN 不对", "Wrong PIN"],
  locked: ["输错次数过多，已锁定，请稍后再试或找管理员解锁", "Locked after too many wrong tries: wait or ask an admin"],
  staff_not_found: ["工号不存在", "Unknown staff number"],
  staff_not_assigned: ["您不是本窗口的 A/B 岗", "You are not assigned to this window"],
  signed_in_elsewhere: ["您已在其他窗口签到，请先在那里签退", "Signed in at another window: sign out there first"],
  invalid_request: ["请求有误", "The request was not understood"],
};

function errorText(err) {
  if (!err) return "";
  const m = err.message || "";
  if (m.includes(" / ")) return say(m);
  const known = ERRORS[err.code];
  if (known) return tr(known[0], known[1]) + (m && err.code !== "offline" ? ` (${m})` : "");
  return m || err.code;
}

function pad(n) { return String(n).padStart(2, "0"); }

/** Seconds as m:ss, or h:mm:ss from an hour. */
function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/** A controller timestamp as the hall's local HH:MM:SS. */
function clockTime(ts) {
  const offset = view ? view.utc_offset_minutes : 480;
  return new Date((ts + offset * 60) * 1000).toISOString().slice(11, 19);
}

function categoryName(code) {
  const p = view && view.priority.find((x) => x.code === code);
  return p ? tr(p.name, p.name_en) : code;
}

// ------------------------------------------------------------------ actions

function isOpen() { return !!win && win.status !== "closed"; }
function current() { return win ? win.ticket : null; }
function recallsNeeded() { return queue ? queue.rules.recalls_before_no_show : 0; }

const ACTIONS = [
  {
    id: "next", keys: ["F1", " "], hint: ["F1 / 空格", "F1 / Space"], label: ["叫下一位", "Call next"],
    can: () => isOpen(),
    run: () => command(`/api/windows/${N}/call-next`, {}),
  },
  {
    id: "recall", keys: ["F2"], label: ["重呼", "Recall"],
    can: () => current()?.status === "called",
    run: () => command(`/api/windows/${N}/recall`, {}),
  },
  {
    id: "noshow", keys: ["F3"], label: ["过号", "No-show"],
    can: () => current()?.status === "called" && current().recalls >= recallsNeeded(),
    why: () => {
      const more = current()?.status === "called" ? recallsNeeded() - current().recalls : 0;
      return more > 0
        ? ["recall_first", tr(`请再重呼 ${more} 次后再过号`, `Recall ${more} more time(s) before a no-show`)]
        : null;
    },
    run: () => command(`/api/windows/${N}/no-show`, {}),
  },
  {
    id: "start", keys: ["F4"], label: ["开始办理", "Start"],
    can: () => current()?.status === "called",
    run: () => command(`/api/windows/${N}/start`, {}),
  },
  {
    id: "finish", keys: ["F5"], label: ["办结", "Finish"],
    can: () => !!current(),
    run: () => command(`/api/windows/${N}/finish`, {}),
  },
  {
    id: "transfer", keys: ["F9"], label: ["转移", "Transfer"],
    can: () => !!current(),
    run: () => openDialog("dlg-transfer"),
  },
  {
    id: "call", keys: ["F10"], label: ["叫指定号", "Call a number"],
    can: () => isOpen(),
    run: () => openDialog("dlg-call"),
  },
  {
    id: "reinstate", keys: ["Shift+F3"], hint: ["Shift+F3", "Shift+F3"], label: ["过号顺延", "Reinstate"],
    can: () => isOpen(),
    run: () => openDialog("dlg-reinstate"),
  },
  {
    id: "pause", keys: ["F6"], label: ["暂停服务", "Suspend"],
    can: () => isOpen() && !current() && win.status !== "paused",
    run: () => openDialog("dlg-pause"),
  },
  {
    id: "away", keys: ["F7"], label: ["暂离（请稍候）", "Away (back soon)"],
    can: () => isOpen() && !current() && win.status !== "away",
    run: () => command(`/api/windows/${N}/away`, {}),
  },
  {
    id: "resume", keys: ["F8"], label: ["恢复服务", "Resume"],
    can: () => !!win && (win.status === "paused" || win.status === "away"),
    run: () => command(`/api/windows/${N}/resume`, {}),
  },
];
const KEYS = new Map(ACTIONS.flatMap((a) => a.keys.map((k) => [k, a])));

/** Send one command (one request id: api() adds it and reuses it only for its own retries). */
async function command(path, body, errorBox = null) {
  if (busy) return null;
  const before = current();
  setBusy(true);
  const r = await api("POST", path, body, { prefix: `w${N}` });
  setBusy(false);
  report(r, before, path.endsWith("/call-next"));
  if (errorBox) errorBox.textContent = r.ok ? "" : errorText(r.error);
  if (r.ok) feed.scheduleRefresh(0);
  return r;
}

function setBusy(value) {
  busy = value;
  document.body.dataset.busy = value ? "1" : "";
  renderActions();
  for (const b of document.querySelectorAll("dialog button[type=submit], #signin-submit")) b.disabled = value;
}

/** What a successful reply did, in words, from its events. */
function describe(reply, before, wasNext) {
  const events = reply.events || [];
  const parts = [];
  for (const ev of events) {
    switch (ev.type) {
      case "ticket_called": parts.push(() => tr(`已呼叫 ${ev.display}`, `Called ${ev.display}`)); break;
      case "ticket_recalled": parts.push(() => tr(`已重呼 ${ev.display}（第 ${ev.recalls} 次）`, `Recalled ${ev.display} (${ev.recalls})`)); break;
      case "ticket_no_show": parts.push(() => tr(`${ev.display} 已过号`, `${ev.display} marked as no-show`)); break;
      case "service_started": parts.push(() => tr("开始办理", "Service started")); break;
      case "service_finished": {
        const n = before && before.id === ev.ticket ? before.number : "";
        parts.push(() => tr(`${n} 已办结`, `${n} finished`).trim());
        break;
      }
      case "ticket_transferred":
        parts.push(() => tr(`${ev.display} 已转至${serviceName(view, ev.to_service)}`, `${ev.display} sent to ${serviceName(view, ev.to_service)}`));
        break;
      case "ticket_reinstated": parts.push(() => tr(`${ev.display} 已顺延`, `${ev.display} reinstated`)); break;
      case "window_paused": parts.push(() => tr("已暂停服务", "Window suspended")); break;
      case "window_away": parts.push(() => tr("已暂离（请稍候）", "Away: the window shows “back soon”")); break;
      case "window_resumed": parts.push(() => tr("已恢复服务", "Back in service")); break;
      case "staff_signed_in": parts.push(() => tr(`${ev.name || ev.staff} 已签到`, `${ev.name || ev.staff} signed in`)); break;
      case "staff_signed_out": parts.push(() => tr("已签退", "Signed out")); break;
      default: break;
    }
  }
  if (wasNext && !events.some((ev) => ev.type === "ticket_called")) {
    parts.push(() => tr("暂无等候的号", "Nobody is waiting"));
  }
  if (!parts.length) parts.push(() => tr("无变化", "Nothing changed"));
  return () => parts.map((p) => p()).join(tr("；", "; "));
}

function report(r, before, wasNext = false) {
  messageCount += 1;
  if (r.ok) {
    const data = r.data || {};
    message = { kind: "ok", text: describe(data, before, wasNext), code: "ok", called: data.called ? data.called.number : "" };
  } else {
    const err = r.error || { code: "error", message: "" };
    message = { kind: "error", text: () => errorText(err), code: err.code, called: "" };
  }
  renderMessage();
}

function press(action) {
  if (busy) return; // one command at a time
  if (!action.can()) {
    messageCount += 1;
    const why = action.why ? action.why() : null;
    message = {
      kind: "error", code: why ? why[0] : "not_now", called: "",
      text: () => (why ? (action.why() || why)[1] : tr(`现在不能“${action.label[0]}”`, `“${action.label[1]}” is not possible now`)),
    };
    renderMessage();
    return;
  }
  action.run();
}

// ------------------------------------------------------------------ dialogs

const TRANSFER_REASONS = [
  ["不属本窗口办理事项", "Not handled at this window"],
  ["需其他部门办理", "Needs another department"],
  ["取错号", "Took the wrong ticket"],
];
const PAUSE_REASONS = [
  ["午间休息", "Lunch break"],
  ["参加会议", "Meeting"],
  ["系统故障", "System fault"],
  ["业务培训", "Training"],
];

function openDialog(id) {
  if (busy) return;
  const dlg = $(id);
  for (const e of dlg.querySelectorAll(".error")) e.textContent = "";
  if (id === "dlg-transfer") fillTransfer(dlg);
  if (id === "dlg-call") $("call-number").value = "";
  if (id === "dlg-reinstate") fillReinstate();
  if (id === "dlg-pause") {
    $("pause-reason").value = "";
    quickButtons($("pause-quick"), $("pause-reason"), PAUSE_REASONS);
  }
  dlg.showModal();
  const first = dlg.querySelector("input:not([type=hidden])");
  if (first && id !== "dlg-transfer") first.focus();
}

function quickButtons(box, input, reasons) {
  box.replaceChildren(...reasons.map(([zh, en]) => el("button", {
    type: "button", class: "chipbtn", onclick: () => { input.value = tr(zh, en); input.focus(); },
  }, tr(zh, en))));
}

function fillTransfer(dlg) {
  const t = current();
  dlg.querySelector(".dlg-ticket").textContent = t ? t.number : "";
  dlg.dataset.service = "";
  $("transfer-reason").value = "";
  const box = $("transfer-services");
  const choices = view.services.filter((s) => !t || s.code !== t.service);
  box.replaceChildren(...choices.map((s) => el("button", {
    type: "button", class: "choice", "data-code": s.code, "aria-pressed": "false",
    onclick: (ev) => {
      dlg.dataset.service = s.code;
      for (const b of box.children) b.setAttribute("aria-pressed", b === ev.currentTarget ? "true" : "false");
    },
  }, el("b", {}, s.prefix), " ", tr(s.name, s.name_en))));
  quickButtons($("transfer-quick"), $("transfer-reason"), TRANSFER_REASONS);
}

function fillReinstate() {
  const rules = queue ? queue.rules : null;
  $("reinstate-rule").textContent = rules
    ? tr(`过号 ${rules.grace_minutes} 分钟内可顺延（最多 ${rules.max_reinstatements} 次），排在 ${rules.reinstate_places_back} 位之后`,
      `A ticket missed in the last ${rules.grace_minutes} min can be put back (at most ${rules.max_reinstatements} time(s)), ${rules.reinstate_places_back} places back`)
    : "";
  $("reinstate-number").value = "";
  const missed = queue ? queue.missed : [];
  const box = $("reinstate-list");
  if (!missed.length) {
    box.replaceChildren(el("p", { class: "muted" }, tr("今天没有过号的号", "No missed tickets today")));
    return;
  }
  box.replaceChildren(...missed.map((m) => {
    const why = m.reinstatable ? ""
      : m.why_not === "reinstate_limit" ? tr("已顺延过", "already reinstated") : tr("已超过时限", "too late");
    return el("button", {
      type: "button", class: "choice", disabled: !m.reinstatable, "data-number": m.number,
      onclick: () => { $("reinstate-number").value = m.number; for (const b of box.children) b.setAttribute("aria-pressed", b.dataset.number === m.number ? "true" : "false"); },
    }, el("b", {}, m.number), " ", serviceName(view, m.service), " ",
    el("span", { class: "muted" }, tr(`过号 ${clockTime(m.no_show_at).slice(0, 5)}`, `missed ${clockTime(m.no_show_at).slice(0, 5)}`), why ? ` · ${why}` : ""));
  }));
}

async function submitDialog(ev) {
  ev.preventDefault();
  const form = ev.currentTarget;
  const dlg = form.closest("dialog");
  const errorBox = form.querySelector(".error");
  errorBox.textContent = "";
  let r = null;
  switch (form.dataset.action) {
    case "transfer": {
      const service = dlg.dataset.service;
      const reason = $("transfer-reason").value.trim();
      if (!service) { errorBox.textContent = tr("请选择转入的事项", "Choose a service"); return; }
      if (!reason) { errorBox.textContent = tr("请填写转移原因", "Give a reason for the transfer"); $("transfer-reason").focus(); return; }
      r = await command(`/api/windows/${N}/transfer`, { service, reason }, errorBox);
      break;
    }
    case "call": {
      const ticket = $("call-number").value.trim().toUpperCase();
      if (!ticket) { errorBox.textContent = tr("请输入号码", "Type a number"); return; }
      r = await command(`/api/windows/${N}/call`, { ticket }, errorBox);
      break;
    }
    case "reinstate": {
      const ticket = $("reinstate-number").value.trim().toUpperCase();
      if (!ticket) { errorBox.textContent = tr("请选择或输入号码", "Pick or type a number"); return; }
      r = await command(`/api/tickets/${encodeURIComponent(ticket)}/reinstate`, { window: N }, errorBox);
      break;
    }
    case "pause":
      r = await command(`/api/windows/${N}/pause`, { reason: $("pause-reason").value.trim() }, errorBox);
      break;
    default: return;
  }
  if (r && r.ok) dlg.close();
}

for (const form of document.querySelectorAll("dialog form")) {
  form.addEventListener("submit", submitDialog);
  form.querySelector(".cancel").addEventListener("click", () => form.closest("dialog").close());
}

// ------------------------------------------------------------------ signing in and out

async function signIn(ev) {
  ev.preventDefault();
  if (busy) return;
  const staff = $("signin-staff").value.trim();
  const pin = $("signin-pin").value.trim();
  const box = $("signin-error");
  if (!staff) { box.textContent = tr("请输入工号", "Enter your staff number"); box.dataset.code = "staff_required"; return; }
  const body = { staff };
  if (pin) body.pin = pin;
  setBusy(true);
  const r = await api("POST", `/api/windows/${N}/sign-in`, body, { prefix: `w${N}` });
  setBusy(false);
  $("signin-pin").value = "";
  if (r.ok) {
    box.textContent = "";
    box.dataset.code = "";
    takingOver = false;
    report(r, null);
    feed.scheduleRefresh(0);
  } else {
    box.textContent = errorText(r.error);
    box.dataset.code = r.error.code;
    $(r.error.code === "wrong_pin" || r.error.code === "pin_required" ? "signin-pin" : "signin-staff").focus();
  }
  render();
}

$("signin-form").addEventListener("submit", signIn);
$("signin-cancel").addEventListener("click", () => { takingOver = false; $("signin-error").textContent = ""; render(); });
$("btn-takeover").addEventListener("click", () => { takingOver = true; render(); $("signin-staff").focus(); });
$("btn-signout").addEventListener("click", () => command(`/api/windows/${N}/sign-out`, {}));
$("btn-lang").addEventListener("click", () => {
  setLang(lang === "en" ? "zh" : "en");
  translatePage();
  render();
});

// ------------------------------------------------------------------ keyboard

function typing(target) {
  return target && ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

document.addEventListener("keydown", (ev) => {
  if (document.querySelector("dialog[open]") || !$("signin").classList.contains("hidden")) return;
  if (typing(ev.target) || ev.ctrlKey || ev.altKey || ev.metaKey) return;
  const action = KEYS.get((ev.shiftKey ? "Shift+" : "") + ev.key);
  if (!action) return;
  ev.preventDefault(); // F1 help, F5 reload, Space scroll or click: none of those here
  if (ev.repeat) return; // a held key is one press
  press(action);
});
document.addEventListener("keyup", (ev) => {
  if (ev.key === " " && !typing(ev.target) && !document.querySelector("dialog[open]")) ev.preventDefault();
});

// ------------------------------------------------------------------ drawing

const buttons = new Map();

function buildActions() {
  const box = $("actions");
  for (const a of ACTIONS) {
    const b = el("button", { type: "button", class: `action act-${a.id}`, id: `act-${a.id}`, "data-action": a.id },
      el("span", { class: "act-label" }), el("kbd", { class: "act-key" }));
    b.addEventListener("click", () => press(a));
    buttons.set(a.id, b);
    box.append(b);
  }
}

function renderActions() {
  for (const a of ACTIONS) {
    const b = buttons.get(a.id);
    b.querySelector(".act-label").textContent = tr(a.label[0], a.label[1]);
    b.querySelector(".act-key").textContent = a.hint ? tr(a.hint[0], a.hint[1]) : a.keys[0];
    b.disabled = busy || !win || !a.can();
  }
  $("btn-signout").disabled = busy || !isOpen() || !!current();
}

function renderMessage() {
  const box = $("message");
  box.className = "message" + (message ? ` ${message.kind}` : "");
  box.textContent = message ? message.text() : "";
  box.dataset.code = message ? message.code : "";
  box.dataset.called = message ? message.called : "";
  box.dataset.count = String(messageCount);
}

function render() {
  if (!view) return;
  win = view.windows.find((w) => w.number === N) || null;
  if (!win) {
    document.body.dataset.status = "missing";
    $("win-number").textContent = String(N);
    $("win-label").textContent = tr("本窗口已不在配置中", "This window is no longer configured");
    return;
  }
  document.body.dataset.seq = String(view.seq);
  document.body.dataset.status = win.status;
  document.body.dataset.staff = win.staff || "";
  document.title = tr(`${N}号窗口 · 窗口终端`, `Window ${N} · terminal`);
  $("win-number").textContent = String(N);
  $("win-label").textContent = tr(win.label, win.label_en);
  $("hall-name").textContent = tr(view.hall.name, view.hall.name_en);
  const chip = $("win-status");
  chip.textContent = windowStatusText(win.status);
  chip.className = `chip st-${win.status}`;

  const open = isOpen();
  $("staff-box").classList.toggle("hidden", !open);
  $("staff-name").textContent = win.staff_name || "";
  $("staff-id").textContent = win.staff ? tr(`工号 ${win.staff}`, `No. ${win.staff}`) : "";
  if (!open) takingOver = false;
  renderSignIn(open);
  renderCurrent();
  renderActions();
  renderQueue();
  renderMessage();
  tick();
}

function renderSignIn(open) {
  const shown = !open || takingOver;
  const box = $("signin");
  const wasHidden = box.classList.contains("hidden");
  box.classList.toggle("hidden", !shown);
  $("signin-cancel").classList.toggle("hidden", !takingOver);
  $("signin-title").textContent = takingOver
    ? tr(`${N}号窗口 换岗签到`, `Window ${N}: take over`)
    : tr(`${N}号窗口 签到`, `Window ${N}: sign in`);
  const backup = win.backup ? tr(`本窗口与 ${win.backup} 号窗口互为 A/B 岗。`, `Backup window: ${win.backup}. `) : "";
  $("signin-sub").textContent = takingOver
    ? tr(`当前在岗：${win.staff_name}（${win.staff}）。${backup}顶岗人员请输入自己的工号和 PIN。`,
      `On duty: ${win.staff_name} (${win.staff}). ${backup}The backup signs in with their own number and PIN.`)
    : tr(`请输入您的工号和 PIN。${backup}`, `Enter your staff number and PIN. ${backup}`);
  if (shown && wasHidden) setTimeout(() => $("signin-staff").focus(), 0);
}

function renderCurrent() {
  const t = current();
  const resting = win.status === "paused" || win.status === "away";
  $("current").classList.toggle("hidden", resting);
  $("away-panel").classList.toggle("hidden", !resting);
  const status = $("cur-status");
  if (t) {
    $("cur-number").textContent = t.number;
    $("cur-service").textContent = serviceName(view, t.service);
    status.textContent = t.status === "serving" ? tr("办理中", "Serving") : tr("已叫号，等候到窗", "Called, on the way");
    status.className = `chip st-${t.status === "serving" ? "serving" : "calling"}`;
    $("cur-since-label").textContent = t.status === "serving" ? tr("开始办理", "Serving since") : tr("叫号时间", "Called at");
    $("cur-recalls").textContent = String(t.recalls);
    const badges = [];
    if (t.category) badges.push(el("span", { class: "badge prio" }, categoryName(t.category)));
    if (t.appointment) badges.push(el("span", { class: "badge appt" }, tr("预约", "Appointment")));
    if (t.reinstated) badges.push(el("span", { class: "badge" }, tr("顺延", "Reinstated")));
    if (t.transferred_from && t.transferred_from.length) {
      badges.push(el("span", { class: "badge" }, tr(`由${serviceName(view, t.transferred_from.at(-1))}转入`, `from ${serviceName(view, t.transferred_from.at(-1))}`)));
    }
    $("cur-badges").replaceChildren(...badges);
    const need = recallsNeeded() - t.recalls;
    $("cur-hint").textContent = t.status === "called"
      ? (need > 0
        ? tr(`到窗后按 F4 开始办理；未到可按 F2 重呼，再重呼 ${need} 次后可过号`, `F4 when the citizen arrives; F2 to recall (${need} more before a no-show)`)
        : tr("到窗后按 F4 开始办理；未到可按 F3 过号", "F4 when the citizen arrives; F3 if they do not come"))
      : tr("办完按 F5 办结，或 F1 办结并叫下一位", "F5 when done, or F1 to finish and call the next");
  } else {
    $("cur-number").textContent = "—";
    $("cur-service").textContent = win.status === "closed" ? tr("未签到", "Not signed in") : tr("当前没有叫号", "No ticket called");
    status.textContent = windowStatusText(win.status);
    status.className = `chip st-${win.status}`;
    $("cur-since-label").textContent = "";
    $("cur-recalls").textContent = "";
    $("cur-badges").replaceChildren();
    $("cur-hint").textContent = isOpen() ? tr("按 F1 或空格叫下一位", "Press F1 or Space to call the next") : "";
  }
  if (resting) {
    const away = win.status === "away";
    $("away-title").textContent = away ? tr("暂离 · 窗口显示“请稍候”", "Away · the window shows “back soon”") : tr("暂停服务", "Suspended");
    $("away-reason").textContent = win.reason || "";
  }
}

function renderQueue() {
  if (!queue || !view) return;
  $("queue-total").textContent = String(queue.queue_total);
  $("served-today").textContent = String(win ? win.served_today : 0);
  const tiers = new Set(queue.services.map((s) => s.tier)).size;
  $("service-counts").replaceChildren(...queue.services.map((s) => el("span", { class: "count-chip", "data-service": s.code },
    tiers > 1 ? el("span", { class: "tier" }, tr(`第${s.tier}序列`, `tier ${s.tier}`)) : null,
    el("span", {}, serviceName(view, s.code)), el("b", {}, String(s.waiting)))));
  const now = feed.now();
  const items = queue.queue.map((t) => el("li", { "data-number": t.number, class: t.category && !t.reinstated ? "prio" : "" },
    el("span", { class: "place" }, String(t.place)),
    el("b", { class: "qnum" }, t.number),
    el("span", { class: "qsvc" }, serviceName(view, t.service)),
    t.category ? el("span", { class: "badge prio" }, categoryName(t.category)) : null,
    t.appointment ? el("span", { class: "badge appt" }, tr("预约", "Appt")) : null,
    t.reinstated ? el("span", { class: "badge" }, tr("顺延", "Reinst.")) : null,
    t.transferred_from ? el("span", { class: "badge" }, tr("转入", "Transf.")) : null,
    el("span", { class: "qwait muted" }, tr(`${Math.max(0, Math.round((now - t.issued_at) / 60))} 分钟`, `${Math.max(0, Math.round((now - t.issued_at) / 60))} min`))));
  if (!items.length) items.push(el("li", { class: "empty muted" }, tr("暂无等候", "Nobody waiting")));
  $("queue").replaceChildren(...items);
  const more = queue.queue_total - queue.queue.length;
  $("queue-more").textContent = more > 0 ? tr(`另有 ${more} 张未列出`, `${more} more not listed`) : "";
}

/** Once a second: the clock and the running timers. */
function tick() {
  if (!view) return;
  $("clock").textContent = feed.local().hhmmss;
  if (!win) return;
  const now = feed.now();
  const t = win.ticket;
  if (t) {
    const since = t.status === "serving" && win.since ? win.since : t.called_at;
    $("cur-since").textContent = since ? `${clockTime(since)} · ${duration(now - since)}` : "";
  } else {
    $("cur-since").textContent = "";
  }
  const panel = $("away-panel");
  if (win.status === "away" || win.status === "paused") {
    const elapsed = win.since ? now - win.since : 0;
    $("away-timer").textContent = duration(elapsed);
    let level = 0;
    let passed = null;
    if (win.status === "away") {
      const thresholds = [...(view.away_thresholds_minutes || [])].sort((a, b) => a - b);
      const over = thresholds.filter((m) => elapsed >= m * 60);
      level = Math.min(over.length, 3);
      passed = over.length ? over.at(-1) : null;
    }
    panel.dataset.level = String(level);
    panel.className = `away warn-${level}`;
    $("away-warning").textContent = passed
      ? tr(`已暂离超过 ${passed} 分钟：请向负责人报告，并安排 AB 岗顶岗`, `Away for over ${passed} min: report it and have the backup take over`)
      : win.status === "away"
        ? tr("回到窗口后按 F8 恢复服务（或直接 F1 叫号）", "Back at the window: F8 to resume (or F1 to call)")
        : tr("按 F8 恢复服务", "Press F8 to resume");
  }
}

// ------------------------------------------------------------------ the queue endpoint

let queueLoading = false;
let queueAgain = false;

async function loadQueue() {
  if (queueLoading) { queueAgain = true; return; }
  queueLoading = true;
  try {
    const r = await api("GET", `/api/windows/${N}/queue`, undefined, { tries: 1 });
    if (r.ok && (!queue || r.data.seq >= queue.seq)) {
      queue = r.data;
      document.body.dataset.queueSeq = String(queue.seq);
      renderQueue();
      renderActions();
      if (win && win.ticket) renderCurrent();
    }
  } finally {
    queueLoading = false;
    if (queueAgain) { queueAgain = false; loadQueue(); }
  }
}

// ------------------------------------------------------------------ start

translatePage();
buildActions();
renderActions();
const feed = new Feed({
  tickets: "none",
  onView(v) {
    view = v;
    render();
    if (!queue || v.seq > queue.seq || v.now - queue.now > 30) loadQueue();
  },
  onStatus(online) { $("offline").classList.toggle("hidden", online); },
});
feed.start();
setInterval(tick, 1000);
