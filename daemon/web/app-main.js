// The dashboard: who is logged in, then the view the address names
// (#/crises, #/crises/ID). Each view is its own module.
import { api, setCsrf, setMission, setUser, Unauthorized } from "/static/app-api.js";
import { t, switchLang, translatePage } from "/static/app-i18n.js";
import { showLogin } from "/static/app-login.js";
import { showCrises, showCrisis } from "/static/app-overview.js";
import { showPerson } from "/static/app-person.js";
import { showRegistry, showAudit } from "/static/app-admin.js";

const view = document.getElementById("view");
let leaveView = null; // closes the current view's event stream and timers

// Routes can overlap (a click while the last view still loads). Each draws
// into a pane of its own; one that finishes after a newer route began is
// closed at once, so no hidden view keeps its event stream open.
let routeCount = 0;

async function route(ev) {
  const mine = ++routeCount;
  if (leaveView) leaveView();
  leaveView = null;
  translatePage();
  let session;
  try {
    session = await api("/api/v1/session");
  } catch (e) {
    if (mine !== routeCount) return;
    if (e instanceof Unauthorized) return showLogin(fresh(), route);
    view.textContent = e.message;
    return;
  }
  if (mine !== routeCount) return;
  setCsrf(session.csrf_token);
  const u = session.user;
  setUser(u);
  document.getElementById("who").textContent = `${u.username} · ${u.role}` + (u.mission_id ? ` · #${u.mission_id}` : "");
  document.getElementById("logout").hidden = false;
  await missionSwitch(u);
  if (mine !== routeCount) return;
  const m = location.hash.match(/^#\/crises\/(\d+)$/);
  const person = location.hash.match(/^#\/crises\/(\d+)\/people\/(\d+)$/);
  const pane = fresh();
  // After following a link the new view takes the focus at once: the next Tab
  // starts at its top and a screen reader reads it, not the place the old page left.
  if (ev?.type === "hashchange") view.focus();
  try {
    let leave;
    if (location.hash === "#/registry") leave = await showRegistry(pane);
    else if (location.hash === "#/audit") leave = await showAudit(pane);
    else if (person) leave = await showPerson(pane, Number(person[1]), Number(person[2]));
    else leave = m ? await showCrisis(pane, Number(m[1])) : await showCrises(pane);
    if (mine !== routeCount) {
      if (leave) leave();
      return;
    }
    leaveView = leave;
  } catch (e) {
    if (mine !== routeCount) return;
    if (e instanceof Unauthorized) return showLogin(fresh(), route);
    pane.textContent = e.message;
  }
}

function fresh() {
  const pane = document.createElement("div");
  view.replaceChildren(pane);
  return pane;
}

// HQ and admins see every mission; a switch narrows every view to one of them.
async function missionSwitch(user) {
  const select = document.getElementById("mission");
  if (user.mission_id) {
    select.hidden = true;
    setMission(null);
    return;
  }
  // Two routes at once on the first load fill it once.
  missionsLoading ??= fillMissions(select).finally(() => { missionsLoading = null; });
  await missionsLoading;
  setMission(select.value || null);
  select.hidden = false;
}

let missionsLoading = null;

async function fillMissions(select) {
  if (!select.options.length) {
    const list = await api("/api/v1/missions");
    select.append(new Option(t("all_missions"), ""));
    for (const m of list.items) select.append(new Option(`${m.code} — ${m.name}`, m.id));
    select.value = sessionStorage.getItem("mission") ?? "";
    select.addEventListener("change", () => {
      sessionStorage.setItem("mission", select.value);
      route();
    });
  }
  setMission(select.value || null);
  select.hidden = false;
}

document.getElementById("lang").addEventListener("click", () => {
  switchLang();
  route();
});
document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("/api/v1/session", { method: "DELETE" });
  } finally {
    document.getElementById("logout").hidden = true;
    document.getElementById("who").textContent = "";
    route();
  }
});
window.addEventListener("hashchange", route);
document.title = t("title");
route();
