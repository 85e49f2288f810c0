// Abuse protection, service-wide: the high-risk number ranges (satellite, international networks,
// premium rate, freephone...) are denied to every tenant unless relaxed here or per tenant, and what
// each tenant's protection is set to. A tenant's own allowlist, relaxations, fraud-guard level and
// share of the phones are in its settings; its blocks are on its page.
import { api } from "../api.js";
import { h, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { num } from "../format.js";

export async function abuseView(root, params, nav, ui) {
  const [geo, tenants] = await Promise.all([api("GET", "/v1/admin/geo"), api("GET", "/v1/admin/tenants?limit=500")]);
  // replaceChildren takes nodes and strings: a missing flash must not become the text "null".
  root.replaceChildren(...[
    h("h2", { tabindex: "-1" }, "Abuse protection"),
    ui.takeFlash(),
    geoSection(geo, nav, ui),
    tenantsSection(tenants.items),
  ].filter(Boolean));
}

function geoSection(geo, nav, ui) {
  const boxes = geo.ranges.map((r) => h("input", { type: "checkbox", name: r.range, checked: r.allowed }));
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", {
    id: "geo-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const allowed = boxes.filter((b) => b.checked).map((b) => b.name);
      try {
        await api("PUT", "/v1/admin/geo", { allowed_ranges: allowed });
        ui.flash = h("p", { class: "form-msg", role: "status" }, "Saved.");
        nav("abuse", true);
      } catch (err) {
        msg.textContent = `Not saved: ${err.message}`;
        msg.className = "form-msg error";
      }
    },
  },
  h("fieldset", { class: "grid-form ranges" }, h("legend", {}, "Allowed for every tenant"),
    geo.ranges.map((r, i) => h("div", { class: "field check", dataset: { range: r.range } },
      h("label", {}, boxes[i], " ", label("range", r.range))))),
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Save geo permissions")), msg);
  return section("High-risk ranges",
    h("p", { class: "muted" }, "SMS to these ranges cost the most and are where SMS pumping goes, so every tenant is refused them (403 geo_blocked, nothing charged) unless they are ticked here, or allowed in a tenant's settings. Countries are all allowed unless a tenant lists its own."),
    form);
}

function tenantsSection(items) {
  const rows = items.map((t) => {
    const s = t.settings || {};
    const g = s.geo || {};
    return h("tr", { dataset: { id: t.id } },
      h("td", { class: "name" }, h("a", { href: `#/tenants/${encodeURIComponent(t.id)}` }, t.name)),
      h("td", {}, label("level", s.fraud_guard || "standard")),
      h("td", {}, g.allowed_countries && g.allowed_countries.length ? g.allowed_countries.join(", ") : "all"),
      h("td", {}, g.allowed_ranges && g.allowed_ranges.length ? g.allowed_ranges.map((r) => label("range", r)).join("; ") : "none"),
      h("td", {}, s.allow_voip ? "yes" : "no"),
      h("td", {}, num(s.share_weight || 1)));
  });
  return section("Tenants",
    rows.length
      ? table(["Tenant", "Fraud guard", "Countries", "High-risk ranges", "VoIP", "Share weight"], rows, { caption: "Each tenant's abuse protection", captionHidden: true, class: "abuse stack" })
      : empty("No tenants yet."));
}
