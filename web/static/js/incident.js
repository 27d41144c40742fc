// The incident page: timeline, answer (with its verdict buttons and similar
// past incidents), chat, packed context, the line viewer, and an
// investigation's progress while one runs.

import { api, idempotencyKey } from "./api.js";
import { h } from "./dom.js";
import { lineViewer } from "./lines.js";
import { renderTimeline } from "./timeline.js";
import { setupChat } from "./chat.js";
import { setupPack } from "./pack.js";
import { setupFeedback, setupSimilar } from "./feedback.js";

const root = document.getElementById("incident");
const incidentId = root.dataset.incident;
const investigationId = root.dataset.investigation;
const viewer = lineViewer(incidentId);
const openLine = (id, quote) => viewer.open(id, quote);

// Citations anywhere on the page (the answer, chat answers, the pack) open
// the line with its neighbours.
document.addEventListener("click", (e) => {
  const btn = e.target.closest("button.cite[data-line]");
  if (btn) openLine(btn.dataset.line, btn.title);
});

renderTimeline(document.getElementById("timeline"), { incidentId, investigationId, onLine: openLine });
setupChat({ incidentId, investigationId });
setupPack({ investigationId });
setupFeedback({ investigationId });
setupSimilar({ investigationId });

const progress = document.getElementById("progress");
const latest = document.getElementById("latest-status");
function showStatus(status) {
  latest.parentElement.hidden = false;
  latest.textContent = status;
  latest.className = "status status-" + status;
}

function follow(id) {
  progress.hidden = false;
  const statusEl = progress.querySelector(".progress-status");
  const text = progress.querySelector(".progress-text");
  statusEl.textContent = `Investigation #${id}: queued`;
  const es = new EventSource(`/v1/investigations/${id}/events`);
  let attempt = 0;
  es.addEventListener("status", (e) => {
    const d = JSON.parse(e.data);
    if (d.attempt && d.attempt > attempt) {
      if (attempt) text.textContent = "";
      attempt = d.attempt;
    }
    statusEl.textContent = `Investigation #${id}: ${d.status}…`;
    showStatus(d.status);
  });
  es.addEventListener("packed", (e) => {
    const d = JSON.parse(e.data);
    text.append(`packed ${d.lines} of ${d.total_lines} lines, ${d.tokens} tokens\n`);
  });
  es.addEventListener("source_error", (e) => {
    const d = JSON.parse(e.data);
    text.append(`source ${d.source}: ${d.error}\n`);
  });
  es.addEventListener("token", (e) => {
    text.append(JSON.parse(e.data).text);
    if (text.textContent.length > 20000) text.textContent = text.textContent.slice(-8000);
    text.scrollTop = text.scrollHeight;
  });
  es.addEventListener("end", (e) => {
    es.close();
    const d = JSON.parse(e.data);
    showStatus(d.status);
    if (d.status === "done") {
      statusEl.textContent = `Investigation #${id}: done; loading the answer…`;
      location.reload();
      return;
    }
    statusEl.textContent = `Investigation #${id}: ${d.status}`;
    progress.append(h("p", { class: "error" }, d.error || "it ended without an answer"));
  });
}

if (root.dataset.running) follow(root.dataset.running);

const form = document.getElementById("investigate-form");
form?.addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const inv = await api("/v1/investigations", {
      method: "POST",
      headers: { "Idempotency-Key": idempotencyKey() },
      body: { incident_id: Number(incidentId), question: form.elements.question.value.trim() },
    });
    follow(inv.id);
  } catch (err) {
    progress.hidden = false;
    progress.querySelector(".progress-status").textContent = "Could not start: " + err.message;
    button.disabled = false;
  }
});
