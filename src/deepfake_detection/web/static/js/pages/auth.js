// Log-in and sign-up pages; the API's validation messages appear next to their fields.

import { api } from "../api.js";
import { clearFlash, flash, h, mount } from "../dom.js";
import { navigate } from "../router.js";
import { startSession, takeReturnPath } from "../session.js";

const PENDING_USERNAME = "signupUsername";

/** A labelled input with its own error slot (aria-describedby points at it). */
function field({ name, label, type = "text", autocomplete, hint, value }) {
  const id = `field-${name}`;
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h("input", {
    id,
    name,
    type,
    autocomplete,
    value,
    required: true,
    "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
  });
  const error = h("p", { class: "field-error", id: errorId, "data-field": name });
  return {
    input,
    error,
    element: h("div", { class: "field" }, h("label", { for: id }, label), input, hint ? h("p", { class: "hint", id: hintId }, hint) : null, error),
  };
}

function showFieldErrors(fields, errors) {
  let first = null;
  for (const [name, entry] of Object.entries(fields)) {
    const message = errors[name];
    const text = Array.isArray(message) ? message.join(" ") : message || "";
    entry.error.textContent = text;
    if (text) {
      entry.input.setAttribute("aria-invalid", "true");
      first = first || entry.input;
    } else {
      entry.input.removeAttribute("aria-invalid");
    }
  }
  return first;
}

/**
 * Shared form behaviour: collect values, call submit(values), show field errors or a form-level error.
 * validate(values) may return client-side {field: message} errors.
 */
function authForm({ id, fields, submitLabel, busyLabel, submit, validate = () => ({}) }) {
  const formError = h("div", { class: "form-error", "aria-live": "assertive" });
  const button = h("button", { type: "submit", class: "button" }, submitLabel);
  const form = h("form", { class: "form", id, novalidate: true }, formError, Object.values(fields).map((f) => f.element), button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    formError.replaceChildren();
    const values = Object.fromEntries(Object.entries(fields).map(([name, f]) => [name, f.input.value]));
    const local = validate(values);
    if (Object.keys(local).length) {
      showFieldErrors(fields, local).focus();
      return;
    }
    showFieldErrors(fields, {});
    button.disabled = true;
    button.textContent = busyLabel;
    try {
      await submit(values);
    } catch (error) {
      const first = showFieldErrors(fields, error.errors || {});
      // Field errors speak for themselves; other failures (wrong password, server down) go on top.
      if (!first || !error.errors || !Object.keys(error.errors).length) {
        mount(formError, h("div", { class: "state state-error", role: "alert" }, error.message || "Something went wrong."));
      }
      (first || fields[Object.keys(fields)[0]].input).focus();
    } finally {
      button.disabled = false;
      button.textContent = submitLabel;
    }
  });
  return form;
}

export function renderLogin(main) {
  let pending = null;
  try {
    pending = sessionStorage.getItem(PENDING_USERNAME);
    sessionStorage.removeItem(PENDING_USERNAME);
  } catch {
    pending = null;
  }
  const fields = {
    username: field({ name: "username", label: "Username or email", autocomplete: "username", value: pending }),
    password: field({ name: "password", label: "Password", type: "password", autocomplete: "current-password" }),
  };
  const form = authForm({
    id: "login-form",
    fields,
    submitLabel: "Log in",
    busyLabel: "Logging in…",
    submit: async (values) => {
      const data = await api("/api/auth/login", { method: "POST", body: values, auth: false });
      startSession(data.access_token, data.user);
      clearFlash();
      navigate(takeReturnPath());
    },
  });
  mount(
    main,
    h(
      "section",
      { class: "auth-wrap card", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title" }, "Log in"),
      h("p", { class: "subtitle" }, "Check images, videos and your webcam for deepfakes."),
      form,
      h("p", {}, "No account yet? ", h("a", { href: "#/signup" }, "Sign up")),
    ),
  );
  (pending ? fields.password : fields.username).input.focus();
}

export function renderSignup(main) {
  const fields = {
    username: field({ name: "username", label: "Username", autocomplete: "username" }),
    email: field({ name: "email", label: "Email", type: "email", autocomplete: "email" }),
    password: field({
      name: "password",
      label: "Password",
      type: "password",
      autocomplete: "new-password",
      hint: "At least 8 characters; a long passphrase works best. Common passwords and your name are refused.",
    }),
    confirm: field({ name: "confirm", label: "Confirm password", type: "password", autocomplete: "new-password" }),
  };
  const form = authForm({
    id: "signup-form",
    fields,
    submitLabel: "Create account",
    busyLabel: "Creating account…",
    // Only the repeat check is ours; every other rule is the API's, shown as it words it.
    validate: (values) => (values.password !== values.confirm ? { confirm: "The passwords do not match." } : {}),
    submit: async ({ username, email, password }) => {
      await api("/api/auth/register", { method: "POST", body: { username, email, password }, auth: false });
      try {
        sessionStorage.setItem(PENDING_USERNAME, username);
      } catch {
        /* storage blocked: the user types the name again */
      }
      navigate("/login");
      flash("Account created. Log in with your new password.");
    },
  });
  mount(
    main,
    h(
      "section",
      { class: "auth-wrap card", "aria-labelledby": "signup-title" },
      h("h1", { id: "signup-title" }, "Sign up"),
      h("p", { class: "subtitle" }, "Create an account to keep a history of your checks."),
      form,
      h("p", {}, "Already have an account? ", h("a", { href: "#/login" }, "Log in")),
    ),
  );
  fields.username.input.focus();
}
