// 项目详情: summary, stage timeline and 推进阶段, milestones, the month-by-month investment
// grid, blockers, the targets it counts toward, and its history.

import { ApiError, call, getJson, send } from "./api.js";
import { t } from "./i18n.js";
import {
  breadcrumb,
  confirmAction,
  dialog,
  field,
  fill,
  formDialog,
  h,
  money,
  percent,
  showErrors,
  table,
  text,
  toast,
  values,
} from "./ui.js";
import { historyPanel } from "./project_history.js";

function stageDate(project, stage) {
  const entries = project.stages.filter((s) => s.stage === stage);
  return entries.length ? entries[entries.length - 1].on : null;
}

function summary(ctx, p) {
  const rows = [
    [t("f_code"), text(p.code)],
    [t("f_category"), ctx.label("categories", p.category)],
    [t("f_stage"), ctx.label("stages", p.stage)],
    [t("f_sub_district"), text(p.sub_district)],
    [t("f_lead_department"), text(p.lead_department)],
    [t("f_level"), ctx.label("levels", p.level)],
    [t("f_plan_clause"), text(p.plan_clause)],
    [t("f_created_on"), text(p.created_on)],
    [t("f_planned_start"), text(p.planned_start)],
    [t("f_planned_completion"), text(p.planned_completion)],
    [t("f_actual_start"), text(stageDate(p, "starting") || stageDate(p, "building"))],
    [t("f_built_on"), text(p.built_on)],
    [t("f_quantity"), p.quantity == null ? "—" : `${money(p.quantity)} ${p.quantity_unit || ""}`],
    [t("f_total_investment"), money(p.total_investment_wan)],
    [t("f_completed_investment"), money(p.completed_investment_wan)],
    [t("f_investment_share"), percent(p.investment_share)],
  ];
  return h("dl", { class: "summary-grid" }, rows.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: v }))));
}

// ---- stages -------------------------------------------------------------------------------

function timeline(ctx, p) {
  const order = ctx.vocab.stage_order;
  const reached = order.indexOf(p.stage);
  const items = order.map((stage, i) => {
    const on = stageDate(p, stage);
    const state = stage === p.stage ? "current" : on || (reached >= 0 && i < reached) ? "done" : "";
    return h("li", { class: state, dataset: { stage } }, h("div", { text: ctx.label("stages", stage) }), h("div", { class: "muted", text: on || "—" }));
  });
  if (p.stage === "cancelled") {
    items.push(h("li", { class: "current", dataset: { stage: "cancelled" } }, h("div", { text: ctx.label("stages", "cancelled") }), h("div", { class: "muted", text: p.stage_on })));
  }
  return h("ol", { class: "timeline", "aria-label": t("stage_timeline") }, items);
}

/** 推进阶段: target stage, a date bounded by the last move and today, a note; the API's dry
 * check says before submitting whether the move is allowed, and why not. */
async function advanceStage(ctx, p, reload) {
  const lastOn = p.stages.length ? p.stages[p.stages.length - 1].on : p.created_on;
  const options = ctx.vocab.stages.filter((s) => s.key !== p.stage);
  const allowed = ctx.vocab.moves[p.stage] || [];
  const form = h(
    "form",
    { class: "form-grid", novalidate: true },
    field({ name: "to", label: t("target_stage"), type: "select", required: true, options, value: allowed[0] || "" }),
    field({ name: "on", label: t("transition_on"), type: "date", required: true, min: lastOn, max: ctx.vocab.today, value: ctx.vocab.today }),
    field({ name: "note", label: t("note"), type: "textarea", wide: true, maxlength: 500 }),
    h("p", { class: "move-check wide", id: "move-check", role: "status", "aria-live": "polite" }),
  );
  form.addEventListener("submit", (e) => e.preventDefault());
  let verdict = false;
  let asked = 0;
  const check = async () => {
    const line = form.querySelector("#move-check");
    const body = values(form);
    const saveButton = form.closest("dialog")?.querySelector("button.primary");
    if (!body.to) return;
    // Only the answer to the latest question counts: an earlier one may arrive later.
    const turn = ++asked;
    let refusal = null;
    try {
      await call("POST", `/api/v1/projects/${p.id}/transitions?dry_run=true`, { json: { to: body.to, on: body.on, note: body.note } });
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      refusal = error;
    }
    if (turn !== asked) return;
    if (!refusal) {
      verdict = true;
      line.className = "move-check wide muted";
      line.textContent = t("move_allowed");
    } else {
      verdict = false;
      line.className = "move-check wide error-text";
      line.textContent = refusal.message;
    }
    if (saveButton) saveButton.disabled = !verdict;
  };
  form.addEventListener("change", check);
  setTimeout(check, 0);
  const answer = await dialog(t("advance_stage"), form, [
    { name: "cancel", label: t("cancel") },
    { name: "save", label: t("save"), class: "primary" },
  ], async (name) => {
    if (name !== "save") return true;
    await check();
    if (!verdict) return false;
    const body = values(form);
    const from = ctx.label("stages", p.stage);
    const to = ctx.label("stages", body.to);
    const message =
      body.to === "cancelled"
        ? t("confirm_cancel_project", { name: p.name })
        : t("confirm_move", { name: p.name, from, to, on: body.on || ctx.vocab.today });
    if (!(await confirmAction(body.to === "cancelled" ? t("cancel_project") : t("advance_stage"), message, { danger: body.to === "cancelled" }))) return false;
    try {
      await send("POST", `/api/v1/projects/${p.id}/transitions`, body, p.version);
      return true;
    } catch (error) {
      showErrors(form, error);
      return false;
    }
  });
  if (answer === "save") {
    toast(t("saved"));
    reload();
  }
}

