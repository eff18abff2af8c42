// A hall screen (/screen/{id}): the hall layout, a window-top screen or the LED view, live
// from the controller's feed. The screen's settings come from the hall view's `screens`
// list, so an admin's change shows at once; the page itself keeps nothing the controller
// does not have.
//
// Speed: a call is drawn the moment its event arrives (the fast path in onEvent); the view
// read after it then redraws everything from the controller's figures. Calls drawn by the
// fast path that are newer than a view are drawn again over it, so a view that was already
// on its way never brings back an older number.

import { Feed, api, el } from "/static/common/hallq.js";
import { fitBoards, renderBuses } from "./led.js";
import {
  isLit, nextOpening, noticesFor, resolveScreen, showsCall, showsService, showsWindow, viewDate,
} from "./schedule.js";
import { ISSUING, bi, dateText, fillLabels, openingText, plain, statusText } from "./text.js";

const TICK_MS = 1000; // the clock, the screen's hours and the notices are checked this often
const FRESH_MS = 4000; // a new call is highlighted this long (more while the voice says it)
const SPEAKING_MAX_MS = 30_000; // a "speaking" without its "end" (feed dropped) expires
const BOARDS_POLL_MS = 2000; // the LED view re-reads the boards this often, besides events
const NOTICE_SPEED = 0.11; // marquee speed, in screen heights a second (about 120 px at 1080)

const screenId = (() => {
  const raw = location.pathname.replace(/^\/screen\/?/, "").replace(/\/+$/, "");
  try { return decodeURIComponent(raw); } catch (_) { return raw; } // a malformed %-escape
})();
const params = new URLSearchParams(location.search);
// ?lang=zh|en|both overrides the screen's language; ?awake=1 ignores its hours (previews).
const langOverride = { zh: "zh", en: "en", both: "zh+en", "zh+en": "zh+en", "zh en": "zh+en" }[params.get("lang")];
const awake = params.get("awake") === "1";

const state = {
  view: null,
  screen: null, // the resolved settings, or null: an unknown screen
  mounted: "", // the layout whose template is in #stage
  pending: [], // calls drawn by the fast path, newer than the last view: {number, window, service, seq, recall}
  current: null, // the newest call shown: {number, window, service}
  lastKey: "", // number@window of the newest call highlighted, to highlight only a new one
  drawn: false, // the layout has been drawn once (what it shows first is not "new")
  speaking: null, // {ticket, window, until}
  language: "zh+en", // the screen's language: zh, en or zh+en
  tiles: new Map(), // window number → its tile (hall layout)
  tileKey: "", // the windows the tiles were made for
  serviceCount: -1, // the services the waiting list was laid out for
  lit: null,
  noticeKey: "",
  dateAsked: "",
  boardsTimer: null,
  boardsAgain: false,
  boardsBusy: false,
};

const $ = (sel) => document.querySelector(sel);
/** Set a text only when it differs (no needless DOM mutation on every view). */
const setText = (node, text) => { if (node.textContent !== text) node.textContent = text; };
const stage = $("#stage");
fillLabels(document);

// ------------------------------------------------------------------ settings and layout

function applySettings(screen) {
  const body = document.body;
  const theme = screen ? screen.theme : "dark";
  const language = langOverride || (screen ? screen.language : "zh+en");
  for (const t of ["dark", "light", "contrast"]) body.classList.toggle(`theme-${t}`, t === theme);
  body.classList.toggle("lang-zh", language === "zh");
  body.classList.toggle("lang-en", language === "en");
  body.classList.toggle("lang-both", language === "zh+en");
  document.documentElement.lang = language === "en" ? "en" : "zh-CN";
  state.language = language;
  const layout = screen ? screen.layout : "unknown";
  const key = `${layout}:${screen && screen.window}`;
  if (state.mounted !== key) mount(layout, key);
  document.title = screen ? (screen.name || screen.id) : `hallq /screen/${screenId}`;
}

function mount(layout, key) {
  const template = $(`#tpl-${layout === "window-top" ? "window" : layout}`);
  const node = template.content.cloneNode(true);
  fillLabels(node);
  stage.replaceChildren(node);
  state.mounted = key;
  state.current = null;
  state.lastKey = "";
  state.drawn = false;
  state.noticeKey = "";
  state.tiles = new Map();
  state.tileKey = "";
  state.serviceCount = -1;
  document.body.dataset.layout = layout;
  if (layout === "led") refreshBoards();
}

