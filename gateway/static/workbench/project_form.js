// 新建项目 / 编辑: the ledger's fields with their Chinese column names; the API's messages
// under the fields; a 412 shows what the other person changed and lets the clerk re-apply.

import { getJson, send } from "./api.js";
import { t } from "./i18n.js";
import { breadcrumb, dateTime, dialog, field, fill, h, showErrors, table, toast, values } from "./ui.js";

const FIELDS = [
  "name",
  "code",
  "category",
  "sub_district",
  "lead_department",
  "level",
  "plan_clause",
  "created_on",
  "planned_start",
  "planned_completion",
  "quantity",
  "quantity_unit",
  "total_investment_wan",
];

function specs(ctx, project, creating) {
  const v = (name) => project?.[name] ?? "";
  const subDistricts = ctx.vocab.sub_districts.map((s) => ({ key: s, label: s }));
  const out = [
    { name: "name", label: t("f_name"), required: true, wide: true, autofocus: true },
    { name: "category", label: t("f_category"), type: "select", required: true, options: ctx.vocab.categories },
    { name: "code", label: t("f_code"), placeholder: "2024-370602-47-01-000001" },
    { name: "sub_district", label: t("f_sub_district"), type: "select", options: subDistricts, blank: t("choose") },
    { name: "lead_department", label: t("f_lead_department") },
    { name: "level", label: t("f_level"), type: "select", options: ctx.vocab.levels, blank: t("choose") },
    { name: "plan_clause", label: t("f_plan_clause") },
    creating ? { name: "created_on", label: t("f_created_on"), type: "date", max: ctx.vocab.today } : null,
    { name: "planned_start", label: t("f_planned_start"), type: "date" },
    { name: "planned_completion", label: t("f_planned_completion"), type: "date" },
    { name: "quantity", label: t("f_quantity"), type: "number", min: 0, step: "any" },
    { name: "quantity_unit", label: t("f_quantity_unit") },
    { name: "total_investment_wan", label: t("f_total_investment"), type: "number", min: 0, step: "any" },
  ];
  return out.filter(Boolean).map((s) => ({ ...s, value: v(s.name) }));
}

function labelOf(name) {
  const keys = {
    name: "f_name",
    code: "f_code",
    category: "f_category",
    sub_district: "f_sub_district",
    lead_department: "f_lead_department",
    level: "f_level",
    plan_clause: "f_plan_clause",
    created_on: "f_created_on",
    planned_start: "f_planned_start",
    planned_completion: "f_planned_completion",
    quantity: "f_quantity",
    quantity_unit: "f_quantity_unit",
    total_investment_wan: "f_total_investment",
  };
  return t(keys[name] || name);
}

function shown(ctx, name, value) {
  if (value === null || value === undefined || value === "") return t("empty_value");
  if (name === "category") return ctx.label("categories", value);
  if (name === "level") return ctx.label("levels", value);
  return String(value);
}

/** The fields whose value in `form` differs from `base` (what the clerk changed). */
function changes(formValues, base) {
  const out = {};
  for (const name of FIELDS) {
    if (!(name in formValues) || name === "created_on") continue;
    const before = base[name] ?? null;
    if (formValues[name] !== before) out[name] = formValues[name];
  }
  return out;
}

async function lastChange(projectId) {
  try {
    const first = await getJson(`/api/v1/projects/${projectId}/history?limit=1`);
    const offset = Math.max(0, first.total - 1);
    return (await getJson(`/api/v1/projects/${projectId}/history?limit=1&offset=${offset}`)).items[0];
  } catch {
    return null;
  }
}

/** Show what the other person saved; resolves "reapply" or "discard". */
async function explainConflict(ctx, base, latest, mine) {
  const theirs = FIELDS.filter((n) => n !== "created_on" && (base[n] ?? null) !== (latest[n] ?? null));
  const names = [...new Set([...theirs, ...Object.keys(mine)])];
  const change = await lastChange(latest.id);
  const who = change?.actor_name || change?.actor || t("conflict_someone");
  const when = change?.at ? dateTime(change.at) : "";
  const rows = names.map((n) => ({ n }));
  const content = h(
    "div",
    {},
    h("p", { text: t("conflict_explain", { who, when }) }),
    table(
      [
        { head: t("conflict_field"), cell: (r) => labelOf(r.n) },
        { head: t("conflict_theirs"), cell: (r) => (theirs.includes(r.n) ? shown(ctx, r.n, latest[r.n]) : "—") },
        { head: t("conflict_yours"), cell: (r) => (r.n in mine ? shown(ctx, r.n, mine[r.n]) : "—") },
      ],
      rows,
    ),
  );
  return dialog(t("conflict_title"), content, [
    { name: "discard", label: t("conflict_discard") },
    { name: "reapply", label: t("conflict_reapply"), class: "primary" },
  ]);
}

export async function render(root, ctx) {
  const creating = !ctx.id;
  let project = creating ? null : await getJson(`/api/v1/projects/${ctx.id}`);
  const draw = (current, carried = {}) => {
    const form = h(
      "form",
      { class: "form-grid", novalidate: true, id: "project-form" },
      specs(ctx, { ...current, ...carried }, creating).map(field),
    );
    const title = creating ? t("new_project") : t("titled", { action: t("edit"), what: current.name });
    fill(
      root,
      breadcrumb(
        { label: t("menu_ledger"), href: "/app/projects" },
        creating ? { label: t("new_project") } : { label: current.name, href: `/app/projects/${current.id}` },
        creating ? null : { label: t("edit") },
      ),
      h("h1", { text: title }),
      h(
        "section",
        { class: "panel" },
        form,
        h(
          "div",
          { class: "form-actions" },
          h("button", { type: "submit", form: "project-form", class: "primary", text: t("save") }),
          h("button", { type: "button", text: t("cancel"), onclick: () => window.history.back() }),
        ),
      ),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = root.querySelector('button[type="submit"]');
      button.disabled = true;
      const entered = values(form);
      try {
        if (creating) {
          const body = Object.fromEntries(Object.entries(entered).filter(([, v]) => v !== null));
          const made = await send("POST", "/api/v1/projects", body);
          toast(t("saved"));
          ctx.navigate(`/app/projects/${made.id}`, { replace: true });
          return;
        }
        const mine = changes(entered, current);
        if (Object.keys(mine).length) await send("PATCH", `/api/v1/projects/${current.id}`, mine, current.version);
        toast(t("saved"));
        ctx.navigate(`/app/projects/${current.id}`, { replace: true });
      } catch (error) {
        if (error.status === 412) {
          const latest = await getJson(`/api/v1/projects/${current.id}`);
          const mine = changes(entered, current);
          const choice = await explainConflict(ctx, current, latest, mine);
          project = latest;
          draw(latest, choice === "reapply" ? mine : {});
          return;
        }
        showErrors(form, error);
      } finally {
        button.disabled = false;
      }
    });
  };
  draw(project || {});
}


