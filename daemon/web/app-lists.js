// Work lists of a crisis: who needs help, who is injured, who needs
// evacuation, whose answer nobody could read, whom no channel reached (with
// every number tried). A call's outcome is recorded in two clicks: open the
// row's choices, pick what the person said.
import { api } from "/static/app-api.js";
import { t, statusName } from "/static/app-i18n.js";
import { shapeIcon } from "/static/app-map.js";

const LISTS = [
  { key: "needs_help", query: "status=needs_help" },
  { key: "injured", query: "status=injured" },
  { key: "needs_evacuation", query: "status=needs_evacuation" },
  { key: "needs_review", query: "flag=needs_review" },
  { key: "unreachable", query: null },
];
const OUTCOMES = ["safe", "needs_help", "injured", "needs_evacuation", "missing"];

function listName(key) {
  return key === "needs_review" ? t("needs_review") : key === "unreachable" ? t("call_list") : statusName(key);
}

export function workLists(crisisId) {
  const box = document.createElement("section");
  box.className = "card lists";
  const tabs = document.createElement("div");
  tabs.className = "tabs";
  tabs.setAttribute("role", "tablist");
  const body = document.createElement("div");
  body.className = "list-body";
  box.append(tabs, body);
  let current = LISTS[0];

  async function load() {
    body.textContent = "…";
    let items;
    if (current.query) items = (await api(`/api/v1/crises/${crisisId}/people?${current.query}&limit=200`)).items;
    else items = (await api(`/api/v1/crises/${crisisId}/call-list`)).items;
    body.innerHTML = "";
    if (!items.length) {
      body.textContent = t("nobody");
      return;
    }
    const table = document.createElement("table");
    table.innerHTML = `<thead><tr><th></th><th>${t("name")}</th><th>${t("last_answer")}</th><th>${t("contacts")}</th><th></th></tr></thead>`;
    const tbody = document.createElement("tbody");
    for (const p of items) {
      const tr = document.createElement("tr");
      tr.dataset.national = p.national_id;
      const icon = document.createElement("td");
      if (p.status) icon.append(shapeIcon(p.status));
      const name = document.createElement("td");
      const link = document.createElement("a");
      link.href = `#/crises/${crisisId}/people/${p.national_id}`;
      link.className = "person-link";
      link.textContent = [p.name_ko, p.name_latin].filter(Boolean).join(" / ") + (p.duress ? " ⚠" : "");
      name.append(link);
      const last = document.createElement("td");
      last.textContent = p.last_answer ? `${p.last_answer.text ?? ""}` : (p.rounds ? `${p.rounds} ×` : "");
      const contacts = document.createElement("td");
      const numbers = p.phones ?? (p.contacts ?? []).map((c) => c.value);
      contacts.textContent = (numbers ?? []).join(", ");
      const act = document.createElement("td");
      const open = document.createElement("button");
      open.type = "button";
      open.className = "record";
      open.textContent = t("record_call");
      open.addEventListener("click", () => {
        open.hidden = true;
        for (const s of OUTCOMES) {
          const b = document.createElement("button");
          b.type = "button";
          b.className = "outcome";
          b.dataset.status = s;
          b.append(shapeIcon(s), " ", statusName(s));
          b.addEventListener("click", async () => {
            await api(`/api/v1/crises/${crisisId}/responses`, { method: "POST",
              body: { national_id: p.national_id, status: s, message: t("by_phone") } });
            tr.classList.add("done");
            act.textContent = `✓ ${statusName(s)}`;
          });
          act.append(b);
        }
      });
      act.append(open);
      tr.append(icon, name, last, contacts, act);
      tbody.append(tr);
    }
    table.append(tbody);
    body.append(table);
  }

  for (const l of LISTS) {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "tab");
    b.dataset.list = l.key;
    b.textContent = listName(l.key);
    b.addEventListener("click", () => {
      current = l;
      for (const x of tabs.children) x.setAttribute("aria-selected", String(x === b));
      load().catch((e) => { body.textContent = e.message; });
    });
    tabs.append(b);
  }
  tabs.firstChild.setAttribute("aria-selected", "true");
  load().catch((e) => { body.textContent = e.message; });
  return { element: box, reload: () => load().catch(() => {}) };
}
