"""safetyctl plan: the planner on CSV files, with real assembly areas of the
2023 Türkiye earthquake provinces (AFAD) as shelters. Checks every promise
of the plan against the input, not against figures written down here."""

import csv
import json
import math
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from harness import SAFETYCTL, SOURCE_DIR, check, expect_equal, run  # noqa: E402

AFAD = os.path.join(SOURCE_DIR, "tests", "data", "plan", "afad-hatay.geojson")
WORK = tempfile.mkdtemp(prefix="safety-plan-")
SEATS = 14


def real_shelters():
    with open(AFAD) as f:
        features = json.load(f)["features"]
    check(len(features) == 250, "250 assembly areas in %s" % AFAD)
    return features


def write_inputs(name, seed=11, households=700, closed=()):
    """Shelters are real places; households are scattered around them."""
    rnd = random.Random(seed)
    shelters = []
    for i, x in enumerate(real_shelters()):
        lon, lat = x["geometry"]["coordinates"]
        shelters.append({
            "id": str(x["id"]), "lat": lat, "lon": lon,
            "capacity": rnd.randint(10, 40), "occupancy": rnd.randint(0, 3),
            "facilities": "medical|accessible" if i % 8 == 0 else "",
            "open": "false" if str(x["id"]) in closed else "true",
        })
    people = []
    for i in range(households):
        s = rnd.choice(shelters)
        needs = []
        if i % 30 == 0:
            needs.append("medical")
        if i % 45 == 0:
            needs.append("wheelchair")
        if i % 7 == 0:
            needs.append("child")
        people.append({
            "id": "H%04d" % i, "lat": "%.6f" % (s["lat"] + rnd.gauss(0, 0.01)),
            "lon": "%.6f" % (s["lon"] + rnd.gauss(0, 0.01)),
            "people": rnd.randint(1, 6), "needs": "|".join(needs),
            "priority": 2 if i % 60 == 0 else 0,
        })
    return save(name, people, shelters)


def save(name, households, shelters, hcols=None):
    hpath = os.path.join(WORK, name + "-households.csv")
    spath = os.path.join(WORK, name + "-shelters.csv")
    hcols = hcols or list(households[0].keys())
    with open(hpath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=hcols)
        w.writeheader()
        w.writerows(households)
    with open(spath, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(shelters[0].keys()))
        w.writeheader()
        w.writerows(shelters)
    return hpath, spath, households, shelters


def plan(hpath, spath, *extra, out=None):
    out = out or os.path.join(WORK, "plan.csv")
    p = subprocess.run([SAFETYCTL, "plan", "--households", hpath, "--shelters", spath,
                        "--out", out] + list(extra),
                       capture_output=True, text=True, timeout=120)
    return p, out


def read_plan(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def great_circle_m(lat1, lon1, lat2, lon2):
    r = 6371008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(a))


def summary_figure(stderr, label):
    for line in stderr.splitlines():
        if label in line:
            return float(line.split(label)[1].split()[0])
    raise AssertionError("no '%s' in summary: %s" % (label, stderr))


