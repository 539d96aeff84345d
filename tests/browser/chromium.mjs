// Debian's Chromium for the browser tests, started with the flags a closed
// network needs (no updates, sync, crash reports or GPU), and a way to fail a
// test that names it and any error the page logged.
import { chromium } from "../../daemon/web/node_modules/playwright-core/index.mjs";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
      "--disable-sync", "--disable-breakpad", "--metrics-recording-only"],
  });
}

// fail(message) prints "name: message" (with the page's errors, if any) and exits 1.
export function failer(name, errors = []) {
  return (msg) => {
    console.error(`${name}: ${msg}` + (errors.length ? " (page errors: " + errors.join(" | ") + ")" : ""));
    process.exit(1);
  };
}
