// The incidents page: create an incident from a bundle archive, or from a
// window and live sources (collected and investigated at once).

import { api, idempotencyKey } from "./api.js";
import { h } from "./dom.js";

const errorEl = document.getElementById("create-error");
function fail(err) {
  errorEl.textContent = err.message;
  errorEl.hidden = false;
}

const upload = document.getElementById("upload-form");
upload?.addEventListener("submit", async (e) => {
  e.preventDefault();
  errorEl.hidden = true;
  const file = upload.querySelector("#bundle-file").files[0];
  if (!file) return;
  const button = upload.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = "Importing…";
  const type = /\.zip$/i.test(file.name) ? "application/zip" : /\.tar$/i.test(file.name) ? "application/x-tar" : "application/gzip";
  try {
    const res = await api("/v1/incidents/import", { method: "POST", body: file, headers: { "Content-Type": type } });
    const inc = res.incident;
    // A bundle says what to ask: investigate at once, so the incident
    // opens with its answer on the way.
    await api("/v1/investigations", {
      method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
      body: { incident_id: inc.id, question: inc.question || "" },
    });
    location.assign(`/incidents/${inc.id}`);
  } catch (err) {
    fail(err);
    button.disabled = false;
    button.textContent = "Upload and import";
  }
});

const TYPES = {
  k8s: { field: "namespaces", hint: "namespaces: shop, payments" },
  prometheus: { field: "queries", hint: "sum(rate(http_requests_total{code=~\"5..\"}[5m]))" },
  loki: { field: "selector", hint: "{namespace=\"shop\"}" },
  slack: { field: "channels", hint: "channels: incident-4711" },
  jira: { field: "issues", hint: "issues: OPS-142" },
};

const scopeForm = document.getElementById("scope-form");
const fieldset = document.getElementById("scope-sources");
function addSource() {
  const select = h("select", { "aria-label": "Source type" }, Object.keys(TYPES).map((t) => h("option", { value: t }, t)));
  const input = h("input", { "aria-label": "What to collect", placeholder: TYPES.k8s.hint });
  select.addEventListener("change", () => { input.placeholder = TYPES[select.value].hint; });
  const row = h("div", { class: "scope-row" }, select, input,
    h("button", { type: "button", class: "quiet", "aria-label": "Remove", onclick: () => row.remove() }, "✕"));
  fieldset?.append(row);
}
document.getElementById("add-source")?.addEventListener("click", addSource);
if (fieldset) addSource();

function utc(v) {
  // datetime-local has no zone; the form says UTC.
  return v ? new Date(v + (v.length === 16 ? ":00" : "") + "Z").toISOString() : "";
}

scopeForm?.addEventListener("submit", async (e) => {
  e.preventDefault();
  errorEl.hidden = true;
  const f = scopeForm.elements;
  const title = f.title.value.trim(), question = f.question.value.trim();
  const start = utc(f.start.value), end = utc(f.end.value);
  const sources = [];
  for (const row of fieldset.querySelectorAll(".scope-row")) {
    const type = row.querySelector("select").value;
    const value = row.querySelector("input").value.trim();
    if (!value) continue;
    const field = TYPES[type].field;
    const list = value.split(field === "queries" ? /\n/ : /\s*,\s*/).filter(Boolean);
    sources.push({ type, [field]: field === "selector" ? value : list });
  }
  const button = scopeForm.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    let id;
    if (sources.length) {
      const inv = await api("/v1/investigations", {
        method: "POST", headers: { "Idempotency-Key": idempotencyKey() },
        body: { scope: { title, window: { start, end }, sources }, question },
      });
      id = inv.incident_id;
    } else {
      const inc = await api("/v1/incidents", { method: "POST", body: { title, window_start: start, window_end: end, question } });
      id = inc.id;
    }
    location.assign(`/incidents/${id}`);
  } catch (err) {
    fail(err);
    button.disabled = false;
  }
});
