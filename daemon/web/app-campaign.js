// Launching a check-in: channels in order, re-ask interval and rounds; a
// preview (each language's message, how many people each channel reaches,
// who cannot be reached) before the confirmation.
import { api, missionForChanges } from "/static/app-api.js";
import { t, statusName } from "/static/app-i18n.js";

export function campaignPanel(crisisId) {
  const box = document.createElement("section");
  box.className = "card campaign";
  box.innerHTML = `<h3></h3><form class="campaign-form">
      <fieldset><legend data-k="channels"></legend>
        <label><input type="checkbox" name="sms" checked> SMS</label>
        <label><input type="checkbox" name="email"> e-mail</label></fieldset>
      <label><span data-k="reask_minutes"></span><input name="reask" type="number" min="1" max="10080" value="30"></label>
      <label><span data-k="rounds"></span><input name="rounds" type="number" min="1" max="10" value="3"></label>
      <details class="templates"><summary data-k="own_messages"></summary>
        <p class="hint" data-k="template_hint"></p>
        <label lang="ko">한국어<textarea name="ko" rows="3" maxlength="1000"></textarea></label>
        <label lang="en">English<textarea name="en" rows="3" maxlength="1000"></textarea></label></details>
      <button type="button" class="preview-campaign"></button>
      <div class="preview" aria-live="polite"></div>
      <button type="submit" class="primary launch-campaign" disabled></button>
      <p class="launched" aria-live="polite"></p></form>`;
  box.querySelector("h3").textContent = t("launch_campaign");
  for (const el of box.querySelectorAll("[data-k]")) el.textContent = t(el.dataset.k);
  const form = box.querySelector("form");
  box.querySelector(".preview-campaign").textContent = t("preview");
  box.querySelector(".launch-campaign").textContent = t("launch");
  // Own messages only when written: otherwise the server's default, in both languages.
  const body = () => {
    const b = { channels: ["sms", "email"].filter((c) => form[c].checked),
      reask_interval_s: 60 * Number(form.reask.value), rounds: Number(form.rounds.value) };
    if (missionForChanges()) b.mission_id = missionForChanges();
    const templates = {};
    for (const lang of ["ko", "en"]) if (form[lang].value.trim()) templates[lang] = form[lang].value.trim();
    if (Object.keys(templates).length) b.templates = templates;
    return b;
  };
  box.querySelector(".preview-campaign").addEventListener("click", async () => {
    const out = box.querySelector(".preview");
    try {
      const r = await api(`/api/v1/crises/${crisisId}/campaigns`, { method: "POST", body: { ...body(), dry_run: true } });
      out.innerHTML = "";
      const p = document.createElement("p");
      p.className = "reach";
      p.textContent = `${r.people} ${t("people")} · ` + Object.entries(r.by_channel ?? {}).map(([c, n]) => `${c} ${n}`).join(" · ") +
        ` · ${statusName("unreachable")} ${r.unreachable}`;
      out.append(p);
      for (const [lang, text] of Object.entries(r.preview ?? {})) {
        const q = document.createElement("blockquote");
        q.lang = lang;
        q.textContent = text;
        out.append(q);
      }
      box.querySelector(".launch-campaign").disabled = false;
    } catch (e) {
      out.textContent = e.message;
    }
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const out = box.querySelector(".launched");
    try {
      const r = await api(`/api/v1/crises/${crisisId}/campaigns`, { method: "POST", body: body() });
      out.textContent = `${t("launched")}: ${r.asked} ${t("people")}, ${r.messages} ${t("messages")}`;
      box.querySelector(".launch-campaign").disabled = true;
    } catch (e) {
      out.textContent = e.message;
    }
  });
  return box;
}
