// The facilities admin page: first-run set-up, login, and the pages behind them.
import { Feed, el, lang, setLang, tr, translatePage } from "/static/common/hallq.js";
import { enter, isAdmin, logout, refreshSession, roleName, session, call } from "/static/admin/session.js";
import { configChanged, loadConfig } from "/static/admin/store.js";
import { errorText, toast } from "/static/admin/ui.js";
import * as overview from "/static/admin/overview.js";
import * as services from "/static/admin/services.js";
import * as windows from "/static/admin/windows.js";
import * as screens from "/static/admin/screens.js";
import * as hours from "/static/admin/hours.js";
import * as voice from "/static/admin/voice.js";
import * as printer from "/static/admin/printer.js";
import * as users from "/static/admin/users.js";
import * as files from "/static/admin/files.js";

const PAGES = [overview, services, windows, screens, hours, voice, printer, users, files];

const ctx = { feed: null, view: null, cleanup: null, current: null };
const $ = (id) => document.getElementById(id);

// ------------------------------------------------------------------ the gate: set-up and login
// The gate's message and its kind, kept as a function so a language switch says it again.
let gateMessage = () => "";
let gateKind = "";

/** Show the set-up or login form with a message (text, or a function giving the text). */
function showGate(say = "", kind = "") {
  gateMessage = typeof say === "function" ? say : () => say;
  gateKind = kind;
  const message = gateMessage();
  $("app").classList.add("hidden");
  $("gate").classList.remove("hidden");
  const setup = session.state === "setup";
  $("setup-form").classList.toggle("hidden", !setup);
  $("login-form").classList.toggle("hidden", setup);
  const box = $("gate-message");
  box.textContent = message;
  box.className = `gate-message ${kind}${message ? "" : " hidden"}`;
  translatePage($("gate"));
  (setup ? $("setup-code") : $("login-name")).focus();
}

async function submitGate(form, path, body) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const r = await enter(path, body);
    if (r.ok) {
      form.reset();
      await openApp();
      return;
    }
    if (r.error && ["csrf_missing", "csrf_failed", "already_set_up"].includes(r.error.code)) {
      await refreshSession(); // a fresh pre-session token (or: someone else set up first: log in)
    }
    showGate(() => errorText(r), "bad");
  } finally {
    button.disabled = false;
  }
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  submitGate(ev.target, "/admin/api/login", { name: $("login-name").value, password: $("login-password").value });
});

$("setup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if ($("setup-password").value !== $("setup-password2").value) {
    showGate(() => tr("两次输入的密码不一致", "The two passwords differ"), "bad");
    return;
  }
  submitGate(ev.target, "/admin/api/setup", {
    code: $("setup-code").value, name: $("setup-name").value,
    password: $("setup-password").value, password2: $("setup-password2").value,
  });
});

document.addEventListener("admin:expired", async (ev) => {
  closePage();
  await refreshSession();
  showGate(() => (ev.detail.expired ? tr("登录已过期，请重新登录。", "Your session has expired: please log in again.") : tr("请重新登录。", "Please log in again.")), "warn");
});

// ------------------------------------------------------------------ the app
async function openApp() {
  $("gate").classList.add("hidden");
  $("app").classList.remove("hidden");
  $("who").textContent = `${session.name} · ${roleName(session.role)}`;
  const r = await loadConfig();
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  if (!ctx.feed) {
    ctx.feed = new Feed({
      onView(view) {
        ctx.view = view;
        $("hall-name").textContent = tr(view.hall.name, view.hall.name_en);
        document.title = tr("设施管理", "Facilities admin") + " · " + tr(view.hall.name, view.hall.name_en);
        if (ctx.current && ctx.current.onView) ctx.current.onView(view);
      },
      onEvent(ev) {
        if (ev.type === "config_changed" && session.state === "ok") configChanged(ev.digest);
      },
      onStatus(online) { $("offline").classList.toggle("hidden", online); },
    }).start();
  }
  buildNav();
  route();
}

function buildNav() {
  const nav = $("nav");
  nav.replaceChildren();
  for (const p of PAGES) {
    if (p.adminOnly && !isAdmin()) continue;
    nav.append(el("a", { href: `#/${p.id}`, "data-page": p.id }, tr(p.zh, p.en)));
  }
}

function closePage() {
  if (ctx.cleanup) { try { ctx.cleanup(); } catch (_) { /* a page's own cleanup */ } }
  ctx.cleanup = null;
  ctx.current = null;
}

function route() {
  if (session.state !== "ok") return;
  const id = location.hash.replace(/^#\/?/, "") || "overview";
  const p = PAGES.find((x) => x.id === id && (!x.adminOnly || isAdmin())) || overview;
  closePage();
  ctx.current = p;
  for (const a of $("nav").querySelectorAll("a")) a.classList.toggle("active", a.dataset.page === p.id);
  const main = $("main");
  main.replaceChildren();
  main.scrollTop = 0;
  main.dataset.page = p.id;
  ctx.cleanup = p.render(main, ctx) || null;
}

window.addEventListener("hashchange", route);

// ------------------------------------------------------------------ header
$("logout").addEventListener("click", async () => {
  closePage();
  await logout();
  showGate(() => tr("已退出登录。", "You have logged out."), "ok");
});

function switchLang() {
  setLang(lang === "en" ? "zh" : "en");
  translatePage();
  $("lang").textContent = $("gate-lang").textContent = lang === "en" ? "中文" : "English";
  if (session.state === "ok") {
    $("who").textContent = `${session.name} · ${roleName(session.role)}`;
    if (ctx.view) $("hall-name").textContent = tr(ctx.view.hall.name, ctx.view.hall.name_en);
    buildNav();
    route();
  } else {
    showGate(gateMessage, gateKind);
  }
}
$("lang").addEventListener("click", switchLang);
$("gate-lang").addEventListener("click", switchLang);

$("password-open").addEventListener("click", () => {
  $("pw-username").value = session.name; // for the browser's password manager
  $("pw-error").textContent = "";
  $("password-dialog").showModal();
});
$("password-cancel").addEventListener("click", () => { $("password-dialog").close(); });
$("password-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await call("POST", "/admin/api/session/password", {
    current: $("pw-current").value, password: $("pw-new").value, password2: $("pw-new2").value,
  });
  if (r.ok) {
    Object.assign(session, r.data);
    ev.target.reset();
    $("password-dialog").close();
    toast(tr("密码已修改", "Password changed"));
  } else {
    $("pw-error").textContent = errorText(r);
  }
});

// ------------------------------------------------------------------ start
translatePage();
$("lang").textContent = $("gate-lang").textContent = lang === "en" ? "中文" : "English";
const started = await refreshSession();
if (!started.ok) {
  showGate(() => errorText({ error: started.error, status: 0 }), "bad");
} else if (session.state === "ok") {
  await openApp();
} else {
  showGate(() => (session.expired ? tr("登录已过期，请重新登录。", "Your session has expired: please log in again.") : ""), "warn");
}
