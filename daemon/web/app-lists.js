// Work lists of a crisis: who needs help, who is injured, who needs
// evacuation, whose answer nobody could read, whom no channel reached (with
// every number tried). Search by name, show one's own or the unassigned,
// sort, give a person to a colleague to call. A call's outcome is recorded in
// two clicks: open the row's choices, pick what the person said. A list
// comes 200 people at a time, in its own order, and "more" reads the next.
import { api } from "/static/app-api.js";
import { t, statusName, recordedText } from "/static/app-i18n.js";
import { outcomeButton, shapeIcon } from "/static/app-map.js";

const LISTS = [
  { key: "needs_help", query: "status=needs_help" },
  { key: "injured", query: "status=injured" },
  { key: "needs_evacuation", query: "status=needs_evacuation" },
  { key: "needs_review", query: "flag=needs_review" },
  { key: "unreachable", query: null },
];
const OUTCOMES = ["safe", "needs_help", "injured", "needs_evacuation", "missing"];
const PAGE = 200;

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
  const tools = document.createElement("div");
  tools.className = "list-tools";
  tools.innerHTML = `<input type="search" class="list-search"> <select class="list-assigned"></select>
    <select class="list-sort"></select>`;
  const search = tools.querySelector(".list-search");
  search.placeholder = t("search_name");
  search.setAttribute("aria-label", t("search_name"));
  const assigned = tools.querySelector(".list-assigned");
  assigned.setAttribute("aria-label", t("assigned"));
  for (const [v, k] of [["", "everyone"], ["me", "mine"], ["none", "unassigned"]]) assigned.add(new Option(t(k), v));
  const sort = tools.querySelector(".list-sort");
  sort.setAttribute("aria-label", t("sort"));
  for (const k of ["urgency", "name", "answered"]) sort.add(new Option(t("sort_" + k), k));
  box.append(tabs, tools, body);
  let current = LISTS[0];
  let staff = null;
  let me = null;

  // Answers can come back out of order (a quick change of tab): only the latest request draws.
  let generation = 0;
  const failed = (mine) => (e) => { if (mine === generation) body.textContent = e.message; };
  function reload() {
    load().catch(failed(generation));
  }
  async function load() {
    const mine = ++generation;
    body.textContent = "…";
    if (staff === null) {
      staff = await api(`/api/v1/crises/${crisisId}/staff`).catch(() => []);
      me = (await api("/api/v1/session").catch(() => null))?.user?.id ?? null;
    }
    let items;
    let next = null;
    const filters = new URLSearchParams({ limit: String(PAGE), sort: sort.value });
    if (search.value.trim()) filters.set("q", search.value.trim());
    if (assigned.value) filters.set("assigned", assigned.value);
    const list = `/api/v1/crises/${crisisId}/people?${current.query}&${filters}`;
    if (current.query) ({ items, next } = await api(list));
    else {
      // The call list is short: filtered here the same way.
      const q = search.value.trim().toLowerCase().replace(/\s+/g, "");
      items = (await api(`/api/v1/crises/${crisisId}/call-list`)).items.filter((p) =>
        (!q || [p.name_ko, p.name_latin].join(" ").toLowerCase().replace(/\s+/g, "").includes(q)) &&
        (!assigned.value || (assigned.value === "none" ? !p.assigned_to : p.assigned_to?.id === me)));
      if (sort.value === "name") items.sort((a, b) => (a.name_latin ?? a.name_ko ?? "").localeCompare(b.name_latin ?? b.name_ko ?? ""));
    }
    if (mine !== generation) return;
    body.innerHTML = "";
    if (!items.length) {
      body.textContent = t("nobody");
      return;
    }
    const table = document.createElement("table");
    table.innerHTML = `<thead><tr><th></th><th>${t("name")}</th><th>${t("last_answer")}</th><th>${t("contacts")}</th><th>${t("assigned")}</th><th></th></tr></thead>`;
    const tbody = document.createElement("tbody");
    table.append(tbody);
    body.append(table);
    draw(tbody, items);
    if (next === null) return;
    // The next page in the same order, on demand: a list of thousands stays quick to draw.
    const more = document.createElement("button");
    more.type = "button";
    more.className = "list-more";
    let shown = items.length;
    more.textContent = t("more_shown").replace("{n}", shown);
    more.addEventListener("click", async () => {
      more.disabled = true;
      try {
        const page = await api(`${list}&after=${encodeURIComponent(next)}`);
        if (mine !== generation) return;
        const first = draw(tbody, page.items);
        shown += page.items.length;
        next = page.next;
        // The focus goes on to the first person added, for the keyboard.
        first?.querySelector(".person-link")?.focus();
        if (next === null) more.remove();
        else more.textContent = t("more_shown").replace("{n}", shown);
      } catch (e) {
        more.title = e.message;
      }
      more.disabled = false;
    });
    body.append(more);
  }

  // Appends a row per person; returns the first row added.
  function draw(tbody, items) {
    let first = null;
    for (const p of items) {
      const tr = document.createElement("tr");
      first ??= tr;
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
      open.setAttribute("aria-label", `${t("record_call")}: ${link.textContent}`);
      // The outcomes replace the button and take the focus; Escape brings it back.
      const choices = document.createElement("span");
      choices.setAttribute("role", "group");
      choices.setAttribute("aria-label", `${t("record_call")}: ${link.textContent}`);
      choices.hidden = true;
      choices.addEventListener("keydown", (ev) => {
        if (ev.key !== "Escape") return;
        choices.hidden = true;
        open.hidden = false;
        open.focus();
      });
      open.addEventListener("click", () => {
        open.hidden = true;
        choices.hidden = false;
        if (!choices.childElementCount) {
          for (const s of OUTCOMES) {
            const b = outcomeButton(s);
            b.addEventListener("click", async () => {
              for (const x of choices.children) x.disabled = true;
              let stored;
              try {
                stored = await api(`/api/v1/crises/${crisisId}/responses`, { method: "POST",
                  body: { national_id: p.national_id, status: s, message: t("by_phone") } });
              } catch (e) {
                for (const x of choices.children) x.disabled = false;
                // Said where it is read, and the focus kept on a control that is shown.
                problem.textContent = `${t("not_recorded")}: ${e.message}`;
                if (!choices.hidden) b.focus();
                else open.focus();
                return;
              }
              tr.classList.add("done");
              // The result keeps the focus in this row, ready for the next call.
              const result = document.createElement("span");
              result.tabIndex = -1;
              result.className = "recorded";
              result.textContent = recordedText(s, stored);
              act.replaceChildren(result);
              result.focus();
            });
            choices.append(b);
          }
        }
        choices.firstChild.focus();
      });
      const problem = document.createElement("span");
      problem.className = "error";
      problem.setAttribute("role", "alert");
      act.append(choices, problem);
      act.append(open);
      const who = document.createElement("td");
      const pick = document.createElement("select");
      pick.className = "assign";
      pick.setAttribute("aria-label", t("assigned"));
      pick.add(new Option("—", ""));
      for (const u of staff) pick.add(new Option(u.name, String(u.id)));
      pick.value = p.assigned_to ? String(p.assigned_to.id) : "";
      pick.addEventListener("change", async () => {
        pick.disabled = true;
        try {
          await api(`/api/v1/crises/${crisisId}/people/${p.national_id}/assignee`, { method: "PUT",
            body: { user_id: pick.value ? Number(pick.value) : null } });
          tr.dataset.assigned = pick.value;
        } catch (e) {
          pick.value = p.assigned_to ? String(p.assigned_to.id) : "";
          pick.title = e.message;
        }
        pick.disabled = false;
      });
      who.append(pick);
      tr.append(icon, name, last, contacts, who, act);
      tbody.append(tr);
    }
    return first;
  }

  let typing = null;
  search.addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(reload, 250);
  });
  for (const el of [assigned, sort]) el.addEventListener("change", reload);

  // The lists are tabs (WAI-ARIA): one Tab stop; arrows, Home and End move and show.
  const panelId = `list-panel-${crisisId}`;
  body.id = panelId;
  body.setAttribute("role", "tabpanel");
  function choose(b, l) {
    current = l;
    for (const x of tabs.children) {
      x.setAttribute("aria-selected", String(x === b));
      x.tabIndex = x === b ? 0 : -1;
    }
    body.setAttribute("aria-labelledby", b.id);
    reload();
  }
  for (const l of LISTS) {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "tab");
    b.setAttribute("aria-controls", panelId);
    b.id = `list-tab-${crisisId}-${l.key}`;
    b.dataset.list = l.key;
    b.textContent = listName(l.key);
    b.tabIndex = -1;
    b.addEventListener("click", () => choose(b, l));
    tabs.append(b);
  }
  tabs.addEventListener("keydown", (ev) => {
    const all = [...tabs.children];
    const at = all.indexOf(document.activeElement);
    if (at < 0) return;
    const to = { ArrowRight: at + 1, ArrowLeft: at - 1, Home: 0, End: all.length - 1 }[ev.key];
    if (to === undefined) return;
    ev.preventDefault();
    const i = (to + all.length) % all.length;
    all[i].focus();
    choose(all[i], LISTS[i]);
  });
  tabs.firstChild.setAttribute("aria-selected", "true");
  tabs.firstChild.tabIndex = 0;
  body.setAttribute("aria-labelledby", tabs.firstChild.id);
  reload();
  return { element: box, reload: () => load().catch(() => {}) };
}
