// One person in a crisis: status, contacts (a tap calls), household, and
// every message sent and answer received in time order; a manual status
// entry for what staff learned by phone or in person.
import { api } from "/static/app-api.js";
import { t, statusName } from "/static/app-i18n.js";
import { shapeIcon } from "/static/app-map.js";

const OUTCOMES = ["safe", "needs_help", "injured", "needs_evacuation", "missing", "evacuated"];

function row(...cells) {
  const tr = document.createElement("tr");
  for (const c of cells) {
    const td = document.createElement("td");
    td.append(c ?? "");
    tr.append(td);
  }
  return tr;
}

function when(ts) {
  return ts ? new Date(ts).toLocaleString() : "";
}

export async function showPerson(view, crisisId, nationalId) {
  const p = await api(`/api/v1/crises/${crisisId}/people/${nationalId}`);
  view.innerHTML = "";
  const back = document.createElement("a");
  back.href = `#/crises/${crisisId}`;
  back.textContent = `← ${t("back_crisis")}`;
  const h = document.createElement("h2");
  h.className = "person-name";
  h.append(shapeIcon(p.status), " ", [p.name_ko, p.name_latin].filter(Boolean).join(" / "), " — ", statusName(p.status));
  if (p.duress) h.append(" ⚠");
  view.append(back, h);

  const card = document.createElement("section");
  card.className = "card person";
  const contacts = document.createElement("ul");
  for (const c of p.contacts) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = (c.kind === "phone" ? "tel:" : "mailto:") + c.value;
    a.textContent = c.value;
    li.append(a, c.verified ? " ✓" : "");
    contacts.append(li);
  }
  const h3c = document.createElement("h3");
  h3c.textContent = t("contacts");
  card.append(h3c, contacts);
  if (p.household.length) {
    const h3h = document.createElement("h3");
    h3h.textContent = t("household");
    const ul = document.createElement("ul");
    for (const m of p.household) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = `#/crises/${crisisId}/people/${m.national_id}`;
      a.textContent = [m.name_ko, m.name_latin].filter(Boolean).join(" / ");
      li.append(a, " — ", m.status ? statusName(m.status) : "—");
      ul.append(li);
    }
    card.append(h3h, ul);
  }
  const h3s = document.createElement("h3");
  h3s.textContent = t("record_call");
  const buttons = document.createElement("div");
  const done = document.createElement("p");
  done.setAttribute("aria-live", "polite");
  for (const s of OUTCOMES) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "outcome";
    b.dataset.status = s;
    b.append(shapeIcon(s), " ", statusName(s));
    b.addEventListener("click", async () => {
      await api(`/api/v1/crises/${crisisId}/responses`, { method: "POST",
        body: { national_id: p.national_id, status: s, message: t("by_phone") } });
      done.textContent = `✓ ${statusName(s)}`;
      setTimeout(() => showPerson(view, crisisId, nationalId), 800);
    });
    buttons.append(b);
  }
  card.append(h3s, buttons, done);

  const h3t = document.createElement("h3");
  h3t.textContent = t("history");
  const table = document.createElement("table");
  table.className = "history";
  for (const e of p.history) {
    if (e.kind === "message")
      table.append(row(when(e.at), `→ ${e.channel}`, e.contact, `${e.state}${e.delivered_at ? " ✓" : ""}${e.detail ? ` (${e.detail})` : ""}`));
    else
      table.append(row(when(e.at), `← ${e.channel}`, e.contact, `${e.status ? statusName(e.status) + ": " : ""}${e.detail ?? ""}`));
  }
  card.append(h3t, table);
  view.append(card);
  return null;
}
