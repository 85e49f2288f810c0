// Drives the console in Debian's headless Chromium (playwright-core, no browser download) and
// reports what it saw as one JSON line; tests/e2e/test_dashboard.py asserts on it. What it does:
// signs in with an admin key by keyboard; opens every view at 1280 px and at 390 px (screenshots
// in tests/artifacts/); reads every analytics figure off the page and fetches the same range from
// the API itself to compare; checks that charts drew points on their canvas; engages and clears a
// phone's kill switch from its card (checked through the API and a refused send); edits settings,
// rotates a key, suspends and resumes; then signs in with a tenant key: its own analytics and
// messages against what the API answers, and the operators' views out of reach. No route is
// stubbed: every request goes to the real worker.
// Usage: node tests/browser/dashboard.mjs '<json config>' (see test_dashboard.py)
import { chromium } from "playwright-core";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const cfg = JSON.parse(process.argv[2]);
const { base, adminKey, tenant, other, xss } = cfg;
const artifacts = new URL("../artifacts/", import.meta.url).pathname;
mkdirSync(artifacts, { recursive: true });

const DESKTOP = { width: 1440, height: 900 };
const PHONE = { width: 390, height: 844 };
const out = {
  views: {}, screenshots: [], compare: [], charts: {}, dialogs: [], page_errors: [], csp: [], labels: {},
  overflow: {}, actions: {}, tenant_view: {}, kill: {}, fraud: {}, geo: {}, not_found: [], narrow: {}, hover: {},
  open_period: {}, webhooks_layout: {}, log: {},
};
// README screenshots (viewport only, small): docs/screenshots/ when asked for.
const readmeShots = process.env.CONSOLE_README_SHOTS ? new URL("../../docs/screenshots/", import.meta.url).pathname : null;
if (readmeShots) mkdirSync(readmeShots, { recursive: true });

