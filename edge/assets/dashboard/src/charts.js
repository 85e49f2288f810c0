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

/**
 * A line chart over time.
 * @param {string} title visible heading and accessible name
 * @param {number[]} xs unix seconds
 * @param {{label:string, values:(number|null)[], color:string, fill?:boolean}[]} series
 * @param {{format:(v:number)=>string, max?:number, summary:string}} opts
 */
export function timeChart(title, xs, series, opts) {
  const points = series.reduce((n, s) => n + s.values.filter((v) => v != null).length, 0);
  const box = h("div", { class: "chart", dataset: { points: String(points), chart: opts.name || title } });
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
  const plot = new uPlot(
    {
      width,
      height,
      tzDate: utc,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: { y: { range: (u, min, max) => [0, Math.max(opts.max || 0, max || 0, opts.minMax || 1)] } },
      axes: [
        { stroke: "#4b5563", grid: { stroke: "#e6e8ec" } },
        {
          stroke: "#4b5563", grid: { stroke: "#e6e8ec" }, size: 56, values: (u, vals) => vals.map((v) => fmt(v)),
          // Counts tick on whole numbers only.
          ...(opts.integer ? { incrs: INTEGER_STEPS } : {}),
        },
      ],
      series: [
        { label: "Time (UTC)" },
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
