// Small DOM helpers: build elements without innerHTML (user data is never parsed as HTML).

/** Create an element: h("a", {href: "#", class: "x", onclick: fn}, "text", child, [more]). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2), value);
    } else if (key === "class") {
      node.className = value;
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "style" && typeof value === "object") {
      Object.assign(node.style, value);
    } else if (value === true) {
      node.setAttribute(key, "");
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace every child of node with the given children. */
export function mount(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** A loading indicator announced to screen readers. */
export function loadingState(message = "Loading…") {
  return h("div", { class: "state state-loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), message);
}

/** An error message announced immediately. */
export function errorState(message) {
  return h("div", { class: "state state-error", role: "alert" }, message);
}

/** A friendly "nothing here yet" message. */
export function emptyState(message, ...extra) {
  return h("div", { class: "state state-empty" }, h("div", {}, h("p", {}, message), ...extra));
}

/** Percentage with at most one decimal; "—" for missing values. */
export function formatPercent(value) {
  if (value === null || value === undefined || Number.isNaN(Number(value))) return "—";
  return `${Number(value).toFixed(1).replace(/\.0$/, "")}%`;
}

/** Local date and time for an ISO timestamp (naive timestamps from the API are UTC). */
export function formatDateTime(iso) {
  if (!iso) return "—";
  const normalized = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(normalized);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** Milliseconds as "850 ms" or "2.4 s". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Bytes as "1.2 MB". */
export function formatBytes(bytes) {
  if (!Number.isFinite(bytes)) return "—";
  const units = ["B", "KB", "MB", "GB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0).replace(/\.0$/, "")} ${units[unit]}`;
}

/** Capitalise the first letter ("image" → "Image"). */
export function capitalise(text) {
  return text ? text.charAt(0).toUpperCase() + text.slice(1) : "";
}

/** Show a short message under the top bar (announced politely). */
export function flash(message, { error = false } = {}) {
  const area = document.getElementById("flash");
  if (!area) return;
  mount(area, h("div", { class: `flash${error ? " flash-error" : ""}` }, message));
  // The message belongs to the page it was shown for (call it after navigate() to target the new page).
  area.dataset.route = window.location.hash;
}

/** Called on navigation: the message stays on its own page and goes when the user moves on. */
export function expireFlash() {
  const area = document.getElementById("flash");
  if (area && area.dataset.route !== window.location.hash) area.replaceChildren();
}

export function clearFlash() {
  const area = document.getElementById("flash");
  if (area) area.replaceChildren();
}