async function call(method, path, key, body) {
  const r = await fetch(base + path, {
    method,
    headers: { Authorization: `Bearer ${key}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await r.json().catch(() => null);
  return { status: r.status, json, data: json && json.data, code: json && json.error && json.error.code };
}

const browser = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "otp-chromium-")), {
  executablePath: "/usr/bin/chromium",
  headless: true,
  viewport: DESKTOP,
  locale: "en-US",
  timezoneId: "Europe/Berlin", // not UTC, so a view that forgot the time zone would show it
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

const page = await browser.newPage();
page.on("pageerror", (e) => out.page_errors.push(String(e)));
page.on("dialog", async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
page.on("response", (r) => { if (r.status() === 404) out.not_found.push(new URL(r.url()).pathname); });
page.on("console", (m) => { if (m.type() === "error" && /Content Security Policy/i.test(m.text())) out.csp.push(m.text()); });
let requests = [];
page.on("request", (r) => { const u = new URL(r.url()); requests.push({ method: r.method(), path: u.pathname, auth: r.headers().authorization || "" }); });

const viewSel = (name) => `.view[data-view="${name}"][data-ready="true"]:not([data-stale])`;
/** Runs `action` (a click, a hash change) and waits for `name` to be rendered anew. */
async function rerender(name, action) {
  await page.evaluate(() => document.querySelectorAll(".view").forEach((v) => { v.dataset.stale = "1"; }));
  await action();
  await page.waitForSelector(viewSel(name), { timeout: 20000 });
}
const go = (hash, name) => rerender(name, () => page.evaluate((h) => { window.location.hash = h; }, hash));

async function shot(name, width) {
  const file = `dashboard-${name}-${width === PHONE.width ? "phone" : "desktop"}.png`;
  // Charts are drawn one frame after the view; give them that frame.
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(artifacts, file), fullPage: true });
  out.screenshots.push(file);
}

async function pageFacts(name) {
  const f = await page.evaluate(() => {
    const unlabeled = [...document.querySelectorAll("input, select, textarea")]
      .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
      .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby"))
      .map((el) => el.outerHTML.slice(0, 80));
    const nameless = [...document.querySelectorAll("button, a[href]")]
      .filter((el) => el.offsetParent !== null && !el.textContent.trim() && !el.getAttribute("aria-label")).length;
    return { unlabeled, nameless, scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth };
  });
  out.labels[name] = { unlabeled: f.unlabeled, nameless: f.nameless };
  return f;
}

// ---- analytics: what the page shows against what the API answers for the same query ----------
async function readAnalytics(sel) {
  return page.evaluate((sel) => {
    const a = document.querySelector(sel);
    const kpis = Object.fromEntries([...a.querySelectorAll(".kpi")].map((k) =>
      [k.dataset.kpi, { value: JSON.parse(k.dataset.value), text: k.querySelector(".kpi-value").textContent }]));
    const periods = [...a.querySelectorAll("details.periods tbody tr")].map((r) =>
      ({ period: r.dataset.period, cells: [...r.querySelectorAll("td")].map((td) => td.textContent) }));
    const errors = [...a.querySelectorAll("table.errors tbody tr")].map((r) =>
      ({ code: r.dataset.code, label: r.cells[0].textContent, count: r.cells[2].textContent }));
    return { query: { ...a.dataset }, kpis, periods, errors };
  }, sel);
}

const digits = (s) => String(s).replace(/\D/g, "");
const pctOf = (s) => Number(String(s).replace(/[^\d.]/g, ""));

/** A latency cell or KPI as a person reads it: `19.5 ms` for 19.5 (a percentile read from the
 * edge's fine histogram), `> 60,000 ms` above its top, a dash for none. */
function latencyTextOk(text, v) {
  if (v == null) return text === "—";
  if (typeof v === "number") return /^[\d,.]+ ms$/.test(text) && Number(text.replace(/[^\d.]/g, "")) === v;
  return text.startsWith(">") && digits(text) === digits(v);
}

/** Every figure of the page against the API's answer; `skip`: figures left out (KPI names). */
function compareAnalytics(shown, api, skip = []) {
  const bad = [];
  const t = api.total;
  const expect = {
    sends: t.sends, approved: t.verifications.approved, failed: t.verifications.failed, expired: t.verifications.expired,
    conversion: t.conversion_rate, delivery: t.delivery.success_rate, messages: t.messages, requests: t.requests,
    p50: t.latency_ms.p50, p90: t.latency_ms.p90, p95: t.latency_ms.p95, p99: t.latency_ms.p99,
  };
  for (const [k, v] of Object.entries(expect)) {
    if (skip.includes(k)) continue;
    const s = shown.kpis[k];
    if (!s) { bad.push(`kpi ${k} missing`); continue; }
    if (JSON.stringify(s.value) !== JSON.stringify(v ?? null)) bad.push(`kpi ${k}: page ${JSON.stringify(s.value)} api ${JSON.stringify(v)}`);
    // And what a person reads: the formatted text says the same number.
    if (["conversion", "delivery"].includes(k)) {
      if (v == null ? s.text !== "—" : Math.abs(pctOf(s.text) - v * 100) > 0.051) bad.push(`kpi ${k} text ${s.text} for ${v}`);
    } else if (["p50", "p90", "p95", "p99"].includes(k)) {
      if (!latencyTextOk(s.text, v)) bad.push(`kpi ${k} text ${s.text} for ${v}`);
    } else if (typeof v === "number" && digits(s.text) !== String(v)) bad.push(`kpi ${k} text ${s.text} for ${v}`);
  }
  const periods = api.series.map((x) => x.period);
  if (JSON.stringify(shown.periods.map((p) => p.period)) !== JSON.stringify(periods)) bad.push(`periods differ: ${shown.periods.length} vs ${periods.length}`);
  api.series.forEach((x, i) => {
    const row = shown.periods[i];
    if (!row) return;
    const want = [x.sends, x.verifications.approved, x.verifications.failed, x.verifications.expired].map(String);
    const got = row.cells.slice(0, 4).map(digits);
    if (JSON.stringify(got) !== JSON.stringify(want)) bad.push(`period ${x.period}: page ${got} api ${want}`);
    // The latency columns (after conversion and delivery): p50, p90, p95, p99.
    if (!skip.includes("p95")) {
      ["p50", "p90", "p95", "p99"].forEach((p, j) => {
        if (!latencyTextOk(row.cells[6 + j], x.latency_ms[p])) bad.push(`period ${x.period} ${p}: page ${row.cells[6 + j]} api ${x.latency_ms[p]}`);
      });
    }
  });
  const errs = Object.fromEntries(shown.errors.map((e) => [e.code, Number(digits(e.count))]));
  if (JSON.stringify(Object.entries(errs).sort()) !== JSON.stringify(Object.entries(t.errors).sort())) {
    bad.push(`errors: page ${JSON.stringify(errs)} api ${JSON.stringify(t.errors)}`);
  }
  return bad;
}

/** Reads the panel, fetches the API for the page's own query, compares; refreshes and retries
 * twice when they differ (a delivery report may land between the two reads). */
async function checkAnalytics(label, sel, viewName, key, fetchApi) {
  let shown; let api; let bad = [];
  for (let attempt = 0; attempt < 3; attempt++) {
    shown = await readAnalytics(sel);
    const q = shown.query;
    api = fetchApi ? await fetchApi(q) : (await call("GET", `${q.path}?${new URLSearchParams({
      granularity: q.granularity, from: q.from, to: q.to, ...(q.scope && q.scope !== "_all" && q.path.includes("/admin/") ? { tenant_id: q.scope } : {}),
    })}`, key)).data;
    bad = compareAnalytics(shown, api);
    if (!bad.length) break;
    await rerender(viewName, () => page.click(`${sel} .controls button`));
  }
  out.compare.push({
    label, query: shown.query, mismatches: bad, sends: api.total.sends, periods: api.series.length,
    errors: shown.errors, api_errors: api.total.errors,
    p95: { page: shown.kpis.p95 && shown.kpis.p95.value, text: shown.kpis.p95 && shown.kpis.p95.text, api: api.total.latency_ms.p95 },
  });
  return { shown, api };
}

/** The tenant's own view, just signed in: its analytics against the answer the page got from
 * GET /v1/analytics (every figure, requests and latency included) and against the test's own call
 * with the same key and range (every figure but requests and latency, which the page's own calls
 * move); its messages against GET /v1/messages. */
async function myAnalyticsAndMessages(served) {
  const sel = "#my-analytics .analytics";
  const shown = await readAnalytics(sel);
  const q = shown.query;
  const sent = new URL(served.url());
  const answer = (await served.json()).data;
  out.tenant_view.analytics_request = {
    path: sent.pathname, auth: served.request().headers().authorization === `Bearer ${tenant.key}`,
    query: Object.fromEntries(sent.searchParams), panel: { granularity: q.granularity, from: q.from, to: q.to },
  };
  out.compare.push({
    label: "tenant's own, as served", query: q, mismatches: compareAnalytics(shown, answer), sends: answer.total.sends,
    periods: answer.series.length, errors: shown.errors, api_errors: answer.total.errors,
    p95: { page: shown.kpis.p95.value, text: shown.kpis.p95.text, api: answer.total.latency_ms.p95 },
  });
  const again = (await call("GET", `/v1/analytics?${new URLSearchParams({ granularity: q.granularity, from: q.from, to: q.to })}`, tenant.key)).data;
  out.compare.push({
    label: "tenant's own, fetched again", query: q, mismatches: compareAnalytics(shown, again, ["requests", "p50", "p90", "p95", "p99"]),
    sends: again.total.sends, periods: again.series.length, errors: shown.errors, api_errors: again.total.errors,
    requests: { page: shown.kpis.requests.value, api: again.total.requests },
  });
  await chartFacts("tenant own");
  const rows = await page.evaluate(() => [...document.querySelectorAll("#my-messages-section tbody tr")].map((r) =>
    ({ id: r.dataset.id, state: r.dataset.state, cells: [...r.cells].map((c) => c.textContent) })));
  const api = (await call("GET", "/v1/messages?limit=50", tenant.key)).data.items;
  const text = await page.evaluate(() => document.querySelector("#my-messages-section").innerText);
  out.tenant_view.messages = {
    page: rows,
    api: api.map((m) => ({ id: m.id, kind: m.kind, phone: m.phone, state: m.state, segments: m.segments, error: m.error, gateway_id: m.gateway_id })),
    full_numbers_shown: cfg.sentPhones.filter((p) => text.includes(p)),
    gateway_shown: cfg.gateways.some((g) => text.includes(g)),
    others_shown: rows.filter((r) => cfg.otherMessageIds.includes(r.id)).length,
  };
  await pageFacts("me (analytics, messages)");
}

const SERIES_RGB = { volume: [47, 111, 237], rates: [15, 118, 110], latency: [47, 111, 237] };
async function chartFacts(label) {
  await page.waitForFunction(() => [...document.querySelectorAll(".chart")].every((c) => c.dataset.drawn === "true"), null, { timeout: 10000 });
  const facts = await page.evaluate((rgbs) => [...document.querySelectorAll(".chart")].map((c) => {
    const cv = c.querySelector("canvas");
    const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
    const [r0, g0, b0] = rgbs[c.dataset.chart] || [0, 0, 0];
    let painted = 0; let series = 0;
    for (let i = 0; i < d.length; i += 4) {
      if (d[i + 3] === 0) continue;
      painted++;
      if (d[i + 3] > 200 && Math.abs(d[i] - r0) < 40 && Math.abs(d[i + 1] - g0) < 40 && Math.abs(d[i + 2] - b0) < 40) series++;
    }
    return { chart: c.dataset.chart, points: Number(c.dataset.points), width: cv.width, height: cv.height, painted, series_pixels: series };
  }), SERIES_RGB);
  out.charts[label] = facts;
}


/** Hovers the first chart at `fraction` of its plot width; answers each chart's hover text for the
 * period (the x row of its legend) and the first series' value. */
async function hoverCharts(fraction) {
  const over = page.locator(".chart .u-over").first();
  const box = await over.boundingBox();
  const periodsNow = () => page.evaluate(() => [...document.querySelectorAll(".chart .u-legend .u-series:first-child .u-value")].map((v) => v.textContent));
  const before = JSON.stringify(await periodsNow());
  await page.mouse.move(box.x + box.width * fraction, box.y + box.height / 2);
  // The cursor moves on the next frame: wait until every chart's legend shows a period, and a new
  // one when another was shown before.
  await page.waitForFunction((prev) => {
    const now = [...document.querySelectorAll(".chart .u-legend .u-series:first-child .u-value")].map((v) => v.textContent);
    return now.length > 0 && now.every((t) => t !== "—") && JSON.stringify(now) !== prev;
  }, before, { timeout: 5000 });
  return page.evaluate(() => [...document.querySelectorAll(".chart")].map((c) => {
    const rows = c.querySelectorAll(".u-legend .u-series");
    return { chart: c.dataset.chart, period: rows[0]?.querySelector(".u-value")?.textContent, value: rows[1]?.querySelector(".u-value")?.textContent };
  }));
}

/** The open period's mark: each chart's data-open, the band's pixels at its right end, the table. */
async function openPeriodFacts() {
  return page.evaluate((fill) => {
    const [r, g, b] = fill;
    return {
      charts: [...document.querySelectorAll(".chart")].map((c) => {
        const cv = c.querySelector("canvas");
        const d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data;
        let right = 0; let left = 0;
        for (let i = 0; i < d.length; i += 4) {
          if (d[i] !== r || d[i + 1] !== g || d[i + 2] !== b || d[i + 3] !== 255) continue;
          const x = (i / 4) % cv.width;
          if (x > cv.width * 0.8) right++; else left++;
        }
        return { chart: c.dataset.chart, open: c.dataset.open || null, band_right: right, band_left: left };
      }),
      last_row: (() => {
        const rows = document.querySelectorAll("details.periods tbody tr");
        const last = rows[rows.length - 1];
        return last ? { open: last.dataset.open || null, text: last.querySelector("th").textContent } : null;
      })(),
      others_open: [...document.querySelectorAll("details.periods tbody tr[data-open]")].length,
      note: document.querySelector(".analytics .open-note")?.textContent || null,
    };
  }, [232, 235, 241]);
}

/** At a narrow width: ids (code in cells) on one line and not cut, no word of a name split across
 * lines, in the tables under `sel`. */
async function narrowFacts(sel) {
  return page.evaluate((sel) => {
    const out = { ids: 0, ids_multiline: [], ids_truncated: [], names: 0, names_split: [] };
    const lines = (r) => new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size;
    for (const code of document.querySelectorAll(`${sel} td code`)) {
      if (code.offsetParent === null) continue;
      out.ids++;
      const r = document.createRange();
      r.selectNodeContents(code);
      if (lines(r) > 1) out.ids_multiline.push(code.textContent);
      if (code.clientWidth > 0 && code.scrollWidth > code.clientWidth + 1) out.ids_truncated.push(code.textContent);
    }
    for (const cell of document.querySelectorAll(`${sel} td.name`)) {
      if (cell.offsetParent === null) continue;
      out.names++;
      const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.textContent.matchAll(/\S+/g)) {
          const r = document.createRange();
          r.setStart(node, m.index);
          r.setEnd(node, m.index + m[0].length);
          if (lines(r) > 1) out.names_split.push(m[0]);
        }
      }
    }
    return out;
  }, sel);
}

/** Every nav link: inside the viewport and the element actually under its centre. */
async function navFacts() {
  return page.evaluate(() => [...document.querySelectorAll("#nav a")].map((a) => {
    const r = a.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
    return { text: a.textContent, left: r.left, right: r.right, inside: r.left >= 0 && r.right <= window.innerWidth && r.width > 0, on_top: !!hit && (hit === a || a.contains(hit)) };
  }));
}

try {
  // ---- sign in as an operator, by keyboard --------------------------------------------------
  await page.goto(`${base}/dashboard`);
  for (let i = 0; i < 5 && !(await page.evaluate(() => document.activeElement && document.activeElement.id === "key")); i++) {
    await page.keyboard.press("Tab");
  }
  out.keyboard_sign_in = await page.evaluate(() => document.activeElement.id === "key");
  await page.keyboard.type(adminKey);
  await page.keyboard.press("Enter");
  await page.waitForSelector(viewSel("analytics"), { timeout: 20000 });
  out.views.analytics = true;

  // Analytics, all tenants, by hour: figures and charts.
  const day = await checkAnalytics("all, 24h", ".analytics", "analytics", adminKey);
  out.latency_kpis = Object.fromEntries(["p50", "p90", "p95", "p99"].map((p) => [p, day.shown.kpis[p] && day.shown.kpis[p].value]));
  await chartFacts("analytics 24h");
  await pageFacts("analytics");
  await shot("analytics", DESKTOP.width);
  // Every range, then the tenant filter.
  out.hover.hourly = await hoverCharts(0.5);
  for (const range of ["30d", "12m"]) {
    await rerender("analytics", () => page.getByLabel("Range", { exact: true }).selectOption(range));
    await checkAnalytics(`all, ${range}`, ".analytics", "analytics", adminKey);
    await chartFacts(`analytics ${range}`);
    // One cursor for the three charts; a day's or a month's hover has no time of day; the last
    // period is still running and says so.
    out.hover[range] = { middle: await hoverCharts(0.5), last: await hoverCharts(0.985) };
    out.open_period[range] = await openPeriodFacts();
    if (range === "12m" && readmeShots) {
      await page.mouse.move(0, 0);
      await page.screenshot({ path: join(readmeShots, "console-analytics-1440.png") });
    }
  }
  await page.mouse.move(0, 0);
  await rerender("analytics", () => page.getByLabel("Range", { exact: true }).selectOption("24h"));
  await rerender("analytics", () => page.getByLabel("Tenant", { exact: true }).selectOption(tenant.id));
  const filtered = await checkAnalytics("tenant filter, 24h", ".analytics", "analytics", adminKey);
  out.filter_scope = filtered.shown.query.scope;
  out.xss_option = await page.evaluate((id) => {
    const o = [...document.querySelectorAll("option")].find((x) => x.value === id);
    return o ? o.textContent : null;
  }, xss.id);
  // Errors by code carry human labels.
  out.error_labels = filtered.shown.errors;
  // A tenant with no traffic: the page says so and what to do, instead of empty charts.
  await rerender("analytics", () => page.getByLabel("Tenant", { exact: true }).selectOption(other.id));
  out.empty_state = {
    text: await page.textContent(".analytics p.empty"),
    charts: await page.locator(".analytics .chart").count(),
    errors: await page.textContent(".analytics .errors-block"),
  };

  // ---- keyboard: the nav is reachable with Tab and opens a view with Enter --------------------
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  let onPhones = false;
  for (let i = 0; i < 25 && !onPhones; i++) {
    await page.keyboard.press("Tab");
    onPhones = await page.evaluate(() => document.activeElement.tagName === "A" && document.activeElement.textContent === "Phones");
  }
  out.keyboard_nav = onPhones;
  if (onPhones) await rerender("phones", () => page.keyboard.press("Enter"));
  else await go("#/phones", "phones");

  // ---- phones --------------------------------------------------------------------------------
  out.views.phones = true;
  out.phones = await page.evaluate(() => [...document.querySelectorAll(".card.phone")].map((c) => ({
    id: c.dataset.gateway,
    facts: Object.fromEntries([...c.querySelectorAll("[data-fact]")].map((f) => [f.dataset.fact, f.querySelector("dd").textContent])),
    marks: c.querySelectorAll(".strip .mark").length,
    kill_form: !!c.querySelector("form.kill"),
    sims: [...c.querySelectorAll("li[data-sim]")].map((r) => Object.fromEntries([...r.querySelectorAll("[data-col]")].map((x) => [x.dataset.col, x.lastChild.textContent]))),
  })));
  out.phones_api = (await call("GET", "/v1/admin/gateways", adminKey)).data.items.map((g) => ({
    id: g.id, reachable: g.reachable, queue_depth: g.health && g.health.queue_depth, capacity: g.health && g.health.capacity,
    device: g.health && g.health.device, sims: g.health && g.health.sims, recent: g.health && g.health.recent_sends, avoid: g.avoid,
  }));
  out.checks_api = (await call("GET", "/v1/admin/gateways/checks?limit=500", adminKey)).data.items.length;
  await pageFacts("phones");
  await shot("phones", DESKTOP.width);

  // The first phone's kill switch, engaged from its card: the phone confirms (a signed command
  // through the edge), the card and the API say engaged, and the phone refuses a send. Then
  // cleared from the card, so the phone carries the later tests' messages.
  const gid = cfg.gateways[0];
  const kill = () => page.locator(`form.kill[data-kill="${gid}"]`);
  const killFact = () => page.textContent(`.card.phone[data-gateway="${gid}"] [data-fact="kill"] dd`);
  const killApi = async () => {
    const g = (await call("GET", "/v1/admin/gateways", adminKey)).data.items.find((x) => x.id === gid);
    return { kill_switch: g.health && g.health.kill_switch, reason: g.health && g.health.kill_switch_reason };
  };
  out.kill.forms = await page.locator("form.kill").count();
  out.kill.before = { card: await killFact(), api: await killApi() };
  await kill().getByLabel("Reason (required)", { exact: true }).fill("SIM blocked by carrier");
  const [engageReq] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname.endsWith("/kill-switch")),
    rerender("phones", () => kill().getByRole("button", { name: "Engage kill switch" }).click()),
  ]);
  out.kill.engage = { path: new URL(engageReq.url()).pathname, body: engageReq.postDataJSON(), auth: engageReq.headers().authorization === `Bearer ${adminKey}` };
  out.kill.engaged = {
    card: await killFact(),
    button: (await kill().locator("button[type=submit]").textContent()).trim(),
    api: await killApi(),
  };
  // The card of a phone that answers with its kill switch engaged: not the green "Reachable", and
  // none of its SIMs "sending".
  const cardFacts = () => page.evaluate((id) => {
    const c = document.querySelector(`.card.phone[data-gateway="${id}"]`);
    return {
      state: c.dataset.state, badge: c.querySelector(".card-head .badge").textContent,
      badge_class: c.querySelector(".card-head .badge").className,
      sims: [...c.querySelectorAll('li[data-sim] [data-col="state"]')].map((x) => x.lastChild.textContent),
    };
  }, gid);
  out.kill.engaged_card = await cardFacts();
  const refused = await call("POST", "/v1/otp/send", cfg.switchTenant.key, { phone: cfg.switchPhone });
  out.kill.send_while_engaged = { status: refused.status, code: refused.code ?? null };
  await shot("phones-kill-switch", DESKTOP.width);
  const [clearReq] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname.endsWith("/kill-switch")),
    rerender("phones", () => kill().getByRole("button", { name: "Clear kill switch" }).click()),
  ]);
  out.kill.clear_body = clearReq.postDataJSON();
  out.kill.cleared_card = await cardFacts();
  out.kill.cleared = {
    card: await killFact(),
    button: (await kill().locator("button[type=submit]").textContent()).trim(),
    api: await killApi(),
  };
  const sent = await call("POST", "/v1/otp/send", cfg.switchTenant.key, { phone: cfg.switchPhone });
  out.kill.send_after_clear = { status: sent.status, code: sent.code ?? null };

  // "Add a phone": a one-time enrolment token, and the command to paste into Termux on the phone.
  await page.getByRole("button", { name: "Add a phone" }).click();
  const enrolBox = page.locator("#enrol-box");
  await enrolBox.getByLabel("Label (optional)", { exact: true }).fill("browser phone");
  const [enrolReq] = await Promise.all([
    page.waitForRequest((r) => r.method() === "POST" && new URL(r.url()).pathname === "/v1/admin/gateways/enrolments"),
    enrolBox.getByRole("button", { name: "Create enrolment command" }).click(),
  ]);
  await page.waitForSelector("[data-enrol-command]");
  out.enrol = { body: enrolReq.postDataJSON(), command: await page.textContent("[data-enrol-command]") };
  await shot("phones-enrol", DESKTOP.width);
  // A command pasted where it should not be is revoked from the box that showed it...
  const listed = await call("POST", "/v1/admin/gateways/enrolments", adminKey, { label: "listed phone" });
  const isRevoke = (r) => r.method() === "POST" && /^\/v1\/admin\/gateways\/enrolments\/[0-9a-f]{12}\/revoke$/.test(new URL(r.url()).pathname);
  const [boxRevoke] = await Promise.all([
    page.waitForRequest(isRevoke),
    enrolBox.getByRole("button", { name: "Revoke this command" }).click(),
  ]);
  await page.waitForSelector("#enrol-box [data-revoked]");
  out.enrol.box_revoke = { path: new URL(boxRevoke.url()).pathname, text: await page.textContent("#enrol-box [data-revoked]") };
  // ...or from the list of open commands the page shows once drawn again.
  await go("#/audit", "audit");
  await go("#/phones", "phones");
  const openRows = () => page.evaluate(() => [...document.querySelectorAll("tr[data-token]")].map((r) => r.dataset.token));
  out.enrol.listed = { id: listed.data.id, before: await openRows() };
  const [listRevoke] = await Promise.all([
    page.waitForRequest(isRevoke),
    rerender("phones", () => page.locator(`tr[data-token="${listed.data.id}"]`).getByRole("button", { name: "Revoke" }).click()),
  ]);
  out.enrol.listed.path = new URL(listRevoke.url()).pathname;
  out.enrol.listed.after = await openRows();

  // ---- tenants list -------------------------------------------------------------------------
  await go("#/tenants", "tenants");
  out.views.tenants = true;
  out.xss_cell = await page.evaluate((id) => {
    const row = document.querySelector(`#tenants tr[data-id="${id}"]`);
    return row ? row.querySelector("td.name").textContent : null;
  }, xss.id);
  out.rows = await page.locator("#tenants tbody tr").count();
  await pageFacts("tenants");
  await shot("tenants", DESKTOP.width);

  // ---- one tenant -----------------------------------------------------------------------------
  await go(`#/tenants/${tenant.id}`, "tenant");
  out.views.tenant = true;
  const t = (await call("GET", `/v1/admin/tenants/${tenant.id}`, adminKey)).data;
  out.quota = {
    page: await page.evaluate(() => ({ ...document.querySelector(".quota").dataset, text: document.querySelector(".quota-text").textContent })),
    api: { total: t.quota, remaining: t.quota_remaining },
  };
  await checkAnalytics("tenant page, 24h", "#tenant-analytics .analytics", "tenant", adminKey);
  await chartFacts("tenant page");
  const auditApi = (await call("GET", `/v1/admin/audit?tenant_id=${tenant.id}&limit=100`, adminKey)).data.items;
  out.audit = {
    page: await page.locator("table.audit tbody tr").count(),
    api: auditApi.length,
    labels: await page.evaluate(() => [...document.querySelectorAll("table.audit tbody tr")].map((r) => r.cells[1].textContent)),
  };
  const text = await page.evaluate(() => document.body.innerText);
  out.contact = { masked_shown: text.includes(cfg.contactMasked), full_shown: text.includes(cfg.contactPhone) };
  out.events_order = await page.evaluate(() => [...document.querySelectorAll(".events [data-event]")].map((d) => d.dataset.event));
  await page.waitForSelector('#tenant-messages[data-ready="true"]');
  out.log.tenant_page = {
    page: await page.evaluate(() => [...document.querySelectorAll("#tenant-messages tbody tr")].map((r) => r.dataset.id)),
    api: (await call("GET", `/v1/admin/messages?tenant_id=${tenant.id}&limit=25`, adminKey)).data.items.map((m) => m.id),
  };
  await pageFacts("tenant");
  await shot("tenant", DESKTOP.width);

  // Settings: only what changed is sent, as a merge patch.
  const patchReq = page.waitForRequest((r) => r.method() === "PATCH");
  await page.getByLabel("Code lifetime (s)", { exact: true }).fill("600");
  await page.getByLabel("Words per code", { exact: true }).fill("3");
  await rerender("tenant", () => page.getByRole("button", { name: "Save settings" }).click());
  out.actions.patch_body = (await patchReq).postDataJSON();
  out.actions.settings_after = (await call("GET", `/v1/admin/tenants/${tenant.id}`, adminKey)).data.settings;
  out.actions.form_after = await page.getByLabel("Code lifetime (s)", { exact: true }).inputValue();

  // Rotate the key: shown once, works at once; gone after the page is left.
  await page.getByRole("button", { name: "Rotate key" }).click();
  await page.waitForSelector(".key-box .key", { timeout: 15000 });
  const newKey = (await page.textContent(".key-box .key")).trim();
  out.actions.rotated_prefix = newKey.slice(0, 7);
  out.actions.rotated_key_works = (await call("GET", "/v1/usage", newKey)).status;
  await go("#/tenants", "tenants");
  await go(`#/tenants/${tenant.id}`, "tenant");
  out.actions.key_box_after_reload = await page.locator(".key-box").count();

  // Suspend, then resume, from the page.
  await rerender("tenant", () => page.click("#suspend-toggle"));
  out.actions.suspended_page = await page.getAttribute(".tenant-head [data-status]", "data-status");
  out.actions.suspended_api = (await call("GET", `/v1/admin/tenants/${tenant.id}`, adminKey)).data.status;
  await rerender("tenant", () => page.click("#suspend-toggle"));
  out.actions.resumed_api = (await call("GET", `/v1/admin/tenants/${tenant.id}`, adminKey)).data.status;

  // Browser origins (CORS) and the opt-out list, on the operator's tenant page.
  out.integrations = {};
  await page.getByLabel("Allowed browser origins (CORS)").fill("https://shop.example, https://www.shop.example");
  await rerender("tenant", () => page.getByRole("button", { name: "Save settings" }).click());
  out.integrations.cors_api = (await call("GET", `/v1/admin/tenants/${tenant.id}`, adminKey)).data.settings.cors_origins;
  out.integrations.cors_form = await page.getByLabel("Allowed browser origins (CORS)").inputValue();
  out.integrations.admin_optouts_panel = await page.locator("#optout-list").count();

  // The payload tenant's own page: its name is a heading's text.
  await go(`#/tenants/${xss.id}`, "tenant");
  out.xss_heading = await page.textContent("#tenant-name");

  // ---- abuse protection: a tenant's fraud-guard block, shown and lifted from its page ----------
  await go(`#/tenants/${cfg.pump.id}`, "tenant");
  const guardApi = (await call("GET", `/v1/admin/tenants/${cfg.pump.id}/fraud`, adminKey)).data;
  out.fraud = {
    page: await page.evaluate(() => {
      const s = document.querySelector("section.fraud");
      return s && { level: s.dataset.level, blocks: [...s.querySelectorAll("table.blocks tbody tr")].map((r) => ({ key: r.dataset.key, text: r.cells[0].textContent })) };
    }),
    api: { level: guardApi.level, blocks: guardApi.blocks.map((b) => ({ key: b.key, watched: b.watched })) },
  };
  await pageFacts("tenant fraud");
  await shot("tenant-fraud", DESKTOP.width);
  if (guardApi.blocks.length) {
    await rerender("tenant", () => page.getByRole("button", { name: `Lift the block on ${guardApi.blocks[0].watched}`, exact: true }).click());
  }
  out.fraud.api_after_lift = (await call("GET", `/v1/admin/tenants/${cfg.pump.id}/fraud`, adminKey)).data.blocks.length;
  out.fraud.page_after_lift = await page.getAttribute("section.fraud", "data-blocks");
  // Its abuse settings in the editor: a list and a select, sent as a merge patch.
  await page.getByLabel("Allowed countries", { exact: true }).fill("fr, be");
  await page.getByLabel("Fraud guard level", { exact: true }).selectOption("standard");
  const [abusePatch] = await Promise.all([
    page.waitForRequest((r) => r.method() === "PATCH"),
    rerender("tenant", () => page.getByRole("button", { name: "Save settings" }).click()),
  ]);
  out.fraud.patch_body = abusePatch.postDataJSON();
  const pumpAfter = (await call("GET", `/v1/admin/tenants/${cfg.pump.id}`, adminKey)).data.settings;
  out.fraud.settings_after = { geo: pumpAfter.geo, fraud_guard: pumpAfter.fraud_guard };
  out.fraud.form_after = await page.getByLabel("Allowed countries", { exact: true }).inputValue();

  // ---- abuse protection, service-wide: the high-risk ranges ----------------------------------
  await go("#/abuse", "abuse");
  out.views.abuse = true;
  out.abuse_text = await page.evaluate(() => {
    const v = document.querySelector(".view");
    return { text_nodes: [...v.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent), has_null: /\bnull\b/.test(v.innerText) };
  });
  const readRanges = () => page.evaluate(() => [...document.querySelectorAll("#geo-form [data-range]")]
    .map((d) => ({ range: d.dataset.range, allowed: d.querySelector("input").checked })));
  const geoBefore = (await call("GET", "/v1/admin/geo", adminKey)).data;
  out.geo = { page: await readRanges(), api: geoBefore.ranges, api_before: geoBefore.allowed_ranges };
  await page.getByLabel("Satellite phones (+870, +881)", { exact: true }).setChecked(true);
  const [geoPut] = await Promise.all([
    page.waitForRequest((r) => r.method() === "PUT"),
    rerender("abuse", () => page.getByRole("button", { name: "Save geo permissions" }).click()),
  ]);
  out.geo.put_body = geoPut.postDataJSON();
  out.geo.api_after = (await call("GET", "/v1/admin/geo", adminKey)).data.allowed_ranges;
  out.geo.page_after = await readRanges();
  await page.getByLabel("Satellite phones (+870, +881)", { exact: true }).uncheck();
  await rerender("abuse", () => page.getByRole("button", { name: "Save geo permissions" }).click());
  out.geo.api_restored = (await call("GET", "/v1/admin/geo", adminKey)).data.allowed_ranges;
  out.geo.tenant_rows = await page.evaluate((id) => {
    const r = document.querySelector(`table.abuse tr[data-id="${id}"]`);
    return r && [...r.cells].map((c) => c.textContent);
  }, cfg.pump.id);
  await pageFacts("abuse");
  await shot("abuse", DESKTOP.width);

  // ---- audit log ------------------------------------------------------------------------------
  await go("#/audit", "audit");
  out.views.audit = true;
  out.audit_global = {
    page: await page.locator("table.audit tbody tr").count(),
    api: (await call("GET", "/v1/admin/audit?limit=200", adminKey)).data.items.length,
    labels: await page.evaluate(() => [...new Set([...document.querySelectorAll("table.audit tbody tr")].map((r) => r.cells[1].textContent))]),
  };
  out.audit_rows = await page.evaluate(() => [...document.querySelectorAll("table.audit tbody tr")].map((r) => ({
    action: r.dataset.action, label: r.querySelector("td.action").textContent,
    summary: r.querySelector("td.summary").firstChild?.textContent ?? "", raw: !!r.querySelector("td.summary details"),
  })));
  const visibleActions = () => page.evaluate(() => [...document.querySelectorAll("table.audit tbody tr")].filter((r) => !r.hidden).map((r) => r.dataset.action));
  await page.getByLabel("Action", { exact: true }).selectOption("cron.run");
  out.audit_filter = { cron: await visibleActions() };
  await page.getByLabel("Action", { exact: true }).selectOption("");
  await page.getByLabel("Search", { exact: true }).fill(cfg.pump.name);
  out.audit_filter.search = await page.evaluate(() => [...document.querySelectorAll("table.audit tbody tr")].filter((r) => !r.hidden).map((r) => r.querySelector("td.target").textContent));
  out.audit_filter.count = await page.textContent(".audit-log .count");
  await page.getByLabel("Search", { exact: true }).fill("");
  await pageFacts("audit");
  await shot("audit", DESKTOP.width);

  // ---- the operators' message log: every tenant's, searched and paged ----------------------
  await go("#/messages", "messages");
  out.views.messages = true;
  await page.waitForSelector('#all-messages[data-ready="true"]');
  const readLog = () => page.evaluate(() => [...document.querySelectorAll("#all-messages tbody tr")].map((r) => ({ id: r.dataset.id, cells: [...r.cells].map((c) => c.textContent) })));
  const logSearch = async (action) => {
    await action();
    await page.waitForSelector('#all-messages[data-ready="true"]');
  };
  await logSearch(async () => {
    await page.getByLabel("Per page", { exact: true }).selectOption("10");
    await page.locator("#all-messages").getByRole("button", { name: "Search" }).click();
  });
  const first = (await call("GET", "/v1/admin/messages?limit=10", adminKey)).data;
  out.log.page1 = { page: (await readLog()).map((r) => r.id), api: first.items.map((m) => m.id) };
  await logSearch(() => page.locator("#all-messages").getByRole("button", { name: "Older →" }).click());
  const second = (await call("GET", `/v1/admin/messages?limit=10&cursor=${first.next_cursor}`, adminKey)).data;
  out.log.page2 = { page: (await readLog()).map((r) => r.id), api: second.items.map((m) => m.id), page_no: await page.getAttribute("#all-messages", "data-page") };
  await logSearch(() => page.locator("#all-messages").getByRole("button", { name: "← Newer" }).click());
  out.log.back = (await readLog()).map((r) => r.id);
  // By number: the messages to one of the test's phones, with the tenant's name.
  await logSearch(async () => {
    await page.getByLabel("Phone number", { exact: true }).fill(cfg.sentPhones[0]);
    await page.locator("#all-messages").getByRole("button", { name: "Search" }).click();
  });
  out.log.by_phone = { rows: await readLog(), api: (await call("GET", `/v1/admin/messages?phone=${encodeURIComponent(cfg.sentPhones[0])}`, adminKey)).data.items.map((m) => m.id) };
  // A bad number: the API's error, shown in the form.
  await logSearch(async () => {
    await page.getByLabel("Phone number", { exact: true }).fill("12");
    await page.locator("#all-messages").getByRole("button", { name: "Search" }).click();
  });
  out.log.bad_phone = await page.textContent("#all-messages [role=alert]");
  await page.getByLabel("Phone number", { exact: true }).fill("");
  await pageFacts("messages");
  await shot("messages", DESKTOP.width);
  out.images = await page.evaluate(() => document.querySelectorAll("img").length);

  // ---- alerts: channels saved from the form, the incidents listed ----------------------------
  await go("#/alerts", "alerts");
  out.views.alerts = true;
  await page.getByLabel("Webhook URL").fill("https://hooks.example/ops");
  await rerender("alerts", () => page.getByRole("button", { name: "Save channels" }).click());
  out.integrations.alerts_api = (await call("GET", "/v1/admin/alerts", adminKey)).data.config.webhook_url;
  out.integrations.alerts_form = await page.getByLabel("Webhook URL").inputValue();
  out.integrations.incidents_panel = await page.locator("table.incidents, .view p.empty").count();
  await pageFacts("alerts");
  await shot("alerts", DESKTOP.width);
  // No alert of the other tests goes to that address.
  await call("PATCH", "/v1/admin/alerts", adminKey, { webhook_url: null });

  // ---- every operator view at a phone's width ------------------------------------------------
  await page.setViewportSize(PHONE);
  for (const [hash, name] of [["#/analytics", "analytics"], ["#/phones", "phones"], ["#/tenants", "tenants"], [`#/tenants/${tenant.id}`, "tenant"], ["#/messages", "messages"], ["#/audit", "audit"], ["#/abuse", "abuse"], ["#/alerts", "alerts"]]) {
    await go(hash, name);
    if (name === "analytics") {
      await chartFacts("analytics phone");
      out.nav_phone = await navFacts();
    }
    if (name === "messages") await page.waitForSelector('#all-messages[data-ready="true"]');
    if (["tenants", "abuse", "messages", "audit"].includes(name)) out.narrow[name] = await narrowFacts(".view");
    if (name === "tenants" && readmeShots) {
      // The list, not the form above it: each tenant a card of labelled lines.
      await page.evaluate(() => document.querySelector("#tenants").closest("section").scrollIntoView());
      await page.screenshot({ path: join(readmeShots, "console-tenants-390.png") });
      await page.evaluate(() => window.scrollTo(0, 0));
    }
    const f = await pageFacts(`${name} phone`);
    out.overflow[name] = f.scrollWidth - f.innerWidth;
    await shot(name, PHONE.width);
  }
  await page.setViewportSize(DESKTOP);

  // ---- a tenant's own view, with its own key -------------------------------------------------
  await page.click("#logout");
  await page.waitForSelector("#login:not([hidden])");
  requests = [];
  await page.fill("#key", tenant.key);
  // What the real GET /v1/analytics answered the page (its own request, with the tenant's key).
  const [served] = await Promise.all([
    page.waitForResponse((r) => new URL(r.url()).pathname === "/v1/analytics" && r.request().method() === "GET", { timeout: 20000 }),
    page.click("#login-form button[type=submit]"),
  ]);
  await page.waitForSelector(`${viewSel("me")} #my-analytics .analytics`, { timeout: 20000 });
  out.views.me = true;
  await myAnalyticsAndMessages(served);
  const usage = (await call("GET", "/v1/usage", tenant.key)).data;
  out.tenant_view.quota = {
    page: await page.evaluate(() => ({ ...document.querySelector(".quota").dataset })),
    api: { total: usage.quota.total, remaining: usage.quota.remaining },
  };
  out.tenant_view.fallback = { page: await page.textContent('[data-fact="fallback"] dd'), api: usage.fallback };
  out.tenant_view.nav = await page.evaluate(() => [...document.querySelectorAll("#nav a")].map((a) => a.textContent));
  out.tenant_view.who = await page.textContent("#who");
  // Integrations with the tenant's own key: its replies, webhooks and opt-outs.
  out.integrations.replies = await page.evaluate(() => [...document.querySelectorAll("#my-replies-section tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)));
  await page.getByLabel("URL", { exact: true }).fill("https://hooks.example/otp-events");
  await page.getByRole("button", { name: "Register endpoint" }).click();
  await page.waitForSelector("#webhook-secret .key-box .key", { timeout: 15000 });
  out.integrations.secret = (await page.textContent("#webhook-secret .key-box .key")).trim();
  const hooks = async () => (await call("GET", "/v1/webhooks", tenant.key)).data.items;
  const hookId = (await hooks()).find((x) => x.url === "https://hooks.example/otp-events").id;
  const hookCard = page.locator(`.card.webhook[data-webhook="${hookId}"]`);
  await hookCard.waitFor();
  out.integrations.hooks_api = (await hooks()).map((x) => ({ url: x.url, enabled: x.enabled, events: x.events.length }));
  await hookCard.getByRole("button", { name: "Disable" }).click();
  await page.waitForSelector(`.card.webhook[data-webhook="${hookId}"][data-state="disabled"]`, { timeout: 15000 });
  out.integrations.hook_enabled_after = (await hooks()).find((x) => x.id === hookId).enabled;
  await hookCard.getByRole("button", { name: "Show deliveries" }).click();
  await page.waitForSelector(`.card.webhook[data-webhook="${hookId}"] .deliveries p, .card.webhook[data-webhook="${hookId}"] .deliveries table`, { timeout: 15000 });
  // The endpoint that got this tenant's events: its deliveries read at 1440 px in a full-width
  // card, each date on one line, the last answer whole.
  const busyCard = page.locator(`.card.webhook[data-webhook="${cfg.webhook.id}"]`);
  await busyCard.getByRole("button", { name: "Show deliveries" }).click();
  await page.waitForSelector(`.card.webhook[data-webhook="${cfg.webhook.id}"] .deliveries tbody tr`, { timeout: 15000 });
  out.webhooks_layout = await page.evaluate((id) => {
    const cellLines = (cell) => {
      const r = document.createRange();
      r.selectNodeContents(cell);
      return new Set([...r.getClientRects()].filter((x) => x.width > 0).map((x) => Math.round(x.top))).size;
    };
    const card = document.querySelector(`.card.webhook[data-webhook="${id}"]`);
    const wrap = card.querySelector(".deliveries .table-wrap");
    return {
      card_width: card.getBoundingClientRect().width,
      section_width: card.closest("section").getBoundingClientRect().width,
      viewport: window.innerWidth,
      rows: card.querySelectorAll(".deliveries tbody tr").length,
      date_lines: [...card.querySelectorAll(".deliveries td.when")].map(cellLines),
      answers: [...card.querySelectorAll(".deliveries td.answer")].map((c) => ({ text: c.textContent, whole: c.scrollWidth <= c.clientWidth + 1 })),
      wrap_clipped: wrap.scrollWidth > wrap.clientWidth + 1,
    };
  }, cfg.webhook.id);
  await page.locator("#optout-form input[name=phone]").fill(cfg.optoutPhone);
  await page.getByRole("button", { name: "Add to the opt-out list" }).click();
  await page.waitForSelector("#optout-list tbody tr", { timeout: 15000 });
  out.integrations.optouts_page = await page.evaluate(() => [...document.querySelectorAll("#optout-list tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)));
  out.integrations.optouts_api = (await call("GET", "/v1/optouts", tenant.key)).data.items.map((o) => o.phone);
  await shot("my-integrations", DESKTOP.width);
  await page.locator("#optout-list").getByRole("button", { name: /^Remove/ }).click();
  await page.waitForSelector("#optout-list p.empty", { timeout: 15000 });
  out.integrations.optouts_after = (await call("GET", "/v1/optouts", tenant.key)).data.items.length;
  await pageFacts("me");
  await shot("my-account", DESKTOP.width);
  await page.setViewportSize(PHONE);
  await page.waitForTimeout(100);
  out.overflow.me = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  await shot("my-account", PHONE.width);
  await page.setViewportSize(DESKTOP);

  // The operators' views are out of reach: the page says so and asks the API nothing for them.
  out.tenant_view.blocked = {};
  for (const hash of ["#/analytics", "#/phones", "#/tenants", `#/tenants/${other.id}`, "#/audit", "#/abuse"]) {
    await page.evaluate((h) => { window.location.hash = h; }, hash);
    await page.waitForSelector(".not-available h2", { timeout: 10000 });
    out.tenant_view.blocked[hash] = await page.textContent(".not-available h2");
  }
  await go("#/me", "me");
  const seen = await page.evaluate(() => document.body.innerText);
  out.tenant_view.leaks = {
    other_name: seen.includes(other.name),
    other_id: seen.includes(other.id),
    xss_name: seen.includes(xss.name),
    gateway: cfg.gateways.some((g) => seen.includes(g)),
  };
  out.tenant_view.requests = requests.filter((r) => r.path.startsWith("/v1/"));

  out.ok = true;
} catch (e) {
  out.ok = false;
  out.error = String(e && e.stack ? e.stack : e);
  await page.screenshot({ path: join(artifacts, "dashboard-failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(JSON.stringify(out));
process.exit(out.ok ? 0 : 1);
