// Building blocks every page uses: elements, fields with labels and API errors, dialogs,
// toasts, paging and number/date formats. Data enters the page as text, never as markup.

import { fill, fmtPercent, h } from "../dom.js";
import { locale, t } from "./i18n.js";

export { fill, h };

let fieldSeq = 0;

/** "12,000.50": 万元 with separators, at most two decimals; "—" when unknown. */
export function money(value) {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(value);
}

/** A share as a percentage with one decimal: the dashboard's formatter. */
export const percent = fmtPercent;

/** An ISO timestamp as the district's date and time (2025-06-30 14:05). */
export function dateTime(iso) {
  const when = new Date(iso);
  if (Number.isNaN(when.getTime())) return String(iso ?? "");
  const parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hour12: false,
  }).formatToParts(when);
  const get = (type) => parts.find((p) => p.type === type)?.value ?? "";
  return `${get("year")}-${get("month")}-${get("day")} ${get("hour")}:${get("minute")}`;
}

export function text(value) {
  return value === null || value === undefined || value === "" ? "—" : String(value);
}

// ---- fields ---------------------------------------------------------------------------

/**
 * A labelled field. spec: {name, label, type (text|number|date|month|select|textarea|checkbox),
 * required, options: [{key, label}], value, min, max, step, wide, placeholder, blank}.
 * The error line under it is filled by showErrors() from the API's problem+json.
 */
export function field(spec) {
  const id = `f-${spec.name}-${++fieldSeq}`;
  const attrs = {
    id,
    name: spec.name,
    required: spec.required || null,
    "aria-describedby": `${id}-error`,
    "data-autofocus": spec.autofocus ? "true" : null,
  };
  let control;
  if (spec.type === "select") {
    const blank = spec.blank ?? (spec.required ? t("choose") : t("all"));
    control = h(
      "select",
      attrs,
      spec.noBlank ? null : h("option", { value: "", text: blank }),
      (spec.options || []).map((o) =>
        h("option", { value: o.key, text: o.label, selected: String(spec.value ?? "") === o.key }),
      ),
    );
  } else if (spec.type === "textarea") {
    control = h("textarea", { ...attrs, maxlength: spec.maxlength }, spec.value ?? "");
  } else {
    control = h("input", {
      ...attrs,
      type: spec.type || "text",
      value: spec.value ?? "",
      min: spec.min,
      max: spec.max,
      step: spec.step,
      inputmode: spec.type === "number" ? "decimal" : null,
      placeholder: spec.placeholder,
      autocomplete: spec.autocomplete || "off",
    });
  }
  return h(
    "div",
    { class: spec.wide ? "field wide" : "field", dataset: { field: spec.name } },
    h("label", { for: id }, spec.label, spec.required ? h("span", { class: "required", "aria-hidden": "true", text: "*" }) : null),
    control,
    h("p", { class: "field-error", id: `${id}-error`, hidden: true }),
  );
}

/** The form's values by field name: "" becomes null, numbers become numbers. */
export function values(form) {
  const out = {};
  for (const el of form.elements) {
    if (!el.name) continue;
    const raw = el.value.trim();
    if (raw === "") out[el.name] = null;
    else if (el.type === "number") out[el.name] = Number(raw);
    else out[el.name] = raw;
  }
  return out;
}

/** Clear the messages under the fields and the form's own message. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll(".field-error, .form-error")) {
    p.textContent = "";
    p.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

/**
 * Show an ApiError: each message under its field (in the API's words); what names no field
 * of this form goes to the form's message line.
 */
export function showErrors(form, error) {
  clearErrors(form);
  const byField = typeof error.fieldErrors === "function" ? error.fieldErrors() : {};
  const unplaced = [];
  for (const [name, msg] of Object.entries(byField)) {
    const wrap = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (!wrap) {
      unplaced.push(msg);
      continue;
    }
    const p = wrap.querySelector(".field-error");
    p.textContent = msg;
    p.hidden = false;
    wrap.querySelector("input, select, textarea")?.setAttribute("aria-invalid", "true");
  }
  let line = form.querySelector(".form-error");
  if (!line) {
    line = h("p", { class: "form-error", role: "alert" });
    form.prepend(line);
  }
  const placed = Object.keys(byField).length > unplaced.length;
  line.textContent = placed && !unplaced.length ? t("form_has_errors") : error.message;
  line.hidden = false;
  form.querySelector('[aria-invalid="true"]')?.focus();
}

// ---- dialogs and toasts ----------------------------------------------------------------

/** A short message at the top of the page (已保存). */
export function toast(message, kind = "ok") {
  const box = document.getElementById("toasts");
  const el = h("div", { class: kind === "error" ? "toast error" : "toast", text: message });
  box.append(el);
  setTimeout(() => el.remove(), 3500);
}

