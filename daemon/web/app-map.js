// The crisis map: Natural Earth boundaries (offline, from world-atlas), the
// crisis area, and every person as a small shape on one canvas, redrawn on
// each move, so 100,000 people stay smooth. A status is a colour and a shape,
// never a colour alone. Shelters with their load on top.
import { apiAll, scoped } from "/static/app-api.js";
import { t, statusName } from "/static/app-i18n.js";

export const STATUS_ORDER = ["needs_help", "injured", "needs_evacuation", "missing", "unreachable",
  "pending", "safe", "evacuated", "deceased"];

const COLORS = { safe: "#1a7f37", needs_help: "#b3261e", injured: "#7a1fa2", needs_evacuation: "#c25e00",
  evacuated: "#0b5cad", pending: "#6b7280", unreachable: "#374151", missing: "#8a6d00", deceased: "#111827",
  unknown: "#9ca3af" };
// circle, triangle, square, diamond
const SHAPES = { safe: "circle", evacuated: "circle", needs_help: "triangle", injured: "triangle",
  needs_evacuation: "diamond", pending: "square", unreachable: "square", missing: "diamond",
  deceased: "square", unknown: "square" };
// Leaflet reads a string tooltip as HTML: names typed by people go in as text.
export function textTip(text) {
  const span = document.createElement("span");
  span.textContent = text;
  return span;
}

export function statusColor(s) {
  return COLORS[s] ?? COLORS.unknown;
}

function drawShape(ctx, shape, x, y, r) {
  ctx.beginPath();
  if (shape === "circle") ctx.arc(x, y, r, 0, 2 * Math.PI);
  else if (shape === "triangle") { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.1, y + r); ctx.lineTo(x - r * 1.1, y + r); ctx.closePath(); }
  else if (shape === "diamond") { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.2, y); ctx.lineTo(x, y + r * 1.2); ctx.lineTo(x - r * 1.2, y); ctx.closePath(); }
  else ctx.rect(x - r, y - r, 2 * r, 2 * r);
  ctx.fill();
}

export function shapeIcon(status) {
  const c = document.createElement("canvas");
  c.width = c.height = 16;
  c.className = "shape";
  c.setAttribute("aria-hidden", "true");
  const ctx = c.getContext("2d");
  ctx.fillStyle = statusColor(status);
  drawShape(ctx, SHAPES[status] ?? "square", 8, 8, 6);
  return c;
}

// How full a shelter is, as its marker and its load bar show it.
export function loadLevel(s) {
  const share = s.capacity > 0 ? s.occupancy / s.capacity : 1;
  return share >= 0.9 ? "full" : share >= 0.6 ? "busy" : "room";
}

// A button that records a status: its shape and its name, never colour alone.
export function outcomeButton(status) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "outcome";
  b.dataset.status = status;
  b.append(shapeIcon(status), " ", statusName(status));
  return b;
}

