// The LED view: each LED board (条屏) drawn as a strip showing the text the driver last sent it
// (GET /api/boards). A strip is as many columns wide as the board (an ASCII character one
// column, a Chinese character two, as the boards count them); a longer text scrolls, as the
// boards scroll it. Only the boards whose text changed are redrawn, so a scrolling text runs
// on undisturbed while the page re-reads the boards.

import { el } from "/static/common/hallq.js";
import { columns } from "./schedule.js";
import { bi } from "./text.js";

const HEALTH = {
  ok: ["正常", "OK"],
  warning: ["警告", "Warning"],
  error: ["故障", "Fault"],
  unknown: ["未知", "Unknown"],
};

const SECONDS_PER_COLUMN = 0.14; // a board scrolls about 7 columns a second

/**
 * Draw the buses into `main`. Returns true when the set of boards changed (the caller then
 * fits them to the screen again), false when only texts and health were updated.
 */
export function renderBuses(main, buses) {
  main.querySelector("#led-none").classList.toggle("hidden", buses.length > 0);
  const shape = JSON.stringify(buses.map((b) => [b.name, b.boards.map((x) => [x.address, x.window, x.width])]));
  const rebuild = main.dataset.shape !== shape;
  if (rebuild) {
    main.querySelectorAll(".led-bus").forEach((node) => node.remove());
    for (const bus of buses) main.append(busSection(bus));
    main.dataset.shape = shape;
  }
  for (const bus of buses) {
    const section = main.querySelector(`.led-bus[data-bus="${CSS.escape(bus.name)}"]`);
    section.querySelector(".led-bus-head").replaceWith(busHead(bus));
    for (const board of bus.boards) {
      const figure = section.querySelector(`.led-board[data-address="${board.address}"]`);
      setStrip(figure, board);
    }
  }
  return rebuild;
}

function busHead(bus) {
  const [zh, en] = HEALTH[bus.status] || HEALTH.unknown;
  return el(
    "header",
    { class: "led-bus-head" },
    el("b", { class: "led-bus-name" }, bus.name),
    el("span", { class: "led-meta" }, `${bus.framing} · ${bus.simulated ? "sim" : bus.port}`),
    el("span", { class: `led-health health-${bus.status}` }, bi(zh, en)),
    bus.reason ? el("span", { class: "led-reason" }, bi(bus.reason, bus.reason_en)) : null,
  );
}

function busSection(bus) {
  const windows = el("div", { class: "led-boards kind-window" });
  const halls = el("div", { class: "led-boards kind-hall" });
  const ordered = [...bus.boards].sort((a, b) => (a.window ?? 0) - (b.window ?? 0) || a.address - b.address);
  for (const board of ordered) (board.kind === "hall" ? halls : windows).append(boardFigure(board));
  return el(
    "section",
    { class: "led-bus", "data-bus": bus.name },
    el("header", { class: "led-bus-head" }),
    windows.children.length ? windows : null,
    halls.children.length ? halls : null,
  );
}

function boardFigure(board) {
  const label = board.kind === "hall"
    ? bi("大厅屏", "Hall board")
    : bi(`${board.window}号窗口`, `Window ${board.window}`);
  const strip = el("div", { class: "led-strip" }, el("span", { class: "led-text" }));
  strip.style.setProperty("--cols", String(board.width));
  return el(
    "figure",
    { class: `led-board kind-${board.kind}`, "data-address": board.address, "data-window": board.window ?? undefined },
    el("figcaption", {}, label, el("small", { class: "led-address" }, `#${board.address}`)),
    strip,
  );
}

/** Show a board's text, unless it already shows it (a scrolling text keeps scrolling). */
function setStrip(figure, board) {
  const key = `${board.known ? 1 : 0}|${board.text}`;
  if (figure.dataset.key === key) return;
  figure.dataset.key = key;
  figure.dataset.text = board.text;
  const strip = figure.querySelector(".led-strip");
  strip.querySelector(".led-text").replaceChildren(...[...board.text].map(cell));
  strip.classList.toggle("unknown", !board.known);
  const used = board.columns ?? columns(board.text);
  const scrolls = used > board.width;
  strip.classList.toggle("scrolling", scrolls);
  if (scrolls) {
    // From the right edge until the whole text has passed, as the board does.
    strip.style.setProperty("--dur", `${((used + board.width) * SECONDS_PER_COLUMN).toFixed(2)}s`);
  }
}

/** One character in its board cells: one column wide, or two for a Chinese character. */
function cell(ch) {
  return el("span", { class: columns(ch) > 1 ? "c w" : "c" }, ch);
}

/**
 * Size the strips to fill the screen: hall boards as wide as the screen allows, window boards
 * as large as still lets every board fit (found by halving the interval).
 */
export function fitBoards(main) {
  const strips = [...main.querySelectorAll(".led-strip")];
  if (!strips.length) return;
  const room = main.clientWidth * 0.97;
  const widest = (kind) => Math.max(0, ...[...main.querySelectorAll(`.led-board.kind-${kind} .led-strip`)]
    .map((s) => Number(s.style.getPropertyValue("--cols")) || 16));
  const hall = widest("hall");
  const window = widest("window") || 16;
  const hallCol = hall ? Math.min(room / (hall + 1), 44) : 0;
  const fits = () => main.scrollHeight <= main.clientHeight + 1 && main.scrollWidth <= main.clientWidth + 1;
  const set = (col) => {
    main.style.setProperty("--col", `${col.toFixed(2)}px`);
    main.style.setProperty("--col-hall", `${Math.min(hallCol || col, col * 1.5).toFixed(2)}px`);
  };
  let low = 3;
  let high = Math.min(room / (window + 1), 72);
  set(high);
  if (fits()) return;
  for (let i = 0; i < 9; i++) {
    const mid = (low + high) / 2;
    set(mid);
    if (fits()) low = mid; else high = mid;
  }
  set(low);
}
