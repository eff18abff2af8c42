// 管理 (city admins only): halls and their uplink tokens, users, and the report month.
import { el, tr, translatePage } from "/static/common/hallq.js";
import {
  agoText, call, errorText, hallName, pill, roleName, session, startPage, timeText, toast,
} from "/static/central/central.js";

const $ = (id) => document.getElementById(id);
const state = { halls: [], now: 0, users: [], tokensFor: null, renaming: null, fresh: null, monthStart: 1 };

function head(id, cols) {
  $(id).querySelector("thead tr").replaceChildren(...cols.map(([zh, en, cls]) => el("th", { class: cls || null }, tr(zh, en))));
}

function button(zh, en, onClick, cls = "link", attrs = {}) {
  const b = el("button", { type: "button", class: cls, ...attrs }, tr(zh, en));
  b.addEventListener("click", onClick);
  return b;
}

// ------------------------------------------------------------------ halls
function hallStatus(h) {
  if (!h.last_seen) return pill("offline", tr("未接入", "Never connected"));
  return h.online ? pill("online", tr("在线", "Online")) : pill("bad", tr("离线", "Offline"));
}

function hallRow(h) {
  const active = h.tokens.filter((t) => !t.revoked_at).length;
  if (state.renaming === h.hall_id) {
    const name = el("input", { value: h.name, maxlength: 100, "aria-label": tr("名称", "Name") });
    const nameEn = el("input", { value: h.name_en, maxlength: 100, "aria-label": tr("英文名称", "English name") });
    const save = button("保存", "Save", async () => {
      const r = await call("PATCH", `/api/admin/halls/${encodeURIComponent(h.hall_id)}`, { name: name.value, name_en: nameEn.value });
      if (!r.ok) { toast(errorText(r), "bad"); return; }
      state.renaming = null;
      toast(tr("已改名", "Renamed"));
      await loadHalls();
    }, "primary");
    return el("tr", { "data-hall": h.hall_id },
      el("td", {}, h.hall_id), el("td", {}, el("div", { class: "inline" }, name, nameEn)), el("td", {}), el("td", {}), el("td", {}),
      el("td", {}, save, button("取消", "Cancel", () => { state.renaming = null; renderHalls(); })));
  }
  return el("tr", { "data-hall": h.hall_id },
    el("td", {}, el("a", { href: `/halls/${encodeURIComponent(h.hall_id)}` }, h.hall_id)),
    el("td", {}, hallName(h) || el("span", { class: "muted" }, tr("（待大厅配置上报）", "(from the hall's config)")),
      h.name_en && h.name ? el("div", { class: "sub" }, tr(h.name_en, h.name)) : ""),
    el("td", {}, hallStatus(h)),
    el("td", { class: "nowrap" }, h.last_seen ? `${timeText(h.last_seen)} · ${agoText(state.now - h.last_seen)}` : "—"),
    el("td", { class: "num" }, String(h.acked_seq)),
    el("td", { class: "nowrap" },
      button("改名", "Rename", () => { state.renaming = h.hall_id; renderHalls(); }),
      button(`令牌 (${active})`, `Tokens (${active})`, () => openTokens(h.hall_id), "link", { "data-tokens": h.hall_id })));
}

function renderHalls() {
  head("halls", [["编号", "Id"], ["名称", "Name"], ["状态", "Status"], ["最后联系", "Last seen"], ["已收事件", "Events received", "num"], ["", ""]]);
  const rows = state.halls.map(hallRow);
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "empty" }, tr("还没有大厅：在下面添加。", "No halls yet: add one below."))));
  $("halls").querySelector("tbody").replaceChildren(...rows);
  renderTokens();
}

async function loadHalls() {
  const r = await call("GET", "/api/admin/halls");
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  state.halls = r.data.halls;
  state.now = r.data.now;
  renderHalls();
  renderUsers();
}

$("hall-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const body = { hall_id: $("new-hall-id").value.trim(), name: $("new-hall-name").value, name_en: $("new-hall-name-en").value };
  const r = await call("POST", "/api/admin/halls", body);
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  ev.target.reset();
  toast(tr(`已添加大厅 ${body.hall_id}，请发放令牌`, `Hall ${body.hall_id} added: issue its token`));
  await loadHalls();
  openTokens(body.hall_id);
});

// ------------------------------------------------------------------ tokens
function openTokens(hallId) {
  state.tokensFor = hallId;
  state.fresh = null;
  renderTokens();
  $("tokens-panel").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text); // needs https or localhost
  } catch (_) {
    input.select(); // plain http: the old way
    document.execCommand("copy");
  }
  toast(tr("已复制", "Copied"));
}

