// A national registers a two-leg trip with the people travelling with them
// on /register in Debian's Chromium with JavaScript off, confirms the code
// the log channel received, and staff then see the registration, confirmed,
// in the dashboard's registry. Run by tests/integration/test_register.py.
import { existsSync, readFileSync } from "node:fs";

import { failer, launch } from "./chromium.mjs";

const { BASE, USER, PASSWORD, OUTBOX_LOG, SCREENSHOTS, LEG1_FROM, LEG1_TO, LEG2_FROM, LEG2_TO } = process.env;
const fail = failer("register");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const browser = await launch();
try {
  // A phone with JavaScript off: the whole registration is plain forms.
  const phone = await browser.newContext({ locale: "ko-KR", javaScriptEnabled: false,
    viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await phone.newPage();
  await page.goto(BASE + "/register");
  await page.selectOption("#country", "TR-ANK");
  await page.click("button.send");
  await page.waitForSelector("#leg1_region");
  await page.fill("#name_ko", "박브라우저");
  await page.fill("#name_latin", "PARK BROWSER");
  await page.fill("#birth_date", "1987-03-14");
  await page.fill("#phone", "010 3141 5926");
  await page.selectOption("#leg1_region", { label: "Istanbul" });
  await page.fill("#leg1_place", "Istanbul");
  await page.fill("#leg1_arrival", LEG1_FROM);
  await page.fill("#leg1_departure", LEG1_TO);
  await page.selectOption("#leg2_region", { label: "Hatay" });
  await page.fill("#leg2_place", "Antakya");
  await page.fill("#leg2_address", "Defne, Harbiye Hotel");
  await page.fill("#leg2_arrival", LEG2_FROM);
  await page.fill("#leg2_departure", LEG2_TO);
  await page.fill("#m1_name", "박동반");
  await page.fill("#m1_birth_date", "1989-11-30");
  await page.fill("#m2_name", "PARK JUNIOR");
  await page.fill("#m2_birth_date", "2018-06-01");
  await page.check('input[name="m2_need_child"]');
  await page.fill("#family_name", "박가족");
  await page.fill("#family_phone", "010-2718-2818");
  await page.check('input[name="family_consent"]');
  await page.screenshot({ path: SCREENSHOTS + "/register-1-form.png", fullPage: true });
  // First without consent: refused, and nothing typed is lost.
  await page.click("button.send");
  await page.waitForSelector("#consent-err").catch(() => fail("no consent error"));
  if ((await page.inputValue("#name_ko")) !== "박브라우저") fail("the form lost what was typed");
  await page.check("#consent");
  await page.click("button.send");
  await page.waitForSelector(".contacts").catch(async () => fail("no management page: " + (await page.content()).slice(0, 800)));
  const manage = page.url();
  if (!/\/register\/m\/[A-Za-z0-9_-]{43}/.test(manage)) fail("not a management link: " + manage);
  await page.screenshot({ path: SCREENSHOTS + "/register-2-manage.png", fullPage: true });

  // The code, as the log channel delivered it.
  let code = null;
  for (let i = 0; i < 100 && !code; i++) {
    if (existsSync(OUTBOX_LOG)) {
      for (const line of readFileSync(OUTBOX_LOG, "utf8").split("\n")) {
        if (!line) continue;
        const m = JSON.parse(line);
        const c = m.to === "+821031415926" && /\b(\d{6})\b/.exec(m.text);
        if (c) code = c[1];
      }
    }
    if (!code) await sleep(100);
  }
  if (!code) fail("no code reached the log channel");
  await page.fill('form.code input[name="code"]', code);
  await page.click('form.code button[type="submit"]:not(.more)');
  await page.waitForSelector(".contacts .verified").catch(() => fail("the code did not confirm the phone"));
  await page.screenshot({ path: SCREENSHOTS + "/register-3-confirmed.png", fullPage: true });

  // Staff see it in the registry, confirmed.
  const staff = await browser.newContext({ locale: "en-US", viewport: { width: 1280, height: 900 } });
  const desk = await staff.newPage();
  const errors = [];
  desk.on("pageerror", (e) => errors.push(e.message));
  await desk.goto(BASE + "/app");
  await desk.fill("#username", USER);
  await desk.fill("#password", PASSWORD);
  await desk.click("#login-submit");
  await desk.waitForSelector(".crisis-link, .empty", { timeout: 10000 }).catch(() => {});
  await desk.goto(BASE + "/app#/registry");
  await desk.waitForSelector('.registrations tr:has-text("박브라우저") .badge.verified', { timeout: 10000 })
    .catch(async () => fail("the registration is not in the registry: " + (await desk.content()).slice(0, 600)));
  const trip = await desk.textContent('.registrations tr:has-text("박브라우저")');
  if (!trip.includes("Antakya") || !trip.includes("Istanbul")) fail("legs not shown: " + trip);
  await desk.screenshot({ path: SCREENSHOTS + "/register-4-registry.png", fullPage: true });
  if (errors.length) fail("page errors: " + errors.join(" | "));
  console.log("registered, confirmed and listed: " + manage.replace(/m\/.*/, "m/…"));
} finally {
  await browser.close();
}
