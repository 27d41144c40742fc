// The packed context, loaded when opened: what the model was shown of the
// incident, per source, what was folded, and the digest at its top.

import { api } from "./api.js";
import { h, clear } from "./dom.js";
import { fmtCount, fmtTime } from "./format.js";

export function setupPack({ investigationId }) {
  const details = document.getElementById("pack");
  const body = document.getElementById("pack-body");
  if (!details || !investigationId) return;
  let loaded = false;
  details.addEventListener("toggle", async () => {
    if (!details.open || loaded) return;
    loaded = true;
    try {
      render(await api(`/v1/investigations/${investigationId}/pack`));
    } catch (err) {
      loaded = false;
      clear(body).append(h("p", { class: "error" }, "The pack could not be loaded: " + err.message));
    }
  });

  function lineButton(id, text) {
    // The page opens any button.cite[data-line]; its title is the text to mark.
    return h("button", { type: "button", class: "cite", dataset: { line: id }, title: text || "" }, h("span", { class: "id" }, id));
  }

  function render(p) {
    const maxTokens = Math.max(1, ...p.sources.map((s) => s.tokens));
    const stats = h("div", { class: "pack-stats" },
      h("span", {}, h("strong", {}, fmtCount(p.tokens)), ` of ${fmtCount(p.budget_tokens)} tokens (${p.encoding})`),
      h("span", {}, h("strong", {}, fmtCount(p.lines)), ` of ${fmtCount(p.total_lines)} lines packed`),
      h("span", {}, `${fmtCount(p.folded_lines)} lines fold ${fmtCount(p.folded_away)} repeats`),
      h("span", { class: p.same_as_sent ? "" : "error" }, p.same_as_sent ? "same lines as sent" :
        p.sent_lines ? `differs from the ${fmtCount(p.sent_lines)} lines sent (the evidence changed since)` : "nothing recorded as sent"));
    const sources = h("table", { class: "pack-sources" },
      h("thead", {}, h("tr", {}, h("th", {}, "Source"), h("th", {}, "Kind"), h("th", { class: "num" }, "Lines packed"), h("th", { class: "num" }, "Tokens"), h("th", {}, ""))),
      h("tbody", {}, p.sources.map((s) => {
        const bar = h("span", { class: "share" });
        bar.style.width = Math.round((s.tokens / maxTokens) * 160) + "px";
        return h("tr", { dataset: { source: s.name } },
          h("td", { class: "mono" }, s.name), h("td", {}, s.kind),
          h("td", { class: "num" }, `${fmtCount(s.lines)} / ${fmtCount(s.total_lines)}`),
          h("td", { class: "num" }, fmtCount(s.tokens)), h("td", {}, bar));
      })));
    const folded = h("ol", { class: "folded" }, p.folded.slice(0, 50).map((f) =>
      h("li", {}, lineButton(f.line, f.text), " ", h("span", { class: "count" }, "×" + fmtCount(f.count)), " ",
        h("span", { class: "sub" }, `${f.source} · ${fmtTime(f.first)} – ${fmtTime(f.last)}`), h("div", { class: "mono" }, f.text))));
    const signals = h("ol", { class: "signals" }, p.signals.slice(0, 15).map((s) =>
      h("li", {}, lineButton(s.line), " ", h("span", { class: "sub" }, s.source), h("div", { class: "mono" }, s.why))));
    clear(body).append(stats,
      h("h3", {}, "Tokens per source"), sources,
      h("h3", {}, "Digest"), p.digest ? h("pre", { class: "digest", id: "pack-digest" }, p.digest) : h("p", { class: "empty" }, "No digest."),
      h("h3", {}, "Folded repeats"), p.folded.length ? folded : h("p", { class: "empty" }, "Nothing was folded: every line fit."),
      h("h3", {}, "Strongest signals"), signals);
    body.dataset.loaded = "1";
  }
}
