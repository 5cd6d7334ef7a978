// The status counters and the target progress bars, grouped by the plan's chapters.

import { apiLabel, fmtNumber, h, fill, isNumber } from "./dom.js";
import { t } from "./i18n.js";

export const STATUSES = ["achieved", "on_track", "at_risk", "behind", "no_data", "met", "missed"];

const NUMERALS = { 一: 1, 二: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };

/** The value of a chapter's leading Chinese numeral ("十一、…" → 11), else Infinity. */
function chapterNumber(chapter) {
  const match = /^([一二三四五六七八九十]+)、/.exec(chapter || "");
  if (!match) return Infinity;
  const digits = match[1];
  const ten = digits.indexOf("十");
  if (ten === -1) return NUMERALS[digits] ?? Infinity;
  const tens = ten === 0 ? 1 : NUMERALS[digits.slice(0, ten)] ?? 0;
  const units = NUMERALS[digits.slice(ten + 1)] ?? 0;
  return tens * 10 + units;
}

function clauseNumber(clause) {
  const n = Number.parseFloat(clause);
  return Number.isNaN(n) ? Infinity : n;
}

/** 第N条 for an article; a chapter's overall goal ("ch2") is said as such, not as an article. */
function clauseText(clause) {
  return Number.isNaN(Number.parseFloat(clause)) ? t("chapter_goal") : t("clause", { n: clause });
}

/** Targets grouped by chapter, chapters in the plan's order, targets by clause. */
export function groupByChapter(items) {
  const groups = new Map();
  for (const item of items) {
    const chapter = item.chapter || "";
    if (!groups.has(chapter)) groups.set(chapter, []);
    groups.get(chapter).push(item);
  }
  const ordered = Array.from(groups.entries()).map(([chapter, list], index) => ({
    chapter,
    index,
    items: list
      .map((item, i) => ({ item, i }))
      .sort((a, b) => clauseNumber(a.item.clause) - clauseNumber(b.item.clause) || a.i - b.i)
      .map(({ item }) => item),
  }));
  ordered.sort((a, b) => {
    if (!a.chapter !== !b.chapter) return a.chapter ? -1 : 1;
    return chapterNumber(a.chapter) - chapterNumber(b.chapter) || a.index - b.index;
  });
  return ordered;
}

// --- summary counters ---------------------------------------------------------

/** Fill the status counters; a click on one filters the targets by that status. */
export function renderSummary(root, summary, activeStatus, onPick) {
  const total = summary?.total;
  const byStatus = summary?.by_status ?? {};
  const sum = STATUSES.reduce((acc, s) => acc + (isNumber(byStatus[s]) ? byStatus[s] : 0), 0);
  const counters = STATUSES.map((status) =>
    h(
      "button",
      {
        type: "button",
        class: "counter",
        dataset: { statusCount: status, status },
        "aria-pressed": String(activeStatus === status),
        onclick: () => onPick(activeStatus === status ? "" : status),
      },
      h("span", { class: "count", text: summary ? fmtNumber(byStatus[status] ?? 0) : "—" }),
      h("span", { class: "label", text: t(`status_${status}`) }),
    ),
  );
  const totalBox = h(
    "div",
    { class: "counter counter-total", dataset: { statusCount: "total" } },
    h("span", { class: "count", text: fmtNumber(total) }),
    h("span", { class: "label", text: t("summary_total") }),
  );
  const spread = h(
    "div",
    { class: "status-spread", "aria-hidden": "true" },
    STATUSES.filter((s) => sum > 0 && byStatus[s] > 0).map((status) =>
      h("span", { dataset: { status }, style: { "flex-grow": String(byStatus[status]) } }),
    ),
  );
  fill(
    root,
    h("div", { class: "counters" }, totalBox, counters),
    summary ? spread : h("p", { class: "placeholder", text: t("section_unavailable") }),
  );
}

// --- one target row -----------------------------------------------------------

