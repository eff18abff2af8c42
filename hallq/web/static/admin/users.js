// 用户: the admin page's users (admin, staff) and the window staff with their PINs.
// PINs are never shown: only whether one is set.
import { el, tr } from "/static/common/hallq.js";
import { call, roleName, session } from "/static/admin/session.js";
import { addButton, configPage, errorText, listInput, pageHead, section, textInput, timeText, toast } from "/static/admin/ui.js";

export const id = "users";
export const zh = "用户与 PIN";
export const en = "Users & PINs";
export const adminOnly = true;

export function render(main, ctx) {
  main.append(pageHead(zh, en,
    "管理员可修改全部设置；工作人员账号只能查看、广播和测试打印。窗口工作人员用 PIN 在窗口终端签到。",
    "Admins change everything; staff accounts can look, broadcast and test-print. Window staff sign in at the window terminal with their PIN."));
  const usersBox = el("div", { id: "users" });
  main.append(usersBox);
  const pins = { set: new Set() };
  const staffBox = el("div", { id: "staff" });
  main.append(staffBox);
  let rebuildStaff = () => {};
  const load = async () => {
    const r = await call("GET", "/admin/api/users");
    if (!r.ok) { usersBox.replaceChildren(el("p", { class: "result bad" }, errorText(r))); return; }
    pins.set = new Set(r.data.pins);
    usersBox.replaceChildren(usersPanel(r.data, load, ctx));
    rebuildStaff();
  };
  const cleanup = configPage(staffBox, {
    titleZh: "窗口工作人员",
    titleEn: "Window staff",
    build(data, body, page) {
      rebuildStaff = () => page.rebuild();
      buildStaff(data, body, page, pins, load);
    },
  });
  load();
  return cleanup;
}

// ------------------------------------------------------------------ admin page users
function usersPanel(data, reload, ctx) {
  const offset = ctx.feed && ctx.feed.view ? ctx.feed.view.utc_offset_minutes : 480;
  const rows = data.users.map((u) => {
    const actions = el("td", { class: "actions-cell" });
    const role = el("select", { "aria-label": tr("角色", "Role") }, el("option", { value: "admin" }, roleName("admin")), el("option", { value: "staff" }, roleName("staff")));
    role.value = u.role;
    role.addEventListener("change", async () => {
      const r = await call("POST", `/admin/api/users/${encodeURIComponent(u.name)}/role`, { role: role.value });
      if (r.ok) toast(tr(`${u.name} 的角色已改为${roleName(role.value)}`, `${u.name} is now ${roleName(role.value)}`));
      else { toast(errorText(r), "bad"); role.value = u.role; }
      if (u.name === session.name && r.ok) location.reload(); // my own role: the page changes
    });
    const normal = () => {
      const reset = el("button", { type: "button", class: "link" }, tr("重置密码", "Reset password"));
      reset.addEventListener("click", () => askPassword());
      const unlock = el("button", { type: "button", class: "link" }, tr("解锁", "Unlock"));
      unlock.addEventListener("click", async () => {
        const r = await call("POST", `/admin/api/users/${encodeURIComponent(u.name)}/unlock`, {});
        toast(r.ok ? tr(`${u.name} 已解锁`, `${u.name} is unlocked`) : errorText(r), r.ok ? "ok" : "bad");
      });
      const remove = el("button", { type: "button", class: "link danger" }, tr("删除", "Delete"));
      remove.addEventListener("click", async () => {
        if (!confirm(tr(`删除用户 ${u.name}？`, `Delete the user ${u.name}?`))) return;
        const r = await call("DELETE", `/admin/api/users/${encodeURIComponent(u.name)}`);
        if (r.ok) { toast(tr(`已删除 ${u.name}`, `${u.name} deleted`)); reload(); } else toast(errorText(r), "bad");
      });
      actions.replaceChildren(reset, unlock, remove);
    };
    const askPassword = () => {
      const input = el("input", { type: "password", autocomplete: "new-password", minlength: 8, placeholder: tr("新密码（至少 8 位）", "New password (8 or more)") });
      const ok = el("button", { type: "button", class: "primary" }, tr("确定", "Set"));
      const cancel = el("button", { type: "button" }, tr("取消", "Cancel"));
      cancel.addEventListener("click", normal);
      ok.addEventListener("click", async () => {
        const r = await call("POST", `/admin/api/users/${encodeURIComponent(u.name)}/password`, { password: input.value });
        if (r.ok) { toast(tr(`${u.name} 的密码已重置`, `${u.name}'s password was reset`)); normal(); } else toast(errorText(r), "bad");
      });
      actions.replaceChildren(el("span", { class: "inline" }, input, ok, cancel));
      input.focus();
    };
    normal();
    return el("tr", { "data-user": u.name },
      el("td", {}, u.name, u.name === data.me ? el("span", { class: "badge off" }, tr("我", "me")) : null),
      el("td", {}, role),
      el("td", { class: "reason" }, timeText(u.created, offset)),
      actions);
  });

  const form = el("form", { class: "inline", id: "add-user" });
  const name = el("input", { name: "name", required: true, maxlength: 64, placeholder: tr("用户名", "User name"), autocomplete: "off" });
  const role = el("select", { name: "role" }, el("option", { value: "staff" }, roleName("staff")), el("option", { value: "admin" }, roleName("admin")));
  const password = el("input", { name: "password", type: "password", required: true, minlength: 8, placeholder: tr("密码（至少 8 位）", "Password (8 or more)"), autocomplete: "new-password" });
  const password2 = el("input", { name: "password2", type: "password", required: true, minlength: 8, placeholder: tr("再次输入密码", "Password again"), autocomplete: "new-password" });
  const message = el("span", { class: "field-error", role: "alert" });
  form.append(name, role, password, password2, el("button", { type: "submit", class: "primary" }, tr("添加用户", "Add the user")), message);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (password.value !== password2.value) { message.textContent = tr("两次输入的密码不一致", "The two passwords differ"); return; }
    const r = await call("POST", "/admin/api/users", { name: name.value, role: role.value, password: password.value });
    if (r.ok) { toast(tr(`已添加 ${name.value}`, `${name.value} added`)); reload(); } else message.textContent = errorText(r);
  });

  return section("后台用户", "Admin page users",
    el("table", { class: "list" },
      el("thead", {}, el("tr", {}, ...[["用户名", "Name"], ["角色", "Role"], ["创建于", "Created"], ["", ""]].map(([z, e]) => el("th", {}, tr(z, e))))),
      el("tbody", {}, ...rows)),
    el("h3", {}, tr("添加用户", "Add a user")), form);
}

