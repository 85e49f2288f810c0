// Time-series charts with uPlot (bundled from npm; it draws on a canvas and styles elements through
// the CSSOM, which the page's CSP allows). Times are UTC, like the API's periods.
import uPlot from "uplot";
import { h } from "./dom.js";

export const COLORS = {
  sends: "#2f6fed",
  approved: "#1b8a3a",
  failed: "#c2410c",
  expired: "#7c3aed",
  conversion: "#0f766e",
  delivery: "#b45309",
  p50: "#2f6fed",
  p90: "#0f766e",
  p95: "#b45309",
  p99: "#b3261e",
};

const live = new Set();
const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

/** Tears down every chart (on navigation): uPlot instances and their resize observers. */
export function destroyCharts() {
  for (const c of live) {
    c.observer.disconnect();
    c.plot.destroy();
  }
  live.clear();
}

const utc = (ts) => uPlot.tzDate(new Date(ts * 1000), "Etc/UTC");

/** The fill of the current, unfinished period (drawn behind the lines). */
export const OPEN_FILL = "#e8ebf1";

/**
 * A line chart over time.
 * @param {string} title visible heading and accessible name
 * @param {number[]} xs unix seconds
 * @param {{label:string, values:(number|null)[], color:string, fill?:boolean}[]} series
 * @param {{format:(v:number)=>string, max?:number, summary:string, name?:string, integer?:boolean,
 *          xLabel:(ts:number)=>string, open?:boolean, sync?:string}} opts
 *   xLabel: the hover's text for a period (a day has no time of day); open: the last period is
 *   still running (shaded and marked "so far", so a partial count never reads as a collapse);
 *   sync: charts with the same key share one cursor.
 */
export function timeChart(title, xs, series, opts) {
  const points = series.reduce((n, s) => n + s.values.filter((v) => v != null).length, 0);
  const box = h("div", { class: "chart", dataset: { points: String(points), chart: opts.name || title, open: opts.open ? String(xs.at(-1)) : null } });
  const figure = h("figure", { class: "chart-figure" },
    h("figcaption", {}, title),
    h("p", { class: "visually-hidden" }, opts.summary),
    box);
  // uPlot needs pixel sizes; it is drawn once the box is in the document and has a width.
  requestAnimationFrame(() => draw(box, xs, series, opts, 0));
  return figure;
}

function draw(box, xs, series, opts, tries) {
  if (!box.isConnected) {
    // Views are put into the page once all their data is in; wait for that (a few seconds at most).
    if (tries < 300) requestAnimationFrame(() => draw(box, xs, series, opts, tries + 1));
    return;
  }
  const width = Math.max(240, box.clientWidth || 600);
  const height = width < 500 ? 180 : 220;
  const fmt = opts.format || String;
  const xLabel = opts.xLabel || ((ts) => new Date(ts * 1000).toISOString());
  const open = opts.open && xs.length > 0;
  const last = xs.length - 1;
  // Half a period of room after the last point, so the open period's band has a width.
  const step = xs.length > 1 ? xs[last] - xs[last - 1] : 3600;
  const plot = new uPlot(
    {
      width,
      height,
      tzDate: utc,
      cursor: { drag: { x: false, y: false }, ...(opts.sync ? { sync: { key: opts.sync } } : {}) },
      legend: { live: true },
      scales: {
        x: { time: true, range: (u, min, max) => [min - step / 2, max + step / 2] },
        y: { range: (u, min, max) => [0, Math.max(opts.max || 0, max || 0, opts.minMax || 1)] },
      },
      axes: [
        { stroke: "#4b5563", grid: { stroke: "#e6e8ec" } },
        {
          stroke: "#4b5563", grid: { stroke: "#e6e8ec" }, size: 56, values: (u, vals) => vals.map((v) => fmt(v)),
          // Counts tick on whole numbers only.
          ...(opts.integer ? { incrs: INTEGER_STEPS } : {}),
        },
      ],
      series: [
        { label: "Period (UTC)", value: (u, ts) => (ts == null ? "—" : `${xLabel(ts)}${open && ts === xs[last] ? " (so far)" : ""}`) },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: s.fill ? `${s.color}22` : undefined,
          points: { show: true, size: 5, fill: s.color },
          spanGaps: false,
          value: (u, v) => (v == null ? "—" : fmt(v)),
        })),
      ],
      hooks: open ? { drawClear: [(u) => shadeOpen(u, xs[last], step)], draw: [(u) => markOpen(u, xs[last], series.map((x) => x.color))] } : {},
    },
    [xs, ...series.map((s) => s.values)],
    box,
  );
  const observer = new ResizeObserver(() => {
    const w = Math.max(240, box.clientWidth);
    if (Math.abs(w - plot.width) > 2) plot.setSize({ width: w, height: w < 500 ? 180 : 220 });
  });
  observer.observe(box);
  live.add({ plot, observer });
  box.dataset.drawn = "true";
}

/** Shades the running period (from half-way to its point to the right edge) behind the lines. */
function shadeOpen(u, x, step) {
  const { ctx, bbox } = u;
  const from = Math.max(bbox.left, u.valToPos(x - step / 2, "x", true));
  ctx.save();
  ctx.fillStyle = OPEN_FILL;
  ctx.fillRect(from, bbox.top, bbox.left + bbox.width - from, bbox.height);
  ctx.restore();
}

/** "so far" over the running period, and its points hollow: a partial count, not a fall. */
function markOpen(u, x, colors) {
  const { ctx, bbox } = u;
  const px = u.valToPos(x, "x", true);
  const dpr = window.devicePixelRatio || 1;
  ctx.save();
  ctx.font = `${11 * dpr}px system-ui, sans-serif`;
  ctx.fillStyle = "#4b5563";
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText("so far", Math.min(px, bbox.left + bbox.width - 18 * dpr), bbox.top + 2 * dpr);
  u.series.forEach((s, i) => {
    if (i === 0 || !s.show) return;
    const v = u.data[i][u.data[i].length - 1];
    if (v == null) return;
    ctx.beginPath();
    ctx.arc(px, u.valToPos(v, "y", true), 3.5 * dpr, 0, 2 * Math.PI);
    ctx.fillStyle = "#fff";
    ctx.fill();
    ctx.lineWidth = 2 * dpr;
    ctx.strokeStyle = colors[i - 1];
    ctx.stroke();
  });
  ctx.restore();
}
