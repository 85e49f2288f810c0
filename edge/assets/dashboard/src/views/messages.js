// The message log: every SMS sent (or every reply received), newest first, searched by number,
// message id, state, kind and dates, and paged with the API's cursor (GET /v1/messages for a
// tenant's own key, GET /v1/admin/messages for operators, across tenants or for one). Numbers show
// as the API masks them: one rule, so a reply reads like the message it answers.
import { api, qs, ApiError } from "../api.js";
import { h, field, table, empty } from "../dom.js";
import { label } from "../labels.js";
import { num, when, maskPhone } from "../format.js";

const STATES = ["queued", "sending", "sent", "failed", "expired", "unknown"];
const KINDS = ["otp", "direct", "notification"];
export const PAGE = 25;

/**
 * @param {{path:string, tenantId?:string, names?:Map<string,string>, id:string, title?:string,
 *          intro?:string}} opts
 *   path: the API route; tenantId: fixes the tenant on the operators' route; names: tenant
 *   names for the tenant column (operators' log across tenants); id: the section's id.
 */
export function messageLog(opts) {
  const across = opts.path.includes("/admin/") && !opts.tenantId;
  const direction = h("select", { name: "direction" }, h("option", { value: "outbound" }, "Sent messages"), h("option", { value: "inbound" }, "Replies received"));
  const phone = h("input", { type: "tel", name: "phone", autocomplete: "off", placeholder: "+14155550123" });
  const id = h("input", { type: "text", name: "id", autocomplete: "off", spellcheck: "false", placeholder: "msg_…" });
  const state = h("select", { name: "state" }, h("option", { value: "" }, "Any state"), STATES.map((s) => h("option", { value: s }, label("state", s))));
  const kind = h("select", { name: "kind" }, h("option", { value: "" }, "Any kind"), KINDS.map((k) => h("option", { value: k }, label("kind", k))));
  const from = h("input", { type: "date", name: "from" });
  const to = h("input", { type: "date", name: "to" });
  const per = h("select", { name: "limit" }, [10, 25, 50, 100].map((n) => h("option", { value: String(n), selected: n === PAGE }, String(n))));
  const outboundOnly = [id, state, kind];
  const results = h("div", { class: "log-results", "aria-live": "polite" });
  const msg = h("p", { class: "form-msg error", role: "alert", hidden: true });
  const pager = h("div", { class: "pager" });
  let cursors = [null]; // the cursor of each page shown so far; the last is the page on screen
  let seq = 0;

  const filters = () => {
    const outbound = direction.value === "outbound";
    return {
      direction: outbound ? "" : "inbound",
      tenant_id: opts.tenantId || "",
      phone: phone.value.trim(),
      id: outbound ? id.value.trim() : "",
      state: outbound ? state.value : "",
      kind: outbound ? kind.value : "",
      from: from.value,
      to: to.value,
      limit: per.value,
    };
  };

  async function load() {
    const mine = ++seq;
    const f = filters();
    const cursor = cursors.at(-1);
    let page;
    try {
      page = await api("GET", `${opts.path}${qs({ ...f, cursor })}`);
    } catch (e) {
      if (mine !== seq) return;
      if (!(e instanceof ApiError) || e.status === 401) throw e;
      msg.textContent = `${label("error", e.code)}: ${e.message}`;
      msg.hidden = false;
      results.replaceChildren();
      pager.replaceChildren();
      box.dataset.ready = "true";
      return;
    }
    if (mine !== seq) return;
    msg.hidden = true;
    const inbound = f.direction === "inbound";
    results.replaceChildren(page.items.length
      ? (inbound ? repliesTable(page.items, across, opts.names) : sentTable(page.items, across, opts.names))
      : empty(cursors.length > 1 ? "No older messages." : "No messages match. Codes and messages sent with the API show here with their delivery state."));
    const n = cursors.length;
    pager.replaceChildren(
      h("button", { type: "button", class: "secondary", disabled: n === 1, dataset: { page: "newer" }, onclick: () => { cursors.pop(); run(); } }, "← Newer"),
      h("span", { class: "muted", dataset: { pageNo: String(n) } }, `Page ${num(n)} · ${num(page.items.length)} shown`),
      h("button", { type: "button", class: "secondary", disabled: !page.next_cursor, dataset: { page: "older" }, onclick: () => { cursors.push(page.next_cursor); run(); } }, "Older →"));
    box.dataset.page = String(n);
    box.dataset.ready = "true";
  }
  function run() {
    box.dataset.ready = "false";
    load().catch((e) => { msg.textContent = e.message; msg.hidden = false; });
  }
  direction.addEventListener("change", () => {
    for (const c of outboundOnly) c.disabled = direction.value !== "outbound";
  });
  const form = h("form", {
    class: "grid-form log-filters", role: "search", "aria-label": "Search messages",
    onsubmit: (e) => { e.preventDefault(); cursors = [null]; run(); },
    onreset: () => { setTimeout(() => { for (const c of outboundOnly) c.disabled = false; cursors = [null]; run(); }); },
  },
  field("Show", direction), field("Phone number", phone, "the whole number, E.164"), field("Message id", id),
  field("State", state), field("Kind", kind), field("From", from), field("To", to), field("Per page", per),
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Search"), h("button", { type: "reset", class: "secondary" }, "Clear")),
  msg);
  const box = h("section", { class: "message-log", id: opts.id, "aria-labelledby": `${opts.id}-h`, dataset: { path: opts.path, ready: "false" } },
    h("h2", { id: `${opts.id}-h` }, opts.title || "Messages"),
    opts.intro ? h("p", { class: "muted" }, opts.intro) : null,
    form, results, pager);
  box.load = load;
  return box;
}

