// Tenants: the list with a filter, the create form (the new key is shown once), row actions.
import { api } from "../api.js";
import { h, field, empty, section, labelCells } from "../dom.js";
import { label } from "../labels.js";
import { num, day, maskPhone } from "../format.js";

/** A box that shows a new API key once, with a copy button. */
export function keyBox(title, key, note) {
  const copy = h("button", {
    type: "button", class: "secondary",
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(key);
        copy.textContent = "Copied";
      } catch {
        copy.textContent = "Select the key and copy it";
      }
    },
  }, "Copy");
  return h("div", { class: "key-box", role: "status", id: "new-key" },
    h("p", {}, h("strong", {}, title), " ", note || "Shown once: copy it now and give it to the tenant; it cannot be shown again."),
    h("code", { class: "key" }, key), " ", copy);
}

export async function tenantsView(root, params, nav, ui) {
  const list = await api("GET", "/v1/admin/tenants?limit=500");
  const items = list.items;

  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", autocomplete: "off" });
  const quota = h("input", { type: "number", name: "quota", min: "0", max: "100000000", required: true, inputmode: "numeric" });
  const expires = h("input", { type: "date", name: "expires_at" });
  const contact = h("input", { type: "tel", name: "contact_phone", placeholder: "+14155550123", autocomplete: "off" });
  const created = h("div", { class: "created" });
  const createForm = h("form", {
    id: "create-form", class: "grid-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { name: name.value, quota: Number(quota.value) };
      if (expires.value) body.expires_at = expires.value;
      if (contact.value.trim()) body.contact_phone = contact.value.trim();
      try {
        const t = await api("POST", "/v1/admin/tenants", body);
        ui.flash = keyBox(`API key for ${t.name}:`, t.api_key);
        nav(`tenants/${t.id}`);
      } catch (err) {
        created.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
      }
    },
  },
  field("Name", name), field("Quota (messages)", quota), field("Plan expires (optional)", expires),
  field("Contact phone (optional)", contact, "Gets the welcome and quota notices by SMS."),
  h("div", { class: "field actions" }, h("button", { type: "submit" }, "Create tenant")), created);

  const filter = h("input", { type: "search", placeholder: "Name or id", autocomplete: "off" });
  const tbody = h("tbody");
  const rows = items.map((t) => {
    const act = async (what) => {
      try {
        await api("POST", `/v1/admin/tenants/${encodeURIComponent(t.id)}/${what}`, {});
        nav("tenants", true);
      } catch (err) { ui.error(err); }
    };
    return h("tr", { dataset: { id: t.id, search: `${t.name} ${t.id}`.toLowerCase() } },
      h("td", { class: "name" }, h("a", { href: `#/tenants/${encodeURIComponent(t.id)}` }, t.name)),
      h("td", { class: "id" }, h("code", {}, t.id)),
      h("td", { dataset: { status: t.status } }, h("span", { class: `badge ${t.status}` }, label("state", t.status)),
        t.kill_switch ? h("span", { class: "badge down" }, "sending stopped") : null),
      h("td", { class: "num" }, num(t.quota)),
      h("td", {}, t.expires_at ? day(t.expires_at) : "no expiry"),
      h("td", { class: "phone" }, maskPhone(t.contact_phone_masked)),
      h("td", {}, t.status === "suspended"
        ? h("button", { type: "button", class: "secondary", onclick: () => act("resume") }, "Resume")
        : h("button", { type: "button", class: "secondary", onclick: () => act("suspend") }, "Suspend")));
  });
  tbody.append(...rows);
  filter.addEventListener("input", () => {
    const q = filter.value.trim().toLowerCase();
    for (const r of rows) r.hidden = q !== "" && !r.dataset.search.includes(q);
  });

  const tbl = h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Tenants" },
    labelCells(h("table", { id: "tenants", class: "stack" },
      h("thead", {}, h("tr", {}, ["Name", "Id", "Status", "Quota", "Expires", "Contact", ""].map((x) => h("th", { scope: "col" }, x)))),
      tbody)));

  root.replaceChildren(
    section("New tenant", createForm),
    section("Tenants",
      items.length ? field("Filter", filter) : null,
      list.next_cursor ? h("p", { class: "muted" }, `Showing the first ${num(items.length)} tenants.`) : null,
      items.length ? tbl : empty("No tenants yet. Create the first one with the form above; its API key is shown once.")),
  );
}
