// The registry (import a file of nationals with a row-by-row report, after a
// dry run) and the audit log, for those allowed to see them.
import { api, apiText, missionForChanges } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";
import { registrationsCard } from "/static/app-registrations.js";
import { cell, regionsCard, sheltersCard } from "/static/app-shelters.js";

export async function showRegistry(view) {
  view.innerHTML = "";
  const h = document.createElement("h2");
  h.textContent = t("registry");
  const card = document.createElement("section");
  card.className = "card registry";
  card.innerHTML = `<h3 id="import-title"></h3><p class="hint" id="import-hint"></p><input type="file" class="import-file"
    aria-labelledby="import-title" aria-describedby="import-hint" accept=".csv,.json,text/csv,application/json">
    <div><button type="button" class="import-check"></button> <button type="button" class="primary import-apply" disabled></button></div>
    <p class="import-summary" aria-live="polite"></p><table class="import-errors"></table>`;
  card.querySelector("h3").textContent = t("import_nationals");
  card.querySelector(".hint").textContent = t("import_hint");
  card.querySelector(".import-check").textContent = t("check_file");
  card.querySelector(".import-apply").textContent = t("import");
  view.append(h, card);
  const summary = card.querySelector(".import-summary");
  const table = card.querySelector(".import-errors");
  let text = null, type = null;

  // A big file takes seconds: the buttons wait, a bar and a clock say it is working.
  async function send(dry) {
    const m = missionForChanges();
    const buttons = card.querySelectorAll(".import-check, .import-apply");
    const wasDisabled = [...buttons].map((b) => b.disabled);
    const lines = (text.match(/\n/g) ?? []).length;
    const bar = document.createElement("progress");
    bar.className = "import-progress";
    bar.setAttribute("aria-label", t(dry ? "checking" : "importing"));
    const started = Date.now();
    const tick = () => {
      summary.textContent = `${t(dry ? "checking" : "importing")} ${lines.toLocaleString()} ${t("rows")}… ` +
        `${Math.round((Date.now() - started) / 1000)} s `;
      summary.append(bar);
    };
    for (const b of buttons) b.disabled = true;
    tick();
    const clock = setInterval(tick, 1000);
    let r;
    try {
      r = await apiText(`/api/v1/nationals/import?dry_run=${dry}` + (m ? `&mission=${m}` : ""), text, type);
    } finally {
      clearInterval(clock);
      buttons.forEach((b, k) => { b.disabled = wasDisabled[k]; });
    }
    summary.textContent = `${r.rows ?? 0} ${t("rows")}: ${r.good_rows ?? 0} ${t("good")}, ${r.bad_rows ?? 0} ${t("bad")}` +
      (r.applied ? ` — ${r.inserted} ${t("added")}, ${r.updated} ${t("updated")}, ${r.unchanged} ${t("unchanged")}` : "");
    table.innerHTML = "";
    for (const e of r.errors ?? []) {
      const tr = document.createElement("tr");
      cell(tr, `${t("line")} ${e.line}`);
      cell(tr, e.field);
      cell(tr, e.reason);
      table.append(tr);
    }
    return r;
  }
  card.querySelector(".import-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    text = f ? await f.text() : null;
    type = f && f.name.endsWith(".json") ? "application/json" : "text/csv";
  });
  card.querySelector(".import-check").addEventListener("click", async () => {
    if (!text) return;
    try {
      const r = await send(true);
      card.querySelector(".import-apply").disabled = !!r.file_refused;
    } catch (e) {
      summary.textContent = e.message;
    }
  });
  card.querySelector(".import-apply").addEventListener("click", async () => {
    try {
      await send(false);
      card.querySelector(".import-apply").disabled = true;
    } catch (e) {
      summary.textContent = e.message;
    }
  });
  // The other cards fill in as they arrive; the import works meanwhile.
  for (const make of [registrationsCard, sheltersCard, regionsCard]) {
    const slot = document.createElement("section");
    slot.className = "card";
    slot.textContent = "…";
    view.append(slot);
    make().then((c) => slot.replaceWith(c)).catch((e) => { slot.textContent = e.message; });
  }
  return null;
}

export async function showAudit(view) {
  const r = await api("/api/v1/audit?limit=200");
  view.innerHTML = "";
  const h = document.createElement("h2");
  h.textContent = t("audit");
  const table = document.createElement("table");
  table.className = "audit";
  for (const e of r.items) {
    const tr = document.createElement("tr");
    cell(tr, new Date(e.occurred_at).toLocaleString());
    cell(tr, `${e.actor} (${e.actor_role})`);
    cell(tr, e.action);
    cell(tr, `${e.object_type} ${e.object_id}`);
    cell(tr, typeof e.summary === "string" ? e.summary : JSON.stringify(e.summary));
    table.append(tr);
  }
  // Long summaries wrap; a table still too wide scrolls in its own box, not the page.
  const box = document.createElement("div");
  box.className = "card wide";
  box.append(table);
  view.append(h, box);
  return null;
}
