// 配置文件: the hall's own details, and the whole configuration exported or imported as TOML.
import { el, tr } from "/static/common/hallq.js";
import { isAdmin } from "/static/admin/session.js";
import { importConfig, store } from "/static/admin/store.js";
import { configPage, errorText, field, pageHead, section, showProblems, clearProblems, textInput, toast } from "/static/admin/ui.js";

export const id = "config";
export const zh = "配置文件";
export const en = "Configuration file";

export function render(main) {
  main.append(pageHead(zh, en,
    "导出整个大厅配置（TOML）备份或复制到别的大厅；导入前会检查每一处，错误会标出行号。",
    "Export the whole hall configuration (TOML) to keep or to copy to another hall; an import is checked first and every error names its line."));
  main.append(transfer());
  const form = el("div");
  main.append(form);
  const cleanup = configPage(form, { titleZh: "大厅信息", titleEn: "The hall", build });
  const text = el("pre", { class: "toml", id: "config-text" });
  const show = () => { text.textContent = store.text; };
  show();
  store.listeners.add(show);
  main.append(el("details", { class: "panel" }, el("summary", {}, tr("查看当前配置文本", "Show the current configuration text")), text));
  return () => { store.listeners.delete(show); cleanup(); };
}

function transfer() {
  const exportLink = el("a", { href: "/admin/api/config/export", download: "", class: "button-link", id: "export" }, tr("导出配置（.toml）", "Export (.toml)"));
  const panel = section("导出与导入", "Export and import", el("div", { class: "actions" }, exportLink));
  if (!isAdmin()) return panel;
  const file = el("input", { type: "file", accept: ".toml,text/plain,application/toml", id: "import-file", class: "file-input" });
  const chosenName = el("span", { class: "reason" }, tr("未选择文件", "No file chosen"));
  file.addEventListener("change", () => { chosenName.textContent = file.files && file.files[0] ? file.files[0].name : tr("未选择文件", "No file chosen"); });
  const pick = el("label", { for: "import-file", class: "button-link" }, tr("选择文件…", "Choose a file…"));
  const go = el("button", { type: "button", class: "primary", id: "import" }, tr("导入并应用", "Import and apply"));
  const result = el("div", { class: "problems hidden", id: "import-problems", role: "alert" });
  go.addEventListener("click", async () => {
    clearProblems(panel, result);
    const chosen = file.files && file.files[0];
    if (!chosen) { file.focus(); return; }
    if (!confirm(tr(`用 ${chosen.name} 替换整个大厅配置？`, `Replace the whole hall configuration with ${chosen.name}?`))) return;
    go.disabled = true;
    const r = await importConfig(await chosen.text(), chosen.name);
    go.disabled = false;
    if (r.ok) {
      const restart = r.data.restart_needed || [];
      toast(r.data.changed.length ? tr("已导入并生效", "Imported: in effect now") : tr("与当前配置相同，没有修改", "The same as the current configuration: nothing changed"));
      if (restart.length) toast(tr("重启后生效：", "After a restart: ") + restart.join(", "), "warn", 8000);
      file.value = "";
      chosenName.textContent = tr("未选择文件", "No file chosen");
    } else if (r.error && r.error.code === "invalid_config") {
      showProblems(panel, result, r.error.problems);
    } else {
      result.replaceChildren(errorText(r));
      result.classList.remove("hidden");
    }
  });
  panel.append(el("h3", {}, tr("导入", "Import")), el("div", { class: "actions" }, file, pick, chosenName, go), result);
  return panel;
}

function build(data, body) {
  const h = data.hall;
  body.append(section("大厅信息", "The hall",
    el("div", { class: "grid" },
      field("编号", "Id", textInput(h, "id", "hall.id"), { path: "hall.id", hintZh: "用于导出文件名和中心服务器", hintEn: "used in file names and by the central server" }),
      field("名称", "Name", textInput(h, "name", "hall.name", { max: 60 }), { path: "hall.name", wide: true }),
      field("英文名称", "English name", textInput(h, "name_en", "hall.name_en", { max: 120 }), { path: "hall.name_en", wide: true }),
      field("号票底部文字", "Ticket footer", textInput(h, "footer", "hall.footer", { multiline: true }), { path: "hall.footer", wide: true }),
      field("英文号票底部文字", "Ticket footer in English", textInput(h, "footer_en", "hall.footer_en", { multiline: true }), { path: "hall.footer_en", wide: true }),
      field("手机访问地址", "Address for phones", textInput(h, "public_url", "hall.public_url", { placeholder: "http://10.0.0.2:8080" }), { path: "hall.public_url", wide: true,
        hintZh: "号票二维码用；留空：取号机访问的地址", hintEn: "for the ticket's QR code; empty: the address the kiosk uses" }))));
}
