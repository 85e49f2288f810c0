// One tenant: usage against quota, actions (suspend/resume, renew, rotate key, kill switch,
// delete), the settings editor (a JSON merge patch of what changed), its analytics and audit.
import { api, qs, ApiError } from "../api.js";
import { h, field, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { num, day, when, maskPhone } from "../format.js";
import { renderAnalytics } from "./analytics.js";
import { keyBox } from "./tenants.js";
import { optoutsSection } from "./integrations.js";
import { auditTable } from "./audit.js";
import { messageLog } from "./messages.js";

export async function tenantView(root, params, nav, ui, id) {
  let t;
  try {
    t = await api("GET", `/v1/admin/tenants/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      root.replaceChildren(section("No such tenant", h("p", {}, "It may have been deleted. ", h("a", { href: "#/tenants" }, "Back to the tenants"))));
      return;
    }
    throw e;
  }
  const [today, audit, guard] = await Promise.all([
    api("GET", `/v1/admin/usage${qs({ tenant_id: id })}`),
    api("GET", `/v1/admin/audit${qs({ tenant_id: id, limit: 100 })}`),
    api("GET", `/v1/admin/tenants/${encodeURIComponent(id)}/fraud`),
  ]);
  const reload = () => nav(`tenants/${encodeURIComponent(id)}${qs({ range: params.get("range") })}`, true);
  const act = (path, body) => async () => {
    try {
      await api("POST", `/v1/admin/tenants/${encodeURIComponent(id)}/${path}`, body || {});
      reload();
    } catch (err) { ui.error(err); }
  };

  const head = h("section", { class: "tenant-head", "aria-labelledby": "tenant-name" },
    h("p", {}, h("a", { href: "#/tenants" }, "← All tenants")),
    h("h2", { id: "tenant-name", class: "tenant-name" }, t.name),
    h("p", { class: "muted" },
      h("code", {}, t.id), " · ", h("span", { class: `badge ${t.status}`, dataset: { status: t.status } }, label("state", t.status)),
      t.kill_switch ? h("span", { class: "badge down" }, "sending stopped by kill switch") : null,
      ` · created ${day(t.created_at)} · contact ${maskPhone(t.contact_phone_masked)}`),
    ui.takeFlash());

  root.replaceChildren(head,
    usageSection(t, today),
    actionsSection(t, act, reload, nav, ui),
    fraudSection(t, guard, reload, ui),
    settingsSection(t, reload),
    h("section", { "aria-labelledby": "t-analytics" }, h("h2", { id: "t-analytics" }, "Analytics"), h("div", { id: "tenant-analytics" }, h("p", { class: "muted" }, "Loading…"))),
    auditSection(audit.items));
  const log = messageLog({ path: "/v1/admin/messages", tenantId: id, id: "tenant-messages", title: "Messages" });
  root.querySelector("#tenant-analytics").closest("section").after(log, await optoutsSection(id, ui));
  await log.load();

  await renderAnalytics(root.querySelector("#tenant-analytics"), {
    path: "/v1/admin/analytics",
    range: params.get("range") || "24h",
    tenantId: id,
    onChange: (p, force) => nav(`tenants/${encodeURIComponent(id)}${qs({ range: p.range })}`, force),
  });
}

/** Quota used and left, and today's events; shared with the tenant's own view. */
export function quotaBlock(total, remaining, expiresAt) {
  const used = Math.max(0, total - remaining);
  const share = total > 0 ? Math.min(1, used / total) : 0;
  return h("div", { class: "quota", dataset: { total: String(total), remaining: String(remaining), used: String(used) } },
    h("p", { class: "quota-text" },
      h("strong", {}, num(used)), ` of ${num(total)} messages used, `, h("strong", {}, num(remaining)), " left",
      expiresAt ? ` · plan ends ${day(expiresAt)}` : " · no end date"),
    h("progress", { max: "100", value: String(Math.round(share * 100)), "aria-label": `${Math.round(share * 100)}% of the quota used` }));
}

// Today's counts in the order of a code's life, then messages, deliveries, replies, webhooks and
// requests; anything else after them, by name.
const EVENT_ORDER = ["otp_sent", "otp_resent", "otp_approved", "otp_failed", "otp_expired", "message_sent",
  "delivery_sent", "delivery_failed", "delivery_expired", "fraud_blocked", "inbound_received", "optout_added",
  "webhook_delivered", "webhook_retry", "webhook_failed", "requests"];
const rank = (k) => (EVENT_ORDER.includes(k) ? EVENT_ORDER.indexOf(k) : EVENT_ORDER.length);

export function eventsList(events) {
  // Breakdowns kept in the same counter documents (latency buckets, errors, requests by route,
  // conversion by dimension, the weekday x hour heatmap) have views of their own.
  const hidden = ["latency_", "error_", "http_", "cv__", "heat_"];
  const shown = Object.entries(events || {}).filter(([k]) => !hidden.some((p) => k.startsWith(p)));
  if (!shown.length) return empty("No events today yet.");
  shown.sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b));
  return h("dl", { class: "facts events" }, shown.map(([k, v]) =>
    h("div", { dataset: { event: k } }, h("dt", {}, label("event", k)), h("dd", {}, num(v)))));
}

function usageSection(t, today) {
  return section("Usage",
    quotaBlock(t.quota, t.quota_remaining, t.expires_at),
    h("h3", {}, "Today (UTC)"),
    eventsList(today.counts && today.counts.events));
}

function actionsSection(t, act, reload, nav, ui) {
  const out = h("div", { class: "action-out" });
  const suspended = t.status === "suspended";

  const renewQuota = h("input", { type: "number", min: "0", max: "100000000", required: true, value: String(t.quota), inputmode: "numeric" });
  const renewExpires = h("input", { type: "date", value: t.expires_at ? t.expires_at.slice(0, 10) : "" });
  const renew = h("form", {
    class: "inline-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = { quota: Number(renewQuota.value), expires_at: renewExpires.value || null };
      await act("renew", body)();
    },
  }, field("New quota", renewQuota), field("Plan ends", renewExpires), h("button", { type: "submit", class: "secondary" }, "Renew plan"));

  const grace = h("select", {},
    [["0", "Stop now"], ["3600", "1 hour"], ["86400", "1 day"], ["604800", "7 days"]].map(([v, l]) => h("option", { value: v, selected: v === "86400" }, l)));
  const rotate = h("form", {
    class: "inline-form",
    onsubmit: async (e) => {
      e.preventDefault();
      try {
        const r = await api("POST", `/v1/admin/tenants/${encodeURIComponent(t.id)}/rotate-key`, { grace_secs: Number(grace.value) });
        out.replaceChildren(keyBox(`New API key for ${t.name}:`, r.api_key,
          `Shown once: copy it now. The old key works until ${when(r.old_keys_valid_until)}.`));
      } catch (err) { ui.error(err); }
    },
  }, field("Old key keeps working for", grace), h("button", { type: "submit", class: "secondary" }, "Rotate key"));

  const kill = h("button", {
    type: "button", class: t.kill_switch ? "secondary" : "danger",
    onclick: async () => {
      try {
        await api("POST", "/v1/admin/kill-switch", { engaged: !t.kill_switch, tenant_id: t.id });
        reload();
      } catch (err) { ui.error(err); }
    },
  }, t.kill_switch ? "Resume sending" : "Stop sending (kill switch)");

  let armed = false;
  const del = h("button", {
    type: "button", class: "danger",
    onclick: async () => {
      if (!armed) {
        armed = true;
        del.textContent = "Press again to delete for good";
        setTimeout(() => { armed = false; del.textContent = "Delete tenant…"; }, 6000);
        return;
      }
      try {
        await api("DELETE", `/v1/admin/tenants/${encodeURIComponent(t.id)}`);
        nav("tenants");
      } catch (err) { ui.error(err); }
    },
  }, "Delete tenant…");

  return section("Actions",
    h("div", { class: "button-row" },
      h("button", { type: "button", class: "secondary", id: "suspend-toggle", onclick: act(suspended ? "resume" : "suspend") }, suspended ? "Resume tenant" : "Suspend tenant"),
      kill, del),
    h("h3", {}, "Keys"),
    h("p", { class: "muted" }, "Keys are stored as hashes and cannot be shown again. Rotating makes a new key and shows it once."),
    rotate, out,
    h("h3", {}, "Renew"),
    h("p", { class: "muted" }, "A renewal starts a new period: the balance is reset to the new quota and the tenant is active again."),
    renew);
}

// The settings editor: [group, [[path, label, attrs, hint], ...]].
const SETTINGS = [
  ["Codes", [
    ["settings.code_type", "Code type", { options: [["words", "Words"], ["digits", "Digits"]] }],
    ["settings.word_count", "Words per code", { min: 1, max: 4 }, "1 to 4 words"],
    ["settings.digit_length", "Digits per code", { min: 4, max: 10 }, "4 to 10 digits"],
    ["settings.ttl_secs", "Code lifetime (s)", { min: 30, max: 86400 }, "30 s to 1 day"],
    ["settings.max_checks", "Checks per code", { min: 1, max: 20 }, "wrong guesses allowed, 1 to 20"],
  ]],
  ["Sending", [
    ["settings.max_sends", "Sends per phone", { min: 1, max: 50 }, "per send window"],
    ["settings.send_window_secs", "Send window (s)", { min: 60, max: 86400 }],
    ["settings.app_name", "App name in SMS", { text: true, maxlength: 40 }, "optional"],
    ["settings.optout_blocks_otp", "Opted-out numbers get no codes either", { bool: true }, "off: a code the person asked for still goes"],
  ]],
  ["Browser access", [
    ["settings.cors_origins", "Allowed browser origins (CORS)", { list: true, maxlength: 2000 }, "comma-separated, e.g. https://shop.example; empty: no browser may use this tenant's key"],
  ]],
  ["OTP texts", [
    ["settings.locale", "Language", { text: true, maxlength: 10 }, "for numbers whose country has no built-in language (en, es, fr, de, pt, hi)"],
    ["settings.template", "Own template", { text: true, maxlength: 320 }, "optional: {code} once, {minutes}, {app}; refused unless it fits one SMS"],
    ["settings.webotp_host", "WebOTP host", { text: true, maxlength: 64 }, "optional: adds “@host #code” as the last line"],
    ["settings.app_hash", "Android app hash", { text: true, maxlength: 11 }, "optional: SMS Retriever, 11 characters"],
  ]],
  ["Abuse protection", [
    ["settings.fraud_guard", "Fraud guard level", { options: [["off", "Off"], ["standard", "Standard"], ["strict", "Strict"]] }, "blocks a prefix sending far above its usual rate with few codes entered"],
    ["settings.geo.allowed_countries", "Allowed countries", { list: true, upper: true, maxlength: 800 }, "ISO codes, comma separated; empty: every country"],
    ["settings.geo.allowed_ranges", "Allowed high-risk ranges", { list: true, maxlength: 200 }, "satellite, international_networks, premium_rate, freephone…; empty: none"],
    ["settings.allow_voip", "SMS to VoIP numbers", { bool: true }],
    ["settings.share_weight", "Share of each phone", { min: 1, max: 100 }, "weight; 1 is an equal share"],
  ]],
  ["Rate limits", [
    ["settings.limits.per_endpoint.limit", "Requests per endpoint", { min: 1, max: 1000000 }],
    ["settings.limits.per_endpoint.window_secs", "Endpoint window (s)", { min: 1, max: 86400 }],
    ["settings.limits.per_ip.limit", "Requests per client IP", { min: 1, max: 1000000 }],
    ["settings.limits.per_ip.window_secs", "Client IP window (s)", { min: 1, max: 86400 }],
    ["settings.limits.per_phone.limit", "Direct messages per phone", { min: 1, max: 1000000 }],
    ["settings.limits.per_phone.window_secs", "Per-phone window (s)", { min: 1, max: 86400 }],
  ]],
];

const getPath = (o, path) => path.split(".").reduce((v, k) => (v == null ? undefined : v[k]), o);
function setPath(o, path, value) {
  const keys = path.split(".");
  let cur = o;
  for (const k of keys.slice(0, -1)) cur = cur[k] || (cur[k] = {});
  cur[keys.at(-1)] = value;
}

function settingsSection(t, reload) {
  const controls = [];
  const one = ([path, text, a, hint]) => {
    const current = getPath(t, path);
    let control;
    if (a.bool) {
      control = h("select", { name: path }, [["false", "No"], ["true", "Yes"]].map(([v, l]) => h("option", { value: v, selected: v === String(!!current) }, l)));
    } else if (a.list) {
      control = h("input", { type: "text", name: path, maxlength: String(a.maxlength), value: (current || []).join(", ") });
    } else if (a.options) {
      control = h("select", { name: path }, a.options.map(([v, l]) => h("option", { value: v, selected: v === current }, l)));
    } else if (a.text) {
      control = h("input", { type: "text", name: path, maxlength: String(a.maxlength), value: current ?? "" });
    } else {
      control = h("input", { type: "number", name: path, min: String(a.min), max: String(a.max), required: true, inputmode: "numeric", value: current ?? "" });
    }
    controls.push([path, control, current, a]);
    return field(text, control, hint);
  };
  const groups = SETTINGS.map(([legend, items]) =>
    h("fieldset", { class: "grid-form" }, h("legend", {}, legend), items.map(one)));
  const name = h("input", { type: "text", name: "name", required: true, maxlength: "100", value: t.name });
  const quota = h("input", { type: "number", name: "quota", min: "0", max: "100000000", required: true, value: String(t.quota), inputmode: "numeric" });
  const contact = h("input", { type: "tel", name: "contact_phone", autocomplete: "off", placeholder: "leave empty to keep" });
  const clearContact = h("input", { type: "checkbox", name: "clear_contact" });
  const msg = h("p", { class: "form-msg", role: "status" });
  const form = h("form", {
    id: "settings-form",
    onsubmit: async (e) => {
      e.preventDefault();
      const patch = {};
      if (name.value.trim() !== t.name) patch.name = name.value.trim();
      if (Number(quota.value) !== t.quota) patch.quota = Number(quota.value);
      if (clearContact.checked) patch.contact_phone = null;
      else if (contact.value.trim()) patch.contact_phone = contact.value.trim();
      for (const [path, control, current, a] of controls) {
        if (a.bool) {
          if ((control.value === "true") !== !!current) setPath(patch, path, control.value === "true");
          continue;
        }
        if (a.list) {
          const items = control.value.split(",").map((x) => (a.upper ? x.trim().toUpperCase() : x.trim())).filter(Boolean);
          if (JSON.stringify(items) !== JSON.stringify(current || [])) setPath(patch, path, items);
          continue;
        }
        const v = a.options || a.text ? control.value.trim() : Number(control.value);
        if (a.text && v === "" && current == null) continue;
        if (v !== current) setPath(patch, path, a.text && v === "" ? null : v);
      }
      if (!Object.keys(patch).length) {
        msg.textContent = "Nothing changed.";
        return;
      }
      try {
        await api("PATCH", `/v1/admin/tenants/${encodeURIComponent(t.id)}`, patch);
        msg.textContent = "Saved.";
        reload();
      } catch (err) {
        msg.textContent = `Not saved: ${err.message}`;
        msg.className = "form-msg error";
      }
    },
  },
  h("fieldset", { class: "grid-form" }, h("legend", {}, "Account"),
    field("Name", name), field("Quota (messages this period)", quota),
    field(`Contact phone (now ${maskPhone(t.contact_phone_masked)})`, contact),
    h("div", { class: "field check" }, h("label", {}, clearContact, " Remove the contact phone"))),
  groups,
  h("div", { class: "form-actions" }, h("button", { type: "submit" }, "Save settings")), msg);
  return section("Settings", h("p", { class: "muted" }, "Only what you change is sent (a JSON merge patch)."), form);
}

/** The fraud guard's view of the tenant: blocks in force (each can be lifted) and the busiest
 * destination prefixes and end users of the last hour. */
function fraudSection(t, guard, reload, ui) {
  const lift = (key) => async () => {
    try {
      await api("POST", `/v1/admin/tenants/${encodeURIComponent(t.id)}/fraud/lift`, key ? { key } : {});
      reload();
    } catch (err) { ui.error(err); }
  };
  const kind = (k) => (k === "end_user" ? "End user" : "Prefix");
  const blocks = guard.blocks.map((b) => h("tr", { dataset: { key: b.key } },
    h("td", {}, kind(b.kind), " ", h("code", {}, b.watched)),
    h("td", {}, when(b.since)), h("td", {}, when(b.until)),
    h("td", {}, `${num(b.sends)} sent, ${num(b.approved)} verified`),
    h("td", {}, h("button", { type: "button", class: "secondary", onclick: lift(b.key), "aria-label": `Lift the block on ${b.watched}` }, "Lift"))));
  const busiest = guard.busiest.map((w) => h("tr", { dataset: { key: w.key } },
    h("td", {}, h("code", {}, w.watched)), h("td", {}, num(w.sends_last_hour)),
    h("td", {}, num(w.approved_last_hour)), h("td", {}, num(w.baseline_per_hour))));
  return h("section", { class: "fraud", "aria-labelledby": "t-fraud", dataset: { level: guard.level, blocks: String(guard.blocks.length) } },
    h("h2", { id: "t-fraud" }, "Fraud guard"),
    h("p", { class: "muted" }, `Level: ${label("level", guard.level)}. A destination prefix (or end user) whose sends jump far above its usual rate while few of its codes are entered is paused for a while; nothing is sent or charged meanwhile.`),
    blocks.length
      ? h("div", {}, table(["Paused", "Since", "Until", "That hour", ""], blocks, { caption: "Blocks in force", class: "blocks" }),
        guard.blocks.length > 1 ? h("button", { type: "button", class: "secondary", onclick: lift(null) }, "Lift every block") : null)
      : empty("Nothing is paused."),
    h("h3", {}, "Busiest in the last hour"),
    busiest.length
      ? table(["Prefix or end user", "Sent", "Verified", "Usual per hour"], busiest, { caption: "Busiest prefixes", captionHidden: true, class: "busiest" })
      : empty("No codes sent in the last hour."));
}

function auditSection(items) {
  return section("Audit", auditTable(items, { caption: "Audit entries for this tenant" }));
}
