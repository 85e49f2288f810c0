// otp-sms dashboard: plain JS over the admin API. The admin key lives in sessionStorage only.
"use strict";

const $ = (sel) => document.querySelector(sel);
const keyStore = { get: () => sessionStorage.getItem("otp-admin-key"), set: (k) => sessionStorage.setItem("otp-admin-key", k), clear: () => sessionStorage.removeItem("otp-admin-key") };

async function api(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${keyStore.get()}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await resp.json().catch(() => ({}));
  if (!data.success) {
    const err = data.error || {};
    throw new Error(`${err.code || resp.status}: ${err.message || "request failed"}`);
  }
  return data.data;
}

function showError(e) {
  const el = $("#error");
  el.textContent = e ? e.message : "";
  el.hidden = !e;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = text == null ? "" : String(text);
  return td;
}

function button(label, onClick, secondary) {
  const b = document.createElement("button");
  b.textContent = label;
  if (secondary) b.className = "secondary";
  b.addEventListener("click", onClick);
  return b;
}

async function loadTenants() {
  const data = await api("GET", "/v1/admin/tenants?limit=200");
  const body = $("#tenants tbody");
  body.replaceChildren();
  for (const t of data.items) {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.append(cell(t.name), cell(t.id), cell(t.status), cell(t.quota), cell(t.expires_at ? t.expires_at.slice(0, 10) : "—"));
    const actions = document.createElement("td");
    const act = (path) => async () => { try { await api("POST", `/v1/admin/tenants/${t.id}/${path}`, {}); await refresh(); } catch (e) { showError(e); } };
    actions.append(t.status === "suspended" ? button("Resume", act("resume"), true) : button("Suspend", act("suspend"), true));
    actions.append(" ", button("Rotate key", async () => {
      try { const r = await api("POST", `/v1/admin/tenants/${t.id}/rotate-key`, { grace_secs: 86400 }); showKey(`New key for ${t.name} (old key valid until ${r.old_keys_valid_until}): ${r.api_key}`); } catch (e) { showError(e); }
    }, true));
    actions.append(" ", button("Delete", async () => {
      if (!confirm(`Delete ${t.name}?`)) return;
      try { await api("DELETE", `/v1/admin/tenants/${t.id}`); await refresh(); } catch (e) { showError(e); }
    }, true));
    tr.append(actions);
    body.append(tr);
  }
}

function showKey(text) {
  const el = $("#new-key");
  el.textContent = text;
  el.hidden = false;
}

// A bar chart in inline SVG: no library, no network.
function barChart(container, counts) {
  const entries = Object.entries(counts);
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 600 180");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "usage by event");
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const width = 600 / Math.max(1, entries.length);
  entries.forEach(([name, value], i) => {
    const h = (value / max) * 130;
    const rect = document.createElementNS(ns, "rect");
    rect.setAttribute("class", "bar");
    rect.setAttribute("x", i * width + 8);
    rect.setAttribute("y", 150 - h);
    rect.setAttribute("width", Math.max(4, width - 16));
    rect.setAttribute("height", h);
    rect.dataset.event = name;
    svg.append(rect);
    const label = document.createElementNS(ns, "text");
    label.setAttribute("x", i * width + 8);
    label.setAttribute("y", 168);
    label.textContent = `${name} (${value})`;
    svg.append(label);
  });
  if (entries.length === 0) {
    const t = document.createElementNS(ns, "text");
    t.setAttribute("x", 10);
    t.setAttribute("y", 90);
    t.textContent = "No events today yet";
    svg.append(t);
  }
  container.replaceChildren(svg);
}

async function loadUsage() {
  const data = await api("GET", "/v1/admin/usage");
  // Events only: request and latency counters are analytics' business (/v1/admin/analytics).
  const events = Object.fromEntries(Object.entries((data.counts && data.counts.events) || {}).filter(([k]) => !k.startsWith("latency_le_") && k !== "requests"));
  barChart($("#usage-chart"), events);
}

async function loadGateways() {
  const data = await api("GET", "/v1/admin/gateways/checks?limit=200");
  const latest = new Map();
  // Newest first: the first check of each gateway is its current state.
  for (const c of data.items) if (!latest.has(c.gateway_id)) latest.set(c.gateway_id, c);
  const body = $("#gateways tbody");
  body.replaceChildren();
  for (const c of latest.values()) {
    const tr = document.createElement("tr");
    tr.append(cell(c.gateway_id), cell(c.reachable ? "yes" : "no"), cell(`${c.latency_ms} ms`), cell(new Date(c.at).toISOString()));
    body.append(tr);
  }
}

async function loadAudit() {
  const data = await api("GET", "/v1/admin/audit?limit=50");
  const body = $("#audit tbody");
  body.replaceChildren();
  for (const e of data.items) {
    const tr = document.createElement("tr");
    tr.append(cell(e.at), cell(e.actor), cell(e.action), cell(e.target));
    body.append(tr);
  }
}

async function refresh() {
  showError(null);
  try {
    await Promise.all([loadTenants(), loadUsage(), loadGateways(), loadAudit()]);
  } catch (e) {
    showError(e);
    if (String(e.message).startsWith("unauthorized") || String(e.message).startsWith("forbidden")) signOut();
  }
}

function signedIn() {
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  refresh();
}

function signOut() {
  keyStore.clear();
  $("#login").hidden = false;
  $("#app").hidden = true;
  $("#logout").hidden = true;
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    keyStore.set($("#admin-key").value.trim());
    signedIn();
  });
  $("#logout").addEventListener("click", signOut);
  $("#create-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = { name: $("#new-name").value, quota: Number($("#new-quota").value) };
    if ($("#new-expires").value) body.expires_at = $("#new-expires").value;
    if ($("#new-contact").value) body.contact_phone = $("#new-contact").value;
    try {
      const t = await api("POST", "/v1/admin/tenants", body);
      showKey(`API key for ${t.name} (shown once): ${t.api_key}`);
      ev.target.reset();
      await refresh();
    } catch (e) { showError(e); }
  });
  $("#run-cron").addEventListener("click", async () => { try { await api("POST", "/v1/admin/cron/run", {}); await refresh(); } catch (e) { showError(e); } });
  if (keyStore.get()) signedIn();
});
