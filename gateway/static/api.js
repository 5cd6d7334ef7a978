// The access token and the authorised calls the dashboard makes.

const TOKEN_KEY = "plantrack.token";
const TIMEOUT_MS = 15_000;

export const OVERVIEW_URL = "/api/v1/dashboard/overview";
export const STREAM_URL = "/api/v1/stream";

export class Unauthorized extends Error {}

export class RequestFailed extends Error {
  constructor(status, detail) {
    super(detail || `HTTP ${status}`);
    this.status = status; // 0 when the server could not be reached
  }
}

let token = "";

function remember(value) {
  token = value;
  try {
    if (value) window.localStorage.setItem(TOKEN_KEY, value);
    else window.localStorage.removeItem(TOKEN_KEY);
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
}

/**
 * Take the token from `#token=…` (then drop it from the address bar so it is
 * not bookmarked or shared), else from storage. Returns "" when there is none.
 */
export function loadToken() {
  const params = new URLSearchParams(window.location.hash.replace(/^#/, ""));
  const fromUrl = params.get("token");
  if (fromUrl) {
    params.delete("token");
    const rest = params.toString();
    const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
    window.history.replaceState(window.history.state, "", url);
    remember(normalise(fromUrl));
    return token;
  }
  try {
    token = window.localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    token = "";
  }
  return token;
}

/** Accepts a pasted token with or without a leading "Bearer ". */
export function normalise(raw) {
  return String(raw).trim().replace(/^bearer\s+/i, "");
}

export function setToken(value) {
  remember(normalise(value));
}

export function clearToken() {
  remember("");
}

export function getToken() {
  return token;
}

/** GET a JSON resource with the token; throws Unauthorized or RequestFailed. */
export async function getJson(url) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  let response;
  try {
    response = await fetch(url, {
      // Without a token the workbench's session cookie (same origin) is the credential.
      headers: token
        ? { Accept: "application/json", Authorization: `Bearer ${token}` }
        : { Accept: "application/json" },
      credentials: "same-origin",
      cache: "no-store",
      signal: controller.signal,
    });
  } catch {
    throw new RequestFailed(0, "");
  } finally {
    clearTimeout(timer);
  }
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    let detail = "";
    try {
      const problem = await response.json();
      detail = problem.detail || problem.title || "";
    } catch {
      // Not problem+json; the status alone will do.
    }
    throw new RequestFailed(response.status, detail);
  }
  return response.json();
}