// ---- milestones ---------------------------------------------------------------------------

function milestoneFields(ctx, m = {}) {
  return [
    { name: "title", label: t("m_title"), required: true, wide: true, value: m.title },
    { name: "kind", label: t("m_kind"), type: "select", options: ctx.vocab.milestone_kinds, value: m.kind || "other", noBlank: true },
    { name: "due_on", label: t("m_due_on"), type: "date", value: m.due_on },
    { name: "done_on", label: t("m_done_on"), type: "date", max: ctx.vocab.today, value: m.done_on },
  ];
}

function milestonesPanel(ctx, p, reload) {
  const writer = ctx.can("write_projects");
  const base = `/api/v1/projects/${p.id}/milestones`;
  const edit = async (m) => {
    const saved = await formDialog(t("edit_milestone"), milestoneFields(ctx, m), (v) => send("PATCH", `${base}/${m.id}`, v, m.version));
    if (saved) {
      toast(t("saved"));
      reload();
    }
  };
  const markDone = async (m) => {
    const saved = await formDialog(
      t("mark_done"),
      [{ name: "done_on", label: t("m_done_on"), type: "date", required: true, max: ctx.vocab.today, value: ctx.vocab.today }],
      (v) => send("PATCH", `${base}/${m.id}`, v, m.version),
      { submitLabel: t("mark_done") },
    );
    if (saved) {
      toast(t("saved"));
      reload();
    }
  };
  const add = async () => {
    const saved = await formDialog(t("add_milestone"), milestoneFields(ctx), (v) => send("POST", base, v));
    if (saved) {
      toast(t("saved"));
      reload();
    }
  };
  const columns = [
    { head: t("m_title"), cell: (m) => m.title },
    { head: t("m_kind"), cell: (m) => ctx.label("milestone_kinds", m.kind) },
    { head: t("m_due_on"), class: "nowrap", cell: (m) => h("span", { class: m.overdue ? "overdue" : "", text: text(m.due_on) }) },
    { head: t("m_done_on"), class: "nowrap", cell: (m) => text(m.done_on) },
    {
      head: t("m_status"),
      cell: (m) => (m.done_on ? t("m_done") : m.overdue ? h("span", { class: "overdue", text: t("m_overdue") }) : t("m_open")),
    },
  ];
  if (writer) {
    columns.push({
      head: t("col_actions"),
      class: "actions",
      cell: (m) => [
        h("button", { type: "button", class: "link-button", text: t("edit"), "aria-label": `${t("edit")} ${m.title}`, onclick: () => edit(m) }),
        m.done_on ? null : [" ", h("button", { type: "button", class: "link-button", text: t("mark_done"), "aria-label": `${t("mark_done")} ${m.title}`, onclick: () => markDone(m) })],
      ],
    });
  }
  return h(
    "section",
    { class: "panel", id: "milestones", "aria-labelledby": "milestones-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "milestones-title", text: t("milestones") }), writer ? h("button", { type: "button", class: "primary", text: t("add_milestone"), onclick: add }) : null),
    table(columns, p.milestones),
  );
}

// ---- investment ---------------------------------------------------------------------------

function investmentPanel(ctx, p, reload, year) {
  const writer = ctx.can("write_projects");
  const thisMonth = ctx.vocab.today.slice(0, 7);
  // From the year it entered the ledger to this year, and always the year shown.
  const firstYear = Math.min(Number(p.created_on.slice(0, 4)), year);
  const lastYear = Math.max(Number(ctx.vocab.today.slice(0, 4)), year);
  const reported = new Map(p.investment.map((m) => [m.month, m]));
  const months = Array.from({ length: 12 }, (_, i) => `${year}-${String(i + 1).padStart(2, "0")}`);
  const yearPick = h(
    "select",
    {
      id: "investment-year",
      onchange: (e) => reload({ year: e.target.value }),
    },
    Array.from({ length: Math.max(1, lastYear - firstYear + 1) }, (_, i) => firstYear + i).map((y) =>
      h("option", { value: y, selected: y === year, text: String(y) }),
    ),
  );
  const form = h("form", { id: "investment-grid", novalidate: true });
  const rows = months.map((month) => {
    const r = reported.get(month);
    const future = month > thisMonth;
    const label = `${month} ${t("amount_wan")}`;
    const cell = writer && !future
      ? h(
          "div",
          { dataset: { field: month } },
          h("input", { class: "grid-input", type: "number", min: 0, step: "any", name: month, value: r ? r.amount_wan : "", "aria-label": label, inputmode: "decimal" }),
          h("p", { class: "field-error", hidden: true }),
        )
      : money(r?.amount_wan);
    return h(
      "tr",
      {},
      h("th", { scope: "row", text: month }),
      h("td", { class: "num" }, cell),
      h("td", { class: "muted", text: r && r.version > 1 ? t("corrected_times", { n: r.version - 1 }) : "" }),
    );
  });
  const total = p.investment.filter((m) => m.month.startsWith(`${year}-`)).reduce((sum, m) => sum + m.amount_wan, 0);
  form.append(
    h(
      "div",
      { class: "table-scroll" },
      h(
        "table",
        { class: "data-table" },
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: t("month") }), h("th", { scope: "col", class: "num", text: t("amount_wan") }), h("th", { scope: "col", text: t("correction") }))),
        h("tbody", {}, rows),
        h("tfoot", {}, h("tr", {}, h("th", { scope: "row", text: `${year}` }), h("td", { class: "num", text: money(total) }), h("td"))),
      ),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    let changed = 0;
    for (const input of form.querySelectorAll("input")) {
      const wrap = input.parentElement.querySelector(".field-error");
      wrap.hidden = true;
      input.removeAttribute("aria-invalid");
      const raw = input.value.trim();
      const before = reported.get(input.name);
      if (raw === "" || (before && Number(raw) === before.amount_wan)) continue;
      try {
        await send("POST", `/api/v1/projects/${p.id}/investment`, { month: input.name, amount_wan: Number(raw) }, before?.version);
        changed += 1;
      } catch (error) {
        const messages = Object.values(error.fieldErrors?.() || {});
        wrap.textContent = messages.join("；") || error.message;
        wrap.hidden = false;
        input.setAttribute("aria-invalid", "true");
        button.disabled = false;
        return;
      }
    }
    button.disabled = false;
    if (changed) {
      toast(t("saved"));
      reload({ year });
    }
  });
  if (writer) form.append(h("div", { class: "form-actions" }, h("button", { type: "submit", class: "primary", text: t("report_investment") })));
  return h(
    "section",
    { class: "panel", id: "investment", "aria-labelledby": "investment-title" },
    h(
      "div",
      { class: "panel-head" },
      h("h2", { id: "investment-title", text: t("investment") }),
      h("div", { class: "toolbar" }, h("label", { for: "investment-year", text: t("f_year") }), yearPick, h("span", { class: "muted", text: `${t("cumulative")} ${money(p.completed_investment_wan)}（${percent(p.investment_share)}）` })),
    ),
    form,
  );
}

