import { api, el, tr, translatePage } from "/static/common/hallq.js";

translatePage();
const r = await api("GET", "/api/state?tickets=none");
if (r.ok) {
  const view = r.data;
  document.getElementById("hall-name").textContent = tr(view.hall.name, view.hall.name_en);
  document.title = tr(view.hall.name, view.hall.name_en);
  const screens = document.getElementById("screens");
  for (const s of view.screens) {
    screens.append(el("li", {}, el("a", { href: `/screen/${s.id}` }, `${s.name || s.id} (${s.layout})`)));
  }
  for (const w of view.windows) {
    document.getElementById("windows").append(
      el("li", {}, el("a", { href: `/window/${w.number}` }, `${w.number} ${tr(w.label, w.label_en)}`)));
    document.getElementById("evaluators").append(
      el("li", {}, el("a", { href: `/evaluate/${w.number}` }, tr(`${w.number}号窗口`, `Window ${w.number}`))));
  }
}
