// Shelters and regions in the registry view: each shelter's load as a bar,
// capacity, occupancy, facilities and open/closed changed in place (saved as
// soon as a field changes, and only onto the shelter as it was read: one
// changed meanwhile is refused and shown as it is now), a new one added; the
// regions with how many nationals live in each. Bulk loads stay with
// `safetyctl import`.
import { api, apiAll, canEdit, missionForChanges, scoped } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";
import { loadLevel } from "/static/app-map.js";

const KINDS = ["shelter", "assembly_point", "embassy", "hotel", "airport", "border_crossing"];

// A table cell with a text or an element, appended to the row.
export function cell(tr, child) {
  const td = document.createElement("td");
  td.append(child ?? "");
  tr.append(td);
  return td;
}

function loadBar(s) {
  const bar = document.createElement("span");
  bar.className = "load";
  const fill = document.createElement("span");
  const share = s.capacity > 0 ? Math.min(1, s.occupancy / s.capacity) : 1;
  fill.style.width = `${Math.round(share * 100)}%`;
  fill.className = loadLevel(s);
  bar.append(fill);
  bar.title = `${s.occupancy} / ${s.capacity}`;
  return bar;
}

export async function sheltersCard() {
  const card = document.createElement("section");
  card.className = "card shelters";
  const h = document.createElement("h3");
  h.textContent = t("shelters");
  const note = document.createElement("p");
  note.className = "hint";
  note.setAttribute("aria-live", "polite");
  const table = document.createElement("table");
  card.append(h, note, table);
  const editable = canEdit();

  // Sent with the version this row was drawn from: the server refuses it if the shelter changed since.
  async function save(read, body, tr) {
    try {
      const s = await api(`/api/v1/shelters/${read.id}`, { method: "PATCH", body: { ...body, version: read.version } });
      all = all.map((x) => (x.id === s.id ? s : x));
      tr.replaceWith(row(s));
      note.classList.remove("error");
      note.textContent = `✓ ${s.name}`;
    } catch (e) {
      // Refused (changed by someone else) or failed: the row shows what is stored now, and the reason.
      const message = `${read.name}: ${e.message}`;
      await load().catch(() => {});
      note.textContent = message;
      note.classList.add("error");
    }
  }

  function row(s) {
    const tr = document.createElement("tr");
    tr.dataset.shelter = s.id;
    if (!s.open) tr.classList.add("closed");
    cell(tr, s.name);
    cell(tr, t("kind_" + s.kind));
    for (const k of ["capacity", "occupancy"]) {
      const input = document.createElement("input");
      input.type = "number";
      input.min = "0";
      input.name = k;
      input.value = s[k];
      input.disabled = !editable;
      input.setAttribute("aria-label", `${s.name}: ${t(k)}`);
      input.addEventListener("change", () => save(s, { [k]: Number(input.value) }, tr));
      cell(tr, input);
    }
    cell(tr, loadBar(s));
    for (const k of ["medical", "accessible", "open"]) {
      const box = document.createElement("input");
      box.type = "checkbox";
      box.name = k;
      box.checked = s[k];
      box.disabled = !editable;
      box.setAttribute("aria-label", `${s.name}: ${t("shelter_" + k)}`);
      box.addEventListener("change", () => save(s, { [k]: box.checked }, tr));
      cell(tr, box);
    }
    return tr;
  }

  // A mission may have a thousand assembly points: the fullest first, fifty at a time, found by name.
  const search = document.createElement("input");
  search.type = "search";
  search.className = "shelter-search";
  search.placeholder = t("search_shelter");
  search.setAttribute("aria-label", t("search_shelter"));
  card.insertBefore(search, table);
  let all = [];
  const SHOWN = 50;

  function render() {
    const q = search.value.trim().toLocaleLowerCase();
    const load = (s) => (s.capacity > 0 ? s.occupancy / s.capacity : 1);
    const hits = all.filter((s) => !q || s.name.toLocaleLowerCase().includes(q))
      .sort((a, b) => load(b) - load(a) || a.name.localeCompare(b.name));
    table.innerHTML = "";
    const head = document.createElement("tr");
    for (const k of ["name", "kind", "capacity", "occupancy", "load", "shelter_medical", "shelter_accessible", "shelter_open"]) {
      const th = document.createElement("th");
      th.textContent = t(k);
      head.append(th);
    }
    table.append(head);
    for (const s of hits.slice(0, SHOWN)) table.append(row(s));
    note.classList.remove("error");
    note.textContent = `${Math.min(SHOWN, hits.length)} / ${hits.length} ${t("shelters_count")}`;
  }

  async function load() {
    all = (await apiAll(scoped("/api/v1/shelters"))).items;
    render();
  }
  search.addEventListener("input", render);

  if (editable) {
    const form = document.createElement("form");
    form.className = "add-shelter";
    form.innerHTML = `<input name="name" required maxlength="300"> <select name="kind"></select>
      <input name="capacity" type="number" min="0" value="100"> <input name="lat" type="number" step="any">
      <input name="lon" type="number" step="any"> <button type="submit" class="primary"></button>`;
    for (const k of KINDS) form.kind.add(new Option(t("kind_" + k), k));
    form.kind.setAttribute("aria-label", t("kind"));
    for (const k of ["name", "capacity", "lat", "lon"]) {
      form[k].placeholder = t(k === "name" ? "shelter_name" : k);
      form[k].setAttribute("aria-label", t(k === "name" ? "shelter_name" : k));
    }
    form.querySelector("button").textContent = t("add_shelter");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      try {
        await api("/api/v1/shelters", { method: "POST", body: { name: form.name.value, kind: form.kind.value,
          capacity: Number(form.capacity.value), lat: Number(form.lat.value), lon: Number(form.lon.value),
          mission_id: missionForChanges() ?? undefined } });
        form.reset();
        await load();
      } catch (e) {
        note.textContent = e.message;
      }
    });
    card.append(form);
  }
  await load();
  return card;
}

export async function regionsCard() {
  const card = document.createElement("section");
  card.className = "card regions";
  const h = document.createElement("h3");
  h.textContent = t("regions_title");
  const list = document.createElement("ul");
  list.className = "region-list";
  const r = await api(scoped("/api/v1/regions"));
  for (const g of r.items) {
    const li = document.createElement("li");
    li.textContent = `${g.name} (${g.code}): ${g.nationals}`;
    list.append(li);
  }
  const hint = document.createElement("p");
  hint.className = "hint";
  hint.textContent = t("regions_hint");
  card.append(h, list, hint);
  return card;
}