// ------------------------------------------------------------------ the hall layout

function renderHall(view, screen) {
  $("#hall-name").replaceChildren(bi(view.hall.name, view.hall.name_en));
  $("#hours").replaceChildren(view.hours.length ? view.hours.join("  ") : bi("今日休息", "Closed today"));
  const issuing = $("#issuing");
  const closed = !view.issuing.open && ISSUING[view.issuing.code] && view.issuing.code !== "closed_day";
  issuing.classList.toggle("hidden", !closed);
  if (closed) issuing.replaceChildren(bi(...ISSUING[view.issuing.code]));

  const calls = view.recent_calls.filter((c) => showsCall(screen, c));
  const newest = calls[0] || null;
  setCurrent(newest, newest ? isRecalled(view, newest) : false, "view");
  renderRecent(calls.slice(1, 1 + screen.recent_calls));
  renderTiles(view.windows.filter((w) => showsWindow(screen, w.number)));
  renderServices(view.services.filter((s) => s.enabled && showsService(screen, s.code)));
}

function isRecalled(view, call) {
  const w = view.windows.find((x) => x.number === call.window);
  return !!(w && w.ticket && w.ticket.number === call.number && w.ticket.recalls > 0 && w.status === "calling");
}

function serviceLabel(code) {
  const s = state.view && state.view.services.find((x) => x.code === code);
  return s ? bi(s.name, s.name_en) : bi(code || "");
}

function windowLine(n) {
  return el(
    "span",
    { class: "bi stack" },
    el("span", { class: "zh" }, "请到 ", el("b", {}, String(n)), " 号窗口"),
    el("span", { class: "en" }, "Please go to window ", el("b", {}, String(n))),
  );
}

/**
 * Show `call` as the newest call (null: none yet today). `how`: "event" (just called:
 * highlight it), "view" (highlight it if it is new to this screen) or "again" (a call drawn
 * before, drawn again over an older view: no highlight).
 */
function setCurrent(call, recall, how) {
  const now = $("#now");
  const number = $("#current-number");
  setText(number, call ? call.number : "");
  number.style.setProperty("--chars", String(Math.max(4, call ? call.number.length : 4)));
  now.classList.toggle("empty", !call);
  now.dataset.number = call ? call.number : "";
  now.dataset.window = call ? String(call.window) : "";
  $("#current-window").replaceChildren(call ? windowLine(call.window) : "");
  $("#current-recall").classList.toggle("hidden", !recall);
  $("#current-service").replaceChildren(call && call.service ? serviceLabel(call.service) : "");
  const key = call ? `${call.number}@${call.window}` : "";
  // A view older than calls already drawn from their events is about to be drawn over:
  // its newest call is not new.
  const quiet = how === "again" || (how === "view" && state.pending.length > 0);
  if (call && !quiet && (how === "event" || (state.drawn && key !== state.lastKey))) highlight(now, number);
  if (!quiet) state.lastKey = key;
  state.current = call;
}

function recentItem(call) {
  return el(
    "li",
    { class: "recent-item", "data-number": call.number, "data-at": String(call.window) },
    el("span", { class: "rn" }, call.number),
    el(
      "span",
      { class: "rw" },
      bi(`${call.window}号窗口`, `Window ${call.window}`, "long"),
      bi(`${call.window}号`, `W${call.window}`, "short"),
    ),
  );
}

/**
 * Replace a node's content only when `key` (what it shows) changed. A view arrives after
 * every few events; redrawing unchanged parts would make the browser lay out and paint the
 * whole screen each time, and a call arriving meanwhile would wait for that.
 */
function setContent(node, key, make) {
  if (node.dataset.k === key) return;
  node.dataset.k = key;
  node.replaceChildren(...[make()].flat());
}

function renderRecent(calls) {
  const key = calls.map((c) => `${c.number}@${c.window}`).join(",");
  setContent($("#recent"), key, () => calls.map(recentItem));
  $("#now").classList.toggle("no-recent", calls.length === 0);
}

function tileFor(w) {
  const tile = el(
    "div",
    { class: "tile", "data-window": String(w.number) },
    el("div", { class: "tile-head" }, el("b", { class: "wn" }, String(w.number)), el("span", { class: "wl" })),
    el("div", { class: "number" }),
    el("div", { class: "state" }),
  );
  return tile;
}

