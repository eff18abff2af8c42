// Small inline-SVG charts: bars (side by side or stacked) and lines, with axes, gridlines,
// labels, a legend and a tooltip on every mark. No library: the pages load nothing else.
import { el, tr } from "/static/common/hallq.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

function tip(text) { return svg("title", {}, text); }

/** A round step for about `count` ticks up to `max`. */
function niceStep(max, count) {
  const raw = max / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const n = raw / power;
  return (n <= 1 ? 1 : n <= 2 ? 2 : n <= 2.5 ? 2.5 : n <= 5 ? 5 : 10) * power;
}

const fmt = (v) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1));

/**
 * chart({categories, series: [{name, values, color, kind: "bar"|"line"}], stacked, yTitle,
 *        format, height, emptyText}) → an element with the legend and the SVG.
 * A null value leaves a gap (a line breaks there).
 */
export function chart(opts) {
  const { categories, series } = opts;
  const format = opts.format || fmt;
  const W = opts.width || 640;
  const H = opts.height || 260;
  const m = { left: 46, right: 14, top: 14, bottom: opts.xTitle ? 46 : 32 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const bars = series.filter((s) => (s.kind || "bar") === "bar");
  const lines = series.filter((s) => s.kind === "line");
  const n = categories.length;
  let max = 0;
  for (let i = 0; i < n; i++) {
    const barValues = bars.map((s) => s.values[i] || 0);
    max = Math.max(max, opts.stacked ? barValues.reduce((a, b) => a + b, 0) : Math.max(0, ...barValues));
    for (const s of lines) if (s.values[i] !== null && s.values[i] !== undefined) max = Math.max(max, s.values[i]);
  }
  const hasData = n > 0 && series.some((s) => s.values.some((v) => v !== null && v !== undefined && v !== 0));
  const step = niceStep(max || 1, 4);
  const top = Math.max(step, Math.ceil((max || 1) / step) * step);
  const y = (v) => m.top + ph - (v / top) * ph;
  const band = pw / Math.max(1, n);
  const x = (i) => m.left + band * i + band / 2;

  const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": opts.title || "" });
  // Gridlines and the y axis's numbers.
  for (let v = 0; v <= top + step / 1000; v += step) {
    root.append(svg("line", { x1: m.left, x2: W - m.right, y1: y(v), y2: y(v), class: v === 0 ? "axis" : "grid" }));
    root.append(svg("text", { x: m.left - 6, y: y(v) + 4, "text-anchor": "end" }, format(v)));
  }
  root.append(svg("line", { x1: m.left, x2: m.left, y1: m.top, y2: m.top + ph, class: "axis" }));
  if (opts.yTitle) {
    root.append(svg("text", { x: 12, y: m.top + ph / 2, transform: `rotate(-90 12 ${m.top + ph / 2})`, "text-anchor": "middle" }, opts.yTitle));
  }
  // The categories: as many labels as fit.
  const every = Math.max(1, Math.ceil(n / Math.max(1, Math.floor(pw / (opts.labelWidth || 34)))));
  categories.forEach((c, i) => {
    if (i % every === 0) root.append(svg("text", { x: x(i), y: m.top + ph + 16, "text-anchor": "middle", class: "x-label" }, String(c)));
  });
  if (opts.xTitle) root.append(svg("text", { x: m.left + pw / 2, y: H - 6, "text-anchor": "middle" }, opts.xTitle));

  // Bars: side by side, or stacked.
  // Numbers on the bars when there is room for them.
  const labels = opts.valueLabels ?? n * Math.max(1, opts.stacked ? 1 : bars.length) <= 16;
  const groupWidth = Math.min(band * 0.72, opts.stacked ? 56 : 36 * Math.max(1, bars.length));
  const barWidth = opts.stacked ? groupWidth : groupWidth / Math.max(1, bars.length);
  for (let i = 0; i < n; i++) {
    let base = 0;
    bars.forEach((s, j) => {
      const v = s.values[i];
      if (v === null || v === undefined || v === 0) return;
      const left = x(i) - groupWidth / 2 + (opts.stacked ? 0 : j * barWidth);
      const y0 = opts.stacked ? base : 0;
      const rect = svg("rect", {
        x: left, y: y(y0 + v), width: Math.max(1, barWidth - (opts.stacked ? 0 : 1)), height: Math.max(0.5, y(y0) - y(y0 + v)),
        fill: s.color, class: "bar", "data-series": s.id || s.name, "data-value": v,
      }, tip(`${categories[i]} · ${s.name}: ${format(v)}`));
      root.append(rect);
      if (opts.stacked) base += v;
      else if (labels) root.append(svg("text", { x: left + barWidth / 2, y: y(v) - 4, "text-anchor": "middle", class: "value" }, format(v)));
    });
    if (opts.stacked && labels && base > 0) {
      root.append(svg("text", { x: x(i), y: y(base) - 4, "text-anchor": "middle", class: "value" }, format(base)));
    }
  }
  // Lines with a dot on each value; a gap where there is none.
  for (const s of lines) {
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += `${pen ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      pen = true;
    });
    if (d) root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": 2.2, "stroke-dasharray": s.dash || null, class: "line", "data-series": s.id || s.name }));
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      root.append(svg("circle", { cx: x(i), cy: y(v), r: 3, fill: s.color, class: "dot" }, tip(`${categories[i]} · ${s.name}: ${format(v)}`)));
    });
  }
  if (!hasData) {
    root.append(svg("text", { x: m.left + pw / 2, y: m.top + ph / 2, "text-anchor": "middle", class: "no-data" }, opts.emptyText || tr("暂无数据", "No data")));
  }
  const legend = el("div", { class: "legend" }, series.map((s) =>
    el("span", {}, el("span", { class: `key${s.kind === "line" ? " line" : ""}`, style: `background:${s.color}` }), s.name)));
  return el("div", { class: "chart" }, legend, root);
}
