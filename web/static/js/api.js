// The /v1 API, with the session cookie (sent by the browser) and the CSRF
// token of the page on every change.

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

export const scope = document.querySelector('meta[name="scope"]')?.content || "read";

export class APIError extends Error {
  constructor(status, code, detail) {
    super(detail || code || "HTTP " + status);
    this.status = status;
    this.code = code;
  }
}

// request sends a request and returns the response; a 401 (the session
// ended) sends the browser to the sign-in page.
export async function request(path, { method = "GET", body, headers = {}, signal } = {}) {
  const h = { ...headers };
  if (method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = csrf;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof FormData) && typeof body !== "string") {
    h["Content-Type"] = "application/json";
    body = JSON.stringify(body);
  }
  const res = await fetch(path, { method, body, headers: h, credentials: "same-origin", signal });
  if (res.status === 401) {
    location.assign("/login?next=" + encodeURIComponent(location.pathname + location.search));
    throw new APIError(401, "unauthorized", "signed out");
  }
  return res;
}

// api sends a request and returns its JSON, or throws an APIError with the
// API's error code and detail.
export async function api(path, opts) {
  const res = await request(path, opts);
  if (res.status === 204) return null;
  let data = null;
  try {
    data = await res.json();
  } catch {
    if (!res.ok) throw new APIError(res.status, "", "HTTP " + res.status);
    return null;
  }
  if (!res.ok) throw new APIError(res.status, data?.error, data?.detail);
  return data;
}

// readEvents reads a text/event-stream response body, calling onEvent(type,
// data) for each event with its JSON data parsed.
export async function readEvents(res, onEvent) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n/g, "\n");
    let i;
    while ((i = buf.indexOf("\n\n")) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let type = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith(":")) continue;
        const [field, ...rest] = line.split(":");
        const v = rest.join(":").replace(/^ /, "");
        if (field === "event") type = v;
        else if (field === "data") data.push(v);
      }
      if (data.length) {
        let parsed;
        try {
          parsed = JSON.parse(data.join("\n"));
        } catch {
          parsed = data.join("\n");
        }
        onEvent(type, parsed);
      }
    }
  }
}

export function idempotencyKey() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return "ui-" + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
