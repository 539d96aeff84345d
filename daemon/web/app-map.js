// The crisis map: Natural Earth boundaries (offline, from world-atlas), the
// crisis area, and every person as a small shape on one canvas, redrawn on
// each move, so 100,000 people stay smooth. A status is a colour and a shape,
// never a colour alone.
export const STATUS_ORDER = ["needs_help", "injured", "needs_evacuation", "missing", "unreachable",
  "pending", "safe", "evacuated", "deceased"];

const COLORS = { safe: "#1a7f37", needs_help: "#b3261e", injured: "#7a1fa2", needs_evacuation: "#c25e00",
  evacuated: "#0b5cad", pending: "#6b7280", unreachable: "#374151", missing: "#8a6d00", deceased: "#111827",
  unknown: "#9ca3af" };
// circle, triangle, square, diamond
const SHAPES = { safe: "circle", evacuated: "circle", needs_help: "triangle", injured: "triangle",
  needs_evacuation: "diamond", pending: "square", unreachable: "square", missing: "diamond",
  deceased: "square", unknown: "square" };
// Urgent ones are drawn last, on top.
const DRAW_ORDER = [...STATUS_ORDER].reverse();

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

// One canvas over the map holding every person.
const PeopleLayer = () => L.Layer.extend({
  initialize(people) { this.people = people; },
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
    const map = this.map, size = map.getSize(), topLeft = map.containerPointToLayerPoint([0, 0]);
    L.DomUtil.setPosition(this.canvas, topLeft);
    this.canvas.width = size.x;
    this.canvas.height = size.y;
    const ctx = this.canvas.getContext("2d");
    const r = Math.max(2, Math.min(6, map.getZoom() - 4));
    const bounds = map.getBounds().pad(0.05);
    for (const status of DRAW_ORDER) {
      ctx.fillStyle = statusColor(status);
      const shape = SHAPES[status] ?? "square";
      for (const p of this.people.values()) {
        if (p.status !== status || !bounds.contains([p.lat, p.lon])) continue;
        const pt = map.latLngToContainerPoint([p.lat, p.lon]);
        drawShape(ctx, shape, pt.x, pt.y, r);
      }
    }
    this.drawn = true;
  },
});

export class CrisisMap {
  constructor(element, crisis) {
    this.map = L.map(element, { zoomSnap: 0.5, attributionControl: true });
    this.map.attributionControl.addAttribution("Natural Earth");
    // Boundaries under everything; people above the crisis area, below popups.
    this.map.createPane("base").style.zIndex = 250;
    this.map.createPane("people").style.zIndex = 450;
    this.people = new Map();
    this.layer = new (PeopleLayer())(this.people);
    this.pending = false;
    fetch("/static/countries-110m.json").then((r) => r.json()).then((world) => {
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
  }

  setPoints(points) {
    this.people.clear();
    for (const [id, lat, lon, status] of points) this.people.set(id, { lat, lon, status });
    this.layer.redraw();
  }

  // One person changed (an event): move or recolour them, redraw at most once a frame.
  update(p) {
    if (p.lat == null || p.lon == null) return;
    this.people.set(p.national_id, { lat: p.lat, lon: p.lon, status: p.status });
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => { this.pending = false; this.layer.redraw(); });
  }

  remove() {
    this.map.remove();
  }
}
