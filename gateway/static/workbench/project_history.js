// 变更记录: who changed what and when, field by field (before → after), in the ledger's words.

import { getJson } from "./api.js";
import { has, t } from "./i18n.js";
import { dateTime, h, money } from "./ui.js";

const FIELD_KEYS = {
  name: "f_name",
  code: "f_code",
  category: "f_category",
  stage: "f_stage",
  stage_on: "transition_on",
  note: "note",
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
  title: "m_title",
  due_on: "m_due_on",
  done_on: "m_done_on",
  month: "month",
  amount_wan: "amount_wan",
  description: "b_description",
  responsible_department: "b_department",
  resolved_on: "b_resolved_on",
  resolution: "b_resolution",
  raised_on: "b_raised_on",
};

const LISTS = { stage: "stages", category: "categories", level: "levels" };
const MONEY = new Set(["total_investment_wan", "amount_wan"]); // 万元, written as on the page: 12,000.5

function value(ctx, entity, name, v) {
  if (v === null || v === undefined || v === "") return t("empty_value");
  if (name === "kind") return ctx.label(entity === "blocker" ? "blocker_kinds" : "milestone_kinds", v);
  if (LISTS[name]) return ctx.label(LISTS[name], v);
  if (MONEY.has(name) && typeof v === "number") return money(v);
  return String(v);
}

function fieldName(entity, name) {
  if (name === "kind") return t(entity === "blocker" ? "b_kind" : "m_kind");
  if (name === "due_on" && entity === "blocker") return t("b_due_on");
  return FIELD_KEYS[name] ? t(FIELD_KEYS[name]) : name;
}

/** A word of the dictionary, or a general one: a code must never reach the page. */
function known(key, fallback) {
  return has(key) ? t(key) : t(fallback);
}

function actorName(entry) {
  const actor = entry.actor;
  if (actor && typeof actor === "object") return actor.display_name || actor.username;
  return entry.actor_name || actor || "—";
}

export async function historyPanel(ctx, p) {
  const page = await getJson(`/api/v1/projects/${p.id}/history?limit=500`);
  const entries = page.items.slice().reverse();
  const list = h(
    "ol",
    { class: "history" },
    entries.map((e) =>
      h(
        "li",
        {},
        h("strong", { text: `${known(`entity_${e.entity}`, "entity_project")} · ${known(`action_${e.action}`, "action_update")}` }),
        " ",
        h("span", { class: "muted", text: t("history_by", { who: actorName(e), when: dateTime(e.at) }) }),
        Object.entries(e.changes || {})
          // A field named for context (the month of a correction) did not change: not a change.
          .filter(([, change]) => Array.isArray(change) && JSON.stringify(change[0]) !== JSON.stringify(change[1]))
          .map(([name, [before, after]]) => {
            const field = fieldName(e.entity, name);
            const [from, to] = [before, after].map((v) => value(ctx, e.entity, name, v));
            return h("span", { class: "change", text: t("history_change", { field, before: from, after: to }) });
          }),
      ),
    ),
  );
  return h(
    "section",
    { class: "panel", id: "history", "aria-labelledby": "history-title" },
    h("div", { class: "panel-head" }, h("h2", { id: "history-title", text: t("history") })),
    entries.length ? list : h("p", { class: "muted", text: t("no_records") }),
  );
}