/**
 * Where `value` falls on the bar, 0..1. Targets that go down (a baseline above
 * the target, e.g. an emission rate) run from the baseline to the target.
 */
function scaler(item) {
  const target = item.target_value;
  const base = item.baseline_value;
  if (!isNumber(target)) return () => null;
  const falling = isNumber(base) && base > target;
  return (value) => {
    if (!isNumber(value)) return null;
    let ratio;
    if (falling) ratio = (base - value) / (base - target);
    else if (target === 0) ratio = value >= 0 ? 1 : 0;
    else ratio = value / target;
    return Math.min(1, Math.max(0, ratio));
  };
}

const pct = (ratio) => `${(ratio * 100).toFixed(2)}%`;

function segment(cls, from, to) {
  if (from === null || to === null || to <= from) return null;
  return h("span", { class: cls, style: { left: pct(from), width: pct(to - from) } });
}

function progressBar(item) {
  const at = scaler(item);
  const status = item.status || "no_data";
  let done = at(item.current_value);
  if (done === null && isNumber(item.progress)) done = Math.min(1, Math.max(0, item.progress));
  const forecast = at(item.forecast);
  const reserveEnd = isNumber(item.forecast) && isNumber(item.forecast_reserve)
    ? at(item.forecast + item.forecast_reserve)
    : null;
  const expected = at(item.expected_now);

  const attrs = {
    class: "bar",
    role: "progressbar",
    "aria-label": item.title || item.id,
    dataset: { status },
  };
  const unit = item.unit || "";
  const statusLabel = t(`status_${status}`);
  const falling = isNumber(item.baseline_value) && item.baseline_value > item.target_value;
  if (isNumber(item.current_value) && isNumber(item.target_value) && !falling) {
    Object.assign(attrs, {
      "aria-valuemin": "0",
      "aria-valuemax": String(item.target_value),
      "aria-valuenow": String(item.current_value),
    });
  } else if (done !== null) {
    // A falling target has no min < max on its own scale: report the share done.
    Object.assign(attrs, {
      "aria-valuemin": "0",
      "aria-valuemax": "100",
      "aria-valuenow": String(Math.round(done * 100)),
    });
  }
  attrs["aria-valuetext"] = isNumber(item.current_value)
    ? t("progress_valuetext", {
        current: fmtNumber(item.current_value),
        target: fmtNumber(item.target_value),
        unit,
        status: statusLabel,
      })
    : statusLabel;

  const expectedTitle = isNumber(item.expected_now)
    ? t("expected_pace", { value: fmtNumber(item.expected_now) })
    : null;
  return h(
    "div",
    attrs,
    done !== null && done > 0 ? segment("bar-fill", 0, done) : null,
    // Certificates that lapse before the deadline make the forecast fall short of today.
    forecast !== null && done !== null && forecast < done
      ? segment("bar-lapse", forecast, done)
      : segment("bar-forecast", done ?? 0, forecast),
    segment("bar-reserve", Math.max(forecast ?? 0, done ?? 0), reserveEnd),
    expected !== null
      ? h("span", { class: "bar-expected", style: { left: pct(expected) }, title: expectedTitle })
      : null,
  );
}

function figures(item) {
  const meta = [];
  if (isNumber(item.expected_now)) {
    meta.push(t("expected_pace", { value: fmtNumber(item.expected_now) }));
  }
  if (isNumber(item.forecast)) {
    let text = t("forecast", { value: fmtNumber(item.forecast) });
    if (isNumber(item.forecast_reserve) && item.forecast_reserve > 0) {
      text += `（${t("forecast_reserve", { value: fmtNumber(item.forecast_reserve) })}）`;
    }
    meta.push(text);
  }
  if (item.deadline) meta.push(t("deadline", { date: item.deadline }));
  // After the deadline: what the same rule counted since, kept apart from the final value.
  if (item.after_plan && isNumber(item.after_plan.value)) {
    meta.push(t("after_plan_value", { value: fmtNumber(item.after_plan.value) }));
  }
  return h(
    "div",
    { class: "target-figures" },
    h(
      "span",
      { class: "figure-main" },
      h("span", { class: "current-value", text: fmtNumber(item.current_value) }),
      h("span", { class: "figure-sep", text: " / " }),
      h("span", { class: "target-value", text: fmtNumber(item.target_value) }),
      item.unit ? h("span", { class: "unit", text: ` ${item.unit}` }) : null,
    ),
    h("span", { class: "figure-meta", text: meta.join(" · ") }),
  );
}

