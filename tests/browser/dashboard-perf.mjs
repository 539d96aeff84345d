// How the dashboard holds up with a large crisis: opens it, then pans and
// zooms the map while Chromium records every task over 50 ms (the Long Tasks
// API). Prints the number of people drawn, the load time and the longest task.
import { launch } from "./chromium.mjs";

const { BASE, USER, PASSWORD, CRISIS } = process.env;
const browser = await launch();
try {
  const page = await (await browser.newContext({ viewport: { width: 1400, height: 900 } })).newPage();
  await page.goto(BASE + "/app");
  await page.fill("#username", USER);
  await page.fill("#password", PASSWORD);
  await page.click("#login-submit");
  await page.waitForSelector(".crisis-link");
  const t0 = Date.now();
  await page.goto(BASE + "/app#/crises/" + CRISIS);
  await page.waitForFunction(() => {
    const c = document.querySelector("canvas.people-layer");
    return c && c.width > 0 && c.getContext("2d").getImageData(0, 0, c.width, c.height).data.some((v, i) => i % 4 === 3 && v);
  }, null, { timeout: 120000 });
  const loaded = Date.now() - t0;
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT });
  await page.evaluate(() => {
    window.longTasks = [];
    new PerformanceObserver((l) => { for (const e of l.getEntries()) window.longTasks.push(e.duration); })
      .observe({ type: "longtask", buffered: false });
  });
  const map = await page.locator("#map").boundingBox();
  const cx = map.x + map.width / 2, cy = map.y + map.height / 2;
  for (let i = 0; i < 6; i++) {
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    await page.mouse.move(cx + (i % 2 ? -120 : 120), cy + 60, { steps: 8 });
    await page.mouse.up();
    await page.waitForTimeout(300);
    await page.mouse.wheel(0, i % 2 ? 300 : -300);
    await page.waitForTimeout(500);
  }
  const tasks = await page.evaluate(() => window.longTasks);
  const redraws = await page.evaluate(() => performance.getEntriesByName("people-redraw").map((e) => e.duration));
  const people = await page.evaluate(() => document.querySelectorAll(".count .n").length
    ? [...document.querySelectorAll(".count .n")].reduce((a, e) => a + Number(e.textContent), 0) : 0);
  console.log(`dashboard-perf: ${people} people; page and map ready in ${loaded} ms; ` +
    `${tasks.length} tasks over 50 ms while panning and zooming 12 times, the longest ${Math.round(Math.max(0, ...tasks))} ms; ` +
    `${redraws.length} redraws of the people layer, the longest ${Math.round(Math.max(0, ...redraws))} ms, ` +
    `median ${Math.round(redraws.sort((a, b) => a - b)[redraws.length >> 1] ?? 0)} ms`);
} finally {
  await browser.close();
}
