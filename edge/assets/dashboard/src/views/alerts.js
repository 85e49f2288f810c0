// Operator alerts: where they go (an operator phone, a Slack- or Discord-compatible webhook), a
// test, and the incidents (each told once when it opens and once when it clears).
import { api } from "../api.js";
import { h, field, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { when, maskPhone } from "../format.js";

export async function alertsView(root, params, nav, ui) {
  const a = await api("GET", "/v1/admin/alerts");
  const cfg = a.config || {};
  const phone = h("input", { type: "tel", name: "phone", autocomplete: "off", placeholder: "leave empty to keep" });
  const clearPhone = h("input", { type: "checkbox", name: "clear_phone" });
  const hook = h("input", { type: "url", name: "webhook_url", maxlength: "2000", value: cfg.webhook_url || "", placeholder: "https://hooks.slack.com/services/…" });
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", {
    id: "alerts-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { webhook_url: hook.value.trim() || null };
      if (clearPhone.checked) body.phone = null;
      else if (phone.value.trim()) body.phone = phone.value.trim();
      try {
        await api("PATCH", "/v1/admin/alerts", body);
        ui.flash = h("p", { class: "form-msg", role: "status" }, "Alert channels saved.");
        nav("alerts", true);
      } catch (err) {
        msg.textContent = `Not saved: ${err.message}`;
        ui.error(err);
      }
    },
  },
  h("fieldset", { class: "grid-form" }, h("legend", {}, "Channels"),
    field(`Operator phone (now ${maskPhone(cfg.phone)})`, phone, "SMS through the phones, as notices are"),
    h("div", { class: "field check" }, h("label", {}, clearPhone, " Remove the operator phone")),
    field("Webhook URL", hook, "Slack or Discord incoming webhook (JSON with text and content)")),
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Save channels")), msg);

  const testOut = h("p", { class: "form-msg", role: "status", id: "alert-test-out" });
  const test = h("button", {
    type: "button", class: "secondary", id: "alert-test",
    onclick: async () => {
      try {
        const r = await api("POST", "/v1/admin/alerts/test", {});
        testOut.textContent = r.delivered_to.length ? `Delivered to: ${r.delivered_to.join(", ")}.` : "No channel took it.";
      } catch (err) { testOut.textContent = err.message; }
    },
  }, "Send a test alert");

  const incidents = a.incidents || [];
  root.replaceChildren(
    section("Alerts", ui.takeFlash(), h("p", { class: "muted" }, "Told once when an incident opens (a phone down, a kill switch tripped, the store unreachable, a webhook endpoint disabled…) and once, with a summary, when it clears."), form, h("div", { class: "button-row" }, test), testOut),
    section("Incidents", incidents.length
      ? table(["Opened", "Alert", "Subject", "State", "Cleared", "Raised", "Told"], incidents.map((i) => h("tr", { dataset: { id: i.id, state: i.state } },
        h("td", {}, when(i.opened_at)),
        h("td", {}, label("alert", i.kind)),
        h("td", {}, h("code", {}, i.subject)),
        h("td", {}, h("span", { class: `badge ${i.state === "open" ? "down" : "up"}` }, i.state === "open" ? "Open" : "Cleared")),
        h("td", {}, when(i.cleared_at)),
        h("td", { class: "num" }, String(i.raises)),
        h("td", {}, (i.notified || []).join(", ") || "—"))), { caption: "Incidents", captionHidden: true, class: "incidents" })
      : empty("No incidents yet.")));
}
