// Formatting: numbers, rates, latencies, times (UTC, like the API's periods) and masked phones.

const LOCALE = undefined; // the browser's
const integer = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 0 });
const percent = new Intl.NumberFormat(LOCALE, { style: "percent", maximumFractionDigits: 1 });
const dateTime = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeStyle: "short", timeZone: "UTC" });
const dateOnly = new Intl.DateTimeFormat(LOCALE, { dateStyle: "medium", timeZone: "UTC" });

export const num = (n) => (n == null || Number.isNaN(Number(n)) ? "—" : integer.format(Number(n)));

/** `3 checks`, `1 check`. */
export const plural = (n, one, many = `${one}s`) => `${num(n)} ${Number(n) === 1 ? one : many}`;

/** A ratio 0..1 (the API's rates) as a percentage; null (no denominator) as a dash. */
export const pct = (r) => (r == null ? "—" : percent.format(Number(r)));

const decimal = new Intl.NumberFormat(LOCALE, { maximumFractionDigits: 1 });

/** A latency percentile from the API: milliseconds (a value read from a fine histogram), or
 * "slower than 60000" when it lies above the histogram's top. */
export function ms(v) {
  if (v == null) return "—";
  if (typeof v === "string") return v.startsWith("slower than") ? `> ${integer.format(Number(v.replace(/\D/g, "")))} ms` : v;
  return `${decimal.format(v)} ms`;
}

/** A latency as a number for charts: "slower than N" plots at N. */
export function msValue(v) {
  if (v == null) return null;
  if (typeof v === "number") return v;
  const n = Number(String(v).replace(/\D/g, ""));
  return Number.isFinite(n) && n > 0 ? n : null;
}

/** Milliseconds or an ISO time, in UTC. */
export function when(t) {
  if (t == null || t === "") return "—";
  const d = new Date(typeof t === "number" ? t : String(t));
  return Number.isNaN(d.getTime()) ? String(t) : `${dateTime.format(d)} UTC`;
}

export function day(t) {
  if (!t) return "—";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : dateOnly.format(d);
}

/** A number as the API masks it (one rule, `Phone::masked` on the edge: `+1415*****23`), drawn
 * with a bullet run: `+1415•••23`. The console never masks on its own, so a reply and the
 * message it answers read the same; a whole number that reaches here is never shown. */
export function maskPhone(p) {
  if (p == null || p === "") return "—";
  const s = String(p);
  return /[*•]/.test(s) ? s.replace(/[*•]+/g, "•••") : "•••";
}

/** A period of the analytics series (`2026112510`, `20261125`, `202611`) as unix seconds (UTC). */
export function periodSeconds(p) {
  const s = String(p);
  const y = +s.slice(0, 4);
  const m = s.length >= 6 ? +s.slice(4, 6) - 1 : 0;
  const d = s.length >= 8 ? +s.slice(6, 8) : 1;
  const hh = s.length >= 10 ? +s.slice(8, 10) : 0;
  return Date.UTC(y, m, d, hh) / 1000;
}

/** Whether `p` (a period of the series) is still running at `now`: its figures are partial. */
export function periodOpen(p, now = Date.now()) {
  const s = String(p);
  const start = periodSeconds(s) * 1000;
  const d = new Date(start);
  const end = s.length >= 10 ? start + 3600e3
    : s.length >= 8 ? start + 86400e3
      : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  return start <= now && now < end;
}

/** The same period as a short human text. */
export function periodLabel(p) {
  const s = String(p ?? "");
  if (!/^\d{6,10}$/.test(s)) return "—";
  const d = new Date(periodSeconds(s) * 1000);
  if (s.length >= 10) return `${dateOnly.format(d)} ${s.slice(8, 10)}:00`;
  if (s.length >= 8) return dateOnly.format(d);
  return new Intl.DateTimeFormat(LOCALE, { year: "numeric", month: "long", timeZone: "UTC" }).format(d);
}
