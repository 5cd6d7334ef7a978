// The page's data and how an overview answer or a stream event changes it.
// No DOM here: app.js renders from this object.

import { STATUSES } from "./targets.js";

export const SECTIONS = ["targets", "pipeline", "designations", "alerts"];

export function createState() {
  return {
    loaded: false,
    generatedAt: null,
    degraded: [],
    staleAges: {},
    sections: Object.fromEntries(SECTIONS.map((name) => [name, null])),
    // Sections missing from the last answer but still shown from an earlier one.
    kept: Object.fromEntries(SECTIONS.map((name) => [name, false])),
    items: [],
    summary: null,
    filters: { status: "", source: "", q: "" },
    live: "connecting",
    needToken: false,
    lastError: null,
    // Target id → when its last stream event arrived, so an overview fetched
    // before that event does not roll the bar back.
    targetEventAt: new Map(),
  };
}

function summaryFrom(items, previous) {
  const byStatus = Object.fromEntries(STATUSES.map((s) => [s, 0]));
  for (const item of items) {
    const s = item.status || "no_data";
    byStatus[s] = (byStatus[s] ?? 0) + 1;
  }
  return { total: Math.max(items.length, previous?.total ?? 0), by_status: byStatus };
}

/** Take in an overview answer requested at `requestedAt` (performance.now()). */
export function applyOverview(state, data, requestedAt) {
  state.generatedAt = data.generated_at ?? null;
  state.degraded = Array.isArray(data.degraded) ? data.degraded : [];
  state.staleAges = data.stale && typeof data.stale === "object" ? data.stale : {};
  for (const name of SECTIONS) {
    const fresh = data[name];
    if (fresh != null) {
      state.sections[name] = fresh;
      state.kept[name] = false;
    } else {
      // Keep what was shown before rather than emptying a section.
      state.kept[name] = state.sections[name] != null;
    }
  }
  const targets = data.targets;
  if (targets) {
    const previous = new Map(state.items.map((item) => [String(item.id), item]));
    let overridden = false;
    const items = (Array.isArray(targets.items) ? targets.items : []).map((item) => {
      const key = String(item.id);
      if ((state.targetEventAt.get(key) ?? -1) > requestedAt && previous.has(key)) {
        overridden = true;
        return previous.get(key);
      }
      return item;
    });
    state.items = items;
    state.summary =
      overridden || !targets.by_status
        ? summaryFrom(items, targets)
        : { total: targets.total ?? items.length, by_status: targets.by_status };
  }
  state.loaded = true;
}

/**
 * Take in one `target` event. Returns the merged item and whether it is new
 * to the page, or null when there is nothing to update.
 */
export function applyTargetUpdate(state, update, now) {
  if (!update || update.id == null || !state.sections.targets) return null;
  const key = String(update.id);
  state.targetEventAt.set(key, now);
  const index = state.items.findIndex((item) => String(item.id) === key);
  if (index === -1) {
    state.items.push(update);
    state.summary = summaryFrom(state.items, state.summary);
    return { item: update, added: true };
  }
  const merged = { ...state.items[index], ...update };
  const before = state.items[index].status || "no_data";
  const after = merged.status || "no_data";
  state.items[index] = merged;
  if (before !== after && state.summary) {
    const counts = { ...state.summary.by_status };
    counts[before] = Math.max(0, (counts[before] ?? 0) - 1);
    counts[after] = (counts[after] ?? 0) + 1;
    state.summary = { ...state.summary, by_status: counts };
  }
  return { item: merged, added: false };
}
