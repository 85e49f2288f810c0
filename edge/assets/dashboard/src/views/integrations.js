// A tenant's integrations, in its own view: webhook endpoints (register, the secret shown once,
// enable/disable, remove, deliveries with every attempt, replay), replies it received, and its
// opt-out list. The opt-out panel is also on an operator's tenant page (admin routes).
import { api, qs } from "../api.js";
import { h, field, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { when, maskPhone } from "../format.js";
import { keyBox } from "./tenants.js";

export const EVENT_TYPES = [
  "message.queued", "message.sent", "message.failed", "message.expired", "message.unknown",
  "verification.approved", "verification.expired", "verification.max_attempts", "sms.received", "optout.added",
];

/** The webhooks panel. */
export async function webhooksSection(reload, ui) {
  const out = h("div", { class: "action-out", id: "webhook-secret" });
  const url = h("input", { type: "url", name: "url", required: true, placeholder: "https://example.com/otp-events", maxlength: "2000" });
  const desc = h("input", { type: "text", name: "description", maxlength: "200" });
  const boxes = EVENT_TYPES.map((t) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "events", value: t, checked: true }), ` ${label("event_type", t)}`));
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", {
    id: "webhook-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const events = [...form.querySelectorAll("input[name=events]:checked")].map((c) => c.value);
      try {
        const r = await api("POST", "/v1/webhooks", { url: url.value.trim(), events, description: desc.value.trim() });
        out.replaceChildren(keyBox(`Signing secret of ${r.url}:`, r.secret,
          "Shown once: copy it into your receiver. Verify each request with a Standard Webhooks library (webhook-id, webhook-timestamp, webhook-signature)."));
        url.value = "";
        msg.textContent = "Endpoint registered.";
        await redraw();
      } catch (err) {
        msg.textContent = `Not registered: ${err.message}`;
        ui.error(err);
      }
    },
  },
  h("fieldset", { class: "grid-form" }, h("legend", {}, "New endpoint"), field("URL", url), field("Description (optional)", desc)),
  h("fieldset", { class: "events-pick" }, h("legend", {}, "Events"), boxes),
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Register endpoint")), msg);

  const box = h("div", { id: "webhook-list" });
  async function redraw() {
    const items = (await api("GET", "/v1/webhooks")).items;
    box.replaceChildren(items.length
      ? h("div", { class: "cards wide" }, items.map((e) => endpointCard(e, redraw, ui)))
      : empty("No endpoints yet. Register one to be told of each message's delivery, verifications, replies and opt-outs instead of polling."));
  }
  await redraw();
  return section("Webhooks", h("p", { class: "muted" }, "Events are pushed to your endpoints, signed as the Standard Webhooks specification says, retried with back-off for a day; an endpoint failing for a day is disabled and you are told."), box, out, form);
}

function endpointCard(e, redraw, ui) {
  const state = !e.enabled ? "disabled" : e.failing_since ? "failing" : "enabled";
  const deliveries = h("div", { class: "deliveries" });
  const act = (fn) => async () => {
    try { await fn(); await redraw(); } catch (err) { ui.error(err); }
  };
  let armed = false;
  const del = h("button", {
    type: "button", class: "danger",
    onclick: async () => {
      if (!armed) { armed = true; del.textContent = "Press again to remove"; return; }
      await act(() => api("DELETE", `/v1/webhooks/${encodeURIComponent(e.id)}`))();
    },
  }, "Remove…");
  const show = h("button", {
    type: "button", class: "secondary",
    onclick: async () => {
      try {
        const d = await api("GET", `/v1/webhooks/${encodeURIComponent(e.id)}/deliveries?limit=20`);
        deliveries.replaceChildren(deliveriesTable(e, d.items, redraw, ui));
      } catch (err) { ui.error(err); }
    },
  }, "Show deliveries");
  return h("article", { class: `card webhook ${state}`, dataset: { webhook: e.id, state }, "aria-label": `Endpoint ${e.url}` },
    h("header", { class: "card-head" },
      h("h3", {}, h("code", {}, e.url)),
      h("span", { class: `badge ${state === "enabled" ? "up" : "down"}` }, state === "enabled" ? "Enabled" : state === "failing" ? `Failing since ${when(e.failing_since)}` : "Disabled")),
    e.disabled_reason ? h("p", { class: "muted" }, `Disabled: ${e.disabled_reason}`) : null,
    h("p", { class: "muted" }, e.events.map((t) => label("event_type", t)).join(", ")),
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "secondary", onclick: act(() => api("PATCH", `/v1/webhooks/${encodeURIComponent(e.id)}`, { enabled: !e.enabled })) }, e.enabled ? "Disable" : "Enable"),
      show, del),
    deliveries);
}

