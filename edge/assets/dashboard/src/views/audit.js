// The audit log: every admin action, newest first, each with a label, the tenant's name where the
// target is one, a one-line summary of what changed, and the full details on demand (the API masks
// any number in them). Filtered on the page by action and by text (target, actor, summary).
import { api } from "../api.js";
import { h, field, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { when, num, plural } from "../format.js";

export async function auditView(root) {
  const [audit, tenants] = await Promise.all([
    api("GET", "/v1/admin/audit?limit=500"),
    api("GET", "/v1/admin/tenants?limit=500"),
  ]);
  const names = new Map(tenants.items.map((t) => [t.id, t.name]));
  root.replaceChildren(section("Audit log",
    h("p", { class: "muted" }, "The 500 newest actions of operators and of the service itself. A tenant's own entries are also on its page."),
    auditTable(audit.items, { names, target: true, caption: "Audit log" })));
}

/** The entries as a filterable table; `target`: show the target column (the global log). */
export function auditTable(items, { names = new Map(), target = false, caption = "Audit entries" } = {}) {
  if (!items.length) return empty("Nothing audited yet: creating a tenant, changing settings or running the scheduled job is recorded here.");
  const sorted = [...items].sort((a, b) => (b.at_ms || 0) - (a.at_ms || 0));
  const rows = sorted.map((e) => {
    const text = summary(e, names);
    const tgt = targetText(e, names);
    const tr = h("tr", { dataset: { action: e.action, search: `${tgt} ${e.target} ${e.actor} ${text} ${actionLabel(e.action)}`.toLowerCase() } },
      h("td", { class: "when" }, when(e.at_ms || e.at)),
      h("td", { class: "action" }, actionLabel(e.action)),
      target ? h("td", { class: "target" }, names.has(e.target)
        ? h("a", { href: `#/tenants/${encodeURIComponent(e.target)}` }, names.get(e.target))
        : h("code", {}, tgt)) : null,
      h("td", {}, h("code", {}, e.actor)),
      h("td", { class: "summary" }, h("span", { class: "summary-text" }, text),
        e.details == null || (typeof e.details === "object" && !Object.keys(e.details).length) ? null
          : h("details", { class: "raw" }, h("summary", {}, "Details"), h("pre", {}, JSON.stringify(e.details, null, 2)))));
    return tr;
  });
  const actions = [...new Set(sorted.map((e) => e.action))].sort((a, b) => actionLabel(a).localeCompare(actionLabel(b)));
  const pick = h("select", { name: "action" }, h("option", { value: "" }, "All actions"),
    actions.map((a) => h("option", { value: a }, actionLabel(a))));
  const search = h("input", { type: "search", name: "q", autocomplete: "off", placeholder: "Tenant, key, phone…" });
  const count = h("p", { class: "muted count", role: "status" }, plural(rows.length, "entry", "entries"));
  const apply = () => {
    const q = search.value.trim().toLowerCase();
    let shown = 0;
    for (const r of rows) {
      r.hidden = (pick.value && r.dataset.action !== pick.value) || (q !== "" && !r.dataset.search.includes(q));
      if (!r.hidden) shown++;
    }
    count.textContent = shown === rows.length ? plural(rows.length, "entry", "entries") : `${num(shown)} of ${plural(rows.length, "entry", "entries")}`;
  };
  pick.addEventListener("change", apply);
  search.addEventListener("input", apply);
  const heads = ["When", "Action", ...(target ? ["Target"] : []), "By", "What"];
  return h("div", { class: "audit-log" },
    h("form", { class: "controls", role: "search", onsubmit: (e) => e.preventDefault() },
      field("Action", pick), field("Search", search), count),
    table(heads, rows, { caption, captionHidden: true, class: "audit stack" }));
}

/** An action's label; one the console does not know yet still reads as words, not a code. */
export function actionLabel(a) {
  const l = label("action", a);
  if (l !== a) return l;
  const [what, verb] = String(a).split(".");
  const words = (s) => s.replace(/_/g, " ");
  return verb ? `${words(what)[0].toUpperCase()}${words(what).slice(1)}: ${words(verb)}` : `${words(what)[0].toUpperCase()}${words(what).slice(1)}`;
}

function targetText(e, names) {
  if (names.has(e.target)) return names.get(e.target);
  return e.target === "*" ? "whole service" : String(e.target ?? "");
}

const words = (k) => String(k).replace(/_/g, " ");
const scalar = (v) => v == null || ["string", "number", "boolean"].includes(typeof v);
const show = (v) => (typeof v === "boolean" ? (v ? "yes" : "no") : typeof v === "number" ? num(v) : String(v));

/** Paths of the leaves of a merge patch: `settings.ttl_secs`, `name`. */
function leaves(o, prefix = "") {
  if (o == null || typeof o !== "object" || Array.isArray(o)) return [prefix];
  return Object.entries(o).flatMap(([k, v]) => leaves(v, prefix ? `${prefix}.${k}` : k));
}

/** One readable line for an entry's details. */
export function summary(e, names = new Map()) {
  const d = e.details;
  if (d == null) return "—";
  if (typeof d !== "object") return show(d);
  switch (e.action) {
    case "tenant.create":
      return [d.name && `“${d.name}”`, d.quota != null && `quota ${num(d.quota)}`, d.contact_phone && `contact ${d.contact_phone.replace(/\*+/g, "•••")}`].filter(Boolean).join(", ") || "—";
    case "tenant.update":
      return `Changed ${leaves(d).map((p) => words(p.replace(/^settings\./, "").replace(/\./g, " › "))).join(", ")}`;
    case "fraud.block":
      return `Paused ${String(d.key || d.watched || "").replace(/^[a-z]+:/, "")}${d.kind ? ` (${words(d.kind)})` : ""}: ${num(d.sends)} sent, ${num(d.approved)} verified`;
    case "cron.run": return cronSummary(d);
    case "gateway.kill_switch":
      return `${d.engaged ? "Engaged" : "Cleared"}${d.reason ? `: ${d.reason}` : ""}`;
    default: {
      const parts = Object.entries(d).map(([k, v]) => {
        if (scalar(v)) return v == null || v === "" ? null : `${words(k)} ${show(v)}`;
        if (Array.isArray(v)) return `${words(k)}: ${plural(v.length, "item")}`;
        return null;
      }).filter(Boolean);
      const line = parts.join("; ");
      return line.length > 140 ? `${line.slice(0, 139)}…` : line || "See details";
    }
  }
}

/** The scheduled job's run: what it did, in a line (the JSON is behind "Details"). */
function cronSummary(d) {
  const out = [];
  const gws = Array.isArray(d.gateways) ? d.gateways : null;
  if (gws) out.push(`${plural(gws.length, "phone")} checked, ${num(gws.filter((g) => g.reachable).length)} reachable`);
  if (d.tenants != null) out.push(plural(d.tenants, "tenant"));
  if (d.notices_sent) out.push(plural(d.notices_sent, "notice"));
  if (d.verifications_expired) out.push(`${plural(d.verifications_expired, "code")} expired`);
  if (d.purged && typeof d.purged === "object") {
    const n = Object.values(d.purged).reduce((a, b) => a + (Number(b) || 0), 0);
    if (n) out.push(`${num(n)} old records purged`);
  }
  if (d.store_error) out.push(`store error: ${d.store_error}`);
  return out.join("; ") || "Nothing to do";
}
