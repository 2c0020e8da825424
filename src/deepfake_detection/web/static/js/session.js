// The signed-in session: the JWT and user kept in localStorage, dropped on expiry.

const TOKEN_KEY = "token";
const USER_KEY = "user";
const listeners = new Set();
let expiryTimer = null;

/** Seconds-since-epoch expiry from the token's payload, or null when it has none / cannot be read. */
function tokenExpiry(token) {
  try {
    const payload = token.split(".")[1];
    const json = atob(payload.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(payload.length / 4) * 4, "="));
    const exp = JSON.parse(json).exp;
    return typeof exp === "number" ? exp : null;
  } catch {
    return null;
  }
}

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

/** The stored token, or null when absent or already expired (an expired one is dropped). */
export function getToken() {
  const token = read(TOKEN_KEY);
  if (!token) return null;
  const exp = tokenExpiry(token);
  if (exp !== null && exp * 1000 <= Date.now()) {
    endSession("expired");
    return null;
  }
  return token;
}

export function getUser() {
  try {
    return JSON.parse(read(USER_KEY) || "null");
  } catch {
    return null;
  }
}

export function isSignedIn() {
  return getToken() !== null;
}

/** Keep a fresh token and its user; schedule the automatic sign-out at expiry. */
export function startSession(token, user) {
  localStorage.setItem(TOKEN_KEY, token);
  localStorage.setItem(USER_KEY, JSON.stringify(user || null));
  scheduleExpiry();
  notify("started");
}

export function setUser(user) {
  localStorage.setItem(USER_KEY, JSON.stringify(user || null));
  notify("user");
}

/** Forget the token; reason is "logout", "expired" or "unauthorized". */
export function endSession(reason = "logout") {
  const had = read(TOKEN_KEY) !== null;
  try {
    localStorage.removeItem(TOKEN_KEY);
    localStorage.removeItem(USER_KEY);
  } catch {
    /* storage blocked: nothing to forget */
  }
  clearTimeout(expiryTimer);
  if (had) notify(reason);
}

/** Arrange for the session to end when the token expires (also when the tab stays open). */
export function scheduleExpiry() {
  clearTimeout(expiryTimer);
  const token = read(TOKEN_KEY);
  const exp = token ? tokenExpiry(token) : null;
  if (exp === null) return;
  // setTimeout overflows past ~24.8 days; re-check later in that case.
  const wait = Math.min(exp * 1000 - Date.now(), 2 ** 31 - 1);
  expiryTimer = setTimeout(() => (getToken() ? scheduleExpiry() : null), Math.max(wait, 0));
}

/** Listen for session changes: fn(reason). */
export function onSessionChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function notify(reason) {
  for (const fn of listeners) fn(reason);
}

// Another tab logging in or out changes this tab too.
window.addEventListener("storage", (event) => {
  if (event.key === TOKEN_KEY) notify(event.newValue ? "started" : "logout");
});

const RETURN_KEY = "returnTo";

/** Remember the page to come back to after logging in. */
export function rememberReturnPath(path) {
  try {
    sessionStorage.setItem(RETURN_KEY, path);
  } catch {
    /* storage blocked: log-in goes to the dashboard */
  }
}

/** Where to go after logging in: the remembered page, or the dashboard. */
export function takeReturnPath() {
  let path = null;
  try {
    path = sessionStorage.getItem(RETURN_KEY);
    sessionStorage.removeItem(RETURN_KEY);
  } catch {
    path = null;
  }
  return path && path.startsWith("/") && !path.startsWith("/login") && !path.startsWith("/signup") ? path : "/dashboard";
}
