// The evaluator (评价器): a tablet facing the citizen at window N.
// idle → (a service finishes at the window) levels → [a bad level: reasons] → thanks → idle.
// What to ask about comes from the controller (/api/windows/N/evaluation): a reload offers a
// just-finished ticket again if it is still unevaluated and within the offer time.
import { Feed, api, el, lang, serviceName, setLang, tr, translatePage } from "/static/common/hallq.js";

const N = Number(location.pathname.split("/").filter(Boolean).pop());
const $ = (id) => document.getElementById(id);

const THANKS_SECONDS = 5; // the thanks stay this long, then idle
const REASON_SECONDS = 60; // nobody picks a reason: the level is sent without one

// The default reasons in English (a hall's own reasons show in Chinese in both languages).
const REASONS_EN = {
  等候时间长: "Long wait",
  服务态度: "Staff attitude",
  办事效率: "Slow service",
  材料要求不清楚: "Unclear requirements",
  其他: "Other",
};
const COLOURS = ["#16a05a", "#5cb531", "#e2b100", "#f0781e", "#dc3640"];

let view = null;
let state = "loading"; // loading | idle | levels | reasons | thanks
let offer = null; // { ticket, number, service, until } while asking
let chosen = null; // the level picked, on the reasons screen
let settled = null; // the ticket just answered or let go: not offered again by this page
let busy = false;
let timer = null;
let thanksNote = null;

function say(text) {
  if (!text) return "";
  const i = text.indexOf(" / ");
  if (i < 0) return text;
  return lang === "en" ? text.slice(i + 3) : text.slice(0, i);
}

function levels() { return view ? view.evaluation_levels : []; }

function later(seconds, then) {
  clearTimeout(timer);
  timer = setTimeout(then, Math.max(0, seconds * 1000));
}

function go(next) {
  state = next;
  document.body.dataset.state = next;
  for (const name of ["idle", "levels", "reasons", "thanks"]) {
    $(`screen-${name}`).classList.toggle("hidden", name !== next);
  }
  if (next !== "levels" && next !== "reasons") $("error").textContent = "";
  render();
}

function idle() {
  clearTimeout(timer);
  if (offer) settled = offer.ticket;
  offer = null;
  chosen = null;
  go("idle");
}

function ask(newOffer, now) {
  offer = newOffer;
  chosen = null;
  go("levels");
  later(newOffer.until - now, idle); // nobody answered: back to idle
}

function thank(note) {
  thanksNote = note;
  if (offer) settled = offer.ticket;
  offer = null;
  chosen = null;
  go("thanks");
  later(THANKS_SECONDS, idle);
}

// ------------------------------------------------------------------ the controller

let loading = false;
let loadAgain = false;

/** Ask the controller what to offer now. */
async function loadOffer() {
  if (loading) { loadAgain = true; return; }
  loading = true;
  try {
    const r = await api("GET", `/api/windows/${N}/evaluation`, undefined, { tries: 1 });
    if (!r.ok) return;
    const next = r.data.offer;
    if (next && next.ticket !== settled && (!offer || offer.ticket !== next.ticket)) {
      ask(next, r.data.now); // a new finished ticket replaces whatever was shown
    } else if (!next && offer && !busy) {
      idle(); // the offer ended (answered on a keypad, a new day, the configuration changed)
    }
  } finally {
    loading = false;
    if (loadAgain) { loadAgain = false; loadOffer(); }
  }
}

async function submit(level, reason) {
  if (busy || !offer) return;
  busy = true;
  render();
  const r = await api("POST", "/api/evaluations", { level: level.code, window: N, ticket: offer.number, reason }, { prefix: `e${N}` });
  busy = false;
  if (r.ok) {
    thank(null);
  } else if (r.error.code === "already_evaluated") {
    thank(() => tr("本次服务已经评价过了，谢谢您", "This service has already been rated. Thank you"));
  } else if (r.error.code === "not_served" || r.error.code === "ticket_not_found") {
    idle();
  } else {
    $("error").textContent = r.error.code === "offline"
      ? tr("网络故障，请再按一次", "Network problem: please tap again")
      : say(r.error.message) || r.error.code;
    render();
  }
}

function pick(level) {
  if (busy) return;
  if (level.bad && view.bad_review_reasons.length) {
    chosen = level;
    clearTimeout(timer);
    go("reasons");
    later(REASON_SECONDS, () => { if (state === "reasons" && chosen) submit(chosen, ""); });
  } else {
    submit(level, "");
  }
}

// ------------------------------------------------------------------ drawing

