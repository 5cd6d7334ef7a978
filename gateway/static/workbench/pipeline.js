// 四个一批: the year's 建成/在建/开工/储备一批, planned against actual, each project linked.

import { getJson } from "./api.js";
import { t } from "./i18n.js";
import { breadcrumb, fill, h, percent, table, text } from "./ui.js";

export async function render(root, ctx) {
  const thisYear = Number(ctx.vocab.today.slice(0, 4));
  // Without a chosen year, the plan's latest year that has begun (2025 when it is 2026).
  const year = Number(ctx.params.get("year")) || ctx.vocab.plan_year;
  const view = await getJson(`/api/v1/pipeline?year=${year}`);
  const years = [];
  for (let y = Math.min(2023, year); y <= Math.max(thisYear + 1, year); y += 1) years.push(y);
  const picker = h(
    "select",
    { id: "pipeline-year", onchange: (e) => ctx.navigate(`/app/pipeline?year=${e.target.value}&batch=${chosen.batch}`) },
    years.map((y) => h("option", { value: y, selected: y === year, text: String(y) })),
  );
  const chosen = view.batches.find((b) => b.batch === ctx.params.get("batch")) || view.batches[0];
  const overview = table(
    [
      {
        head: t("batch"),
        cell: (b) =>
          h("a", { href: `/app/pipeline?year=${year}&batch=${b.batch}`, "aria-current": b === chosen ? "true" : null, text: b.label }),
      },
      { head: t("planned"), class: "num", cell: (b) => String(b.planned) },
      { head: t("actual"), class: "num", cell: (b) => String(b.actual) },
      { head: t("completion_rate"), class: "num", cell: (b) => (b.planned ? percent(b.actual / b.planned) : "—") },
    ],
    view.batches,
  );
  const mark = (yes) => (yes ? "✓" : "");
  const batches = [chosen].map((b) =>
    h(
      "section",
      { class: "panel", id: `batch-${b.batch}`, "aria-labelledby": `batch-${b.batch}-title` },
      h("div", { class: "panel-head" }, h("h2", { id: `batch-${b.batch}-title`, text: `${b.label}（${t("planned")} ${b.planned} · ${t("actual")} ${b.actual}）` })),
      table(
        [
          { head: t("f_name"), cell: (p) => h("a", { href: `/app/projects/${p.id}`, text: p.name }) },
          { head: t("f_category"), cell: (p) => ctx.label("categories", p.category) },
          { head: t("f_stage"), cell: (p) => ctx.label("stages", p.stage) },
          { head: t("f_sub_district"), cell: (p) => text(p.sub_district) },
          { head: t("planned"), class: "num", cell: (p) => mark(p.planned) },
          { head: t("planned_on"), class: "nowrap", cell: (p) => text(p.planned_on) },
          { head: t("actual"), class: "num", cell: (p) => mark(p.actual) },
          { head: t("actual_on"), class: "nowrap", cell: (p) => text(p.actual_on) },
        ],
        b.projects,
      ),
    ),
  );
  fill(
    root,
    breadcrumb({ label: t("home"), href: "/app/projects" }, { label: t("pipeline_title") }),
    h("h1", { text: `${year} ${t("pipeline_title")}` }),
    h(
      "section",
      { class: "panel" },
      h("div", { class: "panel-head" }, h("h2", { text: t("pipeline_title") }), h("div", { class: "toolbar" }, h("label", { for: "pipeline-year", text: t("f_year") }), picker)),
      overview,
    ),
    batches,
  );
}
