// The side panels: the year's four batches, the pipeline by stage × category,
// designations by type, and the alerts.

import { apiLabel, daysBetween, fill, fmtNumber, fmtPercent, h, isNumber } from "./dom.js";
import { has, t } from "./i18n.js";

export function stageLabel(stage) {
  return has(`stage_${stage}`) ? t(`stage_${stage}`) : String(stage ?? "");
}

function placeholderRow(columns, text) {
  return h("tr", { class: "placeholder" }, h("td", { colspan: String(columns), text }));
}

/** The four batches of the year: planned vs actual. `pipeline` may be null. */
export function renderBatches(table, pipeline, caption) {
  fill(caption, pipeline?.year ? t("batches_title", { year: pipeline.year }) : t("batches_title_noyear"));
  const body = table.tBodies[0];
  const batches = pipeline?.batches;
  if (!Array.isArray(batches)) {
    fill(body, placeholderRow(4, t("section_unavailable")));
    return;
  }
  if (!batches.length) {
    fill(body, placeholderRow(4, t("empty")));
    return;
  }
  fill(
    body,
    batches.map((batch) => {
      const ratio =
        isNumber(batch.planned) && batch.planned > 0 && isNumber(batch.actual)
          ? batch.actual / batch.planned
          : null;
      return h(
        "tr",
        { dataset: { batch: batch.batch } },
        h("th", { scope: "row" }, apiLabel(batch.label, batch.batch)),
        h("td", { class: "num planned", text: fmtNumber(batch.planned) }),
        h("td", { class: "num actual", text: fmtNumber(batch.actual) }),
        h(
          "td",
          { class: "num rate" },
          h(
            "span",
            { class: "rate-box" },
            h(
              "span",
              { class: "mini-bar", "aria-hidden": "true" },
              ratio !== null
                ? h("span", { style: { width: `${Math.min(1, ratio) * 100}%` } })
                : null,
            ),
            h("span", { text: fmtPercent(ratio) }),
          ),
        ),
      );
    }),
  );
}

/** Project counts by stage (columns, in the order the overview gives) and category (rows),
 * with totals. */
export function renderPipelineMatrix(table, pipeline) {
  const given = pipeline?.by_stage_category;
  const cells = Array.isArray(given) ? given.filter((cell) => cell?.stage != null) : null;
  const stages = Array.isArray(pipeline?.stages) ? [...pipeline.stages] : [];
  if (Array.isArray(cells)) {
    for (const cell of cells) if (!stages.includes(cell.stage)) stages.push(cell.stage);
  }
  fill(
    table.tHead,
    h(
      "tr",
      {},
      h("th", { scope: "col", text: t("pipeline_col_category") }),
      stages.map((stage) => h("th", { scope: "col", class: "num", dataset: { stage } }, stageLabel(stage))),
      h("th", { scope: "col", class: "num", text: t("pipeline_col_total") }),
    ),
  );
  const width = stages.length + 2;
  if (!Array.isArray(cells)) {
    fill(table.tBodies[0], placeholderRow(width, t("section_unavailable")));
    table.tFoot.replaceChildren();
    return;
  }
  const categories = new Map();
  for (const cell of cells) {
    if (!categories.has(cell.category)) {
      categories.set(cell.category, { label: cell.category_label, counts: {} });
    }
    const row = categories.get(cell.category);
    row.counts[cell.stage] = (row.counts[cell.stage] ?? 0) + (isNumber(cell.count) ? cell.count : 0);
  }
  if (!categories.size) {
    fill(table.tBodies[0], placeholderRow(width, t("empty")));
    table.tFoot.replaceChildren();
    return;
  }
  const columnTotals = Object.fromEntries(stages.map((s) => [s, 0]));
  const rows = Array.from(categories.entries()).map(([category, { label, counts }]) => {
    let rowTotal = 0;
    const tds = stages.map((stage) => {
      const n = counts[stage] ?? 0;
      rowTotal += n;
      columnTotals[stage] += n;
      return h("td", {
        class: n ? "num" : "num zero",
        dataset: { stage, category },
        text: fmtNumber(n),
      });
    });
    return h(
      "tr",
      { dataset: { category } },
      h("th", { scope: "row" }, apiLabel(label, category)),
      tds,
      h("td", { class: "num total", text: fmtNumber(rowTotal) }),
    );
  });
  fill(table.tBodies[0], rows);
  const grand = Object.values(columnTotals).reduce((a, b) => a + b, 0);
  fill(
    table.tFoot,
    h(
      "tr",
      {},
      h("th", { scope: "row", text: t("pipeline_col_total") }),
      stages.map((stage) =>
        h("td", { class: "num", dataset: { stageTotal: stage }, text: fmtNumber(columnTotals[stage]) }),
      ),
      h("td", { class: "num total", text: fmtNumber(grand) }),
    ),
  );
}

