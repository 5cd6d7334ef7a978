// The workbench frame: who is signed in, the left menu, and which page the address shows.
// Each page is a module named after what it shows; the address holds the page and its
// filters, so a page can be shared and the back button works.

import { getJson, signOut, whoAmI } from "./api.js";
import { applyStaticLabels, codeWordEn, getLang, setLang, t } from "./i18n.js";
import { errorNotice, fill, h } from "./ui.js";

const PAGES = [
  { path: /^\/app\/login$/, module: "./login.js", open: true },
  { path: /^\/app\/projects$/, module: "./ledger.js", menu: "ledger" },
  { path: /^\/app\/projects\/new$/, module: "./project_form.js", menu: "ledger", needs: "write_projects" },
  { path: /^\/app\/projects\/(\d+)$/, module: "./project_detail.js", menu: "ledger" },
  { path: /^\/app\/projects\/(\d+)\/edit$/, module: "./project_form.js", menu: "ledger", needs: "write_projects" },
  { path: /^\/app\/pipeline$/, module: "./pipeline.js", menu: "pipeline" },
  { path: /^\/app\/blockers$/, module: "./blockers.js", menu: "blockers" },
  { path: /^\/app\/transfer$/, module: "./transfer.js", menu: "transfer", needs: "write_projects" },
];

// Which roles hold a right, as the services grant them (services/common/auth.py GRANTS);
// the page only hides what a role could not do anyway: the services still check every call.
const GRANTS = {
  write_projects: ["admin", "project_office"],
};

const MENU = [
  { key: "dashboard", href: "/", label: "menu_dashboard" },
  { key: "ledger", href: "/app/projects", label: "menu_ledger" },
  { key: "pipeline", href: "/app/pipeline", label: "menu_pipeline" },
  { key: "blockers", href: "/app/blockers", label: "menu_blockers" },
  { key: "transfer", href: "/app/transfer", label: "menu_transfer", needs: "write_projects" },
];

const ctx = {
  me: null,
  can(right) {
    return (this.me?.roles || []).some((role) => GRANTS[right]?.includes(role));
  },
  /** The vocabulary in the page's language: the services' Chinese labels, or on an English
   * page the English words of i18n.js for the same codes. */
  get vocab() {
    return getLang() === "en" ? inEnglish(vocabZh) : vocabZh;
  },
  /** The word for a code of the vocabulary's list `list` (e.g. "stages"), in the page's
   * language. */
  label(list, key) {
    if (key === null || key === undefined || key === "") return "—";
    return this.vocab?.[list]?.find((x) => x.key === key)?.label ?? key;
  },
  /** Take in the person the login page signed in, and the words the pages use. */
  async signedIn(me) {
    ctx.me = me;
    await loadVocabulary();
  },
  navigate(url, { replace = false } = {}) {
    if (replace) window.history.replaceState(null, "", url);
    else window.history.pushState(null, "", url);
    route();
  },
};

function roleLabel(roles) {
  return (roles || []).map((r) => t(`role_${r}`)).join("、");
}

function renderFrame(active) {
  const frame = document.querySelector(".topbar");
  const menu = document.getElementById("menu");
  const signedIn = Boolean(ctx.me);
  frame.hidden = !signedIn;
  menu.hidden = !signedIn;
  if (!signedIn) return;
  document.getElementById("who-name").textContent = ctx.me.display_name || ctx.me.username;
  document.getElementById("who-role").textContent = roleLabel(ctx.me.roles);
  fill(
    menu,
    MENU.filter((item) => !item.needs || ctx.can(item.needs)).map((item) =>
      h("a", {
        href: item.href,
        text: t(item.label),
        "aria-current": item.key === active ? "page" : null,
        "data-external": item.href.startsWith("/app") ? null : "true",
      }),
    ),
  );
}

let rendering = 0;

async function route() {
  const turn = ++rendering;
  const path = window.location.pathname.replace(/\/+$/, "") || "/app";
  const root = document.getElementById("page");
  if (path === "/app") return ctx.navigate("/app/projects", { replace: true });
  const page = PAGES.find((p) => p.path.test(path));
  if (!page?.open && !ctx.me) {
    const next = encodeURIComponent(window.location.pathname + window.location.search);
    return ctx.navigate(`/app/login?next=${next}`, { replace: true });
  }
  if (page?.open && ctx.me) return ctx.navigate("/app/projects", { replace: true });
  if (!page || (page.needs && !ctx.can(page.needs))) {
    renderFrame(page?.menu);
    fill(root, h("p", { class: "notice", text: t("not_found") }));
    return;
  }
  const params = new URLSearchParams(window.location.search);
  const id = path.match(page.path)[1];
  try {
    root.setAttribute("aria-busy", "true");
    if (!root.firstChild) root.replaceChildren(h("p", { class: "muted", text: t("loading") }));
    const module = await import(page.module);
    // The page is built aside and shown only if it is still the one asked for: a slower
    // answer for an earlier address (back, back) must not replace the current page.
    const view = h("div", { class: "view" });
    await module.render(view, { ...ctx, ctx, params, id: id ? Number(id) : null, path });
    if (turn !== rendering) return;
    // The frame and the page change together (no login form under a signed-in frame).
    renderFrame(page.menu);
    root.replaceChildren(view);
    root.setAttribute("aria-busy", "false");
    const anchor = window.location.hash && document.getElementById(window.location.hash.slice(1));
    if (anchor) anchor.scrollIntoView();
    else view.querySelector("[data-autofocus]")?.focus();
  } catch (error) {
    if (turn !== rendering) return;
    root.setAttribute("aria-busy", "false");
    if (error.status === 401) return;
    renderFrame(page.menu);
    fill(root, errorNotice(error));
  }
  if (turn === rendering) document.title = `${t("page_title")}`;
}

async function start() {
  applyStaticLabels();
  document.getElementById("lang-switch").addEventListener("click", () => {
    setLang(getLang() === "en" ? "zh" : "en");
    applyStaticLabels();
    route();
  });
  document.getElementById("logout").addEventListener("click", async () => {
    await signOut();
    ctx.me = null;
    ctx.navigate("/app/login");
  });
  // Links inside the workbench change the page without reloading it.
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[href]");
    if (!link || link.dataset.external || link.target || event.ctrlKey || event.metaKey) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || !url.pathname.startsWith("/app")) return;
    event.preventDefault();
    ctx.navigate(url.pathname + url.search);
  });
  window.addEventListener("popstate", route);
  window.addEventListener("plantrack:signed-out", () => {
    if (!ctx.me) return;
    ctx.me = null;
    ctx.navigate(`/app/login?expired=1`, { replace: true });
  });
  try {
    ctx.me = await whoAmI();
    if (ctx.me) await loadVocabulary();
  } catch (error) {
    fill(document.getElementById("page"), errorNotice(error));
    return;
  }
  route();
}

let vocabZh = null;
let vocabEn = null;

async function loadVocabulary() {
  vocabZh = await getJson("/api/v1/projects/vocabulary");
  vocabEn = null;
}

/** The vocabulary with each code's label replaced by its English word (kept where none). */
function inEnglish(vocab) {
  if (vocab === null) return null;
  if (vocabEn === null) {
    vocabEn = { ...vocab };
    for (const [list, items] of Object.entries(vocab)) {
      if (!Array.isArray(items) || !items.every((x) => x && typeof x === "object" && "key" in x)) continue;
      vocabEn[list] = items.map((x) => ({ ...x, label: codeWordEn(list, x.key) ?? x.label }));
    }
  }
  return vocabEn;
}

start();
