// 语音广播: the caller voice's settings, a test announcement, a broadcast now, and
// broadcasts at a time ([[voice.schedule]] with a date: the controller says them then).
import { el, tr } from "/static/common/hallq.js";
import { call } from "/static/admin/session.js";
import { addButton, configPage, errorText, field, listInput, numberInput, pageHead, section, selectInput, textInput, toast } from "/static/admin/ui.js";

export const id = "voice";
export const zh = "语音广播";
export const en = "Voice";

export function render(main, ctx) {
  main.append(pageHead(zh, en,
    "叫号语音的音量、重复次数和静音时段保存后立即生效；输出设备、语言和语速在重启后生效。",
    "Volume, repeats and quiet hours take effect as soon as they are saved; the output device, language and speed after a restart."));
  main.append(actions());
  const form = el("div");
  main.append(form);
  return configPage(form, { titleZh: "语音设置", titleEn: "Voice settings", build: (data, body, page) => build(data, body, page, ctx) });
}

function actions() {
  const result = el("p", { class: "result hidden", id: "broadcast-result", role: "status" });
  const show = (r, okText) => {
    result.classList.remove("hidden");
    result.className = `result ${r.ok ? "ok" : "bad"}`;
    result.textContent = r.ok ? okText : errorText(r);
  };
  const testButton = el("button", { type: "button", id: "voice-test" }, tr("播放测试语音", "Play a test announcement"));
  testButton.addEventListener("click", async () => {
    const r = await call("POST", "/admin/api/voice/test", {});
    show(r, tr(`已排队播放：${r.data && r.data.text}`, `Queued: ${r.data && r.data.text}`));
  });
  const text = el("textarea", { id: "broadcast-text", rows: 2, maxlength: 500, placeholder: tr("如：请丢失钱包的群众到服务台认领", "e.g. Would the owner of a lost wallet come to the service desk") });
  const repeats = el("select", { id: "broadcast-repeats" }, ...[1, 2, 3].map((n) => el("option", { value: n }, tr(`播 ${n} 遍`, `${n}×`))));
  const force = el("input", { type: "checkbox", id: "broadcast-force" });
  const send = el("button", { type: "button", class: "primary", id: "broadcast-now" }, tr("立即广播", "Broadcast now"));
  send.addEventListener("click", async () => {
    if (!text.value.trim()) { text.focus(); return; }
    send.disabled = true;
    const r = await call("POST", "/admin/api/voice/broadcast", { text: text.value, repeats: Number(repeats.value), force: force.checked });
    send.disabled = false;
    show(r, tr("已排队，将在当前叫号之后播出。", "Queued: it is said after the calls waiting."));
    if (r.ok) { text.value = ""; toast(tr("广播已排队", "Broadcast queued")); }
  });
  return section("广播", "Announcements",
    field("广播内容", "Text to say", text),
    el("div", { class: "actions" }, repeats, el("label", { class: "inline" }, force, tr("静音时段也播", "Also in quiet hours")), send,
      el("span", { class: "spacer" }), testButton),
    result);
}

function build(data, body, page, ctx) {
  if (!data.voice) {
    const enable = el("button", { type: "button", class: "primary" }, tr("启用叫号语音", "Turn the caller voice on"));
    enable.addEventListener("click", () => {
      data.voice = { output: "sim", pack: "", language: "zh", speed: 150, template: "", repeats: 2, volume: 80, quiet_hours: [], quiet_mode: "chime", schedule: [] };
      page.changed();
      page.rebuild();
    });
    body.append(section("叫号语音", "Caller voice", el("p", {}, tr("本大厅未配置叫号语音（[voice]）。", "This hall has no caller voice ([voice]).")), enable));
    return;
  }
  const v = data.voice;
  v.schedule = v.schedule || [];
  const volume = numberInput(v, "volume", "voice.volume", { min: 0, max: 100 });
  const slider = el("input", { type: "range", min: 0, max: 100, value: v.volume ?? 80 });
  slider.addEventListener("input", () => { v.volume = Number(slider.value); volume.value = slider.value; });
  volume.addEventListener("input", () => { slider.value = volume.value; });
  body.append(section("叫号语音", "Caller voice", el("div", { class: "grid" },
    field("音量（%）", "Volume (%)", el("div", { class: "inline" }, slider, volume), { path: "voice.volume", wide: true, group: true }),
    field("每次叫号播报遍数", "Times each call is said", numberInput(v, "repeats", "voice.repeats", { min: 1, max: 5 }), { path: "voice.repeats" }),
    field("静音时段", "Quiet hours", listInput(v, "quiet_hours", "voice.quiet_hours", { placeholder: "12:00-13:00" }), { path: "voice.quiet_hours", hintZh: "午休等时段", hintEn: "e.g. the lunch break" }),
    field("静音时段内叫号", "Calls in quiet hours", selectInput(v, "quiet_mode", "voice.quiet_mode", [["chime", "只响提示音", "Chime only"], ["silent", "完全静音", "Silent"]]), { path: "voice.quiet_mode" }),
    field("输出", "Output", textInput(v, "output", "voice.output"), { path: "voice.output", restart: true, hintZh: "sim、aplay 或 aplay:hw:1,0", hintEn: "sim, aplay or aplay:hw:1,0" }),
    field("语言", "Language", selectInput(v, "language", "voice.language", [["zh", "普通话", "Mandarin"], ["yue", "粤语", "Cantonese"], ["en", "英语", "English"]]), { path: "voice.language", restart: true }),
    field("语速（字/分钟）", "Speed (words a minute)", numberInput(v, "speed", "voice.speed", { min: 80, max: 450 }), { path: "voice.speed", restart: true }),
    field("播报模板", "Template", textInput(v, "template", "voice.template", { placeholder: "请{ticket}号到{window}号窗口办理" }), { path: "voice.template", restart: true, wide: true }))));

  const list = el("div", { id: "schedule" });
  const head = el("div", { class: "schedule-row reason" }, el("span", {}, tr("日期（空：每个工作日）", "Date (empty: every open day)")), el("span", {}, tr("时间", "Time")), el("span", {}, tr("内容", "Text")), el("span", {}, tr("遍数", "Times")), el("span"));
  if (v.schedule.length) list.append(head);
  v.schedule.forEach((item, i) => {
    const at = `voice.schedule[${i}]`;
    const remove = el("button", { type: "button", class: "link danger" }, tr("删除", "Remove"));
    remove.addEventListener("click", () => { v.schedule.splice(i, 1); page.changed(); page.rebuild(); });
    list.append(el("div", { class: "schedule-row", "data-field": at },
      textInput(item, "date", `${at}.date`, { type: "date" }),
      textInput(item, "at", `${at}.at`, { type: "time" }),
      textInput(item, "text", `${at}.text`, { max: 500 }),
      numberInput(item, "repeats", `${at}.repeats`, { min: 1, max: 3 }),
      remove,
      el("span", { class: "field-error", role: "alert" })));
  });
  body.append(section("定时广播", "Broadcasts at a time",
    el("p", { class: "reason" }, tr("有日期的只在那天播一次；没有日期的每个工作日播。添加后请保存。", "One with a date is said once on that day; one without, on every open day. Save after adding.")),
    list,
    addButton("添加定时广播", "Add a broadcast at a time", () => {
      // Today in the hall (the controller's clock and zone): a date, so it is said once.
      const today = ctx.feed ? ctx.feed.local().date : new Date().toISOString().slice(0, 10);
      v.schedule.push({ date: today, at: "16:30", text: "", repeats: 1 });
      page.changed();
      page.rebuild();
    })));
}
