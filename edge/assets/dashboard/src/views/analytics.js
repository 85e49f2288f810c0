// Analytics over time: a range picker, optionally a tenant filter, figures for the whole range,
// three charts and the errors by code. Used by the operators' analytics page (all tenants or one),
// a tenant's detail page (that tenant) and a tenant's own view (GET /v1/analytics).
import { api, qs } from "../api.js";
import { h, field, table, empty, nextId } from "../dom.js";
import { label } from "../labels.js";
import { num, pct, ms, msValue, periodSeconds, periodLabel, periodOpen } from "../format.js";
import { timeChart, COLORS } from "../charts.js";

export const RANGES = {
  "24h": "Last 24 hours, by hour",
  "30d": "Last 30 days, by day",
  "12m": "Last 12 months, by month",
};

// The latency percentiles shown: its key, a human name, what it means. Each is read from a fine
// histogram (buckets about 5% wide) on the edge, so it is a real value within about 5%.
const LATENCY = [
  ["p50", "Median (p50)", "half the requests answered within this"],
  ["p90", "p90", "9 in 10 requests answered within this"],
  ["p95", "p95", "95 in 100 requests answered within this"],
  ["p99", "p99", "99 in 100 requests answered within this"],
];

const pad = (n) => String(n).padStart(2, "0");
const isoDate = (d) => `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
const isoTime = (d) => `${isoDate(d)}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}Z`;

/** The API query for a range ending now: granularity, from and to (UTC). */
export function rangeQuery(range, now = new Date()) {
  if (range === "30d") {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - 29));
    return { granularity: "day", from: isoDate(from), to: isoDate(now) };
  }
  if (range === "12m") {
    const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1));
    return { granularity: "month", from: isoDate(from), to: isoDate(now) };
  }
  const from = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours() - 23));
  return { granularity: "hour", from: isoTime(from), to: isoTime(now) };
}

/**
 * Renders the panel into `root`.
 * @param {HTMLElement} root
 * @param {{path:string, range:string, tenantId?:string, tenants?:{id:string,name:string}[],
 *          onChange?:(p:{range:string, tenant:string})=>void}} opts
 */
export async function renderAnalytics(root, opts) {
  const range = RANGES[opts.range] ? opts.range : "24h";
  const q = { ...rangeQuery(range), tenant_id: opts.tenantId || "" };
  const data = await api("GET", `${opts.path}${qs(q)}`);

  const controls = h("form", { class: "controls", onsubmit: (e) => e.preventDefault() });
  const rangeSel = h("select", { name: "range", onchange: () => change() },
    Object.entries(RANGES).map(([k, v]) => h("option", { value: k, selected: k === range }, v)));
  controls.append(field("Range", rangeSel));
  let tenantSel = null;
  if (opts.tenants) {
    tenantSel = h("select", { name: "tenant", onchange: () => change() },
      h("option", { value: "" }, "All tenants"),
      opts.tenants.map((t) => h("option", { value: t.id, selected: t.id === opts.tenantId }, `${t.name} (${t.id})`)));
    controls.append(field("Tenant", tenantSel));
  }
  controls.append(h("button", { type: "button", class: "secondary", onclick: () => change(true) }, "Refresh"));
  function change(force) {
    const next = { range: rangeSel.value, tenant: tenantSel ? tenantSel.value : opts.tenantId || "" };
    if (opts.onChange) opts.onChange(next, force);
  }

  const t = data.total;
  const series = data.series || [];
  const xs = series.map((s) => periodSeconds(s.period));
  // The range ends now: its last period is still running and its figures are partial.
  const open = series.length > 0 && periodOpen(series.at(-1).period);
  const xLabel = (ts) => {
    const p = series[xs.indexOf(ts)];
    return p ? periodLabel(p.period) : "—";
  };
  const sync = nextId("sync");
  const common = { xLabel, open, sync };
  const panel = h("div", {
    class: "analytics",
    dataset: { granularity: q.granularity, from: q.from, to: q.to, scope: opts.tenantId || "_all", path: opts.path },
  });
  panel.append(
    controls,
    h("p", { class: "muted" }, `${RANGES[range]}: ${periodLabel(series[0]?.period || "")} to ${periodLabel(series.at(-1)?.period || "")} (UTC).`),
    kpis(t),
  );

  const traffic = t.sends + t.verifications.approved + t.verifications.failed + t.verifications.expired + t.requests;
  if (traffic === 0) {
    panel.append(empty("No traffic in this range yet. Codes sent with POST /v1/otp/send show up here within seconds; pick a longer range to see older traffic."));
  } else {
    const volume = [
      { label: "Sends", key: "sends", values: series.map((s) => s.sends), color: COLORS.sends, fill: true },
      { label: "Approved", key: "approved", values: series.map((s) => s.verifications.approved), color: COLORS.approved },
      { label: "Wrong codes", key: "failed", values: series.map((s) => s.verifications.failed), color: COLORS.failed },
      { label: "Expired", key: "expired", values: series.map((s) => s.verifications.expired), color: COLORS.expired },
    ];
    const rates = [
      { label: "Conversion", values: series.map((s) => (s.conversion_rate == null ? null : s.conversion_rate * 100)), color: COLORS.conversion },
      { label: "Delivery success", values: series.map((s) => (s.delivery.success_rate == null ? null : s.delivery.success_rate * 100)), color: COLORS.delivery },
    ];
    const latency = LATENCY.map(([p, name]) => ({ label: name, values: series.map((s) => msValue(s.latency_ms[p])), color: COLORS[p] }));
    if (open) {
      panel.append(h("p", { class: "muted open-note" }, `The last period, ${periodLabel(series.at(-1).period)}, is still running: its figures are so far, shaded on the charts.`));
    }
    panel.append(h("div", { class: "charts" },
      timeChart("Codes over time", xs, volume, {
        ...common, name: "volume", format: (v) => num(v), integer: true,
        summary: `Sends ${num(t.sends)}, approved ${num(t.verifications.approved)}, wrong codes ${num(t.verifications.failed)}, expired ${num(t.verifications.expired)} in this range; figures per period are in the table below.`,
      }),
      timeChart("Conversion and delivery success (%)", xs, rates, {
        ...common, name: "rates", format: (v) => `${num(v)}%`, max: 100,
        summary: `Conversion ${pct(t.conversion_rate)}, delivery success ${pct(t.delivery.success_rate)} over the range.`,
      }),
      timeChart("Request latency percentiles (ms)", xs, latency, {
        ...common, name: "latency", format: (v) => num(v),
        summary: `Request latency over the range: median ${ms(t.latency_ms.p50)}, 90th percentile ${ms(t.latency_ms.p90)}, 95th percentile ${ms(t.latency_ms.p95)}, 99th percentile ${ms(t.latency_ms.p99)}.`,
      }),
    ));
  }
  // Conversion by SIM on the operators' analytics page only (the tenant pages stay as they were).
  panel.append(opts.tenants ? await conversionBlock(opts, q) : null, errorsTable(t.errors), periodTable(series, open));
  if (t.heatmap) panel.append(heatmapTable(t.heatmap));
  root.replaceChildren(panel);
}

// Conversion by SIM (operators; by country for a tenant's own path) over the same range: a bar per
// value (verified / sent), busiest first. A deployment without the route shows nothing.
async function conversionBlock(opts, q) {
  const admin = opts.path.startsWith("/v1/admin/");
  const by = admin ? "sim" : "country";
  const path = admin ? "/v1/admin/conversion" : "/v1/analytics/conversion";
  let data;
  try {
    data = await api("GET", `${path}${qs({ ...q, by, limit: 20 })}`);
  } catch {
    return null;
  }
  const id = nextId("conversion");
  const title = admin ? "Conversion by SIM" : "Conversion by country";
  const low = new Set((data.phones || []).filter((p) => p.low_conversion).map((p) => p.low_conversion.sim));
  const rows = data.rows.map((r) => h("tr", { dataset: { key: r.key } },
    h("td", {}, h("code", {}, r.key), low.has(r.key) ? h("span", { class: "muted" }, " (routed last)") : null),
    h("td", { class: "num" }, num(r.sent)),
    h("td", { class: "num" }, num(r.delivered)),
    h("td", { class: "num" }, num(r.verified)),
    h("td", {}, h("meter", { min: 0, max: 1, value: r.conversion ?? 0, "aria-label": `${r.key} conversion` }), ` ${pct(r.conversion)}`),
    h("td", { class: "num" }, r.ttv_p50_s == null ? "—" : `${num(r.ttv_p50_s)} s`),
    h("td", { class: "num" }, r.ttv_p90_s == null ? "—" : `${num(r.ttv_p90_s)} s`)));
  const body = rows.length
    ? table([admin ? "SIM" : "Country", "Sent", "Delivered", "Verified", "Conversion", "Time to verify, median", "p90"], rows,
      { caption: title, captionHidden: true, class: "conversion stack" })
    : empty("No codes in this range yet.");
  return h("div", { class: "conversion-block" }, h("h3", { id }, title), body);
}

function kpi(name, title, value, text, note) {
  return h("div", { class: "kpi", dataset: { kpi: name, value: JSON.stringify(value ?? null) } },
    h("span", { class: "kpi-title" }, title),
    h("span", { class: "kpi-value" }, text),
    note ? h("span", { class: "kpi-note" }, note) : null);
}

function kpis(t) {
  return h("div", { class: "kpis", role: "group", "aria-label": "Figures for the whole range" },
    kpi("sends", "Sends", t.sends, num(t.sends), `${num(t.verifications.resent)} resends`),
    kpi("approved", "Approved", t.verifications.approved, num(t.verifications.approved)),
    kpi("failed", "Wrong codes", t.verifications.failed, num(t.verifications.failed)),
    kpi("expired", "Expired", t.verifications.expired, num(t.verifications.expired)),
    kpi("conversion", "Conversion", t.conversion_rate, pct(t.conversion_rate), "approved / sent"),
    kpi("delivery", "Delivery success", t.delivery.success_rate, pct(t.delivery.success_rate),
      `${num(t.delivery.sent)} delivered, ${num(t.delivery.failed + t.delivery.expired)} not`),
    kpi("messages", "Direct messages", t.messages, num(t.messages)),
    kpi("requests", "API requests", t.requests, num(t.requests)),
    ...LATENCY.map(([p, name, note]) => kpi(p, `Latency, ${name.toLowerCase()}`, t.latency_ms[p], ms(t.latency_ms[p]), note)),
    // End users (by day or month, not by hour): new numbers add up over a range; the distinct
    // active and returning ones are per period (the table below).
    t.end_users ? kpi("users_new", "New end users", t.end_users.new, num(t.end_users.new), "numbers verified for the first time") : null,
  );
}

const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/** Sends by UTC weekday and hour over the range (`total.heatmap`), shaded by count. */
function heatmapTable(grid) {
  const top = Math.max(1, ...grid.flat());
  const rows = grid.map((row, d) => h("tr", { dataset: { weekday: WEEKDAYS[d] } },
    h("th", { scope: "row" }, WEEKDAYS[d]),
    // Four shades by share of the busiest cell (classes: the console's CSP allows no inline style).
    row.map((n) => h("td", { class: `num heat-${n ? Math.min(4, 1 + Math.floor((4 * n) / (top + 1))) : 0}` }, num(n)))));
  return h("details", { class: "heatmap" },
    h("summary", {}, "Sends by weekday and hour (UTC)"),
    table(["Day", ...Array.from({ length: 24 }, (_, i) => String(i))], rows,
      { caption: "Sends by weekday and hour (UTC)", captionHidden: true }));
}

function errorsTable(errors) {
  const rows = Object.entries(errors || {}).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const id = nextId("errors");
  const body = rows.length
    ? table(["Error", "Code", "Count"], rows.map(([code, n]) =>
      h("tr", { dataset: { code } }, h("td", {}, label("error", code)), h("td", {}, h("code", {}, code)), h("td", { class: "num" }, num(n)))),
    { caption: "Errors by code", captionHidden: true, class: "errors" })
    : empty("No errors in this range.");
  return h("div", { class: "errors-block" }, h("h3", { id }, "Errors by code"), body);
}

function periodTable(series, open) {
  const rows = series.map((s, i) => h("tr", { dataset: { period: s.period, open: open && i === series.length - 1 ? "true" : null } },
    h("th", { scope: "row" }, periodLabel(s.period), open && i === series.length - 1 ? h("span", { class: "muted" }, " (so far)") : null),
    h("td", { class: "num" }, num(s.sends)),
    h("td", { class: "num" }, num(s.verifications.approved)),
    h("td", { class: "num" }, num(s.verifications.failed)),
    h("td", { class: "num" }, num(s.verifications.expired)),
    h("td", { class: "num" }, pct(s.conversion_rate)),
    h("td", { class: "num" }, pct(s.delivery.success_rate)),
    LATENCY.map(([p]) => h("td", { class: "num" }, ms(s.latency_ms[p]))),
    s.end_users ? [h("td", { class: "num" }, num(s.end_users.active)), h("td", { class: "num" }, num(s.end_users.returning))] : null));
  const users = series.some((s) => s.end_users) ? ["Active end users", "Returning end users"] : [];
  return h("details", { class: "periods" },
    h("summary", {}, "Figures per period"),
    table(["Period (UTC)", "Sends", "Approved", "Wrong codes", "Expired", "Conversion", "Delivery", ...LATENCY.map(([, name]) => `Latency, ${name.toLowerCase()}`), ...users], rows,
      { caption: "Figures per period", captionHidden: true }));
}

/** The operators' analytics page: all tenants or one, with the tenant filter. */
export async function analyticsView(root, params, nav) {
  const list = await api("GET", "/v1/admin/tenants?limit=500");
  const tenants = list.items.map((t) => ({ id: t.id, name: t.name }));
  await renderAnalytics(root, {
    path: "/v1/admin/analytics",
    range: params.get("range") || "24h",
    tenantId: params.get("tenant") || "",
    tenants,
    onChange: (p, force) => nav(`analytics${qs({ range: p.range, tenant: p.tenant })}`, force),
  });
}
