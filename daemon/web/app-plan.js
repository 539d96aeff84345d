// Evacuation from the dashboard: run the planner over who needs to leave,
// watch it on the event stream, see groups and their lines to shelters on
// the map, move a household to another shelter (a new plan, its cost shown),
// publish it, print the manifests.
import { api, apiAll, missionForChanges, scoped } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";
import { textTip } from "/static/app-map.js";

export function planPanel(crisisId, map) {
  const box = document.createElement("section");
  box.className = "card plan";
  box.innerHTML = `<h3></h3><p class="plan-state" aria-live="polite"></p>
    <button type="button" class="primary run-plan"></button>
    <button type="button" class="give-up-plan" hidden></button>
    <button type="button" class="publish-plan" hidden></button>
    <a class="print-plan" hidden target="_blank" rel="noopener"></a>
    <details class="plan-undelivered" hidden><summary></summary><ul></ul></details>
    <details class="plan-households" hidden><summary></summary><table></table></details>`;
  box.querySelector("h3").textContent = t("evacuation");
  const state = box.querySelector(".plan-state");
  const run = box.querySelector(".run-plan");
  const publish = box.querySelector(".publish-plan");
  const print = box.querySelector(".print-plan");
  const giveUp = box.querySelector(".give-up-plan");
  const undelivered = box.querySelector(".plan-undelivered");
  run.textContent = t("run_plan");
  giveUp.textContent = t("give_up_plan");
  undelivered.querySelector("summary").textContent = t("plan_undelivered");
  publish.textContent = t("publish");
  print.textContent = t("print");
  let planId = null;
  let layer = null;
  const households = box.querySelector(".plan-households");
  households.querySelector("summary").textContent = t("move_households");
  // The mission's open assembly points, asked for once: a household with no known place gathers at one.
  let assemblyPoints = null;
  function openAssemblyPoints() {
    assemblyPoints ??= apiAll(scoped("/api/v1/shelters"))
      .then((r) => r.items.filter((x) => x.kind === "assembly_point" && x.open))
      .catch((e) => { assemblyPoints = null; throw e; });
    return assemblyPoints;
  }

  // Each household with where it goes; another shelter chosen makes a new plan with that move.
  async function listHouseholds(id, plan) {
    const csv = await (await fetch(`/api/v1/plans/${id}?format=csv`, { credentials: "same-origin" })).text();
    const names = new Map();
    for (const line of csv.trim().split("\n").slice(1)) {
      const cells = line.match(/("([^"]|"")*"|[^,]*)(,|$)/g).map((c) => c.replace(/,$/, "").replace(/^"|"$/g, "").replace(/""/g, '"'));
      names.set(Number(cells[6]), cells[7]);
    }
    const shelters = plan.result.shelters.filter((x) => x.open !== false);
    const unplaced = plan.result.households.some((h) => typeof h.lat !== "number" || typeof h.lon !== "number");
    const points = unplaced ? await openAssemblyPoints().catch(() => []) : [];
    const table = households.querySelector("table");
    table.innerHTML = "";
    for (const h of plan.result.households) {
      const tr = document.createElement("tr");
      tr.dataset.household = h.key;
      const who = document.createElement("td");
      who.textContent = h.nationals.map((n) => names.get(n) ?? `#${n}`).join(", ") + ` (${h.people})`;
      const where = document.createElement("td");
      const pick = document.createElement("select");
      pick.className = "move-to";
      pick.setAttribute("aria-label", `${t("shelter")}: ${who.textContent}`);
      for (const x of shelters) {
        const o = new Option(`${x.name} (${x.load}/${x.capacity - (x.occupancy ?? 0)})`, String(x.id));
        // Only where the household can go: the care it needs, and room for all of it.
        o.disabled = x.id !== h.shelter_id && (((h.needs ?? []).includes("medical") && !x.medical) ||
          ((h.needs ?? []).includes("disability") && !x.accessible) ||
          x.load + h.people > x.capacity - (x.occupancy ?? 0));
        pick.add(o);
      }
      pick.value = String(h.shelter_id ?? "");
      pick.disabled = plan.state !== "ready" && plan.state !== "published";
      // No known place: no distance and nowhere to gather but where staff say; chosen here first.
      let gather = null;
      if (typeof h.lat !== "number" || typeof h.lon !== "number") {
        gather = document.createElement("select");
        gather.className = "gather-at";
        gather.setAttribute("aria-label", `${t("gather_at")}: ${who.textContent}`);
        for (const x of points) gather.add(new Option(x.name, String(x.id)));
        if (!points.length) {
          gather.add(new Option(t("no_assembly_points"), ""));
          gather.disabled = pick.disabled = true;
        } else {
          gather.disabled = pick.disabled;
        }
      }
      pick.addEventListener("change", async () => {
        try {
          const body = { household: h.key, shelter_id: Number(pick.value) };
          if (gather) body.assembly_id = Number(gather.value);
          const r = await api(`/api/v1/plans/${id}/moves`, { method: "POST", body });
          planId = r.plan_id;
          await show(planId);
        } catch (e) {
          pick.value = String(h.shelter_id ?? "");
          state.textContent = e.message;
        }
      });
      if (gather) {
        const label = document.createElement("label");
        label.append(`${t("gather_at")} `, gather);
        where.append(label, " ");
      }
      where.append(pick);
      tr.append(who, where);
      table.append(tr);
    }
    households.hidden = false;
  }

  async function show(id) {
    const plan = await api(`/api/v1/plans/${id}`);
    const s = plan.result.stats;
    state.textContent = `${t("plan")} #${id}: ${s.people_assigned}/${s.people} ${t("people")} · ${s.groups} ${t("groups")} · ` +
      // No gap where the bound does not apply (the plan places more or fewer than it assumes).
      `${t("gap")} ${s.gap == null ? t("gap_none") : `${(100 * s.gap).toFixed(2)}%`}` +
      (plan.version ? ` · ${t("published")} v${plan.version}` : "");
    const geo = await api(`/api/v1/plans/${id}?format=geojson`);
    if (layer) layer.remove();
    layer = L.geoJSON(geo, {
      style: (f) => f.properties.kind === "route" ? { color: "#0b5cad", weight: 2, dashArray: "4 4" } : {},
      pointToLayer: (f, latlng) => L.circleMarker(latlng, f.properties.kind === "shelter"
        ? { radius: 8, color: "#0b5cad", fillColor: "#fff", fillOpacity: 1, weight: 3 }
        : { radius: 5, color: "#c25e00", fillColor: "#c25e00", fillOpacity: 0.9 })
        .bindTooltip(textTip(f.properties.kind === "shelter"
          ? `${f.properties.name}: ${f.properties.load}/${f.properties.capacity}`
          : `${t("group")} ${f.properties.group} · ${f.properties.people} ${t("people")}`)),
    }).addTo(map.map);
    publish.hidden = plan.state !== "ready";
    giveUp.hidden = true;
    // Instructions that reached nobody (no contact left to try): staff call or find these people.
    const list = undelivered.querySelector("ul");
    list.innerHTML = "";
    for (const u of plan.undelivered ?? []) {
      const li = document.createElement("li");
      // Someone with no phone or e-mail has no recipient to show.
      const to = u.recipient ? ` (${u.recipient})` : "";
      li.textContent = `${u.name ?? "#" + u.national_id}${to}: ${u.error ?? ""} · ${u.text}`;
      list.append(li);
    }
    undelivered.hidden = !(plan.undelivered ?? []).length;
    undelivered.querySelector("summary").textContent = `${t("plan_undelivered")} (${(plan.undelivered ?? []).length})`;
    print.hidden = false;
    print.href = `/api/v1/plans/${id}?format=html`;
    await listHouseholds(id, plan);
  }

  // Asks for a plan; when the server makes as many as it may (503), once more after the time it says.
  async function startPlan() {
    const ask = () => api(`/api/v1/crises/${crisisId}/plans`, { method: "POST",
      body: { statuses: ["needs_evacuation", "injured"], mission_id: missionForChanges() ?? undefined } });
    try {
      return await ask();
    } catch (e) {
      if (e.status !== 503) throw e;
      const wait = Math.min(Math.max(Number(e.retryAfter) || 5, 1), 60);
      state.textContent = `${t("plan_busy")} ${wait} s`;
      await new Promise((resolve) => setTimeout(resolve, wait * 1000));
      state.textContent = t("planning");
      return await ask();
    }
  }

  run.addEventListener("click", async () => {
    run.disabled = true;
    state.textContent = t("planning");
    try {
      planId = (await startPlan()).plan_id;
      giveUp.hidden = false;
      // A small plan can be ready before the answer to the request arrives:
      // its events were kept, and the latest is shown now.
      if (seen.has(planId)) showEvent(seen.get(planId));
      followWithoutStream(planId);
    } catch (e) {
      state.textContent = e.message;
      run.disabled = false;
    }
  });
  // A plan that never ends (its server stopped or hangs) is given up, so another can be made.
  giveUp.addEventListener("click", async () => {
    try {
      await api(`/api/v1/plans/${planId}/cancel`, { method: "POST" });
      giveUp.hidden = true;
      run.disabled = false;
      state.textContent = t("plan_failed");
    } catch (e) {
      state.textContent = e.message;
    }
  });
  publish.addEventListener("click", async () => {
    // A refusal says why (the crisis is closed, a newer plan was published) and which plan to start from.
    try {
      const r = await api(`/api/v1/plans/${planId}/publish`, { method: "POST" });
      state.textContent += ` · ${t("published")} v${r.version}: ${r.messages} ${t("messages")}` +
        (r.cancelled_messages ? ` · ${r.cancelled_messages} ${t("plan_cancellations")}` : "");
      publish.hidden = true;
    } catch (e) {
      state.textContent = e.message;
    }
  });

  // Should the event stream be down or not yet open when the plan ends, its
  // state is asked for every few seconds until the plan is ready or failed.
  function followWithoutStream(id) {
    setTimeout(async () => {
      const last = seen.get(id);
      if (id !== planId || !box.isConnected || last?.state === "ready" || last?.state === "failed") return;
      try {
        const p = await api(`/api/v1/plans/${id}`);
        // Meanwhile the stream may have told it, or another plan been started.
        const told = seen.get(id);
        if (id !== planId || !box.isConnected || told?.state === "ready" || told?.state === "failed") return;
        if (p.state !== "running") {
          const done = { plan_id: id, state: p.state === "failed" ? "failed" : "ready", seq: Number.MAX_SAFE_INTEGER };
          seen.set(id, done);
          showEvent(done);
          return;
        }
      } catch (e) {
        // The next try may reach the server again.
      }
      followWithoutStream(id);
    }, 3000);
  }

  // The stream tells each plan's progress; the one we started, we show.
  const seen = new Map(); // the latest event of each plan (by seq: they may arrive out of order)
  function onPlanEvent(p) {
    const last = seen.get(p.plan_id);
    if (last && (last.seq >= p.seq || last.state === "ready" || last.state === "failed")) return;
    seen.set(p.plan_id, p);
    if (p.plan_id === planId) showEvent(p);
  }
  function showEvent(p) {
    if (p.state === "ready") {
      run.disabled = false;
      show(p.plan_id).catch((e) => { state.textContent = e.message; });
    } else if (p.state === "failed") {
      run.disabled = false;
      giveUp.hidden = true;
      state.textContent = t("plan_failed");
    } else {
      state.textContent = `${t("planning")} (${p.state})`;
    }
  }
  return { element: box, onPlanEvent };
}
