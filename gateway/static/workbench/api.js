// Calls to the API from the pages: the session cookie, the CSRF header on writes, the
// language of the answers, and problem+json turned into an error a page can show.

import { getLang, t } from "./i18n.js";

const TIMEOUT_MS = 30_000;
const SAFE = new Set(["GET", "HEAD"]);
const TOKEN_KEY = "plantrack.workbench.token";

let csrfToken = "";
// An operations token or API key (`/app/#token=…`) instead of a session; it needs no CSRF.
let bearer = readBearer();

function readBearer() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const fromUrl = params.get("token");
  try {
    if (fromUrl) {
      window.sessionStorage.setItem(TOKEN_KEY, fromUrl);
      window.history.replaceState(null, "", window.location.pathname + window.location.search);
    }
    return window.sessionStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return fromUrl || "";
  }
}

/** An answer other than 2xx: the API's problem+json, read for the page. */
export class ApiError extends Error {
  constructor(status, problem, response) {
    super(problem?.detail || problem?.title || t("server_error", { status }));
    this.status = status;
    this.problem = problem || {};
    this.response = response;
  }

  /** field name → the API's messages for it (the last named part of each error's `loc`). */
  fieldErrors() {
    const out = {};
    for (const error of this.problem.errors || []) {
      const loc = (error.loc || []).filter((p) => typeof p === "string");
      const field = loc.filter((p) => !["body", "query", "path", "header"].includes(p)).pop();
      if (!field) continue;
      out[field] = out[field] ? `${out[field]}；${error.msg}` : error.msg;
    }
    return out;
  }
}

export function setCsrf(token) {
  csrfToken = token || "";
}

export function forgetBearer() {
  bearer = "";
  try {
    window.sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // nothing stored
  }
}

function headers(method, extra) {
  const out = { "Accept-Language": getLang() === "en" ? "en" : "zh-CN", ...extra };
  if (bearer) out.Authorization = `Bearer ${bearer}`;
  else if (!SAFE.has(method) && csrfToken) out["X-CSRF-Token"] = csrfToken;
  return out;
}

/**
 * One call. `json`: a body sent as JSON; `form`: a FormData; `ifMatch`: the version the
 * page read. Returns the Response for 2xx; throws ApiError otherwise (status 0: no network).
 */
export async function call(method, url, { json, form, ifMatch, accept } = {}) {
  const extra = { Accept: accept || "application/json" };
  let body;
  if (json !== undefined) {
    extra["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) body = form;
  if (ifMatch !== undefined) extra["If-Match"] = `"${ifMatch}"`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      method,
      body,
      headers: headers(method, extra),
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch {
    throw new ApiError(0, { detail: t("network_error") });
  } finally {
    clearTimeout(timer);
  }
  if (response.ok) return response;
  let problem = null;
  try {
    problem = await response.json();
  } catch {
    problem = { detail: t("server_error", { status: response.status }) };
  }
  const error = new ApiError(response.status, problem, response);
  if (response.status === 401) window.dispatchEvent(new CustomEvent("plantrack:signed-out"));
  throw error;
}

export async function getJson(url) {
  return (await call("GET", url)).json();
}

export async function send(method, url, json, ifMatch) {
  const response = await call(method, url, { json, ifMatch });
  return response.status === 204 ? null : response.json();
}

/** Fetch a file with the page's credentials and hand it to the browser as a download. */
export async function download(url, fallbackName) {
  const response = await call("GET", url, { accept: "*/*" });
  const blob = await response.blob();
  const disposition = response.headers.get("Content-Disposition") || "";
  const star = /filename\*=UTF-8''([^;]+)/i.exec(disposition);
  const plain = /filename="?([^";]+)"?/i.exec(disposition);
  const name = star ? decodeURIComponent(star[1]) : plain ? plain[1] : fallbackName;
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10_000);
}

// ---- the signed-in person ----------------------------------------------------------

/** The person behind the session (or token), or null when nobody is signed in. */
export async function whoAmI() {
  try {
    const me = await getJson("/api/v1/me");
    setCsrf(me.csrf_token);
    return me;
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export async function signIn(username, password) {
  const me = await send("POST", "/auth/login", { username, password });
  setCsrf(me.csrf_token);
  return me;
}

export async function signOut() {
  forgetBearer();
  try {
    await call("POST", "/auth/logout");
  } catch {
    // Already signed out: the login page is where we go either way.
  }
  setCsrf("");
}
