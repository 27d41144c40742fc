// How times, counts and verdicts read in the UI (UTC throughout, as the
// evidence is).

export function fmtTime(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  if (isNaN(d)) return "–";
  return d.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function fmtClock(d, seconds = true) {
  const s = new Date(d).toISOString().slice(11, seconds ? 19 : 16);
  return s;
}

export function fmtCount(n) {
  return Number(n || 0).toLocaleString("en-US").replace(/,/g, "\u202f");
}

const badges = {
  verified: "verified",
  quote_mismatch: "quote mismatch",
  not_in_context: "not in context",
  unknown_id: "unknown id",
};

export function badgeText(status) {
  return badges[status] || "unchecked";
}
