// The list of crises, and one crisis: counts by status that change live,
// answers per minute, response rate by region, and the map.
import { api, scoped } from "/static/app-api.js";
import { t, statusName } from "/static/app-i18n.js";
import { STATUS_ORDER, statusColor, shapeIcon, CrisisMap } from "/static/app-map.js";
import { workLists } from "/static/app-lists.js";
import { planPanel } from "/static/app-plan.js";
import { declarePanel } from "/static/app-declare.js";
import { campaignPanel } from "/static/app-campaign.js";

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

export async function showCrises(view) {
  view.innerHTML = "";
  view.append(el("h2", {}, t("crises")));
  const box = el("div", { class: "crises" });
  view.append(box);
  // Only the list reloads after an alert was imported, not the form that imported it.
  async function fill() {
    const list = await api("/api/v1/crises");
    box.innerHTML = "";
    const items = list.items ?? list;
    if (!items.length) box.append(el("p", {}, t("no_crises")));
    for (const c of items) {
      box.append(el("a", { class: "card crisis-link", href: `#/crises/${c.id}` },
        el("span", {}, c.title), el("span", {}, c.drill ? t("drill") : "", ` ${c.kind} · ${c.state}`)));
    }
  }
  await fill();
  view.append(declarePanel((id) => {
    if (id) location.hash = `#/crises/${id}`;
    else fill().catch(() => {});
  }));
  return null;
}

function countCards(counts) {
  const box = el("div", { class: "counts", role: "list" });
  for (const s of STATUS_ORDER) {
    const card = el("div", { class: "card count", role: "listitem", "data-status": s });
    card.style.setProperty("--c", statusColor(s));
    const label = el("span", { class: "label" }, shapeIcon(s), statusName(s));
    card.append(el("span", { class: "n" }, String(counts[s] ?? 0)), label);
    box.append(card);
  }
  return box;
}

function updateCounts(box, counts) {
  for (const card of box.querySelectorAll(".count")) {
    const n = String(counts[card.dataset.status] ?? 0);
    const span = card.querySelector(".n");
    if (span.textContent !== n) {
      span.textContent = n;
      card.classList.remove("changed");
      void card.offsetWidth; // restart the highlight
      card.classList.add("changed");
    }
  }
}

function regionBars(byRegion) {
  const box = el("div", { class: "regions" });
  for (const r of byRegion) {
    const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
    const answered = ["safe", "needs_help", "injured", "needs_evacuation", "evacuated"]
      .reduce((a, s) => a + (r.counts[s] ?? 0), 0);
    const bar = el("div", { class: "bar", role: "img",
      "aria-label": `${r.name ?? t("unknown_region")}: ${answered}/${total}` });
    for (const s of STATUS_ORDER) {
      if (!r.counts[s]) continue;
      const part = el("span", { title: `${statusName(s)} ${r.counts[s]}` });
      part.style.width = `${(100 * r.counts[s]) / total}%`;
      part.style.background = statusColor(s);
      bar.append(part);
    }
    box.append(el("div", {}, el("div", {}, `${r.name ?? t("unknown_region")} — ${Math.round((100 * answered) / total)}% ${t("response_rate")}`), bar));
  }
  return box;
}

function answersChart(target, perMinute) {
  const xs = perMinute.map((m) => Date.parse(m.minute) / 1000);
  const ys = perMinute.map((m) => m.answers);
  // The last hour, whatever the data, so one answer does not stretch the axis over years.
  const now = Date.now() / 1000;
  const opts = { width: target.clientWidth || 400, height: 180, legend: { show: false },
    scales: { x: { time: true, range: [now - 3600, now + 60] }, y: { range: (u, min, max) => [0, Math.max(5, max)] } },
    series: [{}, { label: t("answers_per_minute"), stroke: "#0b5cad", fill: "rgba(11,92,173,.15)",
      points: { show: true } }],
    axes: [{}, { size: 40 }] };
  target.innerHTML = "";
  return new uPlot(opts, [xs, ys], target);
}

