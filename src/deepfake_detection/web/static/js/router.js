// Hash routes (#/image, #/history/12?page=2): no server-side routing needed for the single-page app.

import { expireFlash } from "./dom.js";

const routes = [];
let current = null;
let outlet = null;
let guard = () => null;

/**
 * Register a page: pattern like "/history/:id"; render(main, ctx) draws it. public pages are for signed-out
 * visitors (log-in, sign-up); open pages are for everyone, signed in or not.
 */
export function route(pattern, render, { public: isPublic = false, open = false, nav = null, title = "" } = {}) {
  const names = [];
  const regex = new RegExp(
    `^${pattern.replace(/:([a-z]+)/g, (_, name) => {
      names.push(name);
      return "([^/]+)";
    })}$`,
  );
  routes.push({ regex, names, render, isPublic, isOpen: open, nav, title });
}

/** Current path and query from the hash. */
export function currentLocation() {
  const raw = window.location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, query: new URLSearchParams(query), raw };
}

export function navigate(path) {
  if (window.location.hash === `#${path}`) render();
  else window.location.hash = path;
}

/** Start routing into outlet; guardFn(route) returns a redirect path or null. */
export function startRouter(main, guardFn) {
  outlet = main;
  guard = guardFn;
  window.addEventListener("hashchange", render);
  render();
}

/** Draw the page for the current hash (leaving the previous page first). */
export function render() {
  const { path, query, raw } = currentLocation();
  let match = null;
  let params = {};
  for (const candidate of routes) {
    const found = candidate.regex.exec(path);
    if (found) {
      match = candidate;
      params = Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(found[i + 1])]));
      break;
    }
  }
  if (!match) {
    navigate("/dashboard");
    return;
  }
  const redirect = guard(match, raw);
  if (redirect) {
    navigate(redirect);
    return;
  }
  if (current) current.abort();
  current = new AbortController();
  outlet.replaceChildren();
  expireFlash();
  document.title = match.title ? `${match.title} · Deepfake Detection` : "Deepfake Detection";
  for (const link of document.querySelectorAll("[data-route]")) {
    if (link.dataset.route === match.nav) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  match.render(outlet, { params, query, signal: current.signal });
  // Move focus to the new page for keyboard and screen reader users (but not on first load).
  if (render.started) outlet.focus({ preventScroll: false });
  render.started = true;
  window.scrollTo(0, 0);
}
