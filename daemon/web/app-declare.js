// Declaring a crisis: a circle placed on the map (click for the centre, the
// radius in km) or a polygon drawn on it (a click per corner), with the
// number of nationals inside shown before anything is stored; or an alert pasted as it came (CAP XML, USGS GeoJSON), which
// becomes a proposed crisis for the lead to confirm.
import { api, apiText, missionForChanges } from "/static/app-api.js";
import { t } from "/static/app-i18n.js";

const KINDS = ["earthquake", "flood", "war", "terrorism", "unrest", "epidemic", "kidnapping", "other"];

export function declarePanel(onDeclared) {
  const box = document.createElement("section");
  box.className = "card declare";
  box.innerHTML = `<h3></h3>
    <div class="declare-grid">
      <div class="declare-map" id="declare-map"></div>
      <form class="declare-form">
        <label><span data-k="kind"></span><select name="kind"></select></label>
        <label><span data-k="crisis_title"></span><input name="title" required maxlength="300"></label>
        <label><span data-k="severity"></span><input name="severity" type="number" min="1" max="5" value="4"></label>
        <div class="area-shape" role="radiogroup" aria-labelledby="shape-label"><span id="shape-label" data-k="area_shape"></span>
          <label><input type="radio" name="shape" value="circle" checked> <span data-k="shape_circle"></span></label>
          <label><input type="radio" name="shape" value="polygon"> <span data-k="shape_polygon"></span></label>
          <button type="button" class="clear-shape" data-k="clear_shape"></button>
        </div>
        <label class="centre"><span data-k="centre_latlon"></span><input name="centre" inputmode="decimal"
          autocomplete="off" placeholder="36.20, 36.16" aria-describedby="centre-error"></label>
        <p class="error" id="centre-error" role="alert"></p>
        <label class="radius"><span data-k="radius_km"></span><input name="radius" type="number" min="1" max="5000" value="100"></label>
        <p class="hint"></p>
        <p class="inside" aria-live="polite"></p>
        <button class="primary declare-submit" type="submit" disabled></button>
        <details><summary data-k="paste_alert" id="paste-alert"></summary>
          <textarea name="alert" rows="5" spellcheck="false" aria-labelledby="paste-alert"></textarea>
          <label class="alert-file-label"><span data-k="or_upload"></span>
            <input type="file" class="alert-file" accept=".xml,.cap,.json,.geojson,application/xml,application/json"></label>
          <button type="button" class="import-alert"></button>
          <p class="import-result" aria-live="polite"></p>
        </details>
      </form>
    </div>`;
  box.querySelector("h3").textContent = t("declare");
  for (const el of box.querySelectorAll("[data-k]")) el.textContent = t(el.dataset.k);
  const form = box.querySelector("form");
  for (const k of KINDS) form.kind.append(new Option(t("kind_" + k), k));
  box.querySelector(".hint").textContent = t("click_map");
  box.querySelector(".declare-submit").textContent = t("declare");
  box.querySelector(".import-alert").textContent = t("import_alert");
  const inside = box.querySelector(".inside");
  let centre = null, circle = null, map = null, timer = null, asked = 0;
  let corners = [], outline = null;

  function radiusM() {
    return Math.max(1, Number(form.radius.value) || 1) * 1000;
  }

  function polygonMode() {
    return form.shape.value === "polygon";
  }

  // The area as the API takes it: a circle, or a closed GeoJSON ring ([lon, lat]). A map
  // panned across 180 gives longitudes beyond it: they are wrapped back to -180..180 (an
  // edge then more than 180 degrees wide crosses 180 the short way, as drawn).
  function areaBody() {
    if (polygonMode()) {
      if (corners.length < 3) return null;
      const ring = corners.map((c) => { const w = c.wrap(); return [w.lng, w.lat]; });
      ring.push(ring[0]);
      return { area: { type: "Polygon", coordinates: [ring] } };
    }
    if (!centre) return null;
    const w = centre.wrap();
    return { circle: { lat: w.lat, lon: w.lng, radius_m: radiusM() } };
  }

  function ready() {
    box.querySelector(".declare-submit").disabled = !(areaBody() && form.title.value);
  }

  async function count() {
    const body = areaBody();
    if (!body) {
      asked++;
      inside.textContent = "";
      delete inside.dataset.count;
      ready();
      return;
    }
    // Answers may come back out of order: only the newest question's is shown.
    const mine = ++asked;
    const r = await api("/api/v1/nationals/in-area", { method: "POST",
      body: { ...body, mission_id: missionForChanges() ?? undefined } });
    if (mine !== asked) return;
    inside.textContent = `${r.count} ${t("nationals_inside")}`;
    inside.dataset.count = r.count;
    ready();
  }

  function redraw() {
    if (circle) circle.remove();
    if (outline) outline.remove();
    circle = outline = null;
    if (polygonMode()) {
      if (corners.length) outline = (corners.length < 3 ? L.polyline(corners, { color: "#b3261e", weight: 2 })
        : L.polygon(corners, { color: "#b3261e", weight: 2, fillOpacity: 0.08 })).addTo(map);
    } else if (centre) {
      circle = L.circle(centre, { radius: radiusM(), color: "#b3261e", weight: 2, fillOpacity: 0.08 }).addTo(map);
    }
    clearTimeout(timer);
    timer = setTimeout(() => count().catch((e) => { inside.textContent = e.message; }), 300);
  }

  // The centre typed as "lat, lon" (as news and USGS give it): declaring without a mouse.
  const centreError = box.querySelector("#centre-error");
  form.centre.addEventListener("change", () => {
    const m = /^\s*(-?\d{1,2}(?:\.\d+)?)\s*[,\s]\s*(-?\d{1,3}(?:\.\d+)?)\s*$/.exec(form.centre.value);
    const lat = m ? Number(m[1]) : NaN, lon = m ? Number(m[2]) : NaN;
    // Emptied or wrong: no centre at all, so nothing is declared at the one before.
    if (!form.centre.value.trim() || !(Math.abs(lat) <= 90 && Math.abs(lon) <= 180)) {
      centre = null;
      if (form.centre.value.trim()) {
        centreError.textContent = t("bad_centre");
        form.centre.setAttribute("aria-invalid", "true");
      } else {
        centreError.textContent = "";
        form.centre.removeAttribute("aria-invalid");
      }
      redraw();
      ready();
      return;
    }
    centreError.textContent = "";
    form.centre.removeAttribute("aria-invalid");
    centre = L.latLng(lat, lon);
    if (map) map.panTo(centre);
    redraw();
  });
  for (const r of form.querySelectorAll('input[name="shape"]')) r.addEventListener("change", () => {
    box.querySelector(".radius").style.display = polygonMode() ? "none" : "";
    box.querySelector(".centre").style.display = polygonMode() ? "none" : "";
    box.querySelector(".hint").textContent = t(polygonMode() ? "click_corners" : "click_map");
    redraw();
  });
  box.querySelector(".clear-shape").addEventListener("click", () => {
    corners = [];
    centre = null;
    form.centre.value = "";
    redraw();
  });

  // The map needs its element in the page to know its size.
  requestAnimationFrame(() => {
    if (!box.isConnected) return; // the view was left already
    map = L.map(box.querySelector(".declare-map"), { zoomSnap: 0.5 }).setView([37, 37], 5);
    map.createPane("base").style.zIndex = 250;
    fetch("/static/countries-110m.json").then((r) => r.json()).then((world) => {
      if (!box.isConnected) return;
      L.geoJSON(topojson.feature(world, world.objects.countries), { pane: "base", interactive: false,
        style: { color: "#8a96a3", weight: 1, fillColor: "#f2f0e9", fillOpacity: 1 } }).addTo(map);
    });
    map.on("click", (ev) => {
      if (polygonMode()) corners.push(ev.latlng);
      else {
        centre = ev.latlng;
        form.centre.value = `${centre.lat.toFixed(4)}, ${centre.wrap().lng.toFixed(4)}`;
        centreError.textContent = "";
      }
      redraw();
    });
  });
  form.radius.addEventListener("input", redraw);
  form.title.addEventListener("input", ready);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      // One's own mission, the one chosen in the header, or (HQ, all missions) every mission.
      const own = missionForChanges();
      const missions = own ? [own] : (await api("/api/v1/missions")).items.map((m) => m.id);
      const c = await api("/api/v1/crises", { method: "POST", body: { kind: form.kind.value,
        title: form.title.value, severity: Number(form.severity.value), mission_ids: missions,
        ...areaBody() } });
      onDeclared(c.id);
    } catch (e) {
      inside.textContent = e.message;
    }
  });
  // A file chosen is read into the box, to be seen before it is imported.
  box.querySelector(".alert-file").addEventListener("change", async (ev) => {
    const f = ev.target.files[0];
    if (!f) return;
    if (f.size > 10 * 1024 * 1024) { // the server's default body limit
      box.querySelector(".import-result").textContent = t("alert_too_big");
      return;
    }
    form.alert.value = await f.text();
  });
  box.querySelector(".import-alert").addEventListener("click", async () => {
    const out = box.querySelector(".import-result");
    const text = form.alert.value.trim();
    try {
      const data = await apiText("/api/v1/crises/import", text, text.startsWith("<") ? "application/xml" : "application/json");
      const n = (data.alerts ?? []).filter((a) => a.crisis).length;
      out.textContent = `${n} ${t("proposed")}`;
      onDeclared(null);
    } catch (e) {
      out.textContent = e.message;
    }
  });
  return box;
}
