// Form parts for the admin pages: inputs bound to the configuration draft, field errors by
// path ("services[2].guide.fee"), the save bar, and short messages (toasts).
import { bilingual, el, tr } from "/static/common/hallq.js";
import { isAdmin } from "/static/admin/session.js";
import { draft, saveConfig, store, loadConfig } from "/static/admin/store.js";

// ------------------------------------------------------------------ messages
export function toast(text, kind = "ok", ms = 4000) {
  const box = document.getElementById("toasts");
  const item = el("div", { class: `toast ${kind}`, role: "status" }, text);
  box.append(item);
  setTimeout(() => item.remove(), ms);
}

/** The error of an admin call, as one line for a person. */
export function errorText(r) {
  if (!r.error) return "";
  if (r.status === 0) return tr("无法连接控制器", "Cannot reach the controller");
  return bilingual(r.error.message || r.error.code);
}

export function pageHead(zh, en, introZh = "", introEn = "") {
  return el("header", { class: "page-head" },
    el("h1", {}, tr(zh, en)),
    introZh ? el("p", { class: "intro" }, tr(introZh, introEn)) : null);
}

export function section(zh, en, ...children) {
  return el("section", { class: "panel" }, el("h2", {}, tr(zh, en)), ...children);
}

export function restartBadge() {
  return el("span", { class: "badge restart", title: tr("保存后需重启控制器才生效", "Saved at once; takes effect after the controller restarts") },
    tr("重启后生效", "after restart"));
}

export function pill(status, text) {
  return el("span", { class: `pill ${status}` }, text);
}

export function healthText(status) {
  return { ok: tr("正常", "OK"), warning: tr("注意", "Warning"), error: tr("故障", "Error"), unknown: tr("未知", "Unknown") }[status] || status;
}

export function timeText(epoch, offsetMinutes = 480) {
  if (!epoch) return "—";
  const d = new Date((epoch + offsetMinutes * 60) * 1000);
  return d.toISOString().slice(0, 16).replace("T", " ");
}

// ------------------------------------------------------------------ fields
/** A labelled field; `path` ties it to the server's problems for that setting. */
export function field(zh, en, control, opts = {}) {
  const tag = opts.group ? "div" : "label";
  return el(tag, { class: `field${opts.wide ? " wide" : ""}${opts.full ? " full" : ""}`, "data-field": opts.path || null },
    el("span", { class: "label" }, tr(zh, en), opts.restart ? restartBadge() : null),
    control,
    opts.hintZh ? el("small", { class: "hint" }, tr(opts.hintZh, opts.hintEn)) : null,
    el("span", { class: "field-error", role: "alert" }));
}

function setOrDelete(obj, key, value, omit) {
  if (omit) delete obj[key];
  else obj[key] = value;
}

export function textInput(obj, key, path, opts = {}) {
  const input = opts.multiline
    ? el("textarea", { rows: opts.rows || 2, "data-path": path, maxlength: opts.max || null })
    : el("input", { type: opts.type || "text", "data-path": path, maxlength: opts.max || null, placeholder: opts.placeholder || null, size: opts.size || null });
  input.value = obj[key] ?? "";
  input.addEventListener("input", () => setOrDelete(obj, key, input.value, opts.omitEmpty && input.value === ""));
  return input;
}

/** A number; empty is "not set" when nullable (the key is left out), otherwise an error the server names. */
export function numberInput(obj, key, path, opts = {}) {
  const input = el("input", { type: "number", "data-path": path, min: opts.min ?? null, max: opts.max ?? null, step: opts.step || (opts.float ? "any" : "1"), class: "num" });
  input.value = obj[key] ?? "";
  input.addEventListener("input", () => {
    const raw = input.value.trim();
    if (raw === "") { setOrDelete(obj, key, "", opts.nullable); return; }
    const n = Number(raw);
    obj[key] = Number.isFinite(n) ? n : raw;
  });
  return input;
}

export function checkInput(obj, key, path) {
  const input = el("input", { type: "checkbox", "data-path": path });
  input.checked = Boolean(obj[key]);
  input.addEventListener("change", () => { obj[key] = input.checked; });
  return input;
}

/** options: [[value, zh, en], ...]; value null means "not set" (the key is left out). */
export function selectInput(obj, key, path, options) {
  const select = el("select", { "data-path": path });
  options.forEach(([value, zh, en], i) => {
    const option = el("option", { value: String(i) }, tr(zh, en));
    if ((obj[key] ?? null) === value) option.selected = true;
    select.append(option);
  });
  select.addEventListener("change", () => {
    const value = options[Number(select.value)][0];
    setOrDelete(obj, key, value, value === null);
  });
  return select;
}