function freshBox(t) {
  const input = el("input", { id: "token-value", readonly: true, value: t.token, "aria-label": tr("令牌", "Token") });
  const toml = el("pre", { id: "token-toml" }, t.toml);
  return el("div", { class: "token-box", id: "token-once" },
    el("strong", {}, tr(`新令牌 ${t.token_id}：只显示这一次，请现在复制`, `New token ${t.token_id}: shown only this once, copy it now`)),
    el("div", { class: "token" }, input, button("复制", "Copy", () => copy(t.token, input), "primary", { id: "token-copy" })),
    el("ol", {},
      el("li", {}, tr("在大厅控制器的数据目录中新建文件 ", "On the hall's controller, put the token alone in the file "), el("code", {}, t.token_file),
        tr("，内容只有上面这一行令牌（文件权限 600）。", " in its data folder (one line; file mode 600).")),
      el("li", {}, tr("在大厅配置 hall.toml 中加入：", "Add to the hall's hall.toml:"), toml,
        button("复制配置", "Copy these lines", () => copy(t.toml, toml), "link")),
      el("li", {}, tr("重启控制器；大厅状态变为“在线”即已接入。", "Restart the controller: the hall shows as online once it reports."))),
    el("p", { class: "muted" }, tr(`若大厅经其他地址访问本服务器，请把 url 改为那个地址（现为 ${t.url}）。`, `If the hall reaches this server at another address, use that address as url (shown: ${t.url}).`)));
}

function renderTokens() {
  const panel = $("tokens-panel");
  const hall = state.halls.find((h) => h.hall_id === state.tokensFor);
  panel.classList.toggle("hidden", !hall);
  if (!hall) return;
  $("tokens-hall").textContent = `${hallName(hall) || hall.hall_id} (${hall.hall_id})`;
  $("token-new").replaceChildren(state.fresh && state.fresh.hall_id === hall.hall_id ? freshBox(state.fresh) : "");
  head("tokens", [["令牌编号", "Token id"], ["备注", "Label"], ["发放", "Issued"], ["最后使用", "Last used"], ["状态", "Status"], ["", ""]]);
  const rows = hall.tokens.map((t) => el("tr", { "data-token": t.token_id, class: t.revoked_at ? "offline" : null },
    el("td", {}, el("code", {}, t.token_id)),
    el("td", {}, t.label || "—"),
    el("td", { class: "nowrap" }, `${timeText(t.created_at)} · ${t.created_by}`),
    el("td", { class: "nowrap" }, t.last_used_at ? `${timeText(t.last_used_at)} · ${agoText(state.now - t.last_used_at)}` : tr("未使用", "never")),
    el("td", {}, t.revoked_at ? pill("closed", tr(`已吊销 ${timeText(t.revoked_at)} · ${t.revoked_by}`, `Revoked ${timeText(t.revoked_at)} · ${t.revoked_by}`)) : pill("ok", tr("有效", "Active"))),
    el("td", {}, t.revoked_at ? "" : button("吊销", "Revoke", async () => {
      if (!confirm(tr(`吊销令牌 ${t.token_id}？使用它的大厅将立即无法上报。`, `Revoke token ${t.token_id}? The hall using it stops reporting at once.`))) return;
      const r = await call("DELETE", `/api/admin/halls/${encodeURIComponent(hall.hall_id)}/tokens/${encodeURIComponent(t.token_id)}`);
      if (!r.ok) { toast(errorText(r), "bad"); return; }
      toast(tr(`令牌 ${t.token_id} 已吊销`, `Token ${t.token_id} revoked`));
      if (state.fresh && state.fresh.token_id === t.token_id) state.fresh = null;
      await loadHalls();
    }, "link danger", { "data-revoke": t.token_id }))));
  if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: 6, class: "empty" }, tr("还没有令牌。", "No tokens yet."))));
  $("tokens").querySelector("tbody").replaceChildren(...rows);
}

$("token-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const hallId = state.tokensFor;
  const r = await call("POST", `/api/admin/halls/${encodeURIComponent(hallId)}/tokens`, { label: $("token-label").value });
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  ev.target.reset();
  await loadHalls();
  state.fresh = r.data;
  renderTokens();
});
$("tokens-close").addEventListener("click", () => { state.tokensFor = null; state.fresh = null; renderTokens(); });

