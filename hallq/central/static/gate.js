// /login and /setup: the first city admin (with the set-up code from the server's log) or a login.
import { api, lang, setLang, tr, translatePage } from "/static/common/hallq.js";
import { errorText } from "/static/central/central.js";

const $ = (id) => document.getElementById(id);
const state = { state: "unknown", token: "" };
let say = () => "";
let sayKind = "";

function nextPage() {
  const next = new URLSearchParams(location.search).get("next") || "/";
  return next.startsWith("/") && !next.startsWith("//") && !next.includes("\\") ? next : "/";
}

function show(message = say, kind = sayKind) {
  say = typeof message === "function" ? message : () => message;
  sayKind = kind;
  const setup = state.state === "setup";
  $("setup-form").classList.toggle("hidden", !setup);
  $("login-form").classList.toggle("hidden", setup);
  const text = say();
  const box = $("gate-message");
  box.textContent = text;
  box.className = `gate-message ${kind}${text ? "" : " hidden"}`;
  translatePage();
  $("gate-lang").textContent = lang === "en" ? "中文" : "English";
  document.title = (setup ? tr("首次设置", "First run") : tr("登录", "Log in")) + " · " + tr("政务大厅监管平台", "Hall supervision");
}

async function refresh() {
  const r = await api("GET", "/api/session", undefined, { tries: 2 });
  if (!r.ok) { show(() => errorText(r), "bad"); return false; }
  if (r.data.state === "ok") { location.replace(nextPage()); return false; }
  Object.assign(state, r.data);
  return true;
}

async function submit(form, path, body) {
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    const r = await api("POST", path, body, { headers: { "X-CSRF-Token": state.token }, requestId: false, tries: 1 });
    if (r.ok) { location.replace(nextPage()); return; }
    if (r.error && ["csrf_missing", "csrf_failed", "already_set_up"].includes(r.error.code)) await refresh();
    show(() => errorText(r), "bad");
  } finally {
    button.disabled = false;
  }
}

$("login-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  submit(ev.target, "/api/login", { username: $("login-username").value, password: $("login-password").value });
});

$("setup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  if ($("setup-password").value !== $("setup-password2").value) {
    show(() => tr("两次输入的密码不一致", "The two passwords differ"), "bad");
    return;
  }
  submit(ev.target, "/api/setup", {
    code: $("setup-code").value, username: $("setup-username").value, display_name: $("setup-display").value,
    password: $("setup-password").value, password2: $("setup-password2").value,
  });
});

$("gate-lang").addEventListener("click", () => { setLang(lang === "en" ? "zh" : "en"); show(); });

if (await refresh()) {
  const expired = new URLSearchParams(location.search).get("expired") === "1" || state.expired;
  show(expired ? () => tr("登录已过期，请重新登录。", "Your session has expired: please log in again.") : "", "warn");
  (state.state === "setup" ? $("setup-code") : $("login-username")).focus();
}