// One canvas over the map holding every person. Points are kept in typed
// arrays as Web Mercator fractions, so a redraw is a multiplication per
// person, and each status is one path filled once: 100,000 people redraw in a
// few milliseconds.
const PeopleLayer = () => L.Layer.extend({
  initialize() {
    this.n = 0;
    this.cap = 1024;
    this.mx = new Float64Array(this.cap);
    this.my = new Float64Array(this.cap);
    this.st = new Uint8Array(this.cap);
    this.index = new Map(); // national id -> slot
    this.ids = [];          // slot -> national id
    this.buckets = null;    // slots by status, rebuilt after changes
  },
  clear() {
    this.n = 0;
    this.index.clear();
    this.ids = [];
    this.buckets = null;
  },
  set(id, lat, lon, status) {
    let i = this.index.get(id);
    if (i === undefined) {
      if (this.n === this.cap) {
        this.cap *= 2;
        for (const k of ["mx", "my"]) { const a = new Float64Array(this.cap); a.set(this[k]); this[k] = a; }
        const a = new Uint8Array(this.cap); a.set(this.st); this.st = a;
      }
      i = this.n++;
      this.index.set(id, i);
      this.ids[i] = id;
    }
    const sin = Math.sin((Math.max(-85, Math.min(85, lat)) * Math.PI) / 180);
    this.mx[i] = (lon + 180) / 360;
    this.my[i] = 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
    const k = STATUS_ORDER.indexOf(status);
    this.st[i] = k < 0 ? STATUS_ORDER.length : k;
    this.buckets = null;
  },
  // Takes a person off the layer: the last slot moves into theirs.
  unset(id) {
    const i = this.index.get(id);
    if (i === undefined) return;
    const last = --this.n;
    if (i !== last) {
      this.mx[i] = this.mx[last];
      this.my[i] = this.my[last];
      this.st[i] = this.st[last];
      this.ids[i] = this.ids[last];
      this.index.set(this.ids[i], i);
    }
    this.ids.length = last;
    this.index.delete(id);
    this.buckets = null;
  },
  // Drawn as clusters at this zoom?
  clustered() {
    return this.map.getZoom() < 8 && this.n > 500;
  },
  // The person drawn nearest a container point, within px; null if none.
  nearest(point, px) {
    const map = this.map, scale = 256 * Math.pow(2, map.getZoom()), min = map.getPixelBounds().min;
    let best = null, bestD = px * px;
    for (let i = 0; i < this.n; i++) {
      const dx = this.mx[i] * scale - min.x - point.x, dy = this.my[i] * scale - min.y - point.y;
      const d = dx * dx + dy * dy;
      if (d <= bestD) { bestD = d; best = this.ids[i]; }
    }
    return best;
  },
  onAdd(map) {
    this.map = map;
    this.canvas = L.DomUtil.create("canvas", "people-layer");
    this.canvas.style.position = "absolute";
    this.canvas.style.pointerEvents = "none";
    map.getPane("people").append(this.canvas);
    map.on("moveend zoomend resize", this.redraw, this);
    this.redraw();
  },
  onRemove(map) {
    map.off("moveend zoomend resize", this.redraw, this);
    this.canvas.remove();
  },
  redraw() {
    const map = this.map;
    if (!map) return;
    const started = performance.now(); // a User Timing measure: the benchmark reads it
    const size = map.getSize(), topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this.canvas, topLeft);
    this.canvas.width = size.x;
    this.canvas.height = size.y;
    const ctx = this.canvas.getContext("2d");
    if (!this.buckets) {
      this.buckets = Array.from({ length: STATUS_ORDER.length + 1 }, () => []);
      for (let i = 0; i < this.n; i++) this.buckets[this.st[i]].push(i);
    }
    const zoom = map.getZoom(), scale = 256 * Math.pow(2, zoom);
    const min = map.getPixelBounds().min;
    const r = Math.max(1.5, Math.min(6, zoom - 4));
    if (zoom < 8 && this.n > 500) {
      this.drawClusters(ctx, scale, min, size);
      performance.measure("people-redraw", { start: started });
      return;
    }
    for (let k = this.buckets.length - 1; k >= 0; k--) { // the urgent last, on top
      const status = STATUS_ORDER[k] ?? "unknown", shape = SHAPES[status] ?? "square";
      ctx.fillStyle = statusColor(status);
      ctx.beginPath();
      for (const i of this.buckets[k]) {
        const x = this.mx[i] * scale - min.x, y = this.my[i] * scale - min.y;
        if (x < -8 || y < -8 || x > size.x + 8 || y > size.y + 8) continue;
        if (shape === "circle") { ctx.moveTo(x + r, y); ctx.arc(x, y, r, 0, 2 * Math.PI); }
        else if (shape === "triangle") { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.1, y + r); ctx.lineTo(x - r * 1.1, y + r); ctx.closePath(); }
        else if (shape === "diamond") { ctx.moveTo(x, y - r * 1.2); ctx.lineTo(x + r * 1.2, y); ctx.lineTo(x, y + r * 1.2); ctx.lineTo(x - r * 1.2, y); ctx.closePath(); }
        else ctx.rect(x - r, y - r, 2 * r, 2 * r);
      }
      ctx.fill();
    }
    performance.measure("people-redraw", { start: started });
  },
  // Zoomed out, people 48 px apart or closer are one cluster: its size says how
  // many, its shape and colour the most urgent status among them, its number
  // the count.
  drawClusters(ctx, scale, min, size) {
    const cell = 48, cells = new Map();
    for (let i = 0; i < this.n; i++) {
      const x = this.mx[i] * scale - min.x, y = this.my[i] * scale - min.y;
      if (x < -cell || y < -cell || x > size.x + cell || y > size.y + cell) continue;
      const key = Math.floor(x / cell) * 100000 + Math.floor(y / cell);
      let c = cells.get(key);
      if (!c) cells.set(key, (c = { n: 0, x: 0, y: 0, worst: STATUS_ORDER.length }));
      c.n++;
      c.x += x;
      c.y += y;
      if (this.st[i] < c.worst) c.worst = this.st[i];
    }
    ctx.font = "bold 11px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const c of cells.values()) {
      const status = STATUS_ORDER[c.worst] ?? "unknown", x = c.x / c.n, y = c.y / c.n;
      const rad = Math.min(22, 7 + 3 * Math.log2(c.n));
      ctx.globalAlpha = 0.85;
      ctx.fillStyle = statusColor(status);
      ctx.beginPath();
      drawShape(ctx, SHAPES[status] ?? "square", x, y, rad);
      ctx.globalAlpha = 1;
      ctx.fillStyle = "#fff";
      ctx.fillText(String(c.n), x, y + (SHAPES[status] === "triangle" ? rad * 0.25 : 0));
    }
  },
});

