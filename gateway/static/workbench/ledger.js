// 项目台账: the filter bar, the ledger table with sorting and paging, 导出当前筛选.

import { download, getJson } from "./api.js";
import { t } from "./i18n.js";
import { breadcrumb, field, fill, h, money, pager, percent, text, toast, values } from "./ui.js";

const FILTERS = ["q", "stage", "category", "sub_district", "level", "batch", "year", "overdue", "has_open_blockers"];
const SIZES = [20, 50, 100];

function filterFields(ctx, params) {
  const yesNo = [
    { key: "true", label: t("yes") },
    { key: "false", label: t("no") },
  ];
  const year = Number(ctx.vocab.today.slice(0, 4));
  const years = [2023, 2024, 2025, 2026, year].filter((y, i, all) => all.indexOf(y) === i);
  const v = (name) => params.get(name) ?? "";
  return [
    field({ name: "q", label: t("search"), type: "search", value: v("q"), placeholder: t("search_placeholder") }),
    field({ name: "stage", label: t("f_stage"), type: "select", options: ctx.vocab.stages, value: v("stage") }),
    field({ name: "category", label: t("f_category"), type: "select", options: ctx.vocab.categories, value: v("category") }),
    field({
      name: "sub_district",
      label: t("f_sub_district"),
      type: "select",
      options: ctx.vocab.sub_districts.map((s) => ({ key: s, label: s })),
      value: v("sub_district"),
    }),
    field({ name: "level", label: t("f_level"), type: "select", options: ctx.vocab.levels, value: v("level") }),
    field({ name: "batch", label: t("f_batch"), type: "select", options: ctx.vocab.batches, value: v("batch") }),
    field({
      name: "year",
      label: t("f_year"),
      type: "select",
      options: years.sort().map((y) => ({ key: String(y), label: String(y) })),
      value: v("year"),
    }),
    field({ name: "overdue", label: t("f_overdue"), type: "select", options: yesNo, value: v("overdue") }),
    field({ name: "has_open_blockers", label: t("f_has_open_blockers"), type: "select", options: yesNo, value: v("has_open_blockers") }),
  ];
}

/** The API query of the page's address: its filters, sort and page. */
export function apiQuery(params, { paging = true } = {}) {
  const q = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) q.set(name, params.get(name));
  if (params.get("sort")) q.set("sort", params.get("sort"));
  if (paging) {
    const limit = SIZES.includes(Number(params.get("limit"))) ? Number(params.get("limit")) : 20;
    q.set("limit", String(limit));
    q.set("offset", String(Math.max(0, Number(params.get("offset")) || 0)));
  }
  return q;
}

function sortHeader(label, key, params, go) {
  const sort = params.get("sort") || "";
  const state = sort === key ? "ascending" : sort === `-${key}` ? "descending" : null;
  return h("button", {
    type: "button",
    class: "sort",
    text: label,
    "aria-sort": state,
    onclick: () => go({ sort: state === "ascending" ? `-${key}` : key, offset: null }),
  });
}

function nextMilestone(m) {
  if (!m) return "—";
  return h(
    "span",
    { class: m.overdue ? "overdue" : "", title: m.overdue ? t("m_overdue") : null },
    m.title,
    h("br"),
    h("span", { class: "nowrap", text: m.due_on }),
  );
}

