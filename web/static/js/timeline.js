// The timeline: one lane per source across the incident's window, drawn on
// a canvas from the API's aggregates (per source and bucket counts,
// markers, metric sketches), so that it costs the same for a million lines
// as for a thousand. Hovering shows the time and counts; clicking a marker
// or a cited line opens it.

import { api } from "./api.js";
import { h, clear } from "./dom.js";
import { fmtClock, fmtCount, fmtTime, badgeText } from "./format.js";

const ROW = 20; // px per lane, as .tl-label's height
const AXIS = 22;
const MARKER_KINDS = ["alert", "warning", "termination", "chat", "ticket"];
const MARKER_NAMES = { alert: "alert", warning: "Warning event", termination: "termination", chat: "chat message", ticket: "ticket comment" };

function colors() {
  const cs = getComputedStyle(document.documentElement);
  const v = (n) => cs.getPropertyValue(n).trim();
  return {
    fg: v("--fg"), muted: v("--muted"), line: v("--line"), panel: v("--panel"), bg: v("--bg"),
    vol: v("--vol"), warn: v("--warn"), err: v("--err"), spark: v("--spark"), chat: v("--chat"),
    cited: v("--cited"), info: v("--info"),
  };
}

// shortSeries names a series by its labels, which tell series of one query
// apart: 'q{code="5"}' → 'code="5"'.
function shortSeries(name) {
  const m = /\{([^{}]*)\}$/.exec(name);
  return m && m[1] ? m[1] : name;
}