export class CrisisMap {
  constructor(element, crisis) {
    this.map = L.map(element, { zoomSnap: 0.5, attributionControl: true });
    this.map.attributionControl.addAttribution("Natural Earth");
    // Boundaries under everything; people above the crisis area, below popups.
    this.map.createPane("base").style.zIndex = 250;
    this.map.createPane("people").style.zIndex = 450;
    this.layer = new (PeopleLayer())();
    this.pending = false;
    fetch("/static/countries-110m.json").then((r) => r.json()).then((world) => {
      if (this.removed) return; // the view was left before the boundaries came
      L.geoJSON(topojson.feature(world, world.objects.countries), {
        pane: "base", style: { color: "#8a96a3", weight: 1, fillColor: "#f2f0e9", fillOpacity: 1 },
        interactive: false,
      }).addTo(this.map);
    });
    // The view first: layers join a map only once it has one.
    let area, bounds;
    if (crisis.area) {
      area = L.geoJSON(crisis.area, { style: { color: "#b3261e", weight: 2, fillOpacity: 0.05 } });
      bounds = area.getBounds();
    } else if (crisis.circle) {
      area = L.circle([crisis.circle.lat, crisis.circle.lon], { radius: crisis.circle.radius_m,
        color: "#b3261e", weight: 2, fillOpacity: 0.05 });
      bounds = L.latLng(crisis.circle.lat, crisis.circle.lon).toBounds(2 * crisis.circle.radius_m);
    }
    if (bounds) this.map.fitBounds(bounds);
    else this.map.setView([20, 0], 2);
    if (area) area.addTo(this.map);
    this.layer.addTo(this.map);
    // Where people can go: shelters (not the many assembly points) with their load; a closed one hollow.
    apiAll(scoped("/api/v1/shelters")).then((r) => {
      if (this.removed) return;
      for (const s of r.items) {
        if (s.kind === "assembly_point") continue;
        // A house in a box, larger than any person's shape; its frame says how full it is.
        const level = s.open ? loadLevel(s) : "closed";
        L.marker([s.lat, s.lon], { icon: L.divIcon({ className: `shelter-marker ${level}`, html: "⌂",
          iconSize: [20, 20] }), keyboard: false, alt: s.name })
          .bindTooltip(textTip(`${s.name}: ${s.occupancy}/${s.capacity}${s.open ? "" : " — " + t("closed")}`))
          .addTo(this.map);
      }
    }).catch(() => {});
  }

  // A click on a person selects them: their trail of known places and a
  // popup with their status and a link to their page. A click on a cluster
  // zooms in on it.
  onSelect(handler) {
    this.map.on("click", (ev) => {
      if (this.layer.clustered()) {
        this.map.setView(ev.latlng, Math.min(this.map.getZoom() + 2, 12));
        return;
      }
      const id = this.layer.nearest(ev.containerPoint, 10);
      if (id != null) handler(id, ev.latlng);
    });
  }

  // Draws a person's trail (oldest to newest, each place a dot with when and how it was known).
  showTrail(track, popupAt, popupContent) {
    if (this.trail) this.trail.remove();
    this.trail = L.layerGroup();
    const pts = track.map((p) => [p.lat, p.lon]);
    if (pts.length > 1) L.polyline(pts, { color: "#0b5cad", weight: 3, dashArray: "6 4", className: "trail" }).addTo(this.trail);
    track.forEach((p, k) => L.circleMarker([p.lat, p.lon], { radius: k === track.length - 1 ? 7 : 4,
      color: "#0b5cad", fillColor: "#fff", fillOpacity: 1, weight: 2, className: "trail-point" })
      .bindTooltip(`${new Date(p.at).toLocaleString()} · ${t("source_" + p.source)}`).addTo(this.trail));
    this.trail.addTo(this.map);
    L.popup({ className: "person-popup", maxWidth: 260 }).setLatLng(popupAt).setContent(popupContent)
      .openOn(this.map);
  }

  setPoints(points) {
    this.layer.clear();
    for (const [id, lat, lon, status] of points) this.layer.set(id, lat, lon, status);
    this.layer.redraw();
  }

  // One person changed (an event): move or recolour them, redraw at most once a frame.
  update(p) {
    // A person staff deleted leaves the map at once, not at the next reload.
    if (p.deleted) this.layer.unset(p.national_id);
    else if (p.lat == null || p.lon == null) return;
    else this.layer.set(p.national_id, p.lat, p.lon, p.status);
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.layer.redraw(); });
  }

  remove() {
    this.removed = true;
    this.map.remove();
  }
}