function renderTiles(windows) {
  const grid = $("#windows");
  const key = windows.map((w) => w.number).join(",");
  if (key !== state.tileKey) {
    state.tiles = new Map(windows.map((w) => [w.number, tileFor(w)]));
    grid.replaceChildren(...state.tiles.values());
    state.tileKey = key;
    fitGrid(grid, windows.length, 1.25, 0.3);
  }
  for (const w of windows) {
    const tile = state.tiles.get(w.number);
    const ticket = w.ticket && (w.status === "calling" || w.status === "serving") ? w.ticket : null;
    setTile(tile, w.status, ticket ? ticket.number : "", ticket && w.status === "calling" && ticket.recalls > 0);
    setContent(tile.querySelector(".wl"), `${w.label}|${w.label_en}`, () => bi(w.label, w.label_en));
  }
}

function setTile(tile, status, number, recall) {
  if (tile.dataset.status !== status) tile.dataset.status = status;
  tile.classList.toggle("no-ticket", !number);
  setText(tile.querySelector(".number"), number);
  setContent(tile.querySelector(".state"), recall ? "recall" : status, () =>
    recall ? bi("重呼", "Recall") : statusText(status));
}

function renderServices(services) {
  const list = $("#services");
  const layout = services.map((s) => `${s.code}|${s.name}|${s.name_en}`).join(",");
  setContent(list, layout, () => services.map((s) => el(
    "li",
    { class: "svc", "data-service": s.code },
    el("div", { class: "svc-name" }, el("span", { class: "svc-zh" }, s.name), s.name_en ? el("span", { class: "svc-en" }, s.name_en) : null),
    el("div", { class: "svc-wait" }, el("b", {}, ""), bi("人等候", "waiting", "unit")),
    el("div", { class: "svc-est" }),
  )));
  for (const s of services) {
    const row = list.querySelector(`[data-service="${CSS.escape(s.code)}"]`);
    if (!row) continue;
    setText(row.querySelector(".svc-wait b"), String(s.waiting));
    const minutes = s.estimate_minutes === null || s.estimate_minutes === undefined ? null : Math.round(s.estimate_minutes);
    const estimateKey = s.windows_open === 0 ? "none" : String(minutes);
    setContent(row.querySelector(".svc-est"), estimateKey, () => {
      if (s.windows_open === 0) return bi("暂无窗口", "No window open");
      if (minutes === null) return bi("—");
      return waitText(s.estimate_minutes);
    });
  }
  const total = services.reduce((sum, s) => sum + s.waiting, 0);
  setContent($("#waiting-total"), String(total), () => bi(`共 ${total} 人`, `${total} in all`));
  if (state.serviceCount !== services.length) {
    state.serviceCount = services.length;
    fitGrid(list, services.length, 3.2, 0.12);
  }
}

/** An estimated wait: 「约 25 分钟」, 「约 2 小时 10 分」, or 「无需等候」 under a minute. */
function waitText(minutes) {
  if (minutes < 1) return bi("无需等候", "No wait");
  const m = Math.round(minutes);
  if (m < 60) return bi(`约 ${m} 分钟`, `~${m} min`);
  const h = Math.floor(m / 60);
  const rest = m % 60;
  return rest
    ? bi(`约 ${h} 小时 ${rest} 分`, `~${h} h ${rest} min`)
    : bi(`约 ${h} 小时`, `~${h} h`);
}

/**
 * Lay `n` items out in the grid `node` so each is as large as it can be at about
 * `aspect` (width / height): the columns are chosen for the panel's own shape. Items are
 * at most `maxHeight` of the screen's height (a few items do not become huge blocks).
 */
function fitGrid(node, n, aspect, maxHeight) {
  const width = node.clientWidth || 1;
  const height = node.clientHeight || 1;
  let best = 1;
  let bestSize = 0;
  for (let cols = 1; cols <= Math.max(1, n); cols++) {
    const rows = Math.ceil(n / cols);
    const size = Math.min(width / cols / aspect, height / rows);
    if (size > bestSize + 0.5) { best = cols; bestSize = size; }
  }
  const rows = Math.max(1, Math.ceil(n / best));
  const cap = innerHeight * maxHeight;
  node.style.gridTemplateColumns = `repeat(${best}, minmax(0, 1fr))`;
  node.style.gridTemplateRows = height / rows > cap
    ? `repeat(${rows}, ${Math.floor(cap)}px)`
    : `repeat(${rows}, minmax(0, 1fr))`;
  node.style.alignContent = "start";
}