function sentTable(items, across, names) {
  return table(["When", "Kind", "To", "State", "Segments", "Error", "Id", ...(across ? ["Tenant"] : [])], items.map((m) => h("tr", { dataset: { id: m.id, state: m.state } },
    h("td", { class: "when" }, when(m.created_at)),
    h("td", {}, label("kind", m.kind)),
    h("td", { class: "phone" }, maskPhone(m.phone)),
    h("td", {}, label("state", m.state)),
    h("td", { class: "num" }, num(m.segments)),
    h("td", {}, m.error ? label("error", m.error) : "—"),
    h("td", { class: "id" }, h("code", {}, m.id)),
    across ? h("td", { class: "name" }, tenantLink(m.tenant_id, names)) : null)),
  { caption: "Messages", captionHidden: true, class: "messages stack" });
}

function repliesTable(items, across, names) {
  return table(["When", "From", "Text", "Answers", ...(across ? ["Tenant"] : [])], items.map((m) => h("tr", { dataset: { id: m.id } },
    h("td", { class: "when" }, when(m.received_at)),
    h("td", { class: "phone" }, maskPhone(m.phone_masked)),
    h("td", { class: "text" }, m.text ?? "—"),
    h("td", { class: "id" }, m.in_reply_to ? h("code", {}, m.in_reply_to) : "—"),
    across ? h("td", { class: "name" }, tenantLink(m.tenant_id, names)) : null)),
  { caption: "Replies", captionHidden: true, class: "messages replies stack" });
}

function tenantLink(id, names) {
  if (!id) return "—";
  return h("a", { href: `#/tenants/${encodeURIComponent(id)}` }, (names && names.get(id)) || id);
}

/** The operators' page: every tenant's messages. */
export async function messagesView(root) {
  const tenants = await api("GET", "/v1/admin/tenants?limit=500");
  const log = messageLog({
    path: "/v1/admin/messages", id: "all-messages", title: "Messages",
    names: new Map(tenants.items.map((t) => [t.id, t.name])),
    intro: "Every tenant's SMS, newest first. Search by the whole number, a message id, a state, a kind or dates; numbers show masked.",
  });
  await log.load();
  root.replaceChildren(log);
}

