// The screens' words, in Chinese and English. A screen shows Chinese, English or both
// (its `language` setting); every text is built as <span class="bi"><span class="zh">…
// <span class="en">…</span></span> and the body's class (lang-zh, lang-en, lang-both) picks
// what shows, so a language change is a class change.

import { el } from "/static/common/hallq.js";

/** A bilingual text node: Chinese, and English when there is one. */
export function bi(zh, en, cls = "") {
  const parts = [];
  const hasEn = en !== undefined && en !== null && en !== "";
  parts.push(el("span", { class: hasEn ? "zh" : "zh only" }, zh));
  if (hasEn) parts.push(el("span", { class: "en" }, en));
  return el("span", { class: cls ? `bi ${cls}` : "bi" }, ...parts);
}

/** Fill every `.bi[data-zh]` placeholder of a template with its two languages. */
export function fillLabels(root) {
  for (const node of root.querySelectorAll(".bi[data-zh]")) {
    const made = bi(node.dataset.zh, node.dataset.en);
    node.replaceChildren(...made.childNodes);
  }
}

/** One text in the screen's language(s), for places that take plain text (the marquee). */
export function plain(language, zh, en) {
  if (language === "en") return en || zh;
  if (language === "zh") return zh;
  return en ? `${zh}　${en}` : zh;
}

export const STATUS = {
  closed: ["未开放", "Closed"],
  idle: ["空闲", "Free"],
  calling: ["叫号中", "Calling"],
  serving: ["办理中", "Serving"],
  paused: ["暂停服务", "Suspended"],
  away: ["请稍候", "Back soon"],
};

export function statusText(status) {
  const [zh, en] = STATUS[status] || [status, status];
  return bi(zh, en);
}

export const ISSUING = {
  before_opening: ["未到取号时间", "Ticketing opens soon"],
  between_sessions: ["暂停取号", "Ticketing paused"],
  cutoff: ["本时段取号已结束", "Ticketing closed for this session"],
  after_closing: ["今日取号已结束", "Ticketing closed for today"],
  closed_day: ["今日不办公", "Closed today"],
};

const WEEKDAYS_ZH = ["日", "一", "二", "三", "四", "五", "六"];
const WEEKDAYS_EN = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "11月23日 星期一" / "Mon 23 Nov" from a date "2026-11-23". */
export function dateText(date) {
  const [y, m, d] = date.split("-").map(Number);
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay();
  return bi(`${m}月${d}日 星期${WEEKDAYS_ZH[weekday]}`, `${WEEKDAYS_EN[weekday]} ${d} ${MONTHS_EN[m - 1]}`);
}

/** When the hall opens next: "明天 08:40 开始办公" / "Opens tomorrow at 08:40". */
export function openingText(next) {
  if (!next) return null;
  const [, m, d] = next.date.split("-").map(Number);
  if (next.days <= 0) return bi(`今天 ${next.hhmm} 开始办公`, `Opens today at ${next.hhmm}`);
  if (next.days === 1) return bi(`明天 ${next.hhmm} 开始办公`, `Opens tomorrow at ${next.hhmm}`);
  const weekday = new Date(Date.UTC(Number(next.date.slice(0, 4)), m - 1, d)).getUTCDay();
  return bi(
    `${m}月${d}日（星期${WEEKDAYS_ZH[weekday]}）${next.hhmm} 开始办公`,
    `Opens ${WEEKDAYS_EN[weekday]} ${d} ${MONTHS_EN[m - 1]} at ${next.hhmm}`,
  );
}
