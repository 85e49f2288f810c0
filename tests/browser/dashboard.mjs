// Drives the dashboard in Debian's headless Chromium: sign in, create a tenant, find it in the
// table, see the usage chart render. Screenshots go to tests/artifacts/. Exits non-zero on failure.
// Usage: node tests/browser/dashboard.mjs <base url> <admin key> <tenant name>
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, adminKey, tenantName] = process.argv.slice(2);
const artifacts = new URL("../artifacts/", import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

// A fresh profile each run; without the background-networking flags Chromium keeps trying to reach
// Google's hosts, which this machine's closed network refuses.
const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "otp-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: { width: 1200, height: 900 },
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(`${base}/dashboard`);
  await page.fill("#admin-key", adminKey);
  await page.click("#login-form button");
  await page.waitForSelector("#app:not([hidden])");
  await page.screenshot({ path: join(artifacts, "dashboard-signed-in.png"), fullPage: true });

  await page.fill("#new-name", tenantName);
  await page.fill("#new-quota", "250");
  await page.click("#create-form button");
  await page.waitForSelector(`#tenants tbody tr:has-text("${tenantName}")`, { timeout: 15000 });
  const key = await page.textContent("#new-key");
  if (!key.includes("otp_sk_")) throw new Error(`no API key shown: ${key}`);

  // The usage chart is an SVG with one bar per event counted today.
  await page.waitForSelector("#usage-chart svg rect.bar", { timeout: 15000 });
  const bars = await page.locator("#usage-chart svg rect.bar").count();
  await page.screenshot({ path: join(artifacts, "dashboard-tenant-created.png"), fullPage: true });

  // A row action: suspend the new tenant; its row then says so and offers Resume.
  const row = page.locator(`#tenants tbody tr:has-text("${tenantName}")`);
  await row.locator("button", { hasText: "Suspend" }).click();
  await page.waitForSelector(`#tenants tbody tr:has-text("${tenantName}") button:has-text("Resume")`, { timeout: 15000 });
  const status = (await row.locator("td").nth(2).textContent()).trim();

  // Gateway checks run from the page; the table shows each gateway's latest check.
  await page.click("#run-cron");
  await page.waitForSelector("#gateways tbody tr", { timeout: 20000 });
  const gateways = await page.locator("#gateways tbody tr").count();
  const reachable = (await page.locator("#gateways tbody tr td").nth(1).textContent()).trim();

  // The audit log names what was just done.
  await page.waitForSelector('#audit tbody tr:has-text("tenant.suspend")', { timeout: 15000 });
  const audited = await page.locator('#audit tbody tr:has-text("tenant.create")').count();
  await page.screenshot({ path: join(artifacts, "dashboard-actions.png"), fullPage: true });
  if (errors.length) throw new Error(`page errors: ${errors.join("; ")}`);
  console.log(JSON.stringify({ ok: true, bars, key_shown: true, status, gateways, reachable, audited }));
} finally {
  await browser.close();
}