def test_plan_keeps_every_promise():
    hpath, spath, households, shelters = write_inputs("real")
    geo = os.path.join(WORK, "real.geojson")
    p, out = plan(hpath, spath, "--seats", str(SEATS), "--geojson", geo)
    expect_equal(p.returncode, 0, "exit code (stderr: %s)" % p.stderr)
    rows = read_plan(out)
    expect_equal([r["household"] for r in rows], [h["id"] for h in households],
                 "one row per household, in input order")
    sh = {s["id"]: s for s in shelters}
    load = {}
    groups = {}
    for r, h in zip(rows, households):
        check(r["shelter"] != "", "%s unassigned (%s) with 10%%+ slack" % (h["id"], r["unassigned"]))
        s = sh[r["shelter"]]
        load[s["id"]] = load.get(s["id"], 0) + h["people"]
        if "medical" in h["needs"]:
            check("medical" in s["facilities"], "%s needs medical care, sent to %s" % (h["id"], s["id"]))
        if "wheelchair" in h["needs"]:
            check("accessible" in s["facilities"], "%s needs access, sent to %s" % (h["id"], s["id"]))
        d = great_circle_m(float(h["lat"]), float(h["lon"]), s["lat"], s["lon"])
        check(abs(int(r["distance_m"]) - d) <= max(2.0, d * 0.005),
              "%s distance %s m, great circle %.0f m" % (h["id"], r["distance_m"], d))
        g = groups.setdefault(r["group"], {"shelter": s["id"], "people": 0, "departure": r["departure"]})
        expect_equal(g["shelter"], s["id"], "shelter of every household of group %s" % r["group"])
        expect_equal(g["departure"], r["departure"], "departure of group %s" % r["group"])
        g["people"] += h["people"]
    for sid, n in load.items():
        check(n + sh[sid]["occupancy"] <= sh[sid]["capacity"],
              "shelter %s over capacity: %d + %d > %d" % (sid, n, sh[sid]["occupancy"], sh[sid]["capacity"]))
    for gid, g in groups.items():
        check(g["people"] <= SEATS, "group %s has %d people for %d seats" % (gid, g["people"], SEATS))
    # Groups with someone of priority leave before any group without.
    first_plain = min(int(g["departure"]) for gid, g in groups.items()
                      if not any(h["priority"] and r["group"] == gid for r, h in zip(rows, households)))
    for r, h in zip(rows, households):
        if h["priority"]:
            check(int(r["departure"]) < first_plain,
                  "%s (priority) leaves at %s, after a plain group (%d)" % (h["id"], r["departure"], first_plain))
    cost = summary_figure(p.stderr, "cost")
    bound = summary_figure(p.stderr, "lower bound")
    check(bound <= cost + 1e-6, "lower bound %.1f above cost %.1f" % (bound, cost))
    actual = sum(int(r["distance_m"]) * h["people"] for r, h in zip(rows, households)) / 1000.0
    check(abs(actual - cost) <= 0.1 + cost * 1e-6, "summary cost %.1f, rows add to %.1f" % (cost, actual))
    with open(geo) as f:
        fc = json.load(f)
    kinds = [x["properties"]["kind"] for x in fc["features"]]
    expect_equal(kinds.count("shelter"), len(shelters), "shelters on the map")
    expect_equal(kinds.count("assembly"), len(groups), "assembly points on the map")
    expect_equal(kinds.count("route"), len(groups), "routes on the map")
    planned = {x["properties"]["id"]: x["properties"]["planned"] for x in fc["features"]
               if x["properties"]["kind"] == "shelter"}
    for sid, n in load.items():
        expect_equal(planned[sid], n, "planned people of shelter %s on the map" % sid)


def test_same_input_same_plan_byte_for_byte():
    hpath, spath, _, _ = write_inputs("det", seed=5)
    outs = []
    for i in range(2):
        p, out = plan(hpath, spath, "--seats", "50", "--geojson", os.path.join(WORK, "det%d.geojson" % i),
                      out=os.path.join(WORK, "det%d.csv" % i))
        expect_equal(p.returncode, 0, "exit code (stderr: %s)" % p.stderr)
        with open(out, "rb") as f, open(os.path.join(WORK, "det%d.geojson" % i), "rb") as g:
            outs.append((f.read(), g.read()))
    check(outs[0] == outs[1], "two runs on the same input differ")


def test_replan_keeps_people_unless_their_shelter_closed():
    hpath, spath, households, shelters = write_inputs("first", seed=9)
    p, out = plan(hpath, spath, out=os.path.join(WORK, "first.csv"))
    expect_equal(p.returncode, 0, "first plan (stderr: %s)" % p.stderr)
    first = read_plan(out)
    used = sorted({r["shelter"] for r in first})
    closed = set(used[:3])
    for h, r in zip(households, first):
        h["previous"] = r["shelter"]
    for s in shelters:
        if s["id"] in closed:
            s["open"] = "false"
    hpath, spath, _, _ = save("second", households, shelters)
    p, out = plan(hpath, spath, out=os.path.join(WORK, "second.csv"))
    expect_equal(p.returncode, 0, "re-plan (stderr: %s)" % p.stderr)
    second = read_plan(out)
    stayed = 0
    for a, b in zip(first, second):
        if a["shelter"] in closed:
            check(b["shelter"] not in closed, "%s still sent to closed %s" % (b["household"], a["shelter"]))
            expect_equal(b["move"], "previous_closed", "why %s moved" % b["household"])
        elif a["shelter"] == b["shelter"]:
            expect_equal(b["move"], "stayed", "move of %s" % b["household"])
            stayed += 1
        else:
            check(b["move"] in ("closer", "makes_room", "previous_full"),
                  "%s moved for reason %r" % (b["household"], b["move"]))
    unaffected = sum(1 for a in first if a["shelter"] not in closed)
    check(stayed >= 0.9 * unaffected, "only %d of %d unaffected households stayed" % (stayed, unaffected))


