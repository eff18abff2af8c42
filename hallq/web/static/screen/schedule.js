// What a hall screen shows, worked out from the hall view: which screen this is, whether it
// is lit now, which notices run. Pure functions (no DOM), so tests can call them directly.

/** The defaults of a configured [[screens]] entry (hallq/hall/config.py, Screen). */
export const SCREEN_DEFAULTS = Object.freeze({
  name: "",
  layout: "hall",
  window: null,
  windows: [],
  services: [],
  theme: "dark",
  language: "zh+en",
  on_hours: [],
  lead_minutes: 30,
  recent_calls: 6,
});

/** Minutes the screen stays lit after the last session ends. */
export const AFTER_CLOSING_MINUTES = 10;

/**
 * The settings of screen `id`: a configured screen, or for an unconfigured `window-N` the
 * window-top layout of window N. null when the hall has no such screen.
 */
export function resolveScreen(view, id) {
  const configured = (view.screens || []).find((s) => s.id === id);
  if (configured) return { ...SCREEN_DEFAULTS, ...configured, configured: true };
  const m = /^window-(\d{1,3})$/.exec(id || "");
  if (m) {
    const number = Number(m[1]);
    const w = (view.windows || []).find((x) => x.number === number);
    if (w) {
      return {
        ...SCREEN_DEFAULTS,
        id,
        name: `${number}号窗口上方屏`,
        layout: "window-top",
        window: number,
        configured: false,
      };
    }
  }
  return null;
}

/** "08:40-11:50" → [520, 710] minutes of the day. */
export function span(text) {
  const [a, b] = String(text).split("-");
  const m = (t) => { const [h, mi] = t.trim().split(":").map(Number); return h * 60 + mi; };
  return [m(a), m(b)];
}

/** Whether minute-of-day `minutes` falls in [start, end), a span past midnight included. */
export function inSpan([start, end], minutes) {
  return start <= end ? start <= minutes && minutes < end : minutes >= start || minutes < end;
}

/**
 * Whether the screen is lit at the hall's local time `local` ({minutes, date}).
 *
 * A day without sessions (`view.hours` empty: a weekend or holiday) is dark all day. On an
 * open day: the screen's `on_hours` spans if it has any, else from `lead_minutes` before the
 * first session to AFTER_CLOSING_MINUTES after the last.
 */
export function isLit(screen, view, local) {
  const hours = view.hours || [];
  if (!hours.length) return false;
  if (screen.on_hours && screen.on_hours.length) {
    return screen.on_hours.some((s) => inSpan(span(s), local.minutes));
  }
  const spans = hours.map(span);
  const start = Math.min(...spans.map((s) => s[0])) - (screen.lead_minutes ?? SCREEN_DEFAULTS.lead_minutes);
  const end = Math.max(...spans.map((s) => s[1])) + AFTER_CLOSING_MINUTES;
  return local.minutes >= start && local.minutes < end;
}

/**
 * The notices screen `screenId` runs now: named for it (or for every screen, when the
 * notice names none and `explicitOnly` is false), between its dates, in its daily hours.
 */
export function noticesFor(view, screenId, local, explicitOnly = false) {
  return (view.notices || []).filter((n) => {
    const screens = n.screens || [];
    if (screens.length ? !screens.includes(screenId) : explicitOnly) return false;
    if (n.starts && local.date < n.starts) return false;
    if (n.ends && local.date > n.ends) return false;
    const hours = n.hours || [];
    return !hours.length || hours.some((s) => inSpan(span(s), local.minutes));
  });
}

/** Whether the screen shows window `number` (an empty list: every window). */
export function showsWindow(screen, number) {
  return !screen.windows || !screen.windows.length || screen.windows.includes(number);
}

/** Whether the screen shows service `code` (an empty list: every service). */
export function showsService(screen, code) {
  return !screen.services || !screen.services.length || code == null || screen.services.includes(code);
}

/** Whether a call (number, window, service) belongs on this screen. */
export function showsCall(screen, call) {
  return showsWindow(screen, call.window) && showsService(screen, call.service);
}

/** LED board columns a text takes: ASCII 1, anything else 2 (as hallq/drivers/ledtext.py). */
export function columns(text) {
  let n = 0;
  for (const ch of text || "") n += ch.codePointAt(0) < 0x80 ? 1 : 2;
  return n;
}

/** The view's date ("2026-11-23") from its local_time. */
export function viewDate(view) {
  return (view.local_time || "").slice(0, 10);
}

/**
 * When the hall next opens, from `issuing.next_opening` ("2026-11-24T08:40:00+08:00"):
 * {date, hhmm, days} with `days` counted from `today` ("2026-11-23"); null if unknown.
 */
export function nextOpening(view, today) {
  const text = view.issuing && view.issuing.next_opening;
  if (!text) return null;
  const date = text.slice(0, 10);
  const days = Math.round((Date.parse(date + "T00:00:00Z") - Date.parse(today + "T00:00:00Z")) / 86_400_000);
  return { date, hhmm: text.slice(11, 16), days };
}