/** One target: clause, title, status, bar and figures. */
export function targetRow(item) {
  const status = item.status || "no_data";
  const titleId = `target-title-${String(item.id).replace(/[^\w-]/g, "_")}`;
  return h(
    "li",
    {
      class: "target",
      dataset: {
        targetId: item.id,
        status,
        source: item.source || "",
        chapter: item.chapter || "",
      },
      "aria-labelledby": titleId,
    },
    h(
      "div",
      { class: "target-head" },
      item.clause ? h("span", { class: "clause", text: clauseText(item.clause) }) : null,
      h("span", { class: "target-title", id: titleId }, apiLabel(item.title, item.id)),
      h("span", { class: "status-pill", dataset: { status }, text: t(`status_${status}`) }),
    ),
    progressBar(item),
    figures(item),
  );
}

// --- the grouped list ---------------------------------------------------------

function chapterSummary(items) {
  return h(
    "span",
    { class: "chapter-summary" },
    h("span", { text: t("chapter_count", { n: items.length }) }),
    STATUSES.filter((s) => s !== "no_data").map((status) => {
      const n = items.filter((item) => item.status === status).length;
      return n
        ? h("span", { class: "chapter-dot", dataset: { status }, title: t(`status_${status}`) }, String(n))
        : null;
    }),
  );
}

/** Build every chapter group and its rows. */
export function renderTargets(root, items) {
  const groups = groupByChapter(items);
  fill(
    root,
    groups.map(({ chapter, items: list }, index) => {
      const headingId = `chapter-${index}`;
      return h(
        "section",
        { class: "chapter", dataset: { chapter }, "aria-labelledby": headingId },
        h(
          "h3",
          { class: "chapter-title", id: headingId },
          h("span", { text: chapter || t("chapter_other") }),
          chapterSummary(list),
        ),
        h("ol", { class: "target-list" }, list.map(targetRow)),
      );
    }),
  );
}

/** Swap one row in place; false if the target is not on the page yet. */
export function replaceTargetRow(root, item) {
  const old = Array.from(root.querySelectorAll("[data-target-id]")).find(
    (el) => el.dataset.targetId === String(item.id),
  );
  if (!old) return false;
  const row = targetRow(item);
  row.hidden = old.hidden;
  old.replaceWith(row);
  row.classList.add("flash");
  row.addEventListener("animationend", () => row.classList.remove("flash"), { once: true });
  return true;
}

/** Hide rows (and chapters) that do not match; returns how many rows show. */
export function applyFilters(root, items, filters) {
  const byId = new Map(items.map((item) => [String(item.id), item]));
  const needle = filters.q.trim().toLowerCase();
  let shown = 0;
  for (const row of root.querySelectorAll("[data-target-id]")) {
    const item = byId.get(row.dataset.targetId);
    const match =
      item &&
      (!filters.status || (item.status || "no_data") === filters.status) &&
      (!filters.source || item.source === filters.source) &&
      (!needle || haystack(item).includes(needle));
    row.hidden = !match;
    if (match) shown += 1;
  }
  for (const chapter of root.querySelectorAll(".chapter")) {
    chapter.hidden = !chapter.querySelector("[data-target-id]:not([hidden])");
  }
  return shown;
}

function haystack(item) {
  return [item.id, item.title, item.clause, `第${item.clause}条`, item.chapter, item.unit]
    .filter(Boolean)
    .join(" ")
    .toLowerCase();
}