def test_reasons_for_people_without_a_shelter():
    shelters = [{"id": "S1", "lat": 36.2, "lon": 36.16, "capacity": 10, "facilities": ""},
                {"id": "S2", "lat": 36.21, "lon": 36.17, "capacity": 4, "facilities": "medical"}]
    households = [
        {"id": "nowhere", "lat": "", "lon": "", "people": 2, "needs": ""},
        {"id": "wheel", "lat": "36.2", "lon": "36.16", "people": 1, "needs": "wheelchair"},
        {"id": "far", "lat": "41.0", "lon": "29.0", "people": 1, "needs": ""},
        {"id": "big", "lat": "36.21", "lon": "36.17", "people": 5, "needs": "medical"},
        {"id": "fits", "lat": "36.2", "lon": "36.16", "people": 3, "needs": ""},
    ]
    hpath, spath, _, _ = save("reasons", households, shelters)
    p, out = plan(hpath, spath, "--max-km", "50")
    expect_equal(p.returncode, 0, "exit code (stderr: %s)" % p.stderr)
    got = {r["household"]: (r["shelter"], r["unassigned"]) for r in read_plan(out)}
    expect_equal(got["nowhere"], ("", "no_location"), "no point")
    expect_equal(got["wheel"], ("", "no_facility"), "no accessible shelter")
    expect_equal(got["far"], ("", "out_of_range"), "Istanbul is beyond 50 km")
    expect_equal(got["big"], ("", "no_capacity"), "5 people, 4 medical places")
    expect_equal(got["fits"], ("S1", ""), "the one that fits")


def test_a_point_off_the_globe_is_named_and_a_household_never_placed_has_no_move():
    shelters = [{"id": "S1", "lat": 36.2, "lon": 36.16, "capacity": 10}]
    out = os.path.join(WORK, "globe.csv")
    with open(out, "w") as f:
        f.write("the plan published yesterday\n")
    for lat, lon in (("200", "36.16"), ("36.2", "-181"), ("36.2", ""), ("north", "36.16")):
        households = [{"id": "A", "lat": "36.2", "lon": "36.16", "people": 2},
                      {"id": "B", "lat": lat, "lon": lon, "people": 1}]
        hpath, spath, _, _ = save("globe", households, shelters)
        p, _ = plan(hpath, spath, out=out)
        check(p.returncode != 0, "lat %r, lon %r accepted" % (lat, lon))
        check("%s: row 2: lat/lon is not a valid point" % hpath in p.stderr,
              "lat %r, lon %r: the file and row are named: %r" % (lat, lon, p.stderr))
        with open(out) as f:
            expect_equal(f.read(), "the plan published yesterday\n", "output kept after lat %r" % lat)
    # Without a previous shelter, a household placed now is new; one placed neither then nor now
    # did not stay anywhere: its move is empty, whether or not the file has a previous column.
    households = [{"id": "placed", "lat": "36.2", "lon": "36.16", "people": 2, "previous": ""},
                  {"id": "nowhere", "lat": "", "lon": "", "people": 1, "previous": ""},
                  {"id": "far", "lat": "41.0", "lon": "29.0", "people": 1, "previous": ""},
                  {"id": "kept", "lat": "36.2", "lon": "36.16", "people": 1, "previous": "S1"}]
    for cols in (None, ["id", "lat", "lon", "people"]):
        rows = [{k: v for k, v in h.items() if cols is None or k in cols} for h in households[:3]]
        if cols is None:
            rows.append(households[3])
        hpath, spath, _, _ = save("moves", rows, shelters, hcols=cols)
        p, out = plan(hpath, spath, "--max-km", "50")
        expect_equal(p.returncode, 0, "exit code (stderr: %s)" % p.stderr)
        got = {r["household"]: (r["unassigned"], r["move"]) for r in read_plan(out)}
        expect_equal(got["placed"], ("", "new"), "placed, no previous shelter")
        expect_equal(got["nowhere"], ("no_location", ""), "no place, no previous shelter")
        expect_equal(got["far"], ("out_of_range", ""), "out of range, no previous shelter")
        if cols is None:
            expect_equal(got["kept"], ("", "stayed"), "stayed where it was")