export async function render(root, ctx) {
  const { params, navigate } = ctx;
  const query = apiQuery(params);
  const data = await getJson(`/api/v1/projects/ledger?${query}`);
  const limit = Number(query.get("limit"));
  const offset = Number(query.get("offset"));

  /** Change some parameters of the address (null removes one) and show that page. */
  const go = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null || v === "" || v === undefined) next.delete(k);
      else next.set(k, String(v));
    }
    const qs = next.toString();
    navigate(`/app/projects${qs ? `?${qs}` : ""}`);
  };

  const filterForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": t("filter") },
    filterFields(ctx, params),
    h("div", { class: "toolbar" }, h("button", { type: "submit", class: "primary", text: t("query") }), h("button", { type: "reset", text: t("reset") })),
  );
  filterForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const chosen = values(filterForm);
    go({ ...Object.fromEntries(FILTERS.map((k) => [k, chosen[k]])), offset: null });
  });
  filterForm.addEventListener("reset", (e) => {
    e.preventDefault();
    navigate("/app/projects");
  });

  const columns = [
    { head: sortHeader(t("f_name"), "name", params, go), class: "name-col", cell: (p) => h("a", { href: `/app/projects/${p.id}`, text: p.name }) },
    { head: t("f_category"), cell: (p) => ctx.label("categories", p.category) },
    { head: sortHeader(t("f_stage"), "stage", params, go), cell: (p) => h("span", { class: `tag tag-${p.stage}`, text: ctx.label("stages", p.stage) }) },
    { head: sortHeader(t("f_sub_district"), "sub_district", params, go), cell: (p) => text(p.sub_district) },
    { head: t("f_lead_department"), cell: (p) => text(p.lead_department) },
    { head: sortHeader(t("f_planned_start"), "planned_start", params, go), class: "nowrap", cell: (p) => text(p.planned_start) },
    { head: sortHeader(t("f_planned_completion"), "planned_completion", params, go), class: "nowrap", cell: (p) => text(p.planned_completion) },
    { head: sortHeader(t("f_total_investment"), "total_investment_wan", params, go), class: "num", cell: (p) => money(p.total_investment_wan) },
    {
      head: sortHeader(t("f_completed_investment"), "completed_investment_wan", params, go),
      class: "num",
      cell: (p) => [money(p.completed_investment_wan), p.investment_share == null ? "" : ` (${percent(p.investment_share)})`],
    },
    { head: sortHeader(t("f_next_milestone"), "next_due_on", params, go), cell: (p) => nextMilestone(p.next_milestone) },
    { head: t("f_open_blockers"), class: "num", cell: (p) => (p.open_blockers ? h("a", { href: `/app/projects/${p.id}#blockers`, class: "overdue", text: String(p.open_blockers) }) : "0") },
    {
      head: t("col_actions"),
      class: "actions",
      cell: (p) => [
        h("a", { href: `/app/projects/${p.id}`, text: t("view") }),
        ctx.can("write_projects") ? [" ", h("a", { href: `/app/projects/${p.id}/edit`, text: t("edit") })] : null,
      ],
    },
  ];
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class || "" }, c.head)));
  const rows = data.items.length
    ? data.items.map((p) => h("tr", { dataset: { projectId: p.id } }, columns.map((c) => h("td", { class: c.class || "" }, c.cell(p)))))
    : [h("tr", {}, h("td", { class: "empty", colspan: columns.length, text: t("no_records") }))];

  const exportButton = h("button", {
    type: "button",
    text: t("export_filtered"),
    onclick: async (e) => {
      const button = e.currentTarget;
      button.disabled = true;
      try {
        const q = apiQuery(params, { paging: false });
        q.delete("sort");
        q.set("format", "xlsx");
        await download(`/api/v1/projects/export?${q}`, "ledger.xlsx");
      } catch (error) {
        toast(error.message, "error");
      } finally {
        button.disabled = false;
      }
    },
  });
  const actions = h(
    "div",
    { class: "toolbar" },
    ctx.can("write_projects") ? h("button", { type: "button", class: "primary", text: t("new_project"), onclick: () => navigate("/app/projects/new") }) : null,
    exportButton,
  );

  fill(
    root,
    breadcrumb({ label: t("home"), href: "/app/projects" }, { label: t("menu_ledger") }),
    h("h1", { text: t("menu_ledger") }),
    h("section", { class: "panel", "aria-label": t("filter") }, filterForm),
    h(
      "section",
      { class: "panel" },
      h("div", { class: "panel-head" }, h("span", { class: "muted", text: t("total_n", { n: data.total.toLocaleString() }) }), actions),
      h("div", { class: "table-scroll" }, h("table", { class: "data-table", id: "ledger" }, h("thead", {}, head), h("tbody", {}, rows))),
      pager({ total: data.total, limit, offset }, (o, l) => go({ offset: o || null, limit: l === 20 ? null : l })),
    ),
  );
}
