// hallq's shared page library: language, API calls, and the live feed.
// Every page imports it: import { Feed, api, tr } from "/static/common/hallq.js";

// ------------------------------------------------------------------ language
// Chinese by default; ?lang=en (or the page's switch) picks English, remembered per device.
const LANG_KEY = "hallq.lang";

export function currentLang() {
  const asked = new URLSearchParams(location.search).get("lang");
  if (asked === "zh" || asked === "en") {
    try { localStorage.setItem(LANG_KEY, asked); } catch (_) { /* private mode */ }
    return asked;
  }
  try { return localStorage.getItem(LANG_KEY) === "en" ? "en" : "zh"; } catch (_) { return "zh"; }
}

export let lang = currentLang();

export function setLang(value) {
  lang = value === "en" ? "en" : "zh";
  try { localStorage.setItem(LANG_KEY, lang); } catch (_) { /* private mode */ }
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  document.dispatchEvent(new CustomEvent("hallq:lang", { detail: lang }));
}

/** The text in the page's language: tr("请稍候", "Please wait"). */
export function tr(zh, en) {
  return lang === "en" && en ? en : zh;
}

const CJK = /[\u3400-\u9fff]/;

/** The servers write messages for people as "中文 / English": the part in the page's language. */
export function bilingual(message) {
  const cut = message.indexOf(" / ");
  if (cut < 0) return message;
  const zh = message.slice(0, cut);
  const en = message.slice(cut + 3);
  if (!CJK.test(zh) || CJK.test(en.slice(0, 8))) return message;
  return tr(zh, en);
}

/** Fill every element with data-zh / data-en attributes in the current language. */
export function translatePage(root = document) {
  for (const el of root.querySelectorAll("[data-zh]")) {
    el.textContent = tr(el.dataset.zh, el.dataset.en);
  }
  for (const el of root.querySelectorAll("[data-zh-placeholder]")) {
    el.placeholder = tr(el.dataset.zhPlaceholder, el.dataset.enPlaceholder);
  }
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
}

// ------------------------------------------------------------------ API
/** A fresh id for one action; the same id is sent again when retrying that action. */
export function requestId(prefix = "web") {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes); // works on plain http, unlike crypto.randomUUID
  return prefix + "-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Call the controller. Resolves to {ok, status, data, error: {code, message}}; never throws
 * for an HTTP error. A network failure is retried with the same request id (so it is done once).
 */
export async function api(method, path, body = undefined, options = {}) {
  const headers = { Accept: "application/json", ...(options.headers || {}) };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    if (method !== "GET" && options.requestId !== false && body.request_id === undefined) {
      body = { ...body, request_id: requestId(options.prefix || "web") };
    }
    payload = JSON.stringify(body);
  }
  const tries = options.tries ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await fetch(path, { method, headers, body: payload, credentials: "same-origin" });
      let data = null;
      const text = await response.text();
      if (text) { try { data = JSON.parse(text); } catch (_) { data = { raw: text }; } }
      const error = response.ok ? null : (data && data.error) || { code: "http_" + response.status, message: response.statusText };
      return { ok: response.ok, status: response.status, data, error };
    } catch (err) {
      if (attempt >= tries) {
        return { ok: false, status: 0, data: null, error: { code: "offline", message: tr("无法连接控制器", "Cannot reach the controller") } };
      }
      await sleep(300 * attempt);
    }
  }
}

export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

// ------------------------------------------------------------------ the live feed
/**
 * The controller's feed: a snapshot on connect, then every event. Reconnects by itself and
 * catches up from its last sequence number; after catching up (and every few events) it
 * re-reads the hall view, so a page never shows a number older than the controller's.
 *
 *   const feed = new Feed({ onView(view) {...}, onEvent(ev) {...}, onNotice(msg) {...},
 *                           onStatus(online) {...} });
 *   feed.start();
 *
 * onView gets the whole hall view (GET /api/state); onEvent each event as it comes, for
 * pages that show a call the moment it happens.
 */
export class Feed {
  constructor(handlers = {}) {
    this.handlers = handlers;
    this.tickets = handlers.tickets || "none"; // the view's ticket list: none | waiting | all
    this.view = null;
    this.seq = 0;
    this.online = false;
    this.clockOffset = 0; // server time minus this device's time, in ms
    this.ws = null;
    this.backoff = 500;
    this.refreshTimer = null;
    this.refreshing = false;
    this.refreshAgain = false;
    this.stopped = false;
  }

