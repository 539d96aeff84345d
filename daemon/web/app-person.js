// One person in a crisis: status, contacts (a tap calls), household, trip,
// and every message sent and answer received in time order; a manual status
// entry for what staff learned by phone or in person; their registry record
// edited in place.
import { api, canEdit } from "/static/app-api.js";
import { t, statusName, recordedText } from "/static/app-i18n.js";
import { outcomeButton, shapeIcon } from "/static/app-map.js";

const OUTCOMES = ["safe", "needs_help", "injured", "needs_evacuation", "missing", "evacuated"];
const NEEDS = ["child", "elderly", "pregnant", "disability", "medical"];

// The registry fields staff correct most, sent as a PATCH of what changed.
function editForm(p, onSaved) {
  const box = document.createElement("details");
  box.className = "edit-person";
  const summary = document.createElement("summary");
  summary.textContent = t("edit");
  const form = document.createElement("form");
  const fields = [["name_ko", p.name_ko], ["name_latin", p.name_latin], ["birth_date", p.birth_date, "date"],
    ["address", p.address], ["notes", p.notes]];
  for (const [name, value, type] of fields) {
    const label = document.createElement("label");
    label.textContent = t("field_" + name);
    const input = document.createElement(name === "notes" ? "textarea" : "input");
    if (type) input.type = type;
    input.name = name;
    input.value = value ?? "";
    label.append(input);
    form.append(label);
  }
  const needs = document.createElement("fieldset");
  const legend = document.createElement("legend");
  legend.textContent = t("field_needs");
  needs.append(legend);
  for (const n of NEEDS) {
    const label = document.createElement("label");
    const box2 = document.createElement("input");
    box2.type = "checkbox";
    box2.name = "need";
    box2.value = n;
    box2.checked = (p.needs ?? []).includes(n);
    label.append(box2, " ", t("need_" + n));
    needs.append(label);
  }
  const save = document.createElement("button");
  save.type = "submit";
  save.className = "primary save-person";
  save.textContent = t("save");
  const note = document.createElement("p");
  note.className = "edit-result";
  note.setAttribute("aria-live", "polite");
  form.append(needs, save, note);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [name, value] of fields) {
      const now = form.elements[name].value.trim();
      if (now !== (value ?? "")) body[name] = now === "" ? null : now;
    }
    const chosen = [...form.querySelectorAll('input[name="need"]:checked')].map((x) => x.value);
    if (chosen.join() !== (p.needs ?? []).filter((n) => NEEDS.includes(n)).join()) body.needs = chosen;
    if (!Object.keys(body).length) {
      note.textContent = t("nothing_changed");
      return;
    }
    try {
      const stored = await api(`/api/v1/nationals/${p.national_id}`, { method: "PATCH", body });
      // "Saved" only for what the answer shows stored: an emptied field must come back empty.
      const kept = Object.keys(body).filter((k) => body[k] === null && stored[k] !== null);
      if (kept.length) {
        note.textContent = `${t("not_recorded")}: ${kept.map((k) => t("field_" + k)).join(", ")}`;
        return;
      }
      note.textContent = "✓ " + t("saved");
      setTimeout(onSaved, 600);
    } catch (e) {
      note.textContent = e.message;
    }
  });
  box.append(summary, form);
  return box;
}

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

export async function showPerson(view, crisisId, nationalId, notice = "") {
  const here = location.hash;
  // Shown again after a change (with what became of it), unless the user has gone elsewhere meanwhile.
  const again = (text = "") => { if (location.hash === here) showPerson(view, crisisId, nationalId, text); };
  const p = await api(`/api/v1/crises/${crisisId}/people/${nationalId}`);
  if (location.hash !== here) return null;
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
  if (p.legs?.length) {
    const h3l = document.createElement("h3");
    h3l.textContent = t("trip");
    const ol = document.createElement("ol");
    ol.className = "legs";
    for (const l of p.legs) {
      const li = document.createElement("li");
      li.textContent = `${l.place ?? l.region ?? "?"}${l.region && l.place !== l.region ? ` (${l.region})` : ""}: ` +
        `${l.arrival} – ${l.departure}${l.source === "partner" ? ` · ${t("from_partner")}` : ""}`;
      ol.append(li);
    }
    card.append(h3l, ol);
  }
  const h3s = document.createElement("h3");
  h3s.textContent = t("record_call");
  const buttons = document.createElement("div");
  const done = document.createElement("p");
  done.className = "recorded";
  done.setAttribute("aria-live", "polite");
  done.textContent = notice;
  for (const s of OUTCOMES) {
    const b = outcomeButton(s);
    b.addEventListener("click", async () => {
      let r;
      try {
        r = await api(`/api/v1/crises/${crisisId}/responses`, { method: "POST",
          body: { national_id: p.national_id, status: s, message: t("by_phone") } });
      } catch (e) {
        done.textContent = `${t("not_recorded")}: ${e.message}`;
        return;
      }
      // The status the entry resulted in, which the precedence rules may keep otherwise.
      const text = recordedText(s, r);
      done.textContent = text;
      setTimeout(() => again(text), 800);
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
  if (p.contacts !== undefined && canEdit()) card.append(editForm(p, again));
  view.append(card);
  return null;
}
