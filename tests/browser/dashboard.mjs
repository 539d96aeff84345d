// The dashboard in Debian's Chromium, driven by playwright-core: log in,
// open a crisis, see the counts and the map; answer on the reply page in a
// second browser context and see the counter change without a reload.
// Screenshots go to SCREENSHOTS. Run by tests/integration/test_dashboard.py.
import { readFileSync } from "node:fs";

import { failer, launch } from "./chromium.mjs";

const { BASE, USER, PASSWORD, TOKEN, CRISIS, SCREENSHOTS, IMPORT_FILE, USGS_FILE } = process.env;
const errors = [];
const fail = failer("dashboard", errors);
const browser = await launch();
try {
  const staff = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const page = await staff.newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  // The first session probe answers 401 before the login: expected, not an error of the page.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().includes("status of 401")) errors.push(m.text());
  });
  await page.goto(BASE + "/app");
  await page.fill("#username", USER);
  await page.fill("#password", PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector(".crisis-link", { timeout: 10000 });
  // An admin sees every mission; the header narrows the dashboard to one.
  await page.waitForSelector("#mission:not([hidden])", { timeout: 10000 })
    .catch(() => fail("no mission switch for an account that sees every mission"));
  await page.selectOption("#mission", { label: /TR-ANK/ }).catch(async () =>
    page.selectOption("#mission", { index: 1 }));
  await page.waitForSelector(".crisis-link", { timeout: 10000 });
  // The real USGS event of 6 February 2023, pasted as it came: a proposed crisis appears.
  await page.click(".declare details summary");
  // Uploaded as a file: its text lands in the box, to be seen before importing.
  await page.setInputFiles(".declare-form .alert-file", USGS_FILE);
  await page.waitForFunction((n) => document.querySelector('.declare-form textarea[name="alert"]').value.length === n,
    readFileSync(USGS_FILE, "utf8").length, { timeout: 5000 }).catch(() => fail("the chosen alert file was not read into the box"));
  await page.click(".import-alert");
  await page.waitForSelector('.import-result:has-text("1 proposed")', { timeout: 15000 })
    .catch(async () => fail("the USGS event proposed nothing: " + await page.textContent(".import-result")));
  await page.waitForSelector('.crisis-link:has-text("proposed")', { timeout: 10000 })
    .catch(() => fail("the proposed crisis is not listed"));
  await page.screenshot({ path: SCREENSHOTS + "/1-usgs.png", fullPage: true });

  // Declare a crisis: a circle on the map, the nationals inside counted before anything is stored.
  await page.waitForSelector(".declare-map path", { state: "attached", timeout: 10000 });
  await page.fill('.declare-form input[name="title"]', "Drill: aftershock near Antakya");
  const box = await page.locator(".declare-map").boundingBox();
  // A polygon first: three corners around the east of the map count the nationals inside.
  await page.check('.declare-form input[name="shape"][value="polygon"]');
  for (const [x, y] of [[0.5, 0.3], [0.8, 0.35], [0.7, 0.75]])
    await page.mouse.click(box.x + box.width * x, box.y + box.height * y);
  await page.waitForFunction(() => Number(document.querySelector(".inside")?.dataset.count) > 0 &&
    document.querySelector(".declare-map path.leaflet-interactive"), null, { timeout: 10000 })
    .catch(async () => fail("no nationals counted inside the drawn polygon: " + await page.textContent(".inside")));
  await page.screenshot({ path: SCREENSHOTS + "/1-polygon.png", fullPage: true });
  await page.click(".clear-shape");
  await page.check('.declare-form input[name="shape"][value="circle"]');
  await page.fill('.declare-form input[name="radius"]', "150");
  await page.mouse.click(box.x + box.width * 0.62, box.y + box.height * 0.5);
  await page.waitForFunction(() => Number(document.querySelector(".inside")?.dataset.count) > 0, null, { timeout: 10000 })
    .catch(async () => fail("no nationals counted inside the drawn circle: " + await page.textContent(".inside")));
  await page.screenshot({ path: SCREENSHOTS + "/1-declare.png", fullPage: true });
  await page.click(".declare-submit");
  await page.waitForSelector('.count[data-status="pending"]', { timeout: 10000 })
    .catch(() => fail("declaring did not open the new crisis"));
  // Launch its check-in after a preview of the messages and the reach per channel.
  await page.click(".templates summary");
  await page.fill('.templates textarea[name="en"]', "Drill: {name}, are you safe after {crisis}? {link}");
  await page.click(".preview-campaign");
  await page.waitForSelector(".preview .reach", { timeout: 10000 })
    .catch(async () => fail("no preview: " + await page.textContent(".preview")));
  const preview = await page.textContent(".preview");
  if (!/SMS|sms/.test(preview) || !preview.includes("Drill: HONG GILDONG, are you safe after")) fail("preview: " + preview);
  await page.click(".launch-campaign");
  await page.waitForSelector('.launched:has-text("Launched")', { timeout: 10000 })
    .catch(async () => fail("not launched: " + await page.textContent(".launched")));
  await page.screenshot({ path: SCREENSHOTS + "/1-launched.png", fullPage: true });

  await page.goto(BASE + "/app#/crises/" + CRISIS);
  // The same page with another hash: wait for this crisis, not the one still shown.
  await page.waitForSelector('h2:has-text("M7.8")', { timeout: 10000 });
  await page.waitForSelector('.count[data-status="pending"]', { timeout: 10000 })
    .catch(async () => fail("the crisis page did not show its counts: " +
      (await page.textContent("#view")).slice(0, 300)));
  await page.waitForSelector(".live.on", { timeout: 10000 });
  const count = async (s) => Number(await page.textContent(`.count[data-status="${s}"] .n`));
  const pending = await count("pending"), safe = await count("safe");
  if (pending < 1) fail(`no pending people shown (${pending})`);
  // The map: boundaries drawn, and people on the canvas.
  await page.waitForSelector(".leaflet-overlay-pane path", { state: "attached", timeout: 10000 })
    .catch(async () => {
      await page.screenshot({ path: SCREENSHOTS + "/2-crisis-failed.png" });
      fail("no boundaries on the map");
    });
  const ink = () => {
    const c = document.querySelector("canvas.people-layer");
    if (!c || !c.width) return 0;
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  };
  await page.waitForFunction(ink, null, { timeout: 10000 }).catch(() => {});
  const inked = await page.evaluate(ink);
  if (inked < 20) fail(`the people layer is empty (${inked} pixels)`);
  await page.waitForSelector(".leaflet-container .shelter-marker", { state: "attached", timeout: 10000 })
    .catch(() => fail("no shelters on the crisis map"));
  await page.screenshot({ path: SCREENSHOTS + "/2-crisis.png", fullPage: true });
  // A person picked on the map: a cluster zooms in, a person shows their popup and trail.
  let picked = false;
  for (let tries = 0; tries < 5 && !picked; tries++) {
    const spot = await page.evaluate(() => {
      const c = document.querySelector("canvas.people-layer");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data, r = c.getBoundingClientRect();
      // Inked pixels nearest the middle first; the first not under a shelter's marker or a control.
      const inked = [];
      for (let y = 0; y < c.height; y += 2) for (let x = 0; x < c.width; x += 2)
        if (d[(y * c.width + x) * 4 + 3] >= 200) inked.push([(x - c.width / 2) ** 2 + (y - c.height / 2) ** 2, x, y]);
      inked.sort((a, b) => a[0] - b[0]);
      for (const [, x, y] of inked) {
        const top = document.elementFromPoint(r.left + x, r.top + y);
        if (top && !top.closest(".leaflet-marker-icon, .leaflet-control, .leaflet-popup")) return { x: r.left + x, y: r.top + y };
      }
      return null;
    });
    if (!spot) break;
    await page.mouse.click(spot.x, spot.y);
    picked = await page.waitForSelector(".person-popup .popup-person", { timeout: 1500 }).then(() => true, () => false);
    if (!picked) await page.waitForTimeout(400); // a cluster: the map zooms in
  }
  if (!picked) fail("no person could be picked on the map");
  const popup = await page.textContent(".person-popup");
  if (!/known places/.test(popup)) fail("the popup says nothing of the person's places: " + popup);
  await page.waitForSelector(".leaflet-overlay-pane .trail-point", { state: "attached", timeout: 5000 })
    .catch(() => fail("the picked person's places are not drawn"));
  await page.waitForTimeout(300); // the popup fades in
  await page.screenshot({ path: SCREENSHOTS + "/2-person-on-map.png" });
  await page.keyboard.press("Escape");

  // A national answers on the reply page, in a browser of their own.
  const national = await browser.newContext({ locale: "ko-KR" });
  const phone = await national.newPage();
  await phone.goto(BASE + "/r/" + TOKEN);
  const formId = await phone.inputValue('input[name="form"]');
  await phone.check('input[name="status"][value="safe"]');
  await phone.click("button.send");
  await phone.waitForLoadState();
  await phone.screenshot({ path: SCREENSHOTS + "/3-reply.png" });
  // Back on the form, whether reloaded or from the back-forward cache, it is a new form:
  // an answer sent from it is not taken for a resend of the first.
  await phone.goBack();
  await phone.waitForSelector('input[name="form"]', { state: "attached" });
  if (await phone.inputValue('input[name="form"]') === formId) fail("the form shown again kept the id of the one already sent");

  await page.waitForFunction((before) =>
    Number(document.querySelector('.count[data-status="safe"] .n').textContent) === before + 1, safe,
  { timeout: 10000 }).catch(() => fail("the safe counter did not change without a reload"));
  await page.waitForFunction((before) =>
    Number(document.querySelector('.count[data-status="pending"] .n').textContent) === before - 1, pending,
  { timeout: 10000 }).catch(async () => fail(`pending did not go down by one: ${pending} -> ${await count("pending")}, ` +
    `safe ${safe} -> ${await count("safe")}, unreachable ${await count("unreachable")}`));
  await page.screenshot({ path: SCREENSHOTS + "/4-after-answer.png" });

  // The call list: record what an unreachable person said on the phone, in two clicks.
  await page.click('.tabs [data-list="unreachable"]');
  await page.waitForSelector(".lists tbody tr .record", { timeout: 10000 })
    .catch(() => fail("the call list is empty"));
  // Give the first person on the call list to the mission's lead; the unassigned view drops them.
  const first = page.locator(".lists tbody tr").first();
  const given = await first.getAttribute("data-national");
  await first.locator("select.assign").selectOption({ label: "lead" });
  await page.waitForSelector(`.lists tbody tr[data-national="${given}"][data-assigned]`, { timeout: 10000 })
    .catch(() => fail("the assignment was not stored"));
  await page.selectOption(".list-assigned", "none");
  await page.waitForFunction((id) => !document.querySelector(`.lists tbody tr[data-national="${id}"]`) &&
    document.querySelector(".list-body").textContent !== "…", given, { timeout: 10000 })
    .catch(() => fail("the assigned person is still among the unassigned"));
  await page.selectOption(".list-assigned", "");
  await page.waitForSelector(`.lists tbody tr[data-national="${given}"]`, { timeout: 10000 })
    .catch(() => fail("the person is gone from the whole list"));
  const evac = await count("needs_evacuation");
  await page.click(".lists tbody tr .record >> nth=0");
  await page.click('.lists tbody tr .outcome[data-status="needs_evacuation"] >> nth=0');
  await page.waitForFunction((before) =>
    Number(document.querySelector('.count[data-status="needs_evacuation"] .n').textContent) === before + 1, evac,
  { timeout: 10000 }).catch(() => fail("the recorded call did not reach the counts"));
  await page.screenshot({ path: SCREENSHOTS + "/5-call-list.png", fullPage: true });
  // That person's page (unreachable: no number, so no message sent) with the answer staff recorded.
  await page.click(".lists tbody tr .person-link >> nth=0");
  await page.waitForSelector(".person-name", { timeout: 10000 }).catch(() => fail("no person page"));
  const history = await page.textContent(".history");
  if (!history.includes("← staff") || !history.includes("Reached by phone")) fail("person history: " + history);
  // Correct the registry from the person's page.
  await page.click(".edit-person summary");
  await page.fill('.edit-person textarea[name="notes"]', "Called the hotel: left for Adana");
  await page.check('.edit-person input[name="need"][value="elderly"]');
  await page.click(".save-person");
  await page.waitForSelector('.edit-result:has-text("Saved")', { timeout: 10000 })
    .catch(async () => fail("the edit was not saved: " + await page.textContent(".edit-result")));
  await page.waitForFunction(() => document.querySelector('.edit-person textarea[name="notes"]')?.value.includes("Adana") &&
    document.querySelector('.edit-person input[value="elderly"]')?.checked, null, { timeout: 10000 })
    .catch(() => fail("the saved details are not shown again"));
  await page.screenshot({ path: SCREENSHOTS + "/5-person.png", fullPage: true });
  await page.goBack();
  await page.waitForSelector('.count[data-status="pending"]', { timeout: 10000 });

  // Evacuation: plan who needs to leave, see it on the map, publish it.
  await page.click(".run-plan");
  await page.waitForSelector('.plan-state:has-text("Plan #")', { timeout: 20000 })
    .catch(async () => fail("no plan came back: " + await page.textContent(".plan-state") + " (requests: " +
      await page.evaluate(() => performance.getEntriesByType("resource").filter((e) => e.name.includes("/api/"))
        .slice(-8).map((e) => `${e.name.replace(location.origin, "")} ${e.startTime.toFixed(0)}+${e.duration.toFixed(0)}`)
        .join(", ")) + ")"));
  await page.waitForSelector(".leaflet-interactive", { timeout: 10000 });
  // Move the first household to the shelter with the most room: a new plan, ready to publish.
  const firstPlan = (await page.textContent(".plan-state")).split(":")[0];
  await page.click(".plan-households summary");
  // The first household that has somewhere else to go (the choices offered are only those it may take).
  let pick = null, roomiest = null;
  for (const sel of await page.locator(".plan-households select.move-to").all()) {
    roomiest = await sel.evaluate((el) => [...el.options]
      .filter((o) => o.value !== el.value && !o.disabled)
      .map((o) => { const m = /\((\d+)\/(-?\d+)\)$/.exec(o.textContent); return { v: o.value, room: m ? m[2] - m[1] : 0 }; })
      .sort((a, b) => b.room - a.room)[0]?.v ?? null);
    if (roomiest) { pick = sel; break; }
  }
  if (!pick) fail("no household has another shelter to go to");
  const movedKey = await pick.evaluate((el) => el.closest("tr").dataset.household);
  await pick.selectOption(roomiest);
  await page.waitForFunction((before) => document.querySelector(".plan-state").textContent.split(":")[0] !== before &&
    document.querySelector(".plan-state").textContent.startsWith("Plan #"), firstPlan, { timeout: 10000 })
    .catch(async () => {
      await page.screenshot({ path: SCREENSHOTS + "/6-move-failed.png", fullPage: true });
      fail("the move made no new plan: " + await page.evaluate(() => document.querySelector(".plan-state")?.textContent ?? location.hash));
    });
  if (await page.locator(`.plan-households tr[data-household="${movedKey}"] select.move-to`).inputValue() !== roomiest)
    fail("the moved household is not shown at its new shelter");
  await page.click(".publish-plan");
  await page.waitForSelector('.plan-state:has-text("published v1")', { timeout: 10000 })
    .catch(async () => fail("not published: " + await page.textContent(".plan-state")));
  await page.screenshot({ path: SCREENSHOTS + "/6-plan.png", fullPage: true });
  // The printable manifest, one page per vehicle group.
  const manifest = await staff.newPage();
  await manifest.goto(BASE + await page.getAttribute(".print-plan", "href"));
  if (!(await manifest.textContent("body")).includes("Group 1")) fail("the manifest has no group");
  await manifest.screenshot({ path: SCREENSHOTS + "/6-manifest.png" });
  await manifest.close();

  // The registry: a messy CSV checked first, row by row, then imported.
  await page.goto(BASE + "/app#/registry");
  await page.setInputFiles(".import-file", IMPORT_FILE);
  // A slow check (held back 1.2 s here) shows a bar and a clock, and the buttons wait for it.
  await page.route("**/api/v1/nationals/import*", async (route) => {
    const response = await route.fetch();
    await new Promise((resolve) => setTimeout(resolve, 1200));
    await route.fulfill({ response });
  });
  await page.click(".import-check");
  await page.waitForSelector(".import-summary progress", { timeout: 1000 })
    .catch(() => fail("no progress shown while the file is checked"));
  if (!await page.isDisabled(".import-check")) fail("the check button can be pressed again while checking");
  await page.waitForSelector(".import-errors tr", { timeout: 10000 })
    .catch(async () => fail("no row report: " + await page.textContent(".import-summary")));
  await page.unroute("**/api/v1/nationals/import*");
  await page.click(".import-apply");
  await page.waitForSelector('.import-summary:has-text("added")', { timeout: 10000 })
    .catch(async () => fail("not imported: " + await page.textContent(".import-summary")));
  // A shelter fills up: its occupancy changed in place, and then it is closed.
  const shelter = page.locator(".shelters tr[data-shelter]").first();
  const shelterId = await shelter.getAttribute("data-shelter");
  await shelter.locator('input[name="occupancy"]').fill("37");
  await shelter.locator('input[name="occupancy"]').press("Tab");
  await page.waitForFunction((id) => document.querySelector(`.shelters tr[data-shelter="${id}"] input[name="occupancy"]`)?.value === "37" &&
    document.querySelector(".shelters .hint").textContent.startsWith("✓"), shelterId, { timeout: 10000 })
    .catch(async () => fail("occupancy not saved: " + await page.textContent(".shelters .hint")));
  await page.locator(`.shelters tr[data-shelter="${shelterId}"] input[name="open"]`).uncheck();
  await page.waitForSelector(`.shelters tr.closed[data-shelter="${shelterId}"]`, { timeout: 10000 })
    .catch(() => fail("the shelter was not closed"));
  await page.screenshot({ path: SCREENSHOTS + "/6-registry.png", fullPage: true });
  // The audit log shows what was done here.
  await page.goto(BASE + "/app#/audit");
  await page.waitForSelector('.audit tr:has-text("campaign.launch")', { timeout: 10000 })
    .catch(() => fail("the audit log does not show the launch"));
  await page.goto(BASE + "/app#/crises/" + CRISIS);
  await page.waitForSelector('.count[data-status="pending"]', { timeout: 10000 });

  // Korean, switched in place.
  await page.click("#lang");
  await page.waitForSelector('.count[data-status="safe"] .label:has-text("안전")', { timeout: 10000 });
  await page.screenshot({ path: SCREENSHOTS + "/7-korean.png" });
  if (errors.length) fail("errors in the page: " + errors.join(" | "));
  console.log(`dashboard: ok (pending ${pending} -> ${pending - 1}, safe ${safe} -> ${safe + 1}, ` +
    `${inked} map pixels; a call recorded; a plan made and published)`);
} finally {
  await browser.close();
}