/** A list of text, one item a line (materials, holidays). */
export function linesInput(obj, key, path, opts = {}) {
  const input = el("textarea", { rows: opts.rows || Math.max(2, Math.min(8, (obj[key] || []).length + 1)), "data-path": path, placeholder: opts.placeholder || null });
  input.value = (obj[key] || []).join("\n");
  input.addEventListener("input", () => {
    obj[key] = input.value.split("\n").map((s) => s.trim()).filter(Boolean);
  });
  return input;
}

/** A short list in one line: "08:40-11:50, 13:10-16:50" or window numbers "1, 2, 3". */
export function listInput(obj, key, path, opts = {}) {
  const input = el("input", { type: "text", "data-path": path, placeholder: opts.placeholder || null });
  input.value = (obj[key] || []).join(", ");
  input.addEventListener("input", () => {
    const items = input.value.split(/[,，\s]+/).map((s) => s.trim()).filter(Boolean);
    obj[key] = opts.int ? items.map((s) => (/^\d+$/.test(s) ? Number(s) : s)) : items;
  });
  return input;
}

/** Toggle chips for a set of values (services of a screen, workdays). options: [[value, label], ...] */
export function chipsInput(obj, key, path, options) {
  const box = el("div", { class: "chips", "data-path": path });
  const chosen = () => new Set(obj[key] || []);
  for (const [value, label] of options) {
    const input = el("input", { type: "checkbox" });
    input.checked = chosen().has(value);
    input.addEventListener("change", () => {
      const set = chosen();
      if (input.checked) set.add(value); else set.delete(value);
      obj[key] = options.map((o) => o[0]).filter((v) => set.has(v)); // keep the options' order
    });
    box.append(el("label", { class: "chip" }, input, el("span", {}, label)));
  }
  return box;
}

// ------------------------------------------------------------------ problems
/** Show the server's problems beside their fields, and all of them in `summary`. */
export function showProblems(root, summary, problems) {
  clearProblems(root, summary);
  if (!problems || !problems.length) return;
  const list = el("ul");
  for (const p of problems) {
    const target = findPath(root, p.path);
    if (target) {
      const holder = target.closest("[data-field]") || target.closest(".card") || target;
      holder.classList.add("invalid");
      const slot = holder.querySelector(":scope > .field-error, :scope > .card-error");
      if (slot) slot.textContent = (slot.textContent ? slot.textContent + "; " : "") + p.message;
      for (let d = holder.closest("details"); d; d = d.parentElement.closest("details")) d.open = true;
    }
    const where = p.line ? tr(`第 ${p.line} 行`, `line ${p.line}`) + ": " : "";
    const item = el("li", {}, el("code", {}, where + (p.path || tr("整体", "whole file"))), " ", p.message);
    if (target) item.addEventListener("click", () => target.scrollIntoView({ block: "center" }));
    list.append(item);
  }
  summary.replaceChildren(el("strong", {}, tr("请改正以下问题：", "Please fix these:")), list);
  summary.classList.remove("hidden");
}

export function clearProblems(root, summary) {
  for (const n of root.querySelectorAll(".invalid")) n.classList.remove("invalid");
  for (const n of root.querySelectorAll(".field-error, .card-error")) n.textContent = "";
  if (summary) { summary.replaceChildren(); summary.classList.add("hidden"); }
}

function findPath(root, path) {
  let probe = path || "";
  while (probe) {
    const found = root.querySelector(`[data-path="${CSS.escape(probe)}"]`);
    if (found) return found;
    const cut = Math.max(probe.lastIndexOf("."), probe.lastIndexOf("["));
    probe = cut > 0 ? probe.slice(0, cut) : "";
  }
  return null;
}

// ------------------------------------------------------------------ a configuration page
/**
 * A page that edits part of the configuration: a save bar, the problems, and a body that
 * `build(data, body, page)` fills with fields bound to `data` (a draft of the whole config).
 * Staff see it read-only. Returns a cleanup function.
 */