// ------------------------------------------------------------------ the window-top layout

const WINDOW_WORDS = {
  calling: [["请到本窗口办理", "Please come to this window"], ["", ""]],
  serving: [["正在办理", "Now serving"], ["", ""]],
  idle: [["空闲", "Free"], ["请取号等候叫号", "Please take a ticket and wait for your call"]],
  away: [["请稍候", "Back soon"], ["工作人员马上回来", "Staff will be back shortly"]],
  paused: [["暂停服务", "Service suspended"], ["请到其他窗口办理", "Please use another window"]],
  closed: [["未开放", "Closed"], ["", ""]],
};

function renderWindowTop(view, screen) {
  const w = view.windows.find((x) => x.number === screen.window);
  if (!w) return;
  const main = $("#wt-main");
  main.dataset.window = String(w.number);
  $("#wt-title").replaceChildren(el(
    "span",
    { class: "bi" },
    el("span", { class: "zh" }, el("b", {}, String(w.number)), "号窗口"),
    el("span", { class: "en" }, "Window ", el("b", {}, String(w.number))),
  ));
  $("#wt-label").replaceChildren(bi(w.label, w.label_en));
  const ticket = w.ticket && (w.status === "calling" || w.status === "serving") ? w.ticket : null;
  setWindowTop(w.status, ticket ? ticket.number : "", !!(ticket && w.status === "calling" && ticket.recalls > 0), "view");
}

function setWindowTop(status, number, recall, how) {
  const main = $("#wt-main");
  const numberNode = $("#current-number");
  main.dataset.status = status;
  main.classList.toggle("no-ticket", !number);
  setText(numberNode, number);
  numberNode.style.setProperty("--chars", String(Math.max(4, number.length)));
  const [words, sub] = WINDOW_WORDS[status] || [[status, status], ["", ""]];
  const line = recall ? ["重呼 · 请到本窗口办理", "Recall: please come to this window"] : words;
  $("#wt-state").replaceChildren(bi(...line));
  $("#wt-sub").replaceChildren(sub[0] ? bi(...sub) : "");
  const quiet = how === "again" || (how === "view" && state.pending.length > 0);
  if (number && status === "calling" && !quiet && (how === "event" || (state.drawn && number !== state.lastKey))) {
    highlight(main, numberNode);
  }
  if (!quiet) state.lastKey = number;
  state.current = number ? { number, window: Number(main.dataset.window) } : null;
}

// ------------------------------------------------------------------ the LED layout

/** Re-read the boards soon (several events in a burst make one read). */
function scheduleBoards(delay = 250) {
  if (state.boardsTimer !== null) return;
  state.boardsTimer = setTimeout(() => { state.boardsTimer = null; refreshBoards(); }, delay);
}

async function refreshBoards() {
  if (state.boardsBusy) { state.boardsAgain = true; return; }
  state.boardsBusy = true;
  try {
    const r = await api("GET", "/api/boards", undefined, { tries: 1 });
    const main = $("#led-buses");
    if (r.ok && main && document.body.dataset.layout === "led") {
      if (renderBuses(main, r.data.buses)) fitBoards(main);
      main.dataset.loaded = "1";
    }
  } finally {
    state.boardsBusy = false;
    if (state.boardsAgain) { state.boardsAgain = false; scheduleBoards(100); }
  }
}

// ------------------------------------------------------------------ the unknown screen

function renderUnknown(view) {
  $("#unknown-id").textContent = screenId || "…";
  $("#known-screens").replaceChildren(...view.screens.map((s) => el(
    "li", {}, el("a", { href: `/screen/${encodeURIComponent(s.id)}` }, `/screen/${s.id}`),
    " ", el("span", { class: "muted" }, `${s.name || ""} (${s.layout})`),
  )));
}

// ------------------------------------------------------------------ highlights

/** A new call: pulse the number and light its panel for a few seconds. */
function highlight(panel, number) {
  panel.classList.add("fresh");
  clearTimeout(panel.freshTimer);
  panel.freshTimer = setTimeout(() => panel.classList.remove("fresh"), FRESH_MS);
  if (number.animate) {
    number.animate(
      [{ transform: "scale(1)" }, { transform: "scale(1.06)" }, { transform: "scale(1)" }],
      { duration: 650, iterations: 3, easing: "ease-in-out" },
    );
  }
}

