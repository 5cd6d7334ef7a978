// DOM and formatting helpers. Data always enters the page as text nodes or
// attribute values, never as markup: titles and names are typed in by clerks.

import { getLang, locale, t } from "./i18n.js";

const ZONE = "Asia/Shanghai";

/**
 * Create an element. `props`: `class`, `text`, `dataset` (object), `style`
 * (object of CSS properties), `on<event>` (listener); anything else is set
 * with setAttribute. Children are nodes or strings (appended as text).
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = String(value);
    else if (key === "dataset") {
      for (const [name, v] of Object.entries(value)) if (v !== null && v !== undefined) el.dataset[name] = v;
    }
    else if (key === "style") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** Replace an element's children with `children` (strings become text). */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export function isNumber(value) {
  return typeof value === "number" && Number.isFinite(value);
}

/** A number for display: grouping, at most two decimals; `—` when unknown. */
export function fmtNumber(value) {
  if (!isNumber(value)) return "—";
  return new Intl.NumberFormat(locale(), { maximumFractionDigits: 2 }).format(value);
}

/** A share as a percentage with one decimal (0.0%, 100.0%); `—` when unknown. The dashboard
 * and the workbench both show shares through this one. */
export function fmtPercent(ratio) {
  if (!isNumber(ratio)) return "—";
  return `${(ratio * 100).toFixed(1)}%`;
}

/** An ISO timestamp as the district's wall-clock time. */
export function fmtDateTime(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso ?? "");
  const options = {
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  };
  try {
    return new Intl.DateTimeFormat(locale(), { ...options, timeZone: ZONE }).format(date);
  } catch {
    return new Intl.DateTimeFormat(locale(), options).format(date);
  }
}

/** The calendar date (YYYY-MM-DD) in the district of an ISO timestamp, or today. */
export function districtDate(iso) {
  const date = iso ? new Date(iso) : new Date();
  const when = Number.isNaN(date.getTime()) ? new Date() : date;
  try {
    // en-CA formats as YYYY-MM-DD.
    return new Intl.DateTimeFormat("en-CA", { timeZone: ZONE }).format(when);
  } catch {
    return when.toISOString().slice(0, 10);
  }
}

/** Whole days from `from` to `to`, both YYYY-MM-DD; null if either is malformed. */
export function daysBetween(from, to) {
  const a = Date.parse(`${from}T00:00:00Z`);
  const b = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(a) || Number.isNaN(b)) return null;
  return Math.round((b - a) / 86_400_000);
}

/** A duration in seconds as "42 秒" / "3 分钟" / "2 小时". */
export function fmtAge(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 120) return t("age_seconds", { n: s });
  if (s < 7200) return t("age_minutes", { n: Math.round(s / 60) });
  return t("age_hours", { n: fmtNumber(Math.round(s / 360) / 10) });
}

/**
 * A label that comes from the API (Chinese). In English mode the English key
 * follows it, so a reader can tell entries apart without reading Chinese.
 */
export function apiLabel(label, key) {
  const text = label || key || "—";
  if (getLang() !== "en" || !key || key === text) return [text];
  return [text, " ", h("code", { class: "api-key", text: key })];
}