export function configPage(root, opts) {
  const readOnly = !isAdmin();
  let data = draft();
  let base = store.digest; // what the draft was made from: a save says so
  let dirty = false;
  let saving = false;
  const status = el("span", { class: "save-status" });
  const saveButton = el("button", { type: "button", class: "primary", id: "save" }, tr("保存", "Save"));
  const revertButton = el("button", { type: "button" }, tr("撤销修改", "Discard changes"));
  const title = opts.titleZh ? el("strong", { class: "savebar-title" }, tr(opts.titleZh, opts.titleEn)) : null;
  const bar = el("div", { class: `savebar${readOnly ? " hidden" : ""}` }, title, saveButton, revertButton, status);
  const notice = el("div", { class: "notice hidden" });
  const summary = el("div", { class: "problems hidden", role: "alert" });
  const body = el("div", { class: "form-body" });
  root.append(bar, notice, summary, body);
  if (readOnly) {
    root.insertBefore(el("p", { class: "readonly-note" }, tr("只读：只有管理员可以修改这些设置。", "Read only: only an admin can change these settings.")), bar);
  }

  const page = {
    get data() { return data; },
    rebuild,
    changed() { markDirty(); },
  };

  function rebuild() {
    body.replaceChildren();
    opts.build(data, body, page);
    if (readOnly) {
      for (const n of body.querySelectorAll("input, select, textarea, button:not([data-always])")) n.disabled = true;
    }
  }

  function markDirty() {
    if (readOnly) return;
    dirty = true;
    status.textContent = tr("有未保存的修改", "Unsaved changes");
    status.className = "save-status dirty";
  }

  function reset(message = "") {
    data = draft();
    base = store.digest;
    dirty = false;
    status.textContent = message;
    status.className = "save-status";
    notice.classList.add("hidden");
    clearProblems(body, summary);
    rebuild();
  }

  body.addEventListener("input", markDirty);
  body.addEventListener("change", markDirty);
  revertButton.addEventListener("click", () => reset());

  saveButton.addEventListener("click", async () => {
    saving = true;
    saveButton.disabled = true;
    status.textContent = tr("正在保存…", "Saving…");
    let r;
    try {
      r = await saveConfig(data, base);
    } finally {
      saving = false;
      saveButton.disabled = false;
    }
    if (r.ok) {
      const restart = r.data.restart_needed || [];
      const changed = r.data.changed || [];
      reset(changed.length ? tr("已保存，屏幕随即更新", "Saved: the screens update at once") : tr("没有修改", "Nothing changed"));
      if (restart.length) {
        notice.replaceChildren(tr("已保存。以下设置在控制器重启后生效：", "Saved. These settings take effect after the controller restarts: "), el("code", {}, restart.join(", ")));
        notice.className = "notice warn";
      }
      toast(changed.length ? tr("配置已保存", "Configuration saved") : tr("没有修改", "Nothing changed"));
      return;
    }
    status.textContent = tr("有未保存的修改", "Unsaved changes");
    status.className = "save-status dirty";
    if (r.error && r.error.code === "invalid_config") {
      showProblems(body, summary, r.error.problems);
      const first = body.querySelector(".invalid");
      if (first) first.scrollIntoView({ block: "center" });
      status.textContent = errorText(r);
      status.className = "save-status bad";
    } else if (r.error && r.error.code === "config_changed_meanwhile") {
      const reload = el("button", { type: "button", "data-always": true }, tr("重新加载", "Reload"));
      reload.addEventListener("click", async () => { await loadConfig(); reset(); });
      notice.replaceChildren(
        tr("配置已被他人修改，您的修改未保存。请重新加载后再修改。", "The configuration was changed meanwhile; your edit was not saved. Reload it and make your edit again."), " ", reload);
      notice.className = "notice bad meanwhile";
    } else {
      notice.replaceChildren(errorText(r));
      notice.className = "notice bad";
    }
  });

  // Someone else saved (the feed told the store): follow it, unless we are in the middle of an edit.
  const onStore = () => {
    if (saving || store.digest === base) return; // our own save, or read again unchanged
    if (!dirty) { reset(); return; }
    const reload = el("button", { type: "button", "data-always": true }, tr("放弃我的修改并重新加载", "Drop my edits and reload"));
    reload.addEventListener("click", () => reset());
    notice.replaceChildren(tr("配置已在别处修改。", "The configuration was changed elsewhere. "), reload);
    notice.className = "notice warn";
  };
  store.listeners.add(onStore);
  rebuild();
  return () => store.listeners.delete(onStore);
}

/** A card for one item of a list (a service, a screen, a notice) with a remove button. */
export function card(path, title, onRemove, ...children) {
  const remove = onRemove
    ? el("button", { type: "button", class: "link danger", onclick: onRemove }, tr("删除", "Remove"))
    : null;
  return el("div", { class: "card", "data-path": path },
    el("div", { class: "card-head" }, el("strong", {}, title), remove),
    el("span", { class: "card-error", role: "alert" }),
    el("div", { class: "grid" }, ...children));
}

export function addButton(zh, en, onClick) {
  return el("button", { type: "button", class: "add", onclick: onClick }, "+ ", tr(zh, en));
}

export const WEEKDAYS = [
  ["mon", "周一", "Mon"], ["tue", "周二", "Tue"], ["wed", "周三", "Wed"], ["thu", "周四", "Thu"],
  ["fri", "周五", "Fri"], ["sat", "周六", "Sat"], ["sun", "周日", "Sun"],
];

export function serviceOptions(data) {
  return data.services.map((s) => [s.code, tr(s.name, s.name_en) || s.code]);
}

export function windowOptions(data) {
  return data.windows.map((w) => [w.number, String(w.number)]);
}
