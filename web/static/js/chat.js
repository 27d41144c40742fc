// The chat: the stored conversation, and follow-up questions whose answers
// stream in (server-sent events over fetch, since EventSource cannot POST)
// and are then shown with their citations' verdicts.

import { api, request, readEvents } from "./api.js";
import { h, clear } from "./dom.js";
import { renderAnswer } from "./answer.js";
import { fmtTime } from "./format.js";

const STAGES = { packing: "packing the context…", asking: "asking the model…", verifying: "verifying citations…" };

function userMessage(m) {
  return h("li", { class: "msg user", dataset: { id: String(m.id), role: "user" } },
    h("span", { class: "who sub" }, "You · " + fmtTime(m.created_at)),
    h("div", { class: "content" }, m.content));
}

function assistantMessage(m) {
  const li = h("li", { class: "msg assistant", dataset: { id: String(m.id), role: "assistant" } },
    h("span", { class: "who sub" }, `${m.model || "model"} · ${fmtTime(m.created_at)}`));
  if (m.answer) li.append(...renderAnswer(m.answer, m.verdict).filter(Boolean));
  else if (m.content) li.append(h("div", { class: "content" }, m.content));
  if (m.error) li.append(h("p", { class: "error" }, m.error));
  return li;
}

export function message(m) {
  return m.role === "user" ? userMessage(m) : assistantMessage(m);
}

export async function setupChat({ incidentId, investigationId }) {
  const log = document.getElementById("chat-log");
  const form = document.getElementById("chat-form");
  try {
    const data = await api(`/v1/incidents/${incidentId}/chat`);
    clear(log).append(...data.messages.map(message));
    log.dataset.loaded = String(data.messages.length);
  } catch (err) {
    log.append(h("li", { class: "error" }, "The conversation could not be loaded: " + err.message));
  }
  log.scrollTop = log.scrollHeight;
  if (!form) return;
  const textarea = form.elements.message;
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) form.requestSubmit();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = textarea.value.trim();
    if (!text) return;
    const button = form.querySelector("button");
    button.disabled = true;
    const pending = h("li", { class: "msg assistant pending", dataset: { role: "assistant", chunks: "0" } },
      h("span", { class: "who sub status" }, "sending…"), h("div", { class: "stream" }));
    const stream = pending.querySelector(".stream");
    const status = pending.querySelector(".status");
    let chunks = 0;
    try {
      const body = { message: text };
      if (investigationId) body.investigation_id = Number(investigationId);
      const res = await request(`/v1/incidents/${incidentId}/chat`, { method: "POST", body, headers: { Accept: "text/event-stream" } });
      if (!res.ok || !(res.headers.get("Content-Type") || "").startsWith("text/event-stream")) {
        const err = await res.json().catch(() => ({}));
        throw new Error(err.detail || "HTTP " + res.status);
      }
      textarea.value = "";
      await readEvents(res, (type, data) => {
        switch (type) {
          case "question":
            log.append(userMessage(data), pending);
            break;
          case "status":
            status.textContent = STAGES[data.status] || data.status;
            break;
          case "token":
            chunks++;
            pending.dataset.chunks = String(chunks);
            stream.append(data.text);
            stream.scrollTop = stream.scrollHeight;
            break;
          case "answer": {
            const done = assistantMessage(data);
            done.dataset.streamed = String(chunks);
            pending.replaceWith(done);
            break;
          }
          case "error":
            status.textContent = "failed";
            pending.append(h("p", { class: "error" }, data.detail || data.error));
            break;
        }
        log.scrollTop = log.scrollHeight;
      });
    } catch (err) {
      if (!pending.isConnected) log.append(pending);
      status.textContent = "failed";
      pending.append(h("p", { class: "error" }, err.message));
    } finally {
      button.disabled = false;
    }
  });
}
