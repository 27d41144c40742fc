// DOM helpers. Evidence (log lines, chat messages, answers) only ever
// becomes text nodes: nothing here parses markup, so nothing that comes
// from an incident can become an element, an attribute or a script.

const SVG = "http://www.w3.org/2000/svg";

// h builds an element: h("li", {class: "x", dataset: {line: "L1"}, onclick}, "text", child).
// Strings among the children become text nodes; null and false are skipped.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

// s builds an SVG element the same way.
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG, tag);
  setProps(el, props);
  append(el, children);
  return el;
}

function setProps(el, props) {
  for (const [k, v] of Object.entries(props || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.setAttribute("class", v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else {
      // Never an event handler or a URL from evidence: both are code.
      if (/^on/i.test(k) || k === "href" || k === "src") throw new Error("h: refusing attribute " + k);
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// link builds an anchor to a path of this site.
export function link(path, ...children) {
  const a = h("a", {}, ...children);
  if (!path.startsWith("/") || path.startsWith("//")) throw new Error("link: not a local path: " + path);
  a.setAttribute("href", path);
  return a;
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

// highlight renders text with the first occurrence of quote marked.
export function highlight(text, quote) {
  const q = (quote || "").trim().replace(/^\.\.\.|\.\.\.$/g, "").trim();
  const i = q ? text.indexOf(q) : -1;
  if (i < 0) return [text];
  return [text.slice(0, i), h("mark", {}, q), text.slice(i + q.length)];
}
