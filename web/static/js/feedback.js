// An engineer's verdict on the answer (correct or wrong), and what memory
// holds that is like it: confirmed past incidents and runbook sections.
// Only a confirmed answer is remembered, so the verdict is what teaches
// Causeway; prior knowledge is listed apart from the evidence, as text.

import { api, APIError } from "./api.js";
import { h, clear, link } from "./dom.js";
import { fmtTime } from "./format.js";

// stateText says what is stored, as the page renders it from the database.
function stateText(f) {
  return `Marked ${f.verdict}${f.author ? " by " + f.author : ""} · ${fmtTime(f.updated_at)}`;
}

export function setupFeedback({ investigationId }) {
  const box = document.getElementById("feedback");
  if (!box || !investigationId) return;
  const state = document.getElementById("feedback-state");
  const buttons = Array.from(box.querySelectorAll("button[data-verdict]"));
  for (const b of buttons) {
    b.addEventListener("click", async () => {
      for (const x of buttons) x.disabled = true;
      state.classList.remove("error");
      try {
        const f = await api(`/v1/investigations/${investigationId}/feedback`, {
          method: "POST",
          body: { verdict: b.dataset.verdict },
        });
        box.dataset.verdict = f.verdict;
        state.textContent = stateText(f);
        for (const x of buttons) x.setAttribute("aria-pressed", String(x.dataset.verdict === f.verdict));
      } catch (err) {
        state.textContent = "The verdict was not saved: " + err.message;
        state.classList.add("error");
      } finally {
        for (const x of buttons) x.disabled = false;
      }
    });
  }
}

// snippet bounds a remembered text to what a list item can show.
function snippet(text, n = 280) {
  const t = (text || "").replace(/\s+/g, " ").trim();
  return t.length > n ? t.slice(0, n - 1) + "…" : t;
}

export async function setupSimilar({ investigationId }) {
  const box = document.getElementById("similar");
  const list = document.getElementById("similar-list");
  if (!box || !list || !investigationId) return;
  let data;
  try {
    data = await api(`/v1/investigations/${investigationId}/similar`);
  } catch (err) {
    // A server without memory answers 409: nothing to show, nothing wrong.
    if (err instanceof APIError && err.status === 409) return;
    box.hidden = false;
    clear(list).append(h("li", { class: "error" }, "Similar incidents could not be loaded: " + err.message));
    return;
  }
  const items = data?.items || [];
  box.hidden = false;
  box.dataset.loaded = String(items.length);
  if (!items.length) {
    clear(list).append(h("li", { class: "empty" }, "Nothing similar in memory yet: confirmed answers and runbooks appear here."));
    return;
  }
  clear(list).append(...items.map((it) => {
    const past = it.kind === "incident";
    const title = past && it.incident_id ? link(`/incidents/${Number(it.incident_id)}`, it.title || "incident " + it.incident_id) : h("span", {}, it.title || "");
    return h("li", { class: "similar-item", dataset: { kind: it.kind || "", id: it.id || "" } },
      h("span", { class: "similar-kind" }, past ? "past incident" : "runbook"),
      " ", h("strong", { class: "similar-title" }, title),
      " ", h("span", { class: "sub" }, `${it.id || ""} · similarity ${Number(it.score || 0).toFixed(2)}`),
      h("p", { class: "similar-text" }, snippet(it.text)));
  }));
}
