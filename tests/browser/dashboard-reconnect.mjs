// The crisis page keeps its live view through a refusal: its event stream is
// refused (the server's streams are all taken), so the browser gives up on
// it; the page must open it again by itself once a stream is free, and then
// show an answer given meanwhile without a reload. Run by
// tests/integration/test_dashboard.py, which holds the only stream for a
// few seconds.
import { failer, launch } from "./chromium.mjs";

const { BASE, REPLY_BASE, USER, PASSWORD, CRISIS, TOKEN } = process.env;
const errors = [];
const fail = failer("dashboard-reconnect", errors);
const browser = await launch();
try {
  const page = await (await browser.newContext({ locale: "en-US" })).newPage();
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(BASE + "/app");
  await page.fill("#username", USER);
  await page.fill("#password", PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector(".crisis-link", { timeout: 10000 });
  await page.goto(BASE + "/app#/crises/" + CRISIS);
  await page.waitForSelector('.count[data-status="pending"]', { timeout: 10000 })
    .catch(() => fail("the crisis page did not show its counts"));
  // Refused: not live, and it stays so while the only stream is held.
  await page.waitForTimeout(2500);
  if (await page.$(".live.on")) fail("live although every stream was taken");
  // The test holding the only stream lets it go on this line.
  console.log("refusal seen");
  await page.waitForSelector(".live.on", { timeout: 30000 })
    .catch(() => fail("the page never opened its stream again after the refusal"));
  const safe = Number(await page.textContent('.count[data-status="safe"] .n'));
  // Answered through the other process: the change comes to this one by LISTEN/NOTIFY.
  const r = await fetch(`${REPLY_BASE}/r/${TOKEN}`, {
    method: "POST", headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: "status=safe&message=" + encodeURIComponent("back after the refusal"),
  });
  if (r.status !== 200) fail(`the reply page answered ${r.status}`);
  await page.waitForFunction((n) => Number(document.querySelector('.count[data-status="safe"] .n').textContent) > n,
    safe, { timeout: 10000 }).catch(() => fail("the answer did not reach the counts live"));
  console.log("refused, reopened by the page, and live again");
} finally {
  await browser.close();
}