/** Mark what the voice is saying now, wherever this screen shows that call. */
function applySpeaking() {
  for (const node of document.querySelectorAll(".speaking")) node.classList.remove("speaking");
  const s = state.speaking;
  if (!s || !s.ticket) return;
  const matches = (number, window) => number === s.ticket && (s.window == null || String(window) === String(s.window));
  const now = $("#now");
  if (now && matches(now.dataset.number, now.dataset.window)) now.classList.add("speaking");
  for (const item of document.querySelectorAll(".recent-item")) {
    if (matches(item.dataset.number, item.dataset.at)) item.classList.add("speaking");
  }
  const tile = document.querySelector(`.tile[data-window="${CSS.escape(String(s.window))}"]`);
  if (tile && tile.querySelector(".number").textContent === s.ticket) tile.classList.add("speaking");
  const main = $("#wt-main");
  if (main && main.dataset.window === String(s.window) && $("#current-number").textContent === s.ticket) {
    main.classList.add("speaking");
  }
}

// ------------------------------------------------------------------ the feed

function onView(view, feed) {
  state.view = view;
  state.pending = state.pending.filter((p) => p.seq > view.seq);
  const screen = resolveScreen(view, screenId);
  state.screen = screen;
  document.body.classList.remove("starting");
  applySettings(screen);
  if (!screen) renderUnknown(view);
  else if (screen.layout === "hall") renderHall(view, screen);
  else if (screen.layout === "window-top") renderWindowTop(view, screen);
  else if (screen.layout === "led") {
    $("#hall-name").replaceChildren(bi(view.hall.name, view.hall.name_en));
    scheduleBoards(0);
  }
  for (const call of state.pending) drawCall(call, false);
  state.drawn = true;
  applySpeaking();
  tick(feed);
}

function onEvent(ev, feed) {
  const screen = state.screen;
  if (!screen || !state.view) return;
  if (screen.layout === "led") { scheduleBoards(); return; }
  if (ev.type !== "ticket_called" && ev.type !== "ticket_recalled") return;
  const call = {
    number: ev.display,
    window: ev.window,
    service: ev.service ?? serviceAt(ev.window, ev.display),
    seq: ev.seq,
    recall: ev.type === "ticket_recalled",
  };
  const ours = screen.layout === "hall" ? showsCall(screen, call) : call.window === screen.window;
  if (!ours) return;
  state.pending.push(call);
  drawCall(call, true);
  applySpeaking();
}

/** The service of the ticket at a window (a recall event does not say it). */
function serviceAt(window, number) {
  const w = state.view.windows.find((x) => x.number === window);
  if (w && w.ticket && w.ticket.number === number) return w.ticket.service;
  const c = state.view.recent_calls.find((x) => x.number === number);
  return c ? c.service : undefined;
}

/** Draw one call straight into the page (the fast path, and again over an older view). */
function drawCall(call, fresh) {
  const screen = state.screen;
  if (screen.layout === "window-top") {
    setWindowTop("calling", call.number, call.recall, fresh ? "event" : "again");
    return;
  }
  const prev = state.current;
  const same = prev && prev.number === call.number && prev.window === call.window;
  if (!same) {
    const list = $("#recent");
    for (const item of list.querySelectorAll(".recent-item")) {
      if (item.dataset.number === call.number) item.remove(); // a recalled ticket moves up
    }
    if (prev) list.prepend(recentItem(prev));
    while (list.children.length > screen.recent_calls) list.lastElementChild.remove();
    $("#now").classList.toggle("no-recent", list.children.length === 0);
  }
  setCurrent({ number: call.number, window: call.window, service: call.service }, call.recall, fresh ? "event" : "again");
  const tile = state.tiles && state.tiles.get(call.window);
  if (tile) {
    setTile(tile, "calling", call.number, call.recall);
    if (fresh) {
      tile.classList.add("fresh");
      clearTimeout(tile.freshTimer);
      tile.freshTimer = setTimeout(() => tile.classList.remove("fresh"), FRESH_MS);
    }
  }
}

function onNotice(msg) {
  if (msg.type !== "speaking") return;
  if (msg.phase === "start" && msg.ticket) {
    state.speaking = { ticket: msg.ticket, window: msg.window, until: Date.now() + SPEAKING_MAX_MS };
  } else if (msg.phase === "end" && (!state.speaking || state.speaking.ticket === msg.ticket)) {
    state.speaking = null;
  }
  applySpeaking();
}