// ------------------------------------------------------------------ users
function userRow(u) {
  const hall = state.halls.find((h) => h.hall_id === u.hall_id);
  const actions = el("td", { class: "nowrap" });
  const normal = () => {
    actions.replaceChildren(
      button("重置密码", "Reset password", askPassword, "link", { "data-reset": u.username }),
      u.username === session.username ? "" : button(u.disabled ? "启用" : "停用", u.disabled ? "Enable" : "Disable", async () => {
        const r = await call("POST", `/api/admin/users/${encodeURIComponent(u.username)}/disabled`, { disabled: !u.disabled });
        toast(r.ok ? tr(u.disabled ? `${u.username} 已启用` : `${u.username} 已停用`, u.disabled ? `${u.username} enabled` : `${u.username} disabled`) : errorText(r), r.ok ? "ok" : "bad");
        if (r.ok) await loadUsers();
      }, u.disabled ? "link" : "link danger", { "data-disable": u.username }),
      u.locked ? button("解锁", "Unlock", async () => {
        const r = await call("POST", `/api/admin/users/${encodeURIComponent(u.username)}/unlock`, {});
        toast(r.ok ? tr(`${u.username} 已解锁`, `${u.username} unlocked`) : errorText(r), r.ok ? "ok" : "bad");
        if (r.ok) await loadUsers();
      }) : "");
  };
  const askPassword = () => {
    const input = el("input", { type: "password", autocomplete: "new-password", minlength: 8, placeholder: tr("新密码（至少 8 位）", "New password (8 or more)") });
    const ok = button("确定", "Set", async () => {
      const r = await call("POST", `/api/admin/users/${encodeURIComponent(u.username)}/password`, { password: input.value });
      if (r.ok) { toast(tr(`${u.username} 的密码已重置`, `${u.username}'s password was reset`)); normal(); } else toast(errorText(r), "bad");
    }, "primary");
    actions.replaceChildren(el("span", { class: "inline" }, input, ok, button("取消", "Cancel", normal)));
    input.focus();
  };
  normal();
  const status = u.disabled ? pill("closed", tr("已停用", "Disabled")) : u.locked ? pill("bad", tr("已锁定", "Locked")) : pill("ok", tr("启用", "Enabled"));
  return el("tr", { "data-user": u.username, class: u.disabled ? "offline" : null },
    el("td", {}, u.username), el("td", {}, u.display_name || "—"), el("td", {}, roleName(u.role)),
    el("td", {}, u.hall_id ? (hall ? hallName(hall) || u.hall_id : u.hall_id) : tr("全部", "All")),
    el("td", {}, status), el("td", { class: "nowrap" }, timeText(u.created_at)), actions);
}

function renderUsers() {
  head("users", [["用户名", "User name"], ["姓名", "Name"], ["角色", "Role"], ["大厅", "Hall"], ["状态", "Status"], ["创建", "Created"], ["", ""]]);
  $("users").querySelector("tbody").replaceChildren(...state.users.map(userRow));
  const role = $("new-role");
  const roleValue = role.value || "hall_manager";
  role.replaceChildren(el("option", { value: "hall_manager" }, roleName("hall_manager")), el("option", { value: "city_admin" }, roleName("city_admin")));
  role.value = roleValue;
  const hall = $("new-hall");
  const hallValue = hall.value;
  hall.replaceChildren(...state.halls.map((h) => el("option", { value: h.hall_id }, hallName(h) || h.hall_id)));
  if (hallValue) hall.value = hallValue;
  hall.disabled = roleValue !== "hall_manager";
}

async function loadUsers() {
  const r = await call("GET", "/api/admin/users");
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  state.users = r.data.users;
  renderUsers();
}

$("new-role").addEventListener("change", () => { $("new-hall").disabled = $("new-role").value !== "hall_manager"; });
$("user-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const role = $("new-role").value;
  const body = {
    username: $("new-username").value.trim(), display_name: $("new-display").value, role,
    hall_id: role === "hall_manager" ? $("new-hall").value : "", password: $("new-password").value,
  };
  const r = await call("POST", "/api/admin/users", body);
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  ev.target.reset();
  toast(tr(`已添加用户 ${body.username}`, `User ${body.username} added`));
  await loadUsers();
});

// ------------------------------------------------------------------ settings
function renderSettings() {
  $("month-start").value = state.monthStart;
  const d = state.monthStart;
  $("month-example").textContent = d === 1
    ? tr("1 = 按自然月：“2026-11” 为 11 月 1 日至 30 日。", "1 = calendar months: “2026-11” is 1 to 30 November.")
    : tr(`“2026-11” 为 10 月 ${d} 日至 11 月 ${d - 1} 日。`, `“2026-11” is ${d} October to ${d - 1} November.`);
}

$("settings-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const r = await call("PUT", "/api/settings", { month_start_day: Number($("month-start").value) });
  if (!r.ok) { toast(errorText(r), "bad"); return; }
  state.monthStart = r.data.month_start_day;
  renderSettings();
  toast(tr("已保存", "Saved"));
});

function render() {
  document.title = tr("管理", "Admin") + " · " + tr("政务大厅监管平台", "Hall supervision");
  translatePage();
  renderHalls();
  renderUsers();
  renderSettings();
}

if (await startPage("admin", render)) {
  const s = await call("GET", "/api/settings");
  if (s.ok) state.monthStart = s.data.month_start_day;
  await Promise.all([loadHalls(), loadUsers()]);
  render();
}
