// The audit log: every admin action, newest first, with the tenant's name where the target is one.
import { api } from "../api.js";
import { h, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { when } from "../format.js";
import { maskPhones } from "./tenant.js";

export async function auditView(root) {
  const [audit, tenants] = await Promise.all([
    api("GET", "/v1/admin/audit?limit=200"),
    api("GET", "/v1/admin/tenants?limit=500"),
  ]);
  const names = new Map(tenants.items.map((t) => [t.id, t.name]));
  const rows = audit.items.map((e) => h("tr", { dataset: { action: e.action } },
    h("td", {}, when(e.at_ms || e.at)),
    h("td", {}, label("action", e.action)),
    h("td", {}, names.has(e.target)
      ? h("a", { href: `#/tenants/${encodeURIComponent(e.target)}` }, names.get(e.target))
      : h("code", {}, e.target === "*" ? "whole service" : e.target)),
    h("td", {}, h("code", {}, e.actor)),
    h("td", { class: "details" }, e.details == null ? "—" : maskPhones(JSON.stringify(e.details)))));
  root.replaceChildren(section("Audit log",
    h("p", { class: "muted" }, "The 200 newest admin actions. A tenant's own entries are on its page."),
    rows.length
      ? table(["When", "Action", "Target", "By", "Details"], rows, { caption: "Audit log", captionHidden: true, class: "audit" })
      : empty("Nothing audited yet: creating a tenant, changing settings or running the scheduled job is recorded here.")));
}