function onStatus(online) {
  $("#offline").classList.toggle("hidden", online);
  document.body.classList.toggle("offline", !online);
}

// ------------------------------------------------------------------ clock, hours, notices

function tick(feed) {
  const view = state.view;
  if (!view) return;
  const local = feed.local();
  for (const node of document.querySelectorAll("#clock")) node.textContent = local.hhmm;
  const dateNode = $("#date");
  if (dateNode && dateNode.dataset.date !== local.date) {
    dateNode.replaceChildren(dateText(local.date));
    dateNode.dataset.date = local.date;
  }
  if (state.speaking && Date.now() > state.speaking.until) { state.speaking = null; applySpeaking(); }
  // The view's hours are for the view's day: past midnight, read today's.
  if (viewDate(view) !== local.date && state.dateAsked !== local.date) {
    state.dateAsked = local.date;
    feed.scheduleRefresh(0);
  }
  const screen = state.screen;
  const lit = !screen || awake || isLit(screen, view, local);
  if (lit !== state.lit) {
    const waking = lit && state.lit === false;
    state.lit = lit;
    document.body.classList.toggle("asleep", !lit);
    $("#asleep").classList.toggle("hidden", lit);
    $("#asleep").setAttribute("aria-hidden", lit ? "true" : "false");
    state.noticeKey = ""; // measured again once visible
    // Drawn while hidden, the grids could not be measured: lay them out again now.
    if (waking) { relayout(); return; }
  }
  if (!lit) {
    $("#asleep-clock").textContent = local.hhmm;
    const next = openingText(nextOpening(view, local.date));
    const asleepDate = $("#asleep-date");
    if (asleepDate.dataset.date !== local.date) {
      asleepDate.replaceChildren(dateText(local.date));
      asleepDate.dataset.date = local.date;
    }
    $("#asleep-next").replaceChildren(next || "");
    return;
  }
  if (screen && (screen.layout === "hall" || screen.layout === "window-top")) {
    const notices = noticesFor(view, screen.id, local, screen.layout !== "hall");
    renderNotices(notices, screen.layout === "hall" ? view.hall : null);
  }
}

/** The notices in the marquee; the hall's footer when there are none (hall layout). */
function renderNotices(notices, hall) {
  const footer = $("#notices");
  const language = state.language;
  const texts = notices.map((n) => plain(language, n.text, n.text_en));
  if (!texts.length && hall && hall.footer) texts.push(plain(language, hall.footer, hall.footer_en));
  const text = texts.join("　　◆　　");
  const key = `${language}|${text}|${innerWidth}x${innerHeight}`;
  if (key === state.noticeKey) return;
  state.noticeKey = key;
  footer.classList.toggle("hidden", !text);
  const marquee = $("#marquee");
  const span = $("#notice-text");
  span.textContent = text;
  marquee.classList.remove("scrolling");
  if (!text) return;
  const textWidth = span.scrollWidth;
  const room = marquee.clientWidth;
  if (textWidth > room) {
    // From the right edge until the whole text has passed; speed in screen heights a second.
    const seconds = (room + textWidth) / (innerHeight * NOTICE_SPEED);
    span.style.setProperty("--dur", `${seconds.toFixed(1)}s`);
    marquee.classList.add("scrolling");
  }
}

// ------------------------------------------------------------------ start

const feed = new Feed({ tickets: "none", onView, onEvent, onNotice, onStatus });
window.__feed = feed; // for tests and the benchmark
window.__screen = {
  state,
  id: screenId,
  check: () => tick(feed),
  refreshBoards,
};
feed.start();
setInterval(() => tick(feed), TICK_MS);
setInterval(() => { if (state.mounted.startsWith("led") && state.lit) scheduleBoards(0); }, BOARDS_POLL_MS);
/** Lay the page out again from the last view (a new size, or shown after being hidden). */
function relayout() {
  state.noticeKey = "";
  state.tileKey = "";
  state.serviceCount = -1;
  const boards = $("#led-buses");
  if (boards) { delete boards.dataset.shape; scheduleBoards(0); } // drawn and fitted again
  if (state.view) onView(state.view, feed);
}
addEventListener("resize", relayout);