def expect_refused(what, hpath, spath, out, message):
    p, _ = plan(hpath, spath, out=out)
    check(p.returncode != 0, "%s accepted" % what)
    check(message in p.stderr, "%s: message %r lacks %r" % (what, p.stderr, message))


def test_bad_input_is_named_and_leaves_the_old_plan_alone():
    good_s = [{"id": "S1", "lat": 36.2, "lon": 36.16, "capacity": 10}]
    good_h = {"id": "A", "lat": "36.2", "lon": "36.16", "people": 2, "needs": ""}
    out = os.path.join(WORK, "kept.csv")
    with open(out, "w") as f:
        f.write("the plan published yesterday\n")
    cases = [
        ("people 0", [dict(good_h, people=0)], None, "people must be 1 to"),
        ("people huge", [dict(good_h, people=99999)], None, "people must be 1 to"),
        ("unknown need", [dict(good_h, needs="medical|vip")], None, "unknown need 'vip'"),
        ("duplicate id", [good_h, dict(good_h)], None, "id 'A' appears twice"),
        ("unknown previous", [dict(good_h, previous="S9")], ["id", "lat", "lon", "people", "needs", "previous"],
         "previous shelter 'S9' is not in"),
        ("unknown column", [dict(good_h, colour="red")], None, "unknown column 'colour'"),
    ]
    for what, hs, cols, message in cases:
        hpath, spath, _, _ = save("bad", hs, good_s, hcols=cols)
        expect_refused(what, hpath, spath, out, message)
    raw = [
        ("short row", "id,lat,lon,people\nA,36.2,36.16\n", "3 fields, the header has 4"),
        ("open quote", 'id,lat,lon,people\n"A,36.2,36.16,1\n', "line"),
        ("empty", "", "empty file"),
        ("missing column", "id,lat,lon\nA,36.2,36.16\n", "column 'people' is required"),
        ("id not first", "lat,lon,id,people\n36.2,36.16,A,1\n", "first column"),
    ]
    spath = os.path.join(WORK, "bad-shelters.csv")
    for what, text, message in raw:
        hpath = os.path.join(WORK, "raw.csv")
        with open(hpath, "w") as f:
            f.write(text)
        expect_refused(what, hpath, spath, out, message)
    bad_shelters = [
        ("bad latitude", [dict(good_s[0], lat=95)], "not a valid point"),
        ("negative capacity", [dict(good_s[0], capacity=-3)], "capacity is not a whole number"),
    ]
    for what, ss, message in bad_shelters:
        hpath, spath, _, _ = save("bad", [good_h], ss)
        expect_refused(what, hpath, spath, out, message)
    p = subprocess.run([SAFETYCTL, "plan", "--households", "/nonexistent/h.csv", "--shelters", spath],
                       capture_output=True, text=True)
    check(p.returncode != 0 and "/nonexistent/h.csv" in p.stderr, "missing file: %r" % p.stderr)
    p = subprocess.run([SAFETYCTL, "plan", "--households", hpath], capture_output=True, text=True)
    expect_equal(p.returncode, 2, "usage error exit code")
    # Below a metre the limit would read as none at all.
    hpath, spath, _, _ = save("bad", [good_h], good_s)
    p, _ = plan(hpath, spath, "--max-km", "0.0004", out=out)
    expect_equal(p.returncode, 2, "--max-km 0.0004: " + p.stderr)
    check("--max-km" in p.stderr, p.stderr)
    with open(out) as f:
        expect_equal(f.read(), "the plan published yesterday\n", "previous output after bad input")


if __name__ == "__main__":
    run([test_plan_keeps_every_promise, test_same_input_same_plan_byte_for_byte,
         test_replan_keeps_people_unless_their_shelter_closed,
         test_reasons_for_people_without_a_shelter,
         test_a_point_off_the_globe_is_named_and_a_household_never_placed_has_no_move,
         test_bad_input_is_named_and_leaves_the_old_plan_alone])