/** A face whose mouth goes from a smile (1) to a frown (-1). */
function face(curve, colour) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("class", "face");
  svg.setAttribute("aria-hidden", "true");
  const part = (tag, attrs) => {
    const node = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    svg.append(node);
  };
  part("circle", { cx: 50, cy: 50, r: 46, fill: colour });
  part("circle", { cx: 34, cy: 40, r: 6, fill: "#fff" });
  part("circle", { cx: 66, cy: 40, r: 6, fill: "#fff" });
  const y = 66 - curve * 4;
  part("path", { d: `M 28 ${y} Q 50 ${y + curve * 22} 72 ${y}`, stroke: "#fff", "stroke-width": 7, fill: "none", "stroke-linecap": "round" });
  return svg;
}

/** Build the buttons only when what they show changes: a view arriving mid-tap must not
 * replace the button under the citizen's finger. */
function unchanged(box, key) {
  if (box.dataset.key === key) return true;
  box.dataset.key = key;
  return false;
}

function renderLevels() {
  const all = levels();
  const box = $("level-buttons");
  for (const b of box.children) b.disabled = busy;
  $("levels-ticket").textContent = offer
    ? tr(`${offer.number} · ${serviceName(view, offer.service)}`, `Ticket ${offer.number} · ${serviceName(view, offer.service)}`)
    : "";
  if (unchanged(box, JSON.stringify([lang, all]))) return;
  box.replaceChildren(...all.map((lv, i) => {
    const curve = all.length > 1 ? 1 - (2 * i) / (all.length - 1) : 1;
    const colour = COLOURS[Math.round((i * (COLOURS.length - 1)) / Math.max(1, all.length - 1))];
    const b = el("button", {
      type: "button", class: `level${lv.bad ? " bad" : ""}`, "data-level": lv.code, disabled: busy,
      style: `--level: ${colour}`,
    }, face(curve, colour), el("span", { class: "level-name" }, tr(lv.name, lv.name_en)));
    b.addEventListener("click", () => pick(lv));
    return b;
  }));
}

function renderReasons() {
  const box = $("reason-buttons");
  for (const b of box.children) b.disabled = busy;
  $("reasons-level").textContent = chosen ? tr(`您的评价：${chosen.name}`, `Your rating: ${chosen.name_en || chosen.name}`) : "";
  if (unchanged(box, JSON.stringify([lang, view.bad_review_reasons]))) return;
  const reasons = view.bad_review_reasons.map((text) => {
    const b = el("button", { type: "button", class: "reason", "data-reason": text, disabled: busy },
      lang === "en" ? REASONS_EN[text] || text : text);
    b.addEventListener("click", () => submit(chosen, text));
    return b;
  });
  const skip = el("button", { type: "button", class: "reason skip", "data-reason": "", disabled: busy },
    tr("跳过", "Skip"));
  skip.addEventListener("click", () => submit(chosen, ""));
  box.replaceChildren(...reasons, skip);
}

function render() {
  if (!view) return;
  const w = view.windows.find((x) => x.number === N);
  $("win-number").textContent = String(N);
  $("win-label").textContent = w ? tr(`${N}号窗口 · ${w.label}`, `Window ${N} · ${w.label_en || w.label}`) : tr(`${N}号窗口`, `Window ${N}`);
  $("staff").textContent = w && w.staff
    ? tr(`服务人员：${w.staff_name || ""}（工号 ${w.staff}）`, `Served by ${w.staff_name || ""} (No. ${w.staff})`)
    : "";
  $("hall-name").textContent = tr(view.hall.name, view.hall.name_en);
  document.title = tr(`${N}号窗口 评价器`, `Window ${N} evaluator`);
  if (state === "levels") renderLevels();
  if (state === "reasons") renderReasons();
  $("thanks-note").textContent = thanksNote ? thanksNote() : tr("欢迎您再次光临", "We look forward to serving you again");
  document.body.dataset.busy = busy ? "1" : "";
}

// ------------------------------------------------------------------ start

$("btn-lang").addEventListener("click", () => {
  setLang(lang === "en" ? "zh" : "en");
  translatePage();
  render();
});

translatePage();
const feed = new Feed({
  tickets: "none",
  onView(v) {
    const first = view === null;
    view = v;
    document.body.dataset.seq = String(v.seq);
    if (first) { go("idle"); loadOffer(); } else render();
  },
  onEvent(ev) {
    if (ev.type === "service_finished" && ev.window === N) loadOffer();
    else if (ev.type === "evaluation_submitted" && offer && ev.ticket === offer.ticket && !busy) thank(null);
    else if (ev.type === "day_started" || ev.type === "config_changed") loadOffer();
  },
  onStatus(online) {
    $("offline").classList.toggle("hidden", online);
    if (online && view) loadOffer(); // something may have finished while we were away
  },
});
window.hallqFeed = feed; // for a look from the browser's console
feed.start();
