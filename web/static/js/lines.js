// The line viewer: a cited line with its neighbours in its source, the
// cited one highlighted and its quote marked.

import { api } from "./api.js";
import { h, clear, highlight } from "./dom.js";
import { fmtTime } from "./format.js";

const CONTEXT = 20;

export function lineViewer(incidentId) {
  const dlg = document.getElementById("line-viewer");
  const title = dlg.querySelector(".title");
  const quoteEl = dlg.querySelector(".quote");
  const list = dlg.querySelector(".lines");
  dlg.querySelector(".close").addEventListener("click", () => dlg.close());
  dlg.addEventListener("click", (e) => {
    if (e.target === dlg) dlg.close(); // a click on the backdrop
  });

  async function open(lineId, quote) {
    title.textContent = lineId;
    quoteEl.textContent = quote ? "Quoted: " + quote : "";
    quoteEl.hidden = !quote;
    clear(list).append(h("li", { class: "hint" }, "Loading…"));
    dlg.dataset.line = lineId;
    delete dlg.dataset.loaded;
    if (!dlg.open) dlg.showModal();
    let data;
    try {
      data = await api(`/v1/incidents/${incidentId}/lines/${encodeURIComponent(lineId)}?context=${CONTEXT}`);
    } catch (err) {
      clear(list).append(h("li", { class: "error" }, `${lineId}: ${err.message}`));
      dlg.dataset.loaded = "error";
      return;
    }
    const lines = data.lines || [];
    const hit = lines.find((l) => "L" + l.num === data.line);
    title.textContent = `${data.line} · ${hit ? hit.source : ""}`;
    clear(list);
    let hitEl = null;
    for (const l of lines) {
      const id = "L" + l.num;
      const isHit = id === data.line;
      const li = h("li", { class: isHit ? "hit" : "", dataset: { line: id }, "aria-current": isHit ? "true" : null },
        h("span", { class: "id" }, id),
        h("span", { class: "t" }, l.time ? fmtTime(l.time).slice(11) : "–"),
        h("span", { class: "x" }, isHit ? highlight(l.text, quote) : l.text));
      if (isHit) hitEl = li;
      list.append(li);
    }
    dlg.dataset.loaded = "ok";
    hitEl?.scrollIntoView({ block: "center" });
  }
  return { open };
}