  start() {
    this.connect();
    // A page left open for days: re-read the view now and then even if nothing happens
    // (the clock, away timers and screen hours move on without events).
    this.periodic = setInterval(() => this.scheduleRefresh(0), 60_000);
    return this;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.periodic);
    if (this.ws) this.ws.close();
  }

  /** Seconds since the epoch by the controller's clock (the demo's clock may be shifted). */
  now() { return (Date.now() + this.clockOffset) / 1000; }

  /** The hall's local time as {minutes, date, weekday} from the controller's clock and zone. */
  local() {
    const offset = this.view ? this.view.utc_offset_minutes : 480;
    const shifted = new Date((this.now() + offset * 60) * 1000);
    return {
      minutes: shifted.getUTCHours() * 60 + shifted.getUTCMinutes(),
      seconds: shifted.getUTCSeconds(),
      date: shifted.toISOString().slice(0, 10),
      weekday: shifted.getUTCDay(),
      hhmm: shifted.toISOString().slice(11, 16),
      hhmmss: shifted.toISOString().slice(11, 19),
    };
  }

  connect() {
    if (this.stopped) return;
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.seq > 0 ? `?since=${this.seq}` : "";
    const ws = new WebSocket(`${scheme}//${location.host}/api/feed${since}`);
    this.ws = ws;
    ws.onopen = () => { this.backoff = 500; };
    ws.onmessage = (msg) => this.receive(JSON.parse(msg.data));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.setOnline(false);
      if (this.stopped) return;
      const delay = this.backoff * (0.75 + Math.random() * 0.5); // jitter: screens do not reconnect in lockstep
      this.backoff = Math.min(this.backoff * 2, 10_000);
      setTimeout(() => this.connect(), delay);
    };
    ws.onerror = () => ws.close();
  }

  receive(msg) {
    if (msg.type === "snapshot") {
      this.seq = msg.seq;
      this.setOnline(true);
      this.acceptView(msg.state);
      if (this.tickets !== "waiting") this.scheduleRefresh(0); // the snapshot lists waiting tickets only
    } else if (msg.type === "event") {
      if (msg.seq <= this.seq) return;
      this.seq = msg.seq;
      this.setOnline(true);
      const ev = msg.event;
      if (this.handlers.onEvent) this.handlers.onEvent(ev, this);
      // A configuration change or a new day changes much: read it all at once.
      this.scheduleRefresh(ev.type === "config_changed" || ev.type === "day_started" ? 0 : 150);
    } else if (msg.type === "resync") {
      this.seq = 0; // fell too far behind: start again from a snapshot
      this.ws.close();
    } else if (this.handlers.onNotice) {
      this.handlers.onNotice(msg, this);
    }
    if (!this.online && msg.type !== "resync") this.setOnline(true);
  }

  acceptView(view) {
    if (this.view && view.seq < this.view.seq) return; // an older answer overtaken by a newer one
    this.view = view;
    this.clockOffset = view.now * 1000 - Date.now();
    if (this.handlers.onView) this.handlers.onView(view, this);
  }

  setOnline(online) {
    if (online === this.online) return;
    this.online = online;
    if (online) this.scheduleRefresh(0); // after a reconnect: never a stale number
    if (this.handlers.onStatus) this.handlers.onStatus(online, this);
  }

  /** Re-read the hall view after `delay` ms (several events in a burst make one read). */
  scheduleRefresh(delay = 150) {
    if (this.refreshTimer !== null) return;
    this.refreshTimer = setTimeout(() => { this.refreshTimer = null; this.refresh(); }, delay);
  }

  async refresh() {
    if (this.refreshing) { this.refreshAgain = true; return; }
    this.refreshing = true;
    try {
      const r = await api("GET", `/api/state?tickets=${this.tickets}`, undefined, { tries: 1 });
      if (r.ok && r.data && r.data.seq >= (this.view ? this.view.seq : 0)) this.acceptView(r.data);
    } finally {
      this.refreshing = false;
      if (this.refreshAgain) { this.refreshAgain = false; this.scheduleRefresh(50); }
    }
  }
}

// ------------------------------------------------------------------ small helpers
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** "08:40-11:50" → [520, 710] minutes of the day. */
export function parseSpan(span) {
  const [a, b] = span.split("-");
  const m = (t) => { const [h, mi] = t.split(":").map(Number); return h * 60 + mi; };
  return [m(a), m(b)];
}

/** The service's name in the page's language. */
export function serviceName(view, code) {
  const s = view && view.services.find((x) => x.code === code);
  return s ? tr(s.name, s.name_en) : code;
}

/** A window's status in words. */
export function windowStatusText(status) {
  return {
    closed: tr("未开放", "Closed"),
    idle: tr("空闲", "Free"),
    calling: tr("叫号中", "Calling"),
    serving: tr("办理中", "Serving"),
    paused: tr("暂停服务", "Suspended"),
    away: tr("请稍候", "Back soon"),
  }[status] || status;
}