let dialogs = 0; // a 确认 opens over a form's dialog: each needs its own title id

/**
 * A modal dialog with `content` and buttons; resolves with the name of the button pressed
 * (or null when closed with Esc). `onAction(name)` may return false to keep it open.
 */
export function dialog(title, content, buttons, onAction) {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${(dialogs += 1)}`;
    const box = h("dialog", { "aria-labelledby": titleId });
    const row = h("div", { class: "form-actions" });
    for (const b of buttons) {
      row.append(
        h("button", {
          type: "button",
          class: b.class || "",
          text: b.label,
          onclick: async (event) => {
            const button = event.currentTarget;
            button.disabled = true;
            try {
              if (onAction && (await onAction(b.name)) === false) return;
              box.close(b.name);
            } finally {
              button.disabled = false;
            }
          },
        }),
      );
    }
    box.append(h("h2", { id: titleId, text: title }), content, row);
    box.addEventListener("close", () => {
      box.remove();
      resolve(box.returnValue || null);
    });
    document.body.append(box);
    box.showModal();
  });
}

/** 确认 dialog naming what will change; resolves true when confirmed. */
export async function confirmAction(title, message, { danger = false } = {}) {
  const answer = await dialog(title, h("p", { text: message }), [
    { name: "cancel", label: t("cancel") },
    { name: "confirm", label: t("confirm"), class: danger ? "primary danger" : "primary" },
  ]);
  return answer === "confirm";
}

/**
 * A form in a dialog: `fields` specs, `submit(values)` calls the API; its ApiError is shown
 * under the fields and the dialog stays open. Resolves with submit's result, or null.
 * With `confirm(values)` (the message naming what will change) a 确认 dialog comes first;
 * declining it keeps the form open as it was.
 */
export function formDialog(title, fields, submit, { submitLabel, confirm } = {}) {
  const form = h("form", { class: "form-grid", novalidate: true }, fields.map(field));
  let result = null;
  form.addEventListener("submit", (e) => e.preventDefault());
  return dialog(
    title,
    form,
    [
      { name: "cancel", label: t("cancel") },
      { name: "save", label: submitLabel || t("save"), class: "primary" },
    ],
    async (name) => {
      if (name !== "save") return true;
      if (confirm && !(await confirmAction(submitLabel || title, confirm(values(form))))) return false;
      try {
        result = await submit(values(form), form);
        return true;
      } catch (error) {
        if (!error.status && error.status !== 0) throw error;
        showErrors(form, error);
        return false;
      }
    },
  ).then((name) => (name === "save" ? result : null));
}

// ---- tables and paging -------------------------------------------------------------------

/** A table inside a panel that scrolls sideways on a phone. */
export function table(columns, rows, { empty } = {}) {
  const head = h("tr", {}, columns.map((c) => h("th", { scope: "col", class: c.class || "" }, c.head)));
  const body = rows.length
    ? rows.map((row) => h("tr", {}, columns.map((c) => h("td", { class: c.class || "" }, c.cell(row)))))
    : [h("tr", {}, h("td", { class: "empty", colspan: columns.length, text: empty || t("no_records") }))];
  return h("div", { class: "table-scroll" }, h("table", { class: "data-table" }, h("thead", {}, head), h("tbody", {}, body)));
}

/** 每页 20/50/100 条 · 共 N 条 · previous/next; `go(offset, limit)` changes the page. */
export function pager({ total, limit, offset }, go) {
  const pages = Math.max(1, Math.ceil(total / limit));
  const page = Math.floor(offset / limit) + 1;
  const sizeId = `page-size-${++fieldSeq}`;
  const size = h(
    "select",
    { id: sizeId, onchange: (e) => go(0, Number(e.target.value)) },
    [20, 50, 100].map((n) => h("option", { value: n, selected: n === limit, text: t("per_page", { n }) })),
  );
  return h(
    "div",
    { class: "pager" },
    h("span", { text: t("total_n", { n: total.toLocaleString(locale()) }) }),
    h("label", { class: "visually-hidden", for: sizeId, text: t("per_page", { n: "" }) }),
    size,
    h("button", { type: "button", disabled: page <= 1, text: t("prev_page"), onclick: () => go(offset - limit, limit) }),
    h("span", { text: t("page_n", { page, pages }) }),
    h("button", { type: "button", disabled: page >= pages, text: t("next_page"), onclick: () => go(offset + limit, limit) }),
  );
}

export function breadcrumb(...parts) {
  return h(
    "nav",
    { class: "breadcrumb", "aria-label": "breadcrumb" },
    parts.filter(Boolean).map((p, i) => [i ? " / " : "", p.href ? h("a", { href: p.href, text: p.label }) : p.label]),
  );
}

export function errorNotice(error) {
  return h("p", { class: "notice notice-error", role: "alert", text: t("load_failed", { detail: error.message }) });
}
