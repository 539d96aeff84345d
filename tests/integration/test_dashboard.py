"""The dashboard in a real browser (Debian's Chromium driven by playwright-core):
log in, open a crisis from the demo, see counts, chart and map; a national
answers on the reply page in a second browser and the counter changes
without a reload; Korean and English. Screenshots are kept with the logs."""

import os
import shutil
import subprocess
import threading

from harness import (LOG_DIR, SOURCE_DIR, Cluster, Daemon, EventStream, Session, check, ctl, demo_check_in, expect_equal,
                     record_secret, run)

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
cluster = Cluster.shared()
DB = "t_dashboard"
PASSWORD = record_secret("Antakya-Harbiye-2026-ui")
conninfo = cluster.createdb(DB)
expect_equal(ctl(conninfo, "migrate").returncode, 0, "migrate")
expect_equal(ctl(conninfo, "demo", "--country", "TR", "--people", "300", "--seed", "9").returncode, 0, "demo")
d = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "channels": {"dispatch_interval_ms": "50"}}).start()
pwfile = os.path.join(d.workdir, "pw")
with open(pwfile, "w") as f:
    f.write(PASSWORD + "\n")
expect_equal(ctl(conninfo, "user", "add", "lead", "--role", "mission_lead", "--mission", "TR-ANK", "--password-file",
                 pwfile).returncode, 0, "user")
expect_equal(ctl(conninfo, "user", "add", "admin", "--role", "admin", "--password-file", pwfile).returncode, 0, "admin")
lead = Session(d, "lead", PASSWORD)
crisis, tokens = demo_check_in(lead, cluster, DB, d.workdir)
TOKEN = tokens[min(tokens)]


def the_dashboard_shows_a_crisis_live():
    shots = os.path.join(LOG_DIR, "screenshots")
    os.makedirs(shots, exist_ok=True)
    # As the quickstart's newcomer: the admin, who sees every mission and picks one in the header.
    env = dict(os.environ, BASE="http://127.0.0.1:%d" % d.port, USER="admin", PASSWORD=PASSWORD, TOKEN=TOKEN,
               CRISIS=str(crisis), IMPORT_FILE=os.path.join(SOURCE_DIR, "tests", "data", "import", "nationals-mixed.csv"),
               USGS_FILE=os.path.join(SOURCE_DIR, "tests", "data", "alerts", "us6000jllz-detail-excerpt.geojson"),
               SCREENSHOTS=shots, CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "browser", "dashboard.mjs")], env=env,
                       capture_output=True, text=True, timeout=180)
    print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
    expect_equal(r.returncode, 0, "browser test")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM national WHERE notes = 'Called the hotel: left for Adana' "
                                  "AND 'elderly' = ANY (needs)"), "1", "the person's details edited in the browser")
    expect_equal(cluster.psql(DB, "SELECT count(*) FROM shelter WHERE occupancy = 37 AND NOT open"), "1",
                 "a shelter's occupancy changed and closed in the browser")
    for name in ("1-usgs.png", "1-polygon.png", "1-declare.png", "1-launched.png", "2-crisis.png", "2-person-on-map.png", "3-reply.png", "4-after-answer.png", "5-call-list.png", "5-person.png",
                 "6-plan.png", "6-manifest.png", "6-registry.png", "7-korean.png"):
        check(os.path.getsize(os.path.join(shots, name)) > 5000, "screenshot " + name)


def the_dashboard_works_on_a_tablet_and_by_keyboard():
    shots = os.path.join(LOG_DIR, "screenshots")
    os.makedirs(shots, exist_ok=True)
    env = dict(os.environ, BASE="http://127.0.0.1:%d" % d.port, USER="lead", PASSWORD=PASSWORD, CRISIS=str(crisis),
               SCREENSHOTS=shots, CHROMIUM=CHROMIUM)
    r = subprocess.run(["node", os.path.join(SOURCE_DIR, "tests", "browser", "dashboard-access.mjs")], env=env,
                       capture_output=True, text=True, timeout=180)
    print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
    expect_equal(r.returncode, 0, "browser test on a tablet and by keyboard")
    for name in ("8-tablet-portrait.png", "8-tablet-landscape.png", "8-tablet-registry.png", "8-keyboard.png"):
        check(os.path.getsize(os.path.join(shots, name)) > 5000, "screenshot " + name)


def the_crisis_page_reopens_a_refused_stream():
    # A second process allows one stream, which this test holds for eight seconds.
    d2 = Daemon(conninfo, sections={"auth": {"password_hash_cost": "10"}, "server": {"max_event_streams": "1"}},
                migrate=False).start()
    try:
        holder = EventStream(d2, "/api/v1/crises/%d/events" % crisis, {"Cookie": Session(d2, "lead", PASSWORD).cookie})
        expect_equal(holder.status, 200, "the only stream")
        # Held until the page has shown the refusal (however slowly the browser starts), then let go.
        release = threading.Timer(90, holder.close)
        release.start()
        env = dict(os.environ, BASE="http://127.0.0.1:%d" % d2.port, REPLY_BASE="http://127.0.0.1:%d" % d.port,
                   USER="lead", PASSWORD=PASSWORD,
                   CRISIS=str(crisis), TOKEN=tokens[sorted(tokens)[1]], CHROMIUM=CHROMIUM)
        p = subprocess.Popen(["node", os.path.join(SOURCE_DIR, "tests", "browser", "dashboard-reconnect.mjs")],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        out = []
        for line in p.stdout:
            out.append(line.rstrip("\n"))
            if line.startswith("refusal seen"):
                holder.close()
        rc = p.wait(timeout=120)
        print("  " + "\n  ".join(out))
        release.cancel()
        holder.close()
        expect_equal(rc, 0, "browser test of a refused stream")
    finally:
        d2.stop()


def the_page_and_libraries_are_served_from_this_server():
    page = d.get("/app")
    expect_equal(page.status, 200, "page")
    check("https://" not in page.body and "http://" not in page.body, "no outside address in the page")
    for lib in ("leaflet.js", "uPlot.iife.min.js", "topojson-client.min.js", "countries-110m.json", "app-main.js",
                "app-lists.js", "app-plan.js", "app-declare.js", "app-campaign.js", "app-person.js", "app-admin.js"):
        r = d.get("/static/" + lib)
        expect_equal(r.status, 200, lib)
        etag = r.header("ETag")
        expect_equal(d.get("/static/" + lib, headers={"If-None-Match": etag}).status, 304, lib + " cached")
    for bad in ("../safety.conf", "..%2Fsafety.conf", ".hidden", "node_modules"):
        expect_equal(d.get("/static/" + bad).status, 404, bad)


try:
    run([the_page_and_libraries_are_served_from_this_server, the_dashboard_shows_a_crisis_live,
         the_dashboard_works_on_a_tablet_and_by_keyboard, the_crisis_page_reopens_a_refused_stream])
finally:
    d.stop()
