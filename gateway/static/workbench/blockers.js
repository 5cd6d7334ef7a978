// 难点堵点: every open blocker across projects, by responsible department and due date.

import { getJson } from "./api.js";
import { t } from "./i18n.js";
import { resolveBlocker } from "./project_detail.js";
import { breadcrumb, fill, h, table, text, toast } from "./ui.js";

function daysLate(today, due) {
  if (!due) return 0;
  return Math.round((Date.parse(today) - Date.parse(due)) / 86_400_000);
}

export async function render(root, ctx) {
  const department = ctx.params.get("department") || "";
  const items = [];
  // Every open blocker, a page of 500 at a time (the API's largest page).
  for (let offset = 0; ; offset += 500) {
    const page = await getJson(`/api/v1/blockers?open=true&limit=500&offset=${offset}`);
    items.push(...page.items);
    if (items.length >= page.total || !page.items.length) break;
  }
  const byDepartment = new Map();
  for (const b of items) {
    const key = b.responsible_department || "—";
    byDepartment.set(key, [...(byDepartment.get(key) || []), b]);
  }
  const departments = [...byDepartment.keys()].sort((a, b) => a.localeCompare(b, "zh-CN"));
  const writer = ctx.can("write_projects");
  const reload = () => ctx.navigate(window.location.pathname + window.location.search, { replace: true });
  const picker = h(
    "select",
    { id: "blocker-department", onchange: (e) => ctx.navigate(`/app/blockers${e.target.value ? `?department=${encodeURIComponent(e.target.value)}` : ""}`) },
    h("option", { value: "", text: t("all") }),
    departments.map((d) => h("option", { value: d, selected: d === department, text: `${d}（${byDepartment.get(d).length}）` })),
  );
  const columns = [
    { head: t("b_project"), cell: (b) => h("a", { href: `/app/projects/${b.project_id}#blockers`, text: b.project_name || `#${b.project_id}` }) },
    { head: t("b_kind"), cell: (b) => ctx.label("blocker_kinds", b.kind) },
    { head: t("b_description"), cell: (b) => b.description },
    { head: t("b_raised_on"), class: "nowrap", cell: (b) => b.raised_on },
    {
      head: t("b_due_on"),
      class: "nowrap",
      cell: (b) => (b.overdue ? h("span", { class: "overdue", text: `${b.due_on}（${t("days_overdue", { n: daysLate(ctx.vocab.today, b.due_on) })}）` }) : text(b.due_on)),
    },
  ];
  if (writer) {
    columns.push({
      head: t("col_actions"),
      class: "actions",
      cell: (b) =>
        h("button", {
          type: "button",
          class: "link-button",
          text: t("resolve"),
          onclick: async () => {
            if (await resolveBlocker(ctx, b)) {
              toast(t("saved"));
              reload();
            }
          },
        }),
    });
  }
  const byDue = (a, b) => (a.due_on || "9999").localeCompare(b.due_on || "9999");
  const shown = departments.filter((d) => !department || d === department);
  fill(
    root,
    breadcrumb({ label: t("home"), href: "/app/projects" }, { label: t("menu_blockers") }),
    h("h1", { text: t("blockers_title") }),
    h(
      "section",
      { class: "panel" },
      h("div", { class: "filters" }, h("div", { class: "field" }, h("label", { for: "blocker-department", text: t("b_department") }), picker), h("span", { class: "muted", text: t("total_n", { n: items.length }) })),
    ),
    shown.length
      ? shown.map((d) =>
          h(
            "section",
            { class: "panel", "aria-label": d },
            h("div", { class: "panel-head" }, h("h2", { text: `${d}（${byDepartment.get(d).length}）` })),
            table(columns, byDepartment.get(d).sort(byDue)),
          ),
        )
      : h("section", { class: "panel" }, h("p", { class: "muted", text: t("no_records") })),
  );
}
