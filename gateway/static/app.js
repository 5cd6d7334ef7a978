// The dashboard page: loads the overview, keeps it live from the event stream,
// and renders every section from one state object.

import {
  OVERVIEW_URL,
  RequestFailed,
  STREAM_URL,
  Unauthorized,
  clearToken,
  getJson,
  getToken,
  loadToken,
  setToken,
} from "./api.js";
import { districtDate, fill, fmtAge, fmtDateTime, h, isNumber } from "./dom.js";
import { applyStaticLabels, getLang, has, setLang, t } from "./i18n.js";
import {
  renderAlerts,
  renderBatches,
  renderDesignations,
  renderPipelineMatrix,
  stageLabel,
} from "./panels.js";
import { applyOverview, applyTargetUpdate, createState } from "./state.js";
import { applyFilters, renderSummary, renderTargets, replaceTargetRow } from "./targets.js";
import { EventStreamClient } from "./stream.js";

// Which page sections show each overview section, for the "stale" note.
const SECTION_ELEMENTS = {
  targets: ["summary-section", "targets-section"],
  pipeline: ["batches-section", "pipeline-section"],
  designations: ["designations-section"],
  alerts: ["alerts-section"],
};
const REFRESH_DEBOUNCE_MS = 200;
const REFRESH_MAX_WAIT_MS = 1000;
const PERIODIC_REFRESH_MS = 60_000;
const TOAST_MS = 6000;
const MAX_TOASTS = 4;

const $ = (id) => document.getElementById(id);

const state = createState();

// --- rendering ----------------------------------------------------------------

function renderHeader() {
  const when = $("generated-at");
  if (state.generatedAt) {
    when.setAttribute("datetime", state.generatedAt);
    fill(when, t("generated_at", { time: fmtDateTime(state.generatedAt) }));
  } else {
    when.removeAttribute("datetime");
    fill(when, t("generated_never"));
  }
}

function renderLive() {
  const el = $("status-live");
  el.dataset.state = state.live;
  fill(el.querySelector(".live-label"), t(`live_${state.live}`));
}

function renderDegraded() {
  const notice = $("degraded-notice");
  if (!state.degraded.length) {
    notice.hidden = true;
    notice.replaceChildren();
    return;
  }
  const services = state.degraded
    .map((name) => (has(`service_${name}`) ? t(`service_${name}`) : String(name)))
    .join(t("list_separator"));
  const ages = state.degraded.map((name) => state.staleAges?.[name]?.age_seconds).filter(isNumber);
  fill(
    notice,
    ages.length
      ? t("degraded_notice", { services, age: fmtAge(Math.max(...ages)) })
      : t("degraded_notice_noage", { services }),
  );
  notice.dataset.services = state.degraded.join(" ");
  notice.hidden = false;
}

function renderSectionNotes() {
  for (const [name, ids] of Object.entries(SECTION_ELEMENTS)) {
    for (const id of ids) {
      const section = $(id);
      const note = section.querySelector(".section-note");
      const missing = state.sections[name] == null;
      // A missing section says so in its own body; the note is for kept data.
      section.dataset.availability = missing ? "unavailable" : state.kept[name] ? "stale" : "ok";
      note.hidden = missing || !state.kept[name];
      fill(note, note.hidden ? "" : t("section_stale"));
    }
  }
}

function renderSummaryCounters() {
  renderSummary($("summary"), state.summary, state.filters.status, pickStatus);
}

function renderTargetList() {
  const root = $("targets");
  if (!state.sections.targets) {
    fill(root, h("p", { class: "placeholder", text: t("section_unavailable") }));
  } else if (!state.items.length) {
    fill(root, h("p", { class: "placeholder", text: t("empty") }));
  } else {
    renderTargets(root, state.items);
  }
  refilter();
}

function refilter() {
  const shown = applyFilters($("targets"), state.items, state.filters);
  fill($("targets-shown"), t("targets_shown", { shown, total: state.items.length }));
  $("targets-empty").hidden = !(state.items.length && shown === 0);
}

function renderPanels() {
  const { pipeline, designations, alerts } = state.sections;
  renderBatches($("batches"), pipeline, $("batches-title"));
  renderPipelineMatrix($("pipeline-matrix"), pipeline);
  renderDesignations($("designations"), designations);
  renderAlerts(
    {
      overdueList: $("alerts-overdue"),
      expiringList: $("alerts-expiring"),
      overdueCount: $("alerts-overdue-count"),
      expiringCount: $("alerts-expiring-count"),
    },
    alerts,
    districtDate(state.generatedAt),
  );
}

