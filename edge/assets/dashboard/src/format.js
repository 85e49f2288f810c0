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

/** A latency from the API: a bucket bound in ms, or the text for the last bucket. */
export function ms(v) {
  if (v == null) return "—";
  if (typeof v === "string") return v.startsWith("slower than") ? `> ${integer.format(Number(v.replace(/\D/g, "")))} ms` : v;
  return `≤ ${integer.format(v)} ms`;
}

/** A latency as a number for charts: the last bucket ("slower than 5000") plots at its bound. */
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

/** `+14155550123` -> `+1415•••0123`; the API's own mask (`+1415*****23`) -> `+1415•••23`. */
export function maskPhone(p) {
  if (p == null || p === "") return "—";
  const s = String(p);
  if (/[*•]/.test(s)) return s.replace(/[*•]+/g, "•••");
  const digits = s.replace(/[^\d+]/g, "");
  if (digits.length < 8) return "•••";
  const front = digits.length >= 11 ? 5 : 3;
  return `${digits.slice(0, front)}•••${digits.slice(-4)}`;
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

/** The same period as a short human text. */
export function periodLabel(p) {
  const s = String(p ?? "");
  if (!/^\d{6,10}$/.test(s)) return "—";
  const d = new Date(periodSeconds(s) * 1000);
  if (s.length >= 10) return `${dateOnly.format(d)} ${s.slice(8, 10)}:00`;
  if (s.length >= 8) return dateOnly.format(d);
  return new Intl.DateTimeFormat(LOCALE, { year: "numeric", month: "long", timeZone: "UTC" }).format(d);
}