function lanesOf(data) {
  const series = new Map();
  for (const sr of data.series) {
    if (!series.has(sr.source)) series.set(sr.source, []);
    series.get(sr.source).push(sr);
  }
  const lanes = [];
  const idle = [];
  if (data.markers.length) lanes.push({ type: "markers", label: "markers" });
  for (const src of data.sources) {
    const srs = series.get(src.name);
    if (srs) {
      for (const sr of srs) lanes.push({ type: "spark", source: src.name, series: sr, label: src.name.replace(/^.*\//, "") + " " + shortSeries(sr.name) });
      continue;
    }
    if (!src.buckets.length) {
      idle.push(src);
      continue;
    }
    let max = 0, lines = 0, errors = 0, warnings = 0;
    const byIndex = new Map();
    for (const [i, n, e, w] of src.buckets) {
      byIndex.set(i, [n, e, w]);
      max = Math.max(max, n);
      lines += n; errors += e; warnings += w;
    }
    lanes.push({ type: "bars", source: src.name, src, byIndex, max, lines, errors, warnings, label: src.name });
  }
  return { lanes, idle };
}

export async function renderTimeline(root, { incidentId, investigationId, onLine }) {
  const q = investigationId ? `?investigation_id=${investigationId}` : "";
  let data;
  try {
    data = await api(`/v1/incidents/${incidentId}/timeline${q}`);
  } catch (err) {
    clear(root).append(h("p", { class: "error" }, "The timeline could not be loaded: " + err.message));
    root.removeAttribute("aria-busy");
    return;
  }
  root.removeAttribute("aria-busy");
  if (!data.from) {
    clear(root).append(h("p", { class: "empty" }, "No timed evidence yet."));
    return;
  }
  const { lanes, idle } = lanesOf(data);
  const from = Date.parse(data.from), to = Date.parse(data.to);
  const laneOf = new Map();
  lanes.forEach((l, i) => { if (l.source && !laneOf.has(l.source)) laneOf.set(l.source, i); });

  const labels = h("div", { class: "tl-labels" }, lanes.map((l) => {
    const cls = "tl-label" + (l.type === "markers" ? " band" : "") + (l.type === "spark" ? " series" : "") + (l.src?.error ? " error-source" : "");
    const title = l.type === "spark" ? l.series.name : l.type === "bars" ? `${l.source}: ${l.lines} lines in the window` : "alerts, Warning events, terminations, chat";
    const el = h("div", { class: cls, title, dataset: { source: l.source || "", lane: l.type } }, l.label);
    if (l.type === "bars") {
      el.dataset.lines = String(l.lines);
      el.append(" ", h("span", { class: "n" }, fmtCount(l.lines)));
    }
    return el;
  }));
  const canvas = h("canvas", { role: "img", "aria-label": `Timeline of ${lanes.length} lanes from ${fmtTime(data.from)} to ${fmtTime(data.to)}` });
  const plot = h("div", { class: "tl-plot" }, canvas);
  const foot = h("div", { class: "tl-foot" });
  const notes = [];
  notes.push(`${fmtTime(data.from)} – ${fmtTime(data.to)}, ${data.bucket_seconds >= 60 ? data.bucket_seconds / 60 + " min" : data.bucket_seconds + " s"} per bar`);
  if (data.cited.length) notes.push(`${data.cited.length} cited lines marked`);
  if (data.markers_left_out) notes.push(`${fmtCount(data.markers_left_out)} more markers not drawn`);
  if (data.untimed_lines) notes.push(`${fmtCount(data.untimed_lines)} lines without a time`);
  if (data.outside_lines) notes.push(`${fmtCount(data.outside_lines)} outside the window`);
  if (idle.length) notes.push(`no timed lines in the window: ${idle.map((s) => s.name).join(", ")}`);
  if (data.series.length) notes.push("metric lanes sketch each series from its summary lines");
  foot.textContent = notes.join(" · ");
  clear(root).append(h("div", { class: "tl-grid" }, labels, plot), foot);
  root.dataset.lanes = String(lanes.length);
  root.dataset.markers = String(data.markers.length);
  root.dataset.cited = String(data.cited.length);

  const tooltip = document.getElementById("tooltip");
  let targets = [];
  let width = 0;
  const height = lanes.length * ROW + AXIS;
  const x = (t) => ((t - from) / (to - from)) * width;

  function draw() {
    width = plot.clientWidth;
    if (!width) return;
    const dpr = window.devicePixelRatio || 1;
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = height + "px";
    const g = canvas.getContext("2d");
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    const c = colors();
    g.clearRect(0, 0, width, height);
    targets = [];
    const bw = width / data.buckets;

    lanes.forEach((lane, i) => {
      const y0 = i * ROW;
      if (i % 2) {
        g.fillStyle = c.line;
        g.globalAlpha = 0.25;
        g.fillRect(0, y0, width, ROW);
        g.globalAlpha = 1;
      }
      if (lane.type === "bars") drawBars(g, c, lane, y0, bw);
      else if (lane.type === "spark") drawSpark(g, c, lane, y0);
    });
    drawAxis(g, c);
    drawMarkers(g, c);
    drawCited(g, c);
  }

  function drawBars(g, c, lane, y0, bw) {
    const hMax = ROW - 4;
    for (const [i, [n, e, w]] of lane.byIndex) {
      const bx = i * bw, bwid = Math.max(1, bw - (bw > 3 ? 1 : 0));
      const hv = Math.max(1, (n / lane.max) * hMax);
      g.fillStyle = c.vol;
      g.fillRect(bx, y0 + ROW - 2 - hv, bwid, hv);
      let base = y0 + ROW - 2;
      if (e) {
        const he = Math.max(2, (e / lane.max) * hMax);
        g.fillStyle = c.err;
        g.fillRect(bx, base - he, bwid, he);
        base -= he;
      }
      if (w) {
        const hw = Math.max(2, (w / lane.max) * hMax);
        g.fillStyle = c.warn;
        g.fillRect(bx, base - hw, bwid, hw);
      }
    }
  }

  function drawSpark(g, c, lane, y0) {
    const pts = lane.series.points;
    const vals = pts.filter((p) => p.value !== null).map((p) => p.value);
    if (!vals.length) return;
    const lo = Math.min(...vals), hi = Math.max(...vals);
    const y = (v) => y0 + ROW - 3 - (hi === lo ? (ROW - 6) / 2 : ((v - lo) / (hi - lo)) * (ROW - 6));
    g.strokeStyle = c.spark;
    g.lineWidth = 1.5;
    g.beginPath();
    let pen = false;
    for (const p of pts) {
      if (p.value === null) { pen = false; continue; }
      const px = x(Date.parse(p.time)), py = y(p.value);
      if (pen) g.lineTo(px, py); else g.moveTo(px, py);
      pen = true;
    }
    g.stroke();
  }

  function drawAxis(g, c) {
    const y0 = lanes.length * ROW;
    g.strokeStyle = c.line;
    g.beginPath();
    g.moveTo(0, y0 + 0.5);
    g.lineTo(width, y0 + 0.5);
    g.stroke();
    const span = to - from;
    const steps = [60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 10800e3, 21600e3, 43200e3, 86400e3, 7 * 86400e3];
    const step = steps.find((s) => (span / s) * 70 <= width) || steps[steps.length - 1];
    g.fillStyle = c.muted;
    g.font = "11px " + getComputedStyle(document.body).fontFamily;
    g.textBaseline = "top";
    for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
      const px = Math.round(x(t)) + 0.5;
      g.strokeStyle = c.line;
      g.globalAlpha = 0.6;
      g.beginPath();
      g.moveTo(px, 0);
      g.lineTo(px, y0 + 4);
      g.stroke();
      g.globalAlpha = 1;
      const label = step >= 86400e3 ? new Date(t).toISOString().slice(5, 10) : fmtClock(t, false);
      const tw = g.measureText(label).width;
      g.fillText(label, Math.min(Math.max(0, px - tw / 2), width - tw), y0 + 6);
    }
  }

  function glyph(g, c, kind, px, py) {
    g.beginPath();
    switch (kind) {
      case "alert":
      case "warning":
        g.fillStyle = kind === "alert" ? c.err : c.warn;
        g.moveTo(px, py - 6); g.lineTo(px + 6, py + 5); g.lineTo(px - 6, py + 5); g.closePath(); g.fill();
        break;
      case "termination":
        g.strokeStyle = c.fg; g.lineWidth = 2;
        g.moveTo(px - 4, py - 4); g.lineTo(px + 4, py + 4); g.moveTo(px + 4, py - 4); g.lineTo(px - 4, py + 4); g.stroke();
        break;
      case "chat":
        g.fillStyle = c.chat; g.arc(px, py, 4, 0, 2 * Math.PI); g.fill();
        break;
      default:
        g.fillStyle = c.info; g.fillRect(px - 3.5, py - 3.5, 7, 7);
    }
  }

  function drawMarkers(g, c) {
    if (!data.markers.length) return;
    const band = lanes.findIndex((l) => l.type === "markers");
    // Alerts draw a line through every lane: everything after it is
    // after the page went out.
    for (const m of data.markers) {
      if (m.kind !== "alert") continue;
      const px = Math.round(x(Date.parse(m.time))) + 0.5;
      g.strokeStyle = c.err;
      g.setLineDash([3, 3]);
      g.beginPath(); g.moveTo(px, ROW); g.lineTo(px, lanes.length * ROW); g.stroke();
      g.setLineDash([]);
    }
    const order = (k) => MARKER_KINDS.indexOf(k);
    const ms = [...data.markers].sort((a, b) => order(b.kind) - order(a.kind)); // alerts drawn last, on top
    for (const m of ms) {
      const px = x(Date.parse(m.time)), py = band * ROW + ROW / 2;
      glyph(g, c, m.kind, px, py);
      targets.push({ x: px, y: py, r: 7, line: m.line, quote: "", tip: [`${MARKER_NAMES[m.kind] || m.kind} · ${fmtTime(m.time)}`, `${m.line} · ${m.source}`, m.text] });
      // Each marker is also drawn small in its source's lane.
      const li = laneOf.get(m.source);
      if (li !== undefined && lanes[li].type === "bars") {
        g.globalAlpha = 0.9;
        g.save(); g.translate(px, li * ROW + ROW / 2); g.scale(0.6, 0.6); glyph(g, c, m.kind, 0, 0); g.restore();
        g.globalAlpha = 1;
      }
    }
  }

  function drawCited(g, c) {
    for (const ct of data.cited) {
      if (!ct.time) continue;
      const li = laneOf.get(ct.source);
      if (li === undefined) continue;
      const px = x(Date.parse(ct.time)), py = li * ROW + ROW / 2;
      g.fillStyle = c.cited;
      g.strokeStyle = c.panel;
      g.lineWidth = 1.5;
      g.beginPath();
      g.moveTo(px, py - 6); g.lineTo(px + 6, py); g.lineTo(px, py + 6); g.lineTo(px - 6, py); g.closePath();
      g.fill(); g.stroke();
      targets.push({ x: px, y: py, r: 7, line: ct.line, tip: [`cited ${ct.line} · ${badgeText(ct.status)}`, `${fmtTime(ct.time)} · ${ct.source}`] });
    }
  }

  function hit(ev) {
    const rect = canvas.getBoundingClientRect();
    const mx = ev.clientX - rect.left, my = ev.clientY - rect.top;
    let best = null, bd = Infinity;
    for (const t of targets) {
      const d = Math.hypot(t.x - mx, t.y - my);
      if (d <= t.r && d < bd) { best = t; bd = d; }
    }
    return { best, mx, my };
  }

  function showTip(ev, lines) {
    tooltip.replaceChildren(h("div", { class: "tt-head" }, lines[0]), ...lines.slice(1).filter(Boolean).map((l, i) =>
      h("div", { class: i === lines.length - 2 && lines.length > 2 ? "tt-text" : "" }, l)));
    tooltip.hidden = false;
    const pad = 14;
    const tw = tooltip.offsetWidth, th = tooltip.offsetHeight;
    tooltip.style.left = Math.min(ev.clientX + pad, window.innerWidth - tw - 4) + "px";
    tooltip.style.top = (ev.clientY + pad + th > window.innerHeight ? ev.clientY - th - pad : ev.clientY + pad) + "px";
  }

  canvas.addEventListener("mousemove", (ev) => {
    const { best, mx, my } = hit(ev);
    canvas.style.cursor = best ? "pointer" : "crosshair";
    if (best) return showTip(ev, best.tip);
    const li = Math.floor(my / ROW);
    const t = from + (mx / width) * (to - from);
    const b = Math.floor((t - from) / (data.bucket_seconds * 1000));
    const bStart = from + b * data.bucket_seconds * 1000;
    const when = `${fmtClock(bStart)}–${fmtClock(bStart + data.bucket_seconds * 1000)}`;
    const lane = lanes[li];
    if (!lane || li >= lanes.length) return showTip(ev, [fmtTime(new Date(t).toISOString())]);
    if (lane.type === "bars") {
      const [n, e, w] = lane.byIndex.get(b) || [0, 0, 0];
      return showTip(ev, [`${when} · ${lane.source}`, `${fmtCount(n)} lines, ${fmtCount(e)} errors, ${fmtCount(w)} warnings`]);
    }
    if (lane.type === "spark") {
      return showTip(ev, [`${when} · ${lane.source}`, lane.series.name, `sketched from ${lane.series.lines.join(", ")}`]);
    }
    const near = data.markers.filter((m) => Math.floor((Date.parse(m.time) - from) / (data.bucket_seconds * 1000)) === b);
    return showTip(ev, [when, near.length ? near.map((m) => MARKER_NAMES[m.kind] || m.kind).join(", ") : "no markers"]);
  });
  canvas.addEventListener("mouseleave", () => { tooltip.hidden = true; });
  canvas.addEventListener("click", (ev) => {
    const { best } = hit(ev);
    if (best?.line) onLine(best.line, best.quote || "");
  });

  draw();
  new ResizeObserver(() => draw()).observe(plot);
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", draw);
  return { redraw: draw };
}