function deliveriesTable(e, items, redraw, ui) {
  if (!items.length) return empty("No deliveries yet.");
  const replay = (eventId) => async () => {
    try {
      await api("POST", `/v1/webhooks/${encodeURIComponent(e.id)}/replay`, { event_ids: [eventId] });
      await redraw();
    } catch (err) { ui.error(err); }
  };
  return table(["When", "Event", "State", "Attempts", "Last answer", ""], items.map((d) => {
    const last = d.log[d.log.length - 1];
    return h("tr", { dataset: { event: d.event_id, state: d.state } },
      h("td", { class: "when" }, when(d.created_at)),
      h("td", {}, label("event_type", d.type)),
      h("td", {}, label("state", d.state)),
      h("td", { class: "num" }, String(d.attempts)),
      h("td", { class: "answer" }, last ? (last.status ? `HTTP ${last.status}` : last.error || "—") : "—"),
      h("td", {}, d.state === "pending" ? "" : h("button", { type: "button", class: "secondary", onclick: replay(d.event_id), "aria-label": `Replay ${d.event_id}` }, "Replay")));
  }), { caption: `Deliveries to ${e.url}`, captionHidden: true, class: "deliveries stack" });
}

/** Replies the tenant received. */
export async function repliesSection() {
  const { items } = await api("GET", "/v1/messages?limit=50&direction=inbound");
  return h("section", { "aria-labelledby": "my-replies-h", id: "my-replies-section" },
    h("h2", { id: "my-replies-h" }, "Replies"),
    items.length
      ? table(["When", "From", "Text", "Opt-out"], items.map((m) => h("tr", { dataset: { id: m.id } },
        h("td", { class: "when" }, when(m.received_at)),
        h("td", { class: "phone" }, maskPhone(m.phone_masked)),
        h("td", { class: "text" }, m.text ?? "—"),
        h("td", {}, m.keyword ? label("keyword", m.keyword) : "—"))), { caption: "Replies", captionHidden: true, class: "replies" })
      : empty("No replies yet. When someone answers one of your messages, it shows here (and as an sms.received webhook)."));
}

/** An opt-out list with add and remove: the tenant's own (`tenantId` null) or, for an operator,
 * a tenant's. */
export async function optoutsSection(tenantId, ui) {
  const base = tenantId ? "/v1/admin/optouts" : "/v1/optouts";
  const box = h("div", { id: "optout-list" });
  const phone = h("input", { type: "tel", name: "phone", required: true, autocomplete: "off", placeholder: "+14155550123" });
  const msg = h("p", { class: "form-msg", role: "status" });
  async function redraw(items) {
    const list = items || (await api("GET", tenantId ? `${base}${qs({ tenant_id: tenantId })}` : base)).items;
    box.replaceChildren(list.length
      ? table(["Number", "Added by", "When", ""], list.map((o) => h("tr", { dataset: { id: o.id, source: o.source } },
        h("td", { class: "phone" }, maskPhone(o.phone_masked)),
        h("td", {}, label("source", o.source)),
        h("td", {}, when(o.created_at)),
        h("td", {}, h("button", {
          type: "button", class: "secondary", "aria-label": `Remove ${maskPhone(o.phone_masked)}`,
          onclick: async () => {
            try { await api("DELETE", `${base}/${encodeURIComponent(o.id)}`); await redraw(); } catch (err) { ui.error(err); }
          },
        }, "Remove")))), { caption: "Opted-out numbers", captionHidden: true, class: "optouts" })
      : empty("Nobody opted out. A reply of STOP, UNSUBSCRIBE, CANCEL, END or QUIT adds the number; START removes it."));
  }
  await redraw();
  const form = h("form", {
    class: "inline-form", id: "optout-form",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        await api("POST", base, tenantId ? { tenant_id: tenantId, phone: phone.value.trim() } : { phone: phone.value.trim() });
        phone.value = "";
        msg.textContent = "Added.";
        await redraw();
      } catch (err) {
        msg.textContent = `Not added: ${err.message}`;
      }
    },
  }, field("Add a number", phone), h("button", { type: "submit", class: "secondary" }, "Add to the opt-out list"), msg);
  return section("Opt-outs", h("p", { class: "muted" }, "Direct messages to these numbers are refused (recipient_opted_out)."), box, form);
}
