// 导入导出: upload a ledger, see the dry-run plan (new / updated / unchanged, every error by
// row and column), then 确认导入; a long import shows its progress. Template and ledger download.

import { ApiError, call, download, getJson } from "./api.js";
import { t } from "./i18n.js";
import { breadcrumb, fill, h, table, toast } from "./ui.js";

const POLL_MS = 500;

function count(value) {
  return Array.isArray(value) ? value.length : Number(value) || 0;
}

/**
 * Every error of a plan or a refusal as {row, column, message}. `loc` is ["rows", row, field]
 * (the ledger sheet), ["sheets", sheet, row, field], ["columns", header] or ["file"]; the
 * message itself is the API's, in Chinese.
 */
function errorRows(ctx, errors) {
  const headers = ctx.vocab.ledger_headers || {};
  return (errors || []).map((e) => {
    const loc = e.loc || [];
    let row = "—";
    let column = "—";
    if (loc[0] === "rows") {
      row = loc[1] ?? "—";
      column = headers[loc[2]] || loc[2] || "—";
    } else if (loc[0] === "sheets") {
      row = loc[2] ?? "—";
      column = `${loc[1]} · ${headers[loc[3]] || loc[3] || "—"}`;
    } else if (loc[0] === "columns") {
      column = loc[1] ?? "—";
    }
    return { row, column, message: e.msg };
  });
}

function planView(ctx, plan, errors, done = "") {
  const counts = h(
    "dl",
    { class: "summary-grid", id: "import-plan" },
    [
      [t("plan_created"), count(plan.created)],
      [t("plan_updated"), count(plan.updated)],
      [t("plan_unchanged"), count(plan.unchanged)],
      // Rows with an error (the four counts add up to the file's rows); an older answer
      // without the count shows the number of errors.
      [t("plan_rejected"), plan.rejected ?? errors.length],
    ].map(([k, v]) => h("div", { dataset: { count: k } }, h("dt", { text: k }), h("dd", { text: String(v) }))),
  );
  const verdict = errors.length
    ? h("p", { class: "notice notice-error", role: "alert", text: t("plan_has_errors", { n: errors.length }) })
    : h("p", { class: "notice", role: "status", text: done || t("plan_ok") });
  return [
    counts,
    verdict,
    errors.length
      ? table(
          [
            { head: t("err_row"), class: "num", cell: (e) => String(e.row) },
            { head: t("err_column"), class: "nowrap", cell: (e) => e.column },
            { head: t("err_message"), cell: (e) => e.message },
          ],
          errors,
        )
      : null,
  ];
}

async function upload(file, { dryRun }) {
  const form = new FormData();
  form.append("file", file, file.name);
  const url = `/api/v1/projects/import${dryRun ? "?dry_run=true" : ""}`;
  try {
    const response = await call("POST", url, { form });
    return { status: response.status, body: await response.json(), location: response.headers.get("Location") };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) return { status: 422, body: error.problem };
    throw error;
  }
}

/** Follow a 202 import job until it ends, moving the progress bar. */
async function follow(location, bar) {
  for (;;) {
    const job = await getJson(location);
    const done = job.rows_done ?? 0;
    const total = job.rows_total ?? 0;
    if (total) {
      bar.max = total;
      bar.value = done;
      bar.title = t("import_progress", { done: count(done), total: count(total) });
    }
    if (job.status && !["queued", "running", "pending"].includes(job.status)) return job;
    if (job.result) return job;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** The import's own answer: at once, or (202) once its job has ended. */
async function settle(ans, bar) {
  if (ans.status !== 202 || !ans.location) return ans;
  bar.hidden = false;
  bar.removeAttribute("value");
  try {
    const job = await follow(ans.location, bar);
    return { status: job.result_status || 200, body: job.result || job };
  } finally {
    bar.hidden = true;
  }
}

export async function render(root, ctx) {
  // The native picker's button speaks the browser's language; this one speaks the page's.
  const fileInput = h("input", { id: "import-file", class: "visually-hidden", type: "file", name: "file", accept: ".xlsx,.csv", required: true });
  const fileName = h("span", { class: "muted", text: t("no_file") });
  const result = h("div", { id: "import-result", "aria-live": "polite" });
  const bar = h("progress", { class: "progress", hidden: true, "aria-label": t("importing") });
  const checkButton = h("button", { type: "submit", class: "primary", text: t("dry_run") });
  const confirmButton = h("button", { type: "button", text: t("confirm_import"), hidden: true });
  let checked = null;

  const show = (ans, done = "") => {
    const body = ans.body || {};
    const errors = errorRows(ctx, body.errors);
    fill(result, planView(ctx, body, errors, done));
    return errors.length === 0;
  };
  const importedText = (b) =>
    b.created !== undefined
      ? t("imported", { created: count(b.created), updated: count(b.updated), unchanged: count(b.unchanged) })
      : t("imported_n", { n: b.imported });

  const form = h(
    "form",
    { novalidate: true },
    h("p", { class: "muted", text: t("import_explain") }),
    h(
      "div",
      { class: "toolbar" },
      h("label", { for: "import-file", class: "file-button", text: t("choose_file") }),
      fileInput,
      fileName,
      checkButton,
      confirmButton,
    ),
  );
  fileInput.addEventListener("change", () => {
    fileName.textContent = fileInput.files[0]?.name || t("no_file");
    checked = null;
    confirmButton.hidden = true;
    fill(result);
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    if (!file) return fileInput.focus();
    checkButton.disabled = true;
    try {
      const ans = await settle(await upload(file, { dryRun: true }), bar);
      const ok = show(ans);
      checked = ok ? file : null;
      confirmButton.hidden = !ok;
    } catch (error) {
      fill(result, h("p", { class: "notice notice-error", role: "alert", text: error.message }));
    } finally {
      checkButton.disabled = false;
    }
  });
  confirmButton.addEventListener("click", async () => {
    if (!checked) return;
    confirmButton.disabled = true;
    checkButton.disabled = true;
    try {
      const ans = await settle(await upload(checked, { dryRun: false }), bar);
      const ok = show(ans, importedText(ans.body || {}));
      if (ok) {
        toast(importedText(ans.body));
        confirmButton.hidden = true;
        checked = null;
      }
    } catch (error) {
      fill(result, h("p", { class: "notice notice-error", role: "alert", text: error.message }));
    } finally {
      bar.hidden = true;
      confirmButton.disabled = false;
      checkButton.disabled = false;
    }
  });

  const fmtButtons = (label, query) =>
    h(
      "div",
      { class: "toolbar" },
      h("span", { text: label }),
      ["xlsx", "csv"].map((format) =>
        h("button", {
          type: "button",
          text: t(`format_${format}`),
          "aria-label": `${label} ${t(`format_${format}`)}`,
          onclick: async () => {
            try {
              await download(`/api/v1/projects/export?format=${format}${query}`, `ledger.${format}`);
            } catch (error) {
              toast(error.message, "error");
            }
          },
        }),
      ),
    );

  fill(
    root,
    breadcrumb({ label: t("home"), href: "/app/projects" }, { label: t("transfer_title") }),
    h("h1", { text: t("transfer_title") }),
    h("section", { class: "panel", "aria-labelledby": "import-title" }, h("div", { class: "panel-head" }, h("h2", { id: "import-title", text: t("import_title") })), form, bar, result),
    h(
      "section",
      { class: "panel", "aria-labelledby": "export-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "export-title", text: t("export_title") })),
      fmtButtons(t("download_template"), "&template=true"),
      h("p"),
      fmtButtons(t("download_ledger"), ""),
    ),
  );
}