// ------------------------------------------------------------------ window staff and PINs
function buildStaff(data, body, page, pins, reload) {
  const rows = data.staff.map((st, i) => {
    const at = `staff[${i}]`;
    const saved = pins.set.has(st.id);
    const pin = el("input", { type: "password", inputmode: "numeric", autocomplete: "off", maxlength: 8, placeholder: tr("4-8 位数字", "4-8 digits"), "aria-label": tr("PIN", "PIN") });
    const setButton = el("button", { type: "button", "data-always": true }, saved ? tr("更换 PIN", "Change PIN") : tr("设置 PIN", "Set PIN"));
    const clearButton = saved ? el("button", { type: "button", class: "link danger", "data-always": true }, tr("清除", "Clear")) : null;
    // PIN actions act at once: keep them out of the save bar's "unsaved changes".
    for (const n of [pin, setButton]) for (const t of ["input", "change"]) n.addEventListener(t, (ev) => ev.stopPropagation());
    setButton.addEventListener("click", async () => {
      const r = await call("PUT", `/admin/api/pins/${encodeURIComponent(st.id)}`, { pin: pin.value });
      if (r.ok) { toast(tr(`${st.name} 的 PIN 已设置`, `PIN set for ${st.name}`)); reload(); } else toast(errorText(r), "bad");
    });
    if (clearButton) clearButton.addEventListener("click", async () => {
      const r = await call("DELETE", `/admin/api/pins/${encodeURIComponent(st.id)}`);
      if (r.ok) { toast(tr(`${st.name} 的 PIN 已清除`, `PIN cleared for ${st.name}`)); reload(); } else toast(errorText(r), "bad");
    });
    const remove = el("button", { type: "button", class: "link danger" }, tr("删除", "Remove"));
    remove.addEventListener("click", () => { data.staff.splice(i, 1); page.changed(); page.rebuild(); });
    const cell = (path, control) => el("td", { "data-field": path }, control, el("span", { class: "field-error" }));
    return el("tr", { "data-staff": st.id },
      cell(`${at}.id`, textInput(st, "id", `${at}.id`, { max: 32, size: 6 })),
      cell(`${at}.name`, textInput(st, "name", `${at}.name`, { max: 32 })),
      cell(`${at}.windows`, listInput(st, "windows", `${at}.windows`, { int: true, placeholder: "1, 2" })),
      el("td", {}, saved ? el("span", { class: "pill ok" }, tr("已设置", "set")) : el("span", { class: "pill closed" }, tr("未设置", "none"))),
      el("td", {}, st.id ? el("span", { class: "pin-form" }, pin, setButton, clearButton) : null),
      el("td", {}, remove));
  });
  body.append(section("窗口工作人员", "Window staff",
    el("p", { class: "reason" }, tr("工号、姓名和可签到的窗口随配置保存；PIN 单独设置，立即生效，不会显示。未设 PIN 的工作人员签到时无需 PIN。",
      "Id, name and windows are saved with the configuration; a PIN is set on its own, at once, and never shown. Staff without a PIN sign in without one.")),
    el("table", { class: "list", id: "staff-table" },
      el("thead", {}, el("tr", {}, ...[["工号", "Id"], ["姓名", "Name"], ["窗口", "Windows"], ["PIN", "PIN"], ["设置 PIN", "Set the PIN"], ["", ""]].map(([z, e]) => el("th", {}, tr(z, e))))),
      el("tbody", {}, ...rows)),
    addButton("添加工作人员", "Add a staff member", () => {
      data.staff.push({ id: "", name: "", windows: [] });
      page.changed();
      page.rebuild();
    })));
}
