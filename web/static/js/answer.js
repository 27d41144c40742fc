// Renders a model's answer with each citation next to its verdict, in the
// same markup as the server renders the investigation's answer.

import { h } from "./dom.js";
import { badgeText } from "./format.js";

// pairVerdicts returns a function that, for a citation at a place of the
// answer ("claims[2]"), takes the next verdict the verifier gave it.
function pairVerdicts(verdict) {
  const queues = new Map();
  for (const cv of verdict?.citations || []) {
    const k = cv.where + " " + cv.id;
    if (!queues.has(k)) queues.set(k, []);
    queues.get(k).push(cv);
  }
  const claims = new Map((verdict?.claims || []).map((c) => [c.where, c.status]));
  return {
    next(where, id) {
      const q = queues.get(where + " " + id);
      return q && q.length ? q.shift() : null;
    },
    claim(where) {
      return claims.get(where) || "";
    },
  };
}

export function citeButton(c, cv) {
  const status = cv?.status || "";
  return h("button", { type: "button", class: "cite cite-" + (status || "unchecked"), dataset: { line: c.id }, title: c.quote || "" },
    h("span", { class: "id" }, c.id),
    h("span", { class: "badge" }, badgeText(status)));
}

function statement(pairs, where, text, citations, label) {
  const cites = (citations || []).map((c) => citeButton(c, pairs.next(where, c.id)));
  const status = pairs.claim(where);
  return h("li", { class: "stmt" + (status ? " claim-" + status : "") },
    label ? [h("strong", {}, label), " "] : null,
    h("span", { class: "text" }, text || ""),
    cites.length ? h("span", { class: "cites" }, cites) : null);
}

export function verdictBadge(verdict) {
  if (!verdict) return null;
  const ok = verdict.total > 0 && verdict.verified === verdict.total;
  return h("span", { class: "verdict " + (ok ? "ok" : "warn") }, `${verdict.verified}/${verdict.total} citations verified`);
}

// renderAnswer renders an answer for the chat: the summary (or root
// cause), then the statements with their citations.
export function renderAnswer(answer, verdict) {
  const pairs = pairVerdicts(verdict);
  const out = [];
  if (answer.root_cause) out.push(h("p", { class: "content" }, h("strong", {}, "Root cause: "), answer.root_cause));
  if (answer.summary && answer.summary !== answer.root_cause) out.push(h("p", { class: "content" }, answer.summary));
  const chain = (answer.causal_chain || []).map((st, i) =>
    statement(pairs, `causal_chain[${i}]`, st.text, st.citations));
  if (chain.length) out.push(h("ol", { class: "chain" }, chain));
  const claims = (answer.claims || []).map((c, i) => statement(pairs, `claims[${i}]`, c.text, c.citations));
  if (claims.length) out.push(h("ul", { class: "claims" }, claims));
  const ruled = (answer.ruled_out || []).map((r, i) =>
    statement(pairs, `ruled_out[${i}]`, r.why, r.citations, r.hypothesis || ""));
  // What was ruled out matters less in a conversation: folded, one click away.
  if (ruled.length) out.push(h("details", { class: "ruled-out-list" }, h("summary", {}, `${ruled.length} ruled out`), h("ul", { class: "ruled-out" }, ruled)));
  out.push(verdictBadge(verdict));
  return out;
}