/** Designation counts by type, as bars scaled to the largest. */
export function renderDesignations(list, designations) {
  const types = designations?.by_type;
  if (!Array.isArray(types)) {
    fill(list, h("li", { class: "placeholder", text: t("section_unavailable") }));
    return;
  }
  if (!types.length) {
    fill(list, h("li", { class: "placeholder", text: t("empty") }));
    return;
  }
  const max = Math.max(1, ...types.map((d) => (isNumber(d.count) ? d.count : 0)));
  const sorted = [...types].sort((a, b) => (b.count ?? 0) - (a.count ?? 0));
  fill(
    list,
    sorted.map((d) =>
      h(
        "li",
        { dataset: { designationType: d.type } },
        h("span", { class: "designation-label" }, apiLabel(d.label, d.type)),
        h(
          "span",
          { class: "designation-bar", "aria-hidden": "true" },
          h("span", { style: { width: `${((d.count ?? 0) / max) * 100}%` } }),
        ),
        h("span", { class: "num count", text: fmtNumber(d.count) }),
      ),
    ),
  );
}

function milestoneKind(kind) {
  return has(`milestone_${kind}`) ? t(`milestone_${kind}`) : kind;
}

function expiryText(days) {
  if (days === null) return "";
  if (days > 0) return t("expires_in_days", { n: days });
  if (days === 0) return t("expires_today");
  return t("expired_days", { n: -days });
}

/** Overdue milestones and designations about to lapse, as of `today`. */
export function renderAlerts({ overdueList, expiringList, overdueCount, expiringCount }, alerts, today) {
  const overdue = alerts?.overdue_milestones;
  const expiring = alerts?.expiring_designations;
  fill(overdueCount, Array.isArray(overdue) ? String(overdue.length) : "—");
  fill(expiringCount, Array.isArray(expiring) ? String(expiring.length) : "—");

  if (!Array.isArray(overdue)) {
    fill(overdueList, h("li", { class: "placeholder", text: t("section_unavailable") }));
  } else if (!overdue.length) {
    fill(overdueList, h("li", { class: "placeholder", text: t("alerts_none") }));
  } else {
    const sorted = [...overdue].sort((a, b) => String(a.due_on).localeCompare(String(b.due_on)));
    fill(
      overdueList,
      sorted.map((m) => {
        const late = daysBetween(m.due_on, today);
        return h(
          "li",
          { class: "alert", dataset: { projectId: m.project_id, kind: m.kind } },
          h(
            "span",
            { class: "alert-main" },
            h("strong", { text: m.project_name || `#${m.project_id ?? ""}` }),
            m.title ? ` · ${m.title}` : null,
          ),
          h(
            "span",
            { class: "alert-meta" },
            m.kind ? h("span", { class: "tag", text: milestoneKind(m.kind) }) : null,
            " ",
            m.due_on ? t("due_on", { date: m.due_on }) : null,
          ),
          late !== null && late > 0
            ? h("span", { class: "badge badge-behind", text: t("overdue_days", { n: late }) })
            : null,
        );
      }),
    );
  }

  if (!Array.isArray(expiring)) {
    fill(expiringList, h("li", { class: "placeholder", text: t("section_unavailable") }));
  } else if (!expiring.length) {
    fill(expiringList, h("li", { class: "placeholder", text: t("alerts_none") }));
  } else {
    const sorted = [...expiring].sort((a, b) =>
      String(a.expires_on).localeCompare(String(b.expires_on)),
    );
    fill(
      expiringList,
      sorted.map((d) => {
        const left = daysBetween(today, d.expires_on);
        return h(
          "li",
          { class: "alert", dataset: { enterpriseId: d.enterprise_id, designationType: d.type } },
          h(
            "span",
            { class: "alert-main" },
            h("strong", { text: d.enterprise_name || `#${d.enterprise_id ?? ""}` }),
          ),
          h(
            "span",
            { class: "alert-meta" },
            d.type_label || d.type ? h("span", { class: "tag" }, apiLabel(d.type_label, d.type)) : null,
            " ",
            d.expires_on ? t("expires_on", { date: d.expires_on }) : null,
          ),
          left === null ? null : h("span", {
            class: left <= 30 ? "badge badge-behind" : "badge badge-at-risk",
            text: expiryText(left),
          }),
        );
      }),
    );
  }
}