// ---- blockers ----------------------------------------------------------------------------

export function blockerFields(ctx) {
  return [
    { name: "kind", label: t("b_kind"), type: "select", options: ctx.vocab.blocker_kinds, value: "other", noBlank: true },
    { name: "responsible_department", label: t("b_department") },
    { name: "description", label: t("b_description"), type: "textarea", required: true, wide: true },
    { name: "due_on", label: t("b_due_on"), type: "date" },
  ];
}

/** 办结: resolution date and note, then the blocker leaves the open list. */
export async function resolveBlocker(ctx, b) {
  const base = `/api/v1/projects/${b.project_id}/blockers/${b.id}`;
  return formDialog(
    t("titled", { action: t("resolve"), what: b.description.slice(0, 30) }),
    [
      { name: "resolved_on", label: t("b_resolved_on"), type: "date", required: true, max: ctx.vocab.today, value: ctx.vocab.today },
      { name: "resolution", label: t("b_resolution"), type: "textarea", required: true, wide: true },
    ],
    (v) => send("PATCH", base, v, b.version),
    { submitLabel: t("resolve"), confirm: () => t("confirm_resolve", { what: b.description.slice(0, 30) }) },
  );
}

function blockersPanel(ctx, p, reload) {
  const writer = ctx.can("write_projects");
  const add = async () => {
    const saved = await formDialog(t("add_blocker"), blockerFields(ctx), (v) => send("POST", `/api/v1/projects/${p.id}/blockers`, v));
    if (saved) {
      toast(t("saved"));
      reload();
    }
  };
  const columns = [
    { head: t("b_kind"), cell: (b) => ctx.label("blocker_kinds", b.kind) },
    { head: t("b_description"), cell: (b) => b.description },
    { head: t("b_department"), cell: (b) => text(b.responsible_department) },
    { head: t("b_due_on"), class: "nowrap", cell: (b) => h("span", { class: b.overdue ? "overdue" : "", text: text(b.due_on) }) },
    { head: t("b_resolved_on"), class: "nowrap", cell: (b) => text(b.resolved_on) },
    { head: t("b_resolution"), cell: (b) => text(b.resolution) },
  ];
  if (writer) {
    columns.push({
      head: t("col_actions"),
      class: "actions",
      cell: (b) =>
        b.open
          ? h("button", {
              type: "button",
              class: "link-button",
              text: t("resolve"),
              onclick: async () => {
                if (await resolveBlocker(ctx, b)) {
                  toast(t("saved"));
                  reload();
                }
              },
            })
          : "",
    });
  }
  return h(
    "section",
    { class: "panel", id: "blockers", "aria-labelledby": "blockers-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "blockers-title", text: t("blockers") }), writer ? h("button", { type: "button", class: "primary", text: t("add_blocker"), onclick: add }) : null),
    table(columns, p.blockers),
  );
}

// ---- targets -------------------------------------------------------------------------------

async function targetsPanel(p) {
  const section = h("section", { class: "panel", id: "targets", "aria-labelledby": "targets-title" }, h("div", { class: "panel-head" }, h("h2", { id: "targets-title", text: t("targets_counted") })));
  let items = [];
  try {
    items = (await getJson(`/api/v1/targets?source=projects&category=${encodeURIComponent(p.category)}`)).items;
  } catch (error) {
    section.append(h("p", { class: "muted", text: error.message }));
    return section;
  }
  if (!items.length) section.append(h("p", { class: "muted", text: t("targets_none") }));
  else
    section.append(
      h(
        "ul",
        { class: "history" },
        items.map((x) =>
          h(
            "li",
            {},
            h("a", { href: `/#target=${encodeURIComponent(x.id)}`, text: x.title, dataset: { external: "true" } }),
            " ",
            h("span", { class: "muted", text: `${money(x.current_value)} / ${money(x.target_value)} ${x.unit || ""} · ${t(`status_${x.status}`)}` }),
          ),
        ),
      ),
    );
  return section;
}

// ---- the page -----------------------------------------------------------------------------

export async function render(root, ctx) {
  // Without a chosen year, the plan's latest year that has begun (2025 when it is 2026).
  const year = Number(ctx.params.get("year")) || ctx.vocab.plan_year;
  const p = await getJson(`/api/v1/projects/${ctx.id}`);
  const reload = (changes = {}) => {
    const params = new URLSearchParams(ctx.params);
    if (changes.year) params.set("year", changes.year);
    const qs = params.toString();
    ctx.navigate(`/app/projects/${p.id}${qs ? `?${qs}` : ""}`, { replace: !changes.year });
  };
  const writer = ctx.can("write_projects");
  const canMove = writer && (ctx.vocab.moves[p.stage] || []).length > 0;
  const [targets, history] = await Promise.all([targetsPanel(p), historyPanel(ctx, p)]);
  fill(
    root,
    breadcrumb({ label: t("menu_ledger"), href: "/app/projects" }, { label: p.name }),
    h("h1", {}, p.name, " ", h("span", { class: `tag tag-${p.stage}`, text: ctx.label("stages", p.stage) })),
    h(
      "section",
      { class: "panel", "aria-labelledby": "summary-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "summary-title", text: t("summary") }), writer ? h("button", { type: "button", text: t("edit"), onclick: () => ctx.navigate(`/app/projects/${p.id}/edit`) }) : null),
      summary(ctx, p),
    ),
    h(
      "section",
      { class: "panel", "aria-labelledby": "stages-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "stages-title", text: t("stage_timeline") }), canMove ? h("button", { type: "button", class: "primary", text: t("advance_stage"), onclick: () => advanceStage(ctx, p, reload) }) : null),
      timeline(ctx, p),
    ),
    milestonesPanel(ctx, p, reload),
    investmentPanel(ctx, p, reload, year),
    blockersPanel(ctx, p, reload),
    h("div", { class: "two-col" }, targets, history),
  );
}
