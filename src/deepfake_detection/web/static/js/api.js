// Talks to the Flask API: JSON in and out, the bearer token attached, one error type for every failure.

import { endSession, getToken } from "./session.js";

/** The API's error code for a model whose weights are not downloaded on the server. */
export const MODEL_UNAVAILABLE = "model_unavailable";

/** Any failed API call: HTTP status, the API's machine-readable code and message, and per-field validation errors. */
export class ApiError extends Error {
  constructor(message, { status = 0, code = null, errors = null, data = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.errors = errors || {};
    this.data = data;
  }

  /** The model is not downloaded on the server (decided by the error code, never by the message). */
  get modelUnavailable() {
    return this.code === MODEL_UNAVAILABLE;
  }
}

const FALLBACK_MESSAGES = {
  400: "The request was not accepted.",
  401: "Please log in again.",
  403: "You are not allowed to do that.",
  404: "Not found.",
  413: "The file is too large.",
  415: "That file type is not supported.",
  429: "Too many requests; wait a moment and try again.",
  500: "The server hit an error. Try again.",
  502: "The server is not reachable right now.",
  503: "The service is not ready (a model may not be downloaded).",
};

function authHeaders(auth) {
  const token = auth ? getToken() : null;
  return token ? { Authorization: `Bearer ${token}` } : {};
}

function errorFrom(status, data) {
  const message = (data && (data.message || data.msg || data.error)) || FALLBACK_MESSAGES[status] || `Request failed (${status}).`;
  return new ApiError(message, { status, code: (data && data.code) || null, errors: data && data.errors, data });
}

function handleUnauthorized(status, auth) {
  // A 401 on an authenticated call means the token is gone or expired: drop it and go to log-in.
  if (status === 401 && auth) endSession("unauthorized");
}

async function parseJson(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

/**
 * Call the API. body (object) is sent as JSON, form (FormData) as multipart.
 * Resolves with the parsed JSON (plus .httpStatus, kept apart from the API's own "status" fields); rejects with ApiError.
 */
export async function api(path, { method = "GET", body, form, signal, auth = true } = {}) {
  const headers = { Accept: "application/json", ...authHeaders(auth) };
  let payload;
  if (form) {
    payload = form;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body: payload, signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Cannot reach the server. Check your connection and try again.", { status: 0 });
  }
  const data = await parseJson(response);
  if (!response.ok || (data && data.success === false)) {
    handleUnauthorized(response.status, auth);
    throw errorFrom(response.status, data);
  }
  return Object.assign(data || {}, { httpStatus: response.status });
}

/** Fetch an authenticated media URL (image, thumbnail, frame) as an object URL for <img src>. */
export async function fetchMediaUrl(path, { signal } = {}) {
  let response;
  try {
    response = await fetch(path, { headers: authHeaders(true), signal });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError("Cannot reach the server.", { status: 0 });
  }
  if (!response.ok) {
    handleUnauthorized(response.status, true);
    throw errorFrom(response.status, await parseJson(response));
  }
  return URL.createObjectURL(await response.blob());
}

/**
 * Upload a form with XMLHttpRequest so the byte progress is visible: onProgress(loaded, total).
 * Resolves with the parsed JSON; rejects with ApiError. abortSignal cancels the upload.
 */
export function uploadWithProgress(path, form, { onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", path);
    xhr.setRequestHeader("Accept", "application/json");
    for (const [name, value] of Object.entries(authHeaders(true))) xhr.setRequestHeader(name, value);
    xhr.upload.addEventListener("progress", (event) => {
      if (onProgress) onProgress(event.loaded, event.lengthComputable ? event.total : 0);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300 && !(data && data.success === false)) {
        resolve(Object.assign(data || {}, { httpStatus: xhr.status }));
      } else {
        handleUnauthorized(xhr.status, true);
        reject(errorFrom(xhr.status, data));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError("The upload failed: the server is not reachable.", { status: 0 })));
    xhr.addEventListener("abort", () => reject(new DOMException("Upload cancelled", "AbortError")));
    if (signal) signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
