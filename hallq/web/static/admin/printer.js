// 打印机: each kiosk's printer — paper state, a status check, a test print, the ticket preview —
// and the kiosks' printer settings ([[kiosks]], which take effect after a restart).
import { el, tr } from "/static/common/hallq.js";
import { call } from "/static/admin/session.js";
import { store } from "/static/admin/store.js";
import { addButton, card, checkInput, configPage, errorText, field, healthText, pageHead, pill, section, selectInput, textInput, timeText } from "/static/admin/ui.js";

export const id = "printer";
export const zh = "打印机";
export const en = "Printers";

let refresh = null;

export function render(main, ctx) {
  main.append(pageHead(zh, en,
    "纸张状态来自取号机上报的打印机状态。测试页的号码为 000（从不发放）。",
    "The paper state is what the kiosk's printer last reported. The test page's number is 000, which is never issued."));
  const live = el("div", { id: "printers" });
  main.append(live);
  const load = async () => {
    const r = await call("GET", "/admin/api/printers");
    if (!r.ok) { live.replaceChildren(el("p", { class: "result bad" }, errorText(r))); return; }
    live.replaceChildren(...(r.data.printers.length ? r.data.printers.map((p) => printerPanel(p, ctx, load)) : [el("p", { class: "reason" }, tr("本大厅未配置取号机（[[kiosks]]）。", "This hall has no kiosks ([[kiosks]])."))]));
  };
  refresh = load;
  if (ctx.feed && ctx.feed.view) lastDevices = printerDevices(ctx.feed.view);
  load();
  const form = el("div");
  main.append(form);
  const cleanup = configPage(form, { titleZh: "取号机设置", titleEn: "Kiosk settings", build });
  return () => { refresh = null; cleanup(); };
}

// A device's health changed (the feed's view): show the new paper state.
let lastDevices = "";
function printerDevices(view) { return JSON.stringify(view.devices.filter((d) => d.kind === "printer")); }
export function onView(view) {
  const devices = printerDevices(view);
  if (devices !== lastDevices && refresh) { lastDevices = devices; refresh(); }
}

