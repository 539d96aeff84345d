// Self-registrations as staff see them: newest first, who confirmed which
// contact, the trip's legs, and the registry's person each likely
// duplicates, with the merge into that person and its undo.
import { api, scoped } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";

function td(tr, text, cls) {
  const c = document.createElement("td");
  c.textContent = text ?? "";
  if (cls) c.className = cls;
  tr.append(c);
  return c;
}

function legsText(legs) {
  return legs.map((l) => `${l.place ?? l.region ?? "?"} ${l.arrival}–${l.departure}`).join(" → ");
}

export async function registrationsCard() {
  const card = document.createElement("section");
  card.className = "card registrations";
  const h = document.createElement("h3");
  h.textContent = t("registrations");
  const table = document.createElement("table");
  const note = document.createElement("p");
  note.className = "hint";
  note.setAttribute("aria-live", "polite");
  card.append(h, note, table);

  async function load() {
    const rows = await api(scoped("/api/v1/registrations?limit=200"));
    table.innerHTML = "";
    const head = document.createElement("tr");
    for (const k of ["name", "registered", "trip", "people_with", "contacts", "match"]) {
      const th = document.createElement("th");
      th.textContent = t(k);
      head.append(th);
    }
    table.append(head);
    if (!rows.length) note.textContent = t("nobody");
    for (const r of rows) {
      const tr = document.createElement("tr");
      tr.dataset.registration = r.id;
      td(tr, r.name);
      td(tr, new Date(r.created_at).toLocaleString());
      // A resident a trip was merged into stays a resident: the legs still show.
      td(tr, r.legs.length ? legsText(r.legs) : t("residence"));
      td(tr, String(r.people));
      const contacts = td(tr, "");
      for (const c of r.contacts) {
        const b = document.createElement("span");
        b.className = "badge " + (c.verified ? "verified" : "unverified");
        b.textContent = `${c.kind}: ${c.verified ? t("confirmed") : t("unconfirmed")}`;
        contacts.append(b, " ");
      }
      const match = td(tr, "");
      if (r.merged) {
        match.append(`${t("merged_into")} #${r.merged.national_id} `);
        match.append(button(t("undo_merge"), "unmerge", r.id));
      } else if (r.duplicate_of?.registration_id) {
        // Both are registrations, each standing on its own person: a merge
        // cannot join them, the person deletes one.
        match.append(t("registered_twice").replace("{id}", r.duplicate_of.registration_id));
      } else if (r.duplicate_of) {
        const d = r.duplicate_of;
        match.append(`${t("likely_same")} #${d.national_id} ${d.name ?? ""} ${d.birth_date ?? ""} `);
        match.append(button(t("merge"), "merge", r.id));
      }
      table.append(tr);
    }
  }

  function button(label, action, id) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = action;
    b.textContent = label;
    b.addEventListener("click", async () => {
      b.disabled = true;
      try {
        const r = await api(`/api/v1/registrations/${id}/${action}`, { method: "POST", body: {} });
        note.textContent = t("outcome_" + r.outcome);
        // An undo keeps what staff changed after the merge: say what, so nobody expects it back.
        const kept = [r.kept?.includes("kind") && t("kept_trip"),
          r.kept?.includes("household_id") && t("kept_household")].filter(Boolean);
        if (kept.length) note.textContent += ` ${t("kept_since")} ${kept.join(", ")}`;
        await load();
      } catch (e) {
        note.textContent = e.message;
        b.disabled = false;
      }
    });
    return b;
  }

  await load();
  return card;
}
