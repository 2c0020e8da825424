// Entry point: theme toggle, top bar, session handling and the page routes.

import { api } from "./api.js";
import { redrawCharts } from "./charts.js";
import { LIMITS_PATH, renderDetectorLimits } from "./detector-limits.js";
import { clearFlash, flash } from "./dom.js";
import { currentLocation, navigate, route, startRouter } from "./router.js";
import { endSession, getUser, isSignedIn, onSessionChange, rememberReturnPath, scheduleExpiry, setUser } from "./session.js";
import { renderAdminCalibrations } from "./pages/admin.js";
import { renderCamera } from "./pages/camera.js";
import { renderDashboard } from "./pages/dashboard.js";
import { renderHistoryDetail, renderHistoryList } from "./pages/history.js";
import { renderImage } from "./pages/image.js";
import { renderLogin, renderSignup } from "./pages/auth.js";
import { renderVideo } from "./pages/video.js";

route("/login", renderLogin, { public: true, title: "Log in" });
route("/signup", renderSignup, { public: true, title: "Sign up" });
route("/dashboard", renderDashboard, { nav: "dashboard", title: "Dashboard" });
route("/image", renderImage, { nav: "image", title: "Image detection" });
route("/video", renderVideo, { nav: "video", title: "Video detection" });
route("/camera", renderCamera, { nav: "camera", title: "Live camera" });
route("/history", renderHistoryList, { nav: "history", title: "History" });
route("/history/:id", renderHistoryDetail, { nav: "history", title: "Detection details" });
route("/admin/calibrations", renderAdminCalibrations, { nav: "admin", title: "Calibrations (administrators)" });
route(LIMITS_PATH, renderDetectorLimits, { open: true, title: "What these detectors can and cannot do" });

function setupTheme() {
  const button = document.getElementById("theme-toggle");
  const sync = () => {
    const dark = document.documentElement.dataset.theme === "dark";
    button.setAttribute("aria-pressed", String(dark));
    button.title = dark ? "Switch to light mode" : "Switch to dark mode";
  };
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("theme", next);
    } catch {
      /* storage blocked: the choice lasts for this page only */
    }
    sync();
    redrawCharts();
  });
  sync();
}

function updateTopbar() {
  const signedIn = isSignedIn();
  const user = getUser();
  document.getElementById("mainnav").hidden = !signedIn;
  document.getElementById("logout-button").hidden = !signedIn;
  // Only a convenience: the API itself refuses a non-administrator (the page then says so).
  document.getElementById("admin-link").hidden = !(signedIn && user && user.is_admin);
  const name = document.getElementById("user-name");
  name.hidden = !signedIn || !user;
  name.textContent = user ? user.username : "";
}

function setupLogout() {
  document.getElementById("logout-button").addEventListener("click", async () => {
    // Revoke the token on the server; sign out locally whatever the answer.
    try {
      await api("/api/auth/logout", { method: "POST" });
    } catch {
      /* already invalid or server away: the local sign-out below is what matters */
    }
    endSession("logout");
  });
}

let userRequest = null;

/** Refresh the user (name, administrator role) from the server; also validates a token kept from an earlier visit. */
function refreshUser() {
  if (!isSignedIn() || userRequest) return;
  userRequest = api("/api/auth/me")
    .then((data) => {
      if (data.user) setUser(data.user);
    })
    .catch(() => {
      /* a 401 already ended the session; other failures leave the cached name */
    })
    .finally(() => {
      userRequest = null;
    });
}

function guard(match, raw) {
  // Storage may have changed behind our back (another tab, an expired token): redraw the top bar.
  updateTopbar();
  // A token without its user (put there by another tab): fetch the user so the top bar is complete.
  if (isSignedIn() && !getUser()) refreshUser();
  if (match.isOpen) return null;
  if (!match.isPublic && !isSignedIn()) {
    rememberReturnPath(raw);
    return "/login";
  }
  if (match.isPublic && isSignedIn()) return "/dashboard";
  return null;
}

onSessionChange((reason) => {
  updateTopbar();
  if (reason === "expired" || reason === "unauthorized") {
    const { raw } = currentLocation();
    if (!raw.startsWith("/login")) rememberReturnPath(raw);
    navigate("/login");
    flash("Your session has expired. Please log in again.", { error: true });
  } else if (reason === "logout") {
    navigate("/login");
    flash("You are logged out.");
  } else if (reason === "started") {
    clearFlash();
  }
});

setupTheme();
setupLogout();
updateTopbar();
scheduleExpiry();
startRouter(document.getElementById("main"), guard);

refreshUser();
