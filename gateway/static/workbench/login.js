// 登录: user name and password; the session cookie is set by the server.

import { signIn } from "./api.js";
import { getLang, setLang, t } from "./i18n.js";
import { field, fill, h, showErrors, values } from "./ui.js";

export async function render(root, { params, navigate, signedIn }) {
  const form = h(
    "form",
    { class: "login", novalidate: true },
    h("h1", { text: t("login_title") }),
    h("p", { class: "sub", text: t("login_sub") }),
    field({ name: "username", label: t("username"), required: true, autocomplete: "username", autofocus: true }),
    field({ name: "password", label: t("password"), type: "password", required: true, autocomplete: "current-password" }),
    // The API's answer (wrong password, locked account) shows here, just above the button.
    h("p", { class: "form-error", role: "alert", hidden: !params.get("expired"), text: params.get("expired") ? t("session_expired") : "" }),
    h("button", { type: "submit", class: "primary", text: t("login") }),
    h(
      "p",
      { class: "lang" },
      h("button", {
        type: "button",
        class: "link-button",
        text: t("lang_switch"),
        onclick: () => {
          setLang(getLang() === "en" ? "zh" : "en");
          render(root, { params, navigate, signedIn });
        },
      }),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const { username, password } = values(form);
    const button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const me = await signIn(username || "", password || "");
      await signedIn(me);
      const next = params.get("next");
      navigate(next && next.startsWith("/app/") ? next : "/app/projects", { replace: true });
    } catch (error) {
      showErrors(form, error);
    } finally {
      button.disabled = false;
    }
  });
  fill(root, form);
}