function printerPanel(p, ctx, reload) {
  const h = p.health;
  const offset = ctx.feed && ctx.feed.view ? ctx.feed.view.utc_offset_minutes : 480;
  const status = h
    ? el("div", {}, pill(h.status, healthText(h.status)), " ", el("span", { class: "reason" }, tr(h.reason, h.reason_en) || tr("纸张正常", "Paper OK")),
      el("div", { class: "reason" }, tr("上报于 ", "Reported ") + timeText(h.since, offset)))
    : el("div", {}, pill("unknown", healthText("unknown")), " ", el("span", { class: "reason" }, tr("取号机尚未上报打印机状态", "The kiosk has not reported its printer yet")));
  const result = el("p", { class: "result hidden", role: "status" });
  const showResult = (r) => {
    result.classList.remove("hidden");
    if (!r.ok) { result.className = "result bad"; result.textContent = errorText(r); return; }
    const d = r.data;
    const why = tr(d.reason, d.reason_en);
    if (d.action === "test_print") {
      result.className = `result ${d.printed ? "ok" : "bad"}`;
      result.textContent = d.printed ? tr("测试页已打印。", "The test page was printed.") + (why ? ` ${why}` : "") : tr("未能打印：", "Not printed: ") + (why || tr("原因不明", "unknown reason"));
    } else {
      result.className = `result ${d.health === "ok" ? "ok" : "bad"}`;
      result.textContent = tr("打印机状态：", "Printer status: ") + healthText(d.health) + (why ? ` · ${why}` : "");
    }
  };
  const test = el("button", { type: "button", class: "primary", "data-kiosk": p.kiosk, "data-action": "test" }, tr("打印测试页", "Print a test page"));
  const check = el("button", { type: "button", "data-action": "status" }, tr("检查状态", "Check the status"));
  for (const [button, path] of [[test, "test"], [check, "status"]]) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const r = await call("POST", `/admin/api/printers/${encodeURIComponent(p.kiosk)}/${path}`, { lang: tr("zh", "en") });
      button.disabled = false;
      showResult(r);
      if (r.ok) setTimeout(reload, 1500);
    });
  }
  if (p.last_test) showResult({ ok: true, data: p.last_test });

  // The ticket preview: what a citizen gets now, for a service, in a language.
  const services = (store.data ? store.data.services : []).map((s) => [s.code, tr(s.name, s.name_en)]);
  const service = el("select", { "aria-label": tr("业务", "Service") }, ...services.map(([code, name]) => el("option", { value: code }, name)));
  const language = el("select", { "aria-label": tr("语言", "Language") }, el("option", { value: "zh" }, "中文"), el("option", { value: "en" }, "English"));
  language.value = tr("zh", "en");
  const img = el("img", { alt: tr("号票预览", "Ticket preview"), class: "ticket-preview" });
  const draw = () => {
    img.src = `/admin/api/printers/${encodeURIComponent(p.kiosk)}/preview.png?service=${encodeURIComponent(service.value)}&lang=${language.value}&t=${Date.now()}`;
  };
  service.addEventListener("change", draw);
  language.addEventListener("change", draw);
  draw();

  return section(`取号机 ${p.kiosk}`, `Kiosk ${p.kiosk}`,
    el("div", { class: "printer-row" },
      el("div", {},
        el("p", {}, el("span", { class: "reason" }, tr("打印机：", "Printer: ")), el("code", {}, p.printer), " · ",
          el("span", { class: "reason" }, tr(`${p.paper_columns === 32 ? "58" : "80"} 毫米纸`, `${p.paper_columns === 32 ? "58" : "80"} mm paper`))),
        status,
        el("div", { class: "actions" }, test, check),
        result,
        el("p", { class: "reason" }, tr("测试打印直接使用打印机地址；取号机占用 USB 打印机时可能失败，此时请在取号机上测试。",
          "A test print opens the printer's address itself; while the kiosk holds a USB printer this may fail: test on the kiosk then."))),
      el("div", {},
        el("div", { class: "inline" }, el("span", { class: "reason" }, tr("号票预览", "Ticket preview")), service, language),
        el("div", { class: "preview" }, img))));
}

function build(data, body, page) {
  const kiosks = section("取号机设置", "Kiosk settings");
  kiosks.querySelector("h2").append(" ", el("span", { class: "badge restart" }, tr("重启后生效", "after restart")));
  data.kiosks.forEach((k, i) => {
    const at = `kiosks[${i}]`;
    kiosks.append(card(at, k.name || tr("新取号机", "New kiosk"), () => { data.kiosks.splice(i, 1); page.changed(); page.rebuild(); },
      field("名称", "Name", textInput(k, "name", `${at}.name`), { path: `${at}.name`, hintZh: "如 kiosk-1", hintEn: "e.g. kiosk-1" }),
      field("打印机地址", "Printer address", textInput(k, "printer", `${at}.printer`), { path: `${at}.printer`, wide: true,
        hintZh: "sim、usb:0416:5011、serial:/dev/ttyUSB0@9600、tcp:10.0.0.5:9100 或 file:/dev/usb/lp0", hintEn: "sim, usb:0416:5011, serial:/dev/ttyUSB0@9600, tcp:10.0.0.5:9100 or file:/dev/usb/lp0" }),
      field("纸宽", "Paper", selectInput(k, "paper_columns", `${at}.paper_columns`, [[48, "80 毫米（48 列）", "80 mm (48 columns)"], [32, "58 毫米（32 列）", "58 mm (32 columns)"]]), { path: `${at}.paper_columns` }),
      el("label", { class: "field check", "data-field": `${at}.qr_native` }, checkInput(k, "qr_native", `${at}.qr_native`), el("span", {}, tr("打印机自带二维码指令", "The printer draws QR codes itself")), el("span", { class: "field-error" }))));
  });
  kiosks.append(addButton("添加取号机", "Add a kiosk", () => {
    data.kiosks.push({ name: `kiosk-${data.kiosks.length + 1}`, printer: "sim", paper_columns: 48, qr_native: true });
    page.changed();
    page.rebuild();
  }));
  body.append(kiosks);
}
