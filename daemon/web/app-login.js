// The login form; after a good password the caller's view comes back.
import { api, setCsrf } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";

export function showLogin(view, onDone) {
  view.innerHTML = "";
  const form = document.createElement("form");
  form.className = "card login";
  form.innerHTML = `<h2></h2>
    <label><span class="u"></span><input id="username" name="username" autocomplete="username" required></label>
    <label><span class="p"></span><input id="password" name="password" type="password" autocomplete="current-password" required></label>
    <p class="error" role="alert"></p>
    <button class="primary" id="login-submit" type="submit"></button>`;
  form.querySelector("h2").textContent = t("title");
  form.querySelector(".u").textContent = t("username");
  form.querySelector(".p").textContent = t("password");
  form.querySelector("button").textContent = t("login");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = form.querySelector(".error");
    error.textContent = "";
    try {
      const r = await api("/api/v1/session", { method: "POST",
        body: { username: form.username.value, password: form.password.value } });
      setCsrf(r.csrf_token);
      onDone();
    } catch (e) {
      error.textContent = `${t("login_failed")}: ${e.message}`;
    }
  });
  view.append(form);
  form.username.focus();
}