export async function showCrisis(view, id) {
  const [crisis, status] = await Promise.all([api(`/api/v1/crises/${id}`), api(`/api/v1/crises/${id}/status`)]);
  view.innerHTML = "";
  const live = el("span", { class: "live off", "aria-live": "polite" }, t("reconnecting"));
  view.append(el("p", {}, el("a", { href: "#/crises" }, `← ${t("back")}`)),
    el("h2", {}, crisis.title, " ", crisis.drill ? el("span", { class: "drill" }, t("drill")) : "", " ", live));
  const cards = countCards(status.counts);
  view.append(cards);
  const mapCard = el("section", { class: "card", "aria-label": t("map") }, el("div", { id: "map" }));
  const chart = el("div", { class: "chart" });
  const side = el("section", { class: "card" }, el("h3", {}, t("answers_per_minute")), chart,
    el("h3", {}, t("regions")), regionBars(status.by_region));
  view.append(el("div", { class: "grid" }, mapCard, side));
  const map = new CrisisMap(mapCard.querySelector("#map"), crisis);
  const legend = el("div", { class: "legend" });
  for (const s of STATUS_ORDER) legend.append(el("span", {}, shapeIcon(s), " ", statusName(s)));
  mapCard.append(legend);
  answersChart(chart, status.per_minute);
  const plan = planPanel(id, map);
  side.append(campaignPanel(id), plan.element);
  const lists = workLists(id);
  view.append(lists.element);

  // Live: the stream opens before the points are read, so that nothing committed meanwhile is
  // missed; the people who change while points load are applied again on top of them. The
  // browser reconnects by itself after a dropped connection; after a refusal (the server busy,
  // restarting, too many streams) it gives up, and the page opens the stream again itself.
  let events = null, lastId = null, retry = null, stopped = false, loads = 0, during = null;
  async function loadPoints() {
    const mine = ++loads, changed = [];
    during = changed;
    try {
      const points = (await api(`/api/v1/crises/${id}/points`)).points;
      if (mine === loads && !stopped) map.setPoints(points);
    } finally {
      if (during === changed) during = null;
      if (mine === loads && !stopped) for (const p of changed) map.update(p);
    }
  }
  // People who only became pending (a launch) come with the counts, not one by one: when
  // the total grows, the map reloads its points, at most every few seconds.
  let total = Object.values(status.counts).reduce((a, b) => a + b, 0), reload = null;
  const seen = (ev) => { if (ev.lastEventId) lastId = ev.lastEventId; };
  function connect() {
    retry = null;
    const path = scoped(`/api/v1/crises/${id}/events`);
    events = new EventSource(lastId === null ? path :
      path + (path.includes("?") ? "&" : "?") + "last_event_id=" + encodeURIComponent(lastId));
    events.addEventListener("open", () => { live.className = "live on"; live.textContent = t("live"); });
    events.addEventListener("error", () => {
      live.className = "live off";
      live.textContent = t("reconnecting");
      if (events.readyState === EventSource.CLOSED && !stopped && !retry) retry = setTimeout(connect, 5000);
    });
    events.addEventListener("counts", (ev) => {
      seen(ev);
      const counts = JSON.parse(ev.data).counts;
      updateCounts(cards, counts);
      const now = Object.values(counts).reduce((a, b) => a + b, 0);
      if (now !== total && !reload) {
        reload = setTimeout(async () => {
          reload = null;
          try { await loadPoints(); } catch { /* next time */ }
        }, 3000);
      }
      total = now;
    });
    events.addEventListener("person", (ev) => {
      seen(ev);
      const p = JSON.parse(ev.data);
      if (during) during.push(p);
      map.update(p);
    });
    events.addEventListener("plan", (ev) => plan.onPlanEvent(JSON.parse(ev.data)));
    events.addEventListener("reset", async (ev) => {
      seen(ev);
      try { await loadPoints(); } catch { /* the next reset or reload */ }
    });
  }
  connect();
  await loadPoints();
  map.onSelect(async (nid, at) => {
    try {
      const p = await api(`/api/v1/crises/${id}/people/${nid}`);
      const box = el("div", {});
      const link = el("a", { href: `#/crises/${id}/people/${nid}`, class: "popup-person" },
        [p.name_ko, p.name_latin].filter(Boolean).join(" / "));
      const last = p.history.filter((e) => e.kind === "answer").pop();
      box.append(el("strong", {}, link), el("p", {}, shapeIcon(p.status), " ", statusName(p.status)),
        el("p", { class: "muted" }, last ? `${t("last_answer")}: ${new Date(last.at).toLocaleString()}` :
          `${p.history.filter((e) => e.kind === "message").length} ${t("messages")}`),
        el("p", { class: "muted" }, `${p.track.length} ${t("known_places")}`));
      map.showTrail(p.track, p.track.length ? [p.track.at(-1).lat, p.track.at(-1).lon] : at, box);
    } catch { /* gone meanwhile: nothing to show */ }
  });

  // The chart and regions every half minute.
  const timer = setInterval(async () => {
    try {
      const s = await api(`/api/v1/crises/${id}/status`);
      answersChart(chart, s.per_minute);
      side.querySelector(".regions").replaceWith(regionBars(s.by_region));
    } catch { /* the stream says when the server is away */ }
  }, 30000);
  return () => {
    stopped = true;
    events.close();
    clearTimeout(retry);
    clearInterval(timer);
    clearTimeout(reload);
    map.remove();
  };
}
