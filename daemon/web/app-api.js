// The dashboard's only way to the server: JSON over /api/v1 with the session
// cookie, and the CSRF token on every request that changes something.
let csrf = null;
let mission = null; // HQ and admins: the one mission in view, or null for all

let user = null;

export function setMission(m) {
  mission = m;
}

export function setUser(u) {
  user = u;
}

// Whether this account may change the registry (viewers and HQ only read).
export function canEdit() {
  return ["admin", "mission_lead", "mission_staff"].includes(user?.role);
}

// The mission a change is made for: one's own, else the one chosen in the header (null: none chosen).
export function missionForChanges() {
  return user?.mission_id ?? (mission ? Number(mission) : null);
}

// A read narrowed to the chosen mission (the server accepts it only from those who see all).
export function scoped(path) {
  return mission ? path + (path.includes("?") ? "&" : "?") + "mission_id=" + mission : path;
}

export class Unauthorized extends Error {}

export function setCsrf(token) {
  csrf = token;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) headers["X-CSRF-Token"] = csrf;
  if (method === "GET") path = scoped(path);
  const r = await fetch(path, { method, headers, credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 401) throw new Unauthorized();
  const text = await r.text();
  const data = text ? JSON.parse(text) : null;
  if (!r.ok) {
    // The status and Retry-After, for a caller that may try again (a 503 says when).
    throw Object.assign(new Error((data && (data.detail || data.title)) || `HTTP ${r.status}`),
      { status: r.status, retryAfter: r.headers.get("Retry-After") });
  }
  return data;
}

// Every page of a list that pages with "next" and "after" (shelters: 5,000 a page).
export async function apiAll(path) {
  const items = [];
  let after = null;
  do {
    const page = await api(after === null ? path : path + (path.includes("?") ? "&" : "?") + "after=" + after);
    items.push(...page.items);
    after = page.next;
  } while (after);
  return { items };
}

// A document as it came (an alert's XML or GeoJSON), not JSON we made.
export async function apiText(path, text, contentType) {
  const r = await fetch(path, { method: "POST", credentials: "same-origin",
    headers: { Accept: "application/json", "Content-Type": contentType, "X-CSRF-Token": csrf ?? "" }, body: text });
  if (r.status === 401) throw new Unauthorized();
  const data = await r.json().catch(() => null);
  if (!r.ok) throw new Error((data && (data.detail || data.title)) || `HTTP ${r.status}`);
  return data;
}