/** Render everything; each part is guarded so one bad section cannot blank the page. */
function renderAll() {
  const parts = [
    renderHeader,
    renderLive,
    renderDegraded,
    renderSectionNotes,
    renderSummaryCounters,
    renderTargetList,
    renderPanels,
    renderLoadError,
  ];
  for (const part of parts) {
    try {
      part();
    } catch (err) {
      console.error("render failed:", part.name, err);
    }
  }
  if (state.loaded) {
    $("dashboard").hidden = false;
    $("loading-notice").hidden = true;
  }
}

// --- loading the overview -----------------------------------------------------

let inFlight = null;
let fetchAgain = false;
let failures = 0;
let retryTimer = null;

/** Fetch the overview; a call during a fetch queues exactly one more. */
let linkedShown = false;

/** `/#target=ID` (the workbench links a project's targets so): bring that target into view once. */
function revealLinkedTarget() {
  const id = new URLSearchParams(window.location.hash.replace(/^#/, "")).get("target");
  if (!id || linkedShown) return;
  const row = Array.from(document.querySelectorAll("[data-target-id]")).find(
    (el) => el.dataset.targetId === id,
  );
  if (!row) return;
  linkedShown = true;
  row.classList.add("linked");
  row.scrollIntoView({ block: "center" });
}

function refresh() {
  if (state.needToken) return Promise.resolve();
  if (inFlight) {
    fetchAgain = true;
    return inFlight;
  }
  clearTimeout(retryTimer);
  const requestedAt = performance.now();
  inFlight = (async () => {
    try {
      const data = await getJson(OVERVIEW_URL);
      failures = 0;
      state.lastError = null;
      applyOverview(state, data ?? {}, requestedAt);
      document.body.dataset.state = "ready";
      renderAll();
      revealLinkedTarget();
    } catch (err) {
      onLoadFailed(err);
    } finally {
      inFlight = null;
      if (fetchAgain) {
        fetchAgain = false;
        refresh();
      }
    }
  })();
  return inFlight;
}

function onLoadFailed(err) {
  if (err instanceof Unauthorized) {
    // Refused token: say so; no token and no session: just ask.
    askForToken(Boolean(getToken()));
    return;
  }
  console.error("overview failed:", err);
  failures += 1;
  const forbidden = err instanceof RequestFailed && err.status === 403;
  const seconds = forbidden ? 60 : Math.min(60, 2 ** failures);
  state.lastError = { status: err instanceof RequestFailed ? err.status : 0, detail: err.message, seconds };
  if (!state.loaded) document.body.dataset.state = "error";
  renderLoadError();
  $("loading-notice").hidden = true;
  retryTimer = setTimeout(refresh, seconds * 1000);
}

function renderLoadError() {
  const box = $("load-error");
  const err = state.lastError;
  box.hidden = !err;
  if (!err) return;
  let detail;
  if (err.status === 0) detail = t("load_error_network");
  else if (err.status === 403) detail = t("load_error_forbidden");
  else detail = t("load_error_status", { status: err.status });
  fill($("load-error-text"), t("load_error", { detail, seconds: err.seconds }));
}

let refreshTimer = null;
let refreshFirstAskedAt = 0;

/** Re-fetch soon, once for a burst of events, but never later than the max wait. */
function scheduleRefresh() {
  const now = performance.now();
  if (!refreshTimer) refreshFirstAskedAt = now;
  clearTimeout(refreshTimer);
  const wait = Math.max(0, Math.min(REFRESH_DEBOUNCE_MS, refreshFirstAskedAt + REFRESH_MAX_WAIT_MS - now));
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, wait);
}

// --- live events ------------------------------------------------------------------

function parseData(event) {
  try {
    return JSON.parse(event.data);
  } catch {
    console.warn("unreadable event data:", event.type, event.data);
    return null;
  }
}

function onTargetEvent(update) {
  const result = applyTargetUpdate(state, update, performance.now());
  if (!result) return;
  if (result.added || !replaceTargetRow($("targets"), result.item)) renderTargetList();
  else refilter();
  renderSummaryCounters();
}

function onProjectEvent(change) {
  if (!change) return;
  const name = change.name || `#${change.id ?? ""}`;
  toast(
    change.to === "cancelled"
      ? t("toast_cancelled", { name })
      : t("toast_stage", { name, stage: stageLabel(change.to) }),
    change,
  );
  scheduleRefresh();
}

function onStreamEvent(event) {
  if (event.type === "target") onTargetEvent(parseData(event));
  else if (event.type === "project") onProjectEvent(parseData(event));
  // "heartbeat" only keeps the connection's silence timer from firing.
}

function toast(text, change) {
  const box = $("toasts");
  const el = h(
    "div",
    { class: "toast", dataset: { projectId: change.id ?? "", stage: change.to ?? "" } },
    text,
  );
  box.append(el);
  while (box.children.length > MAX_TOASTS) box.firstElementChild.remove();
  setTimeout(() => {
    el.classList.add("leaving");
    setTimeout(() => el.remove(), 400);
  }, TOAST_MS);
}

const stream = new EventStreamClient({
  url: STREAM_URL,
  token: getToken,
  onEvent: onStreamEvent,
  onState: (live) => {
    state.live = live;
    renderLive();
  },
  // Events missed while disconnected may be past the server's replay window.
  onOpen: ({ reconnected }) => reconnected && scheduleRefresh(),
  onUnauthorized: () => askForToken(Boolean(getToken())),
});

// --- token and controls -------------------------------------------------------

/**
 * Show the token form. `invalid`: the server refused the token, so everything
 * stops until a new one is given; otherwise the user asked to change it and
 * the page keeps running until they do (or cancel).
 */
function askForToken(invalid) {
  if (invalid || !getToken()) {
    state.needToken = true;
    stream.stop();
    clearTimeout(retryTimer);
    clearToken();
    if (!state.loaded) document.body.dataset.state = "auth";
  }
  $("auth-invalid").hidden = !invalid;
  $("change-token").hidden = true;
  $("token-cancel").hidden = state.needToken;
  $("auth-panel").hidden = false;
  $("loading-notice").hidden = true;
  $("token-input").focus();
}

function start() {
  state.needToken = false;
  $("auth-panel").hidden = true;
  $("change-token").hidden = false;
  if (!state.loaded) {
    $("loading-notice").hidden = false;
    document.body.dataset.state = "loading";
  }
  refresh();
  // Restart so the stream carries the current token.
  stream.stop();
  stream.start();
}

function pickStatus(status) {
  state.filters.status = status;
  $("filter-status").value = status;
  renderSummaryCounters();
  refilter();
}

function wireControls() {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("token-input");
    if (!input.value.trim()) return;
    setToken(input.value);
    input.value = "";
    start();
  });
  $("change-token").addEventListener("click", () => askForToken(false));
  $("token-cancel").addEventListener("click", () => {
    $("auth-panel").hidden = true;
    $("change-token").hidden = false;
  });
  $("retry-now").addEventListener("click", () => refresh());
  $("lang-switch").addEventListener("click", () => {
    setLang(getLang() === "zh" ? "en" : "zh");
    $("lang-switch").setAttribute("lang", getLang() === "zh" ? "en" : "zh-CN");
    applyStaticLabels();
    renderAll();
  });
  $("target-filters").addEventListener("submit", (event) => event.preventDefault());
  $("filter-status").addEventListener("change", (event) => pickStatus(event.target.value));
  $("filter-source").addEventListener("change", (event) => {
    state.filters.source = event.target.value;
    refilter();
  });
  $("filter-search").addEventListener("input", (event) => {
    state.filters.q = event.target.value;
    refilter();
  });
  // A `#token=…` link opened in a tab that already shows the page.
  window.addEventListener("hashchange", () => {
    if (/(^#|&)token=/.test(window.location.hash) && loadToken()) start();
  });
  setInterval(() => {
    if (!state.needToken) refresh();
  }, PERIODIC_REFRESH_MS);
}

function boot() {
  $("lang-switch").setAttribute("lang", getLang() === "zh" ? "en" : "zh-CN");
  applyStaticLabels();
  renderLive();
  wireControls();
  // A token from the link or from storage; else the session of someone signed in to the
  // workbench; else the page asks for a token.
  loadToken();
  start();
}

boot();
