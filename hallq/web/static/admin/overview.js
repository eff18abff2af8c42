// 总览: the hall right now — windows, queues and devices, live from the feed.
import { el, serviceName, tr, windowStatusText } from "/static/common/hallq.js";
import { healthText, pageHead, pill, timeText } from "/static/admin/ui.js";

export const id = "overview";
export const zh = "实时总览";
export const en = "Live overview";

export function render(main, ctx) {
  main.append(pageHead(zh, en, "窗口、排队和设备的实时状态。", "Windows, queues and devices as they are now."));
  const body = el("div", { id: "overview" });
  main.append(body);
  const draw = () => { if (ctx.feed && ctx.feed.view) body.replaceChildren(...content(ctx.feed.view, ctx.feed)); };
  drawer = draw;
  draw();
  if (!ctx.feed || !ctx.feed.view) body.append(el("p", { class: "reason" }, tr("正在连接…", "Connecting…")));
  const timer = setInterval(draw, 15_000); // away timers move on without events
  return () => { clearInterval(timer); drawer = null; };
}

// The app calls onView of the current page with each new hall view.
let drawer = null;
export function onView() { if (drawer) drawer(); }

function awayMinutes(w, feed) {
  if (w.status !== "away" || !w.since) return 0;
  return Math.max(0, (feed.now() - w.since) / 60);
}

function content(view, feed) {
  const offset = view.utc_offset_minutes;
  const open = view.windows.filter((w) => w.status !== "closed").length;
  const troubled = view.devices.filter((d) => d.status === "error" || d.status === "warning").length;
  const stats = el("div", { class: "stats" },
    stat(tr("等候人数", "Waiting"), String(view.waiting)),
    stat(tr("取号", "Ticket issuing"), view.issuing.open ? tr("正在取号", "Open") : tr("已停止", "Closed"), view.issuing.open ? "ok" : "bad",
      view.issuing.open ? "" : view.issuing.message),
    stat(tr("今日时段", "Today's hours"), view.hours.length ? view.hours.map((h) => el("span", { class: "span" }, h)) : tr("今日不开放", "Closed today")),
    stat(tr("开放窗口", "Windows open"), `${open} / ${view.windows.length}`),
    stat(tr("设备告警", "Device alerts"), String(troubled), troubled ? "bad" : "ok"),
  );

  const thresholds = view.away_thresholds_minutes || [];
  const windowRows = view.windows.map((w) => {
    const away = awayMinutes(w, feed);
    const passed = thresholds.filter((t) => away >= t).length;
    const awayCell = w.status === "away"
      ? el("span", { class: passed >= 2 ? "away-2" : passed === 1 ? "away-1" : "" }, tr(`${Math.floor(away)} 分钟`, `${Math.floor(away)} min`))
      : "—";
    return el("tr", { "data-window": w.number },
      el("td", { class: "num" }, String(w.number)),
      el("td", {}, tr(w.label, w.label_en)),
      el("td", {}, pill(w.status, windowStatusText(w.status)), w.reason ? el("div", { class: "reason" }, w.reason) : null),
      el("td", {}, w.staff_name || w.staff || "—"),
      el("td", { class: "ticket" }, w.ticket ? w.ticket.number : "—"),
      el("td", {}, awayCell),
      el("td", { class: "num" }, String(w.served_today)));
  });
  const windows = el("section", { class: "panel" },
    el("h2", {}, tr("窗口", "Windows"),
      el("small", { class: "reason" }, thresholds.length ? tr(`离开提醒：${thresholds.join(" / ")} 分钟`, `Away alerts at ${thresholds.join(" / ")} min`) : "")),
    el("table", { class: "list", id: "windows-table" },
      el("thead", {}, el("tr", {}, ...[["窗口", "No."], ["功能", "Label"], ["状态", "Status"], ["工作人员", "Staff"], ["当前号", "Ticket"], ["离开时长", "Away"], ["今日已办", "Served"]]
        .map(([z, e], i) => el("th", { class: i === 0 || i === 6 ? "num" : "" }, tr(z, e))))),
      el("tbody", {}, ...windowRows)));

  const queueRows = view.services.map((s) => el("tr", { class: s.enabled ? "" : "off" },
    el("td", {}, serviceName(view, s.code), s.enabled ? null : el("span", { class: "badge off" }, tr("已停用", "disabled"))),
    el("td", { class: "num" }, String(s.waiting)),
    el("td", { class: "num" }, s.estimate_minutes === null ? "—" : tr(`${Math.round(s.estimate_minutes)} 分钟`, `${Math.round(s.estimate_minutes)} min`)),
    el("td", { class: "num" }, String(s.windows_open)),
    el("td", { class: "num" }, s.daily_quota ? `${s.issued_today} / ${s.daily_quota}` : String(s.issued_today))));
  const queues = el("section", { class: "panel" }, el("h2", {}, tr("排队", "Queues")),
    el("table", { class: "list", id: "queues-table" },
      el("thead", {}, el("tr", {}, ...[["业务", "Service"], ["等候", "Waiting"], ["预计等候", "Est. wait"], ["开放窗口", "Open"], ["今日已取", "Issued"]]
        .map(([z, e], i) => el("th", { class: i ? "num" : "" }, tr(z, e))))),
      el("tbody", {}, ...queueRows)));

  const deviceRows = view.devices.map((d) => el("tr", { "data-device": d.device },
    el("td", { class: "nowrap" }, deviceName(d), el("div", { class: "reason" }, kindName(d.kind))),
    el("td", {}, pill(d.status, healthText(d.status))),
    el("td", {}, tr(d.reason, d.reason_en) || "—", el("div", { class: "reason" }, tr("自 ", "since ") + timeText(d.since, offset)))));
  const devices = el("section", { class: "panel" }, el("h2", {}, tr("设备", "Devices")),
    view.devices.length
      ? el("table", { class: "list", id: "devices-table" },
        el("thead", {}, el("tr", {}, ...[["设备", "Device"], ["状态", "Status"], ["原因", "Reason"]].map(([z, e]) => el("th", {}, tr(z, e))))),
        el("tbody", {}, ...deviceRows))
      : el("p", { class: "reason" }, tr("尚无设备报告状态。", "No device has reported yet.")));

  return [stats, el("div", { class: "columns" }, windows, el("div", {}, queues, devices))];
}

// The kinds of device in the hall's words; an unknown kind is shown as it is.
const KINDS = {
  uplink: ["中心服务器上传", "Uplink to the central server"],
  printer: ["打印机", "Printer"],
  voice: ["叫号语音", "Caller voice"],
  led: ["LED 屏", "LED board"],
  keypad: ["呼叫器", "Keypad"],
  buttons: ["按键", "Buttons"],
};

function kindName(kind) {
  const k = KINDS[kind];
  return k ? tr(k[0], k[1]) : kind;
}

function deviceName(d) {
  return d.device === d.kind && KINDS[d.kind] ? kindName(d.kind) : d.device;
}

function stat(label, value, kind = "", note = "") {
  return el("div", { class: "stat" }, el("div", { class: "k" }, label), el("div", { class: `v ${kind}` }, value),
    note ? el("div", { class: "reason" }, note) : null);
}
