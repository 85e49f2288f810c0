// Phones: one card per gateway. Live state from GET /v1/admin/gateways (each phone's signed health:
// reachability, queue depth, pacing window, kill switch, battery, signal, storage, each SIM's
// budgets and rest, recent sends; probed at most a minute ago; and what the edge makes of it: why
// it is routed last, a missed canary, open alerts), history from GET /v1/admin/gateways/checks.
// Each reachable phone's card engages or clears its own kill switch (POST
// /v1/admin/gateways/{id}/kill-switch, a signed command the phone confirms).
import { api } from "../api.js";
import { h, field, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { num, when, day, plural } from "../format.js";
import { enrolControl, openTokens } from "./enrol.js";

const TIMELINE = 48;

export async function phonesView(root, params, nav, ui) {
  const [status, history, tokens] = await Promise.all([
    api("GET", "/v1/admin/gateways").catch((e) => ({ error: e })),
    api("GET", "/v1/admin/gateways/checks?limit=500"),
    api("GET", "/v1/admin/gateways/enrolments").catch(() => ({ items: [] })),
  ]);
  const live = new Map((status.items || []).map((g) => [g.id, g]));
  const checks = new Map();
  for (const c of history.items) {
    if (!checks.has(c.gateway_id)) checks.set(c.gateway_id, []);
    checks.get(c.gateway_id).push(c); // newest first
  }
  const ids = [...new Set([...live.keys(), ...checks.keys()])];

  const run = h("button", {
    type: "button", id: "run-checks",
    onclick: async () => {
      run.disabled = true;
      run.textContent = "Checking…";
      try {
        await api("POST", "/v1/admin/cron/run", {});
        nav("phones", true);
      } catch (e) {
        ui.error(e);
        run.disabled = false;
        run.textContent = "Run checks now";
      }
    },
  }, "Run checks now");

  const enrol = enrolControl(ui);
  const intro = h("div", { class: "toolbar" },
    h("p", { class: "muted" }, status.error
      ? `Live state unavailable (${status.error.message}); showing recorded checks only.`
      : `Live state probed within the last minute; ${plural(history.items.length, "recorded check")} (the scheduled job probes every phone every minute and keeps a check every 5 minutes).`),
    run, enrol.button);

  const cards = ids.map((id) => card(id, live.get(id), checks.get(id) || [], nav, ui));
  root.replaceChildren(section("Phones", intro, enrol.box,
    cards.length
      ? h("div", { class: "cards" }, cards)
      : empty("No phones configured or checked yet. Press \"Add a phone\" (or list the phones in GATEWAYS, see docs/deploy.md), then \"Run checks now\".")),
    openTokens(tokens.items, nav, ui));
}

function card(id, probe, checks, nav, ui) {
  const latest = checks[0];
  const reachable = probe ? probe.reachable : latest ? latest.reachable : null;
  const hl = probe && probe.health;
  const facts = [
    ["Reachable", reachable == null ? "not checked yet" : reachable ? "yes" : "no", "reachable"],
    ["Latency", probe ? `${num(probe.latency_ms)} ms` : latest ? `${num(latest.latency_ms)} ms` : "—", "latency"],
  ];
  if (hl) {
    const cap = hl.capacity || {};
    const headroom = cap.per_sim_window != null ? Math.max(0, cap.per_sim_window - (cap.used || 0)) : null;
    facts.push(
      ["Queue depth", num(hl.queue_depth), "queue"],
      ["Pacing window", cap.per_sim_window != null ? `${num(cap.used)} sent of ${num(cap.per_sim_window)} per SIM` : "—", "pacing"],
      ["Headroom", headroom == null ? "—" : `${num(headroom)} more this window`, "headroom"],
      ["Kill switch", hl.kill_switch ? `engaged${hl.kill_switch_reason ? `: ${hl.kill_switch_reason}` : ""}` : "off", "kill"],
      ["Last send", hl.last_send === "none" ? "none yet" : label("state", hl.last_send), "last-send"],
      ["Version", !hl.version ? "—" : probe.update_available ? `${hl.version} (${probe.latest_version} available)` : hl.version, "version"],
    );
    const d = hl.device;
    if (d) {
      facts.push(
        ["Battery", d.battery_percent == null ? "unknown" : `${num(d.battery_percent)}%${d.charging == null ? "" : d.charging ? ", charging" : ", not charging"}`, "battery"],
        ["Signal", d.signal_level == null ? "unknown" : `${num(d.signal_level)} of 4${d.network_type ? ` (${d.network_type})` : ""}`, "signal"],
        ["Free storage", d.free_storage_mb == null ? "unknown" : `${num(d.free_storage_mb)} MiB`, "storage"],
      );
    }
    const rs = hl.recent_sends;
    if (rs) facts.push(["Recent sends", rs.attempts ? `${num(rs.failed)} of the last ${num(rs.attempts)} failed${rs.consecutive_failures ? `, ${num(rs.consecutive_failures)} in a row` : ""}` : "none yet", "recent"]);
  } else if (probe && probe.error) {
    facts.push(["Error", probe.error, "error"]);
  }
  if (probe && probe.avoid) {
    facts.push(["Routing", probe.avoid.length ? `last resort: ${probe.avoid.map((r) => label("avoid", r)).join(", ")}` : "normal", "routing"]);
  }
  if (probe && probe.canary && probe.canary.last_sent_at) {
    const c = probe.canary;
    facts.push(["Canaries", `sent ${when(c.last_sent_at)}; ${c.last_received_at ? `received ${when(c.last_received_at)}` : "none received"}${c.last_missed_at ? `; missed ${when(c.last_missed_at)}` : ""}`, "canary"]);
  }
  // A phone that answers but whose kill switch is engaged sends nothing: it is not "up".
  const killed = !!(hl && hl.kill_switch);
  const state = reachable == null ? "unknown" : !reachable ? "down" : killed ? "stopped" : "up";
  const el = h("article", { class: `card phone ${state}`, dataset: { gateway: id, state }, "aria-labelledby": `gw-${id}` },
    h("header", { class: "card-head" },
      h("h3", { id: `gw-${id}` }, id),
      h("span", { class: `badge ${state}` }, BADGE[state])),
    h("dl", { class: "facts" }, facts.map(([k, v, key]) => h("div", { dataset: { fact: key } }, h("dt", {}, k), h("dd", {}, v)))),
    probe && probe.degraded ? h("p", { class: "warn", dataset: { degraded: probe.degraded.role } },
      `Degraded since ${when(probe.degraded.since)}: ${probe.degraded.reason}.`) : null,
    hl && hl.sims && hl.sims.length ? sims(id, hl.sims, killed) : null,
    probe && probe.alerts && probe.alerts.length ? alerts(probe.alerts) : null,
    timeline(checks),
    checks.length ? recent(checks) : empty("No recorded checks yet for this phone: press \"Run checks now\"."),
    hl ? killControl(id, hl, nav, ui) : null);
  return el;
}

const BADGE = {
  unknown: "Not checked",
  down: "Not reachable",
  stopped: "Kill switch on: not sending",
  up: "Reachable",
};

/** Each SIM's budgets: the pacing window, today's sends, the plan's recipients, and a rest;
 * none is "sending" while the phone's kill switch is engaged. */
function sims(id, list, killed) {
  const cap = (used, limit) => (limit == null ? `${num(used)} (no cap)` : `${num(used)} of ${num(limit)}`);
  const now = Date.now() / 1000;
  return h("ul", { class: "sims", "aria-label": `SIMs of ${id}` }, list.map((s) => {
    const resting = s.resting_until && s.resting_until > now;
    const state = killed ? "stopped by the kill switch" : resting
      ? `resting until ${when(s.resting_until * 1000)} (${label("class", s.rest_reason)})`
      : s.daily_limit != null && s.daily_used >= s.daily_limit ? "at its daily cap"
        : s.monthly_recipients_limit != null && s.monthly_recipients_used >= s.monthly_recipients_limit ? "at its recipient cap"
          : "sending";
    const part = (col, name, value, cls) => h("span", { dataset: { col }, class: cls || null }, h("span", { class: "muted" }, `${name} `), value);
    return h("li", { dataset: { sim: s.slot == null ? "default" : String(s.slot) } },
      h("strong", {}, s.slot == null ? "Default SIM" : `SIM slot ${s.slot}`),
      part("state", "", state, resting || state !== "sending" ? "warn" : null),
      part("window", "window", `${num(s.window_used)} of ${num(s.window_limit)}`),
      part("today", "today", cap(s.daily_used, s.daily_limit)),
      part("recipients", "recipients this plan", cap(s.monthly_recipients_used, s.monthly_recipients_limit)),
      part("renews", "plan renews", day(s.plan_resets_at * 1000)));
  }));
}

/** The alerts open for this phone (`kind:subject`), in words. */
function alerts(list) {
  return h("ul", { class: "alerts", "aria-label": "Open alerts" }, list.map((a) => {
    const [kind, subject] = a.split(/:(.*)/s);
    return h("li", { dataset: { alert: kind } }, `${label("alert", kind)}: ${subject}`);
  }));
}

/** The last checks, oldest to newest, as a strip of marks; the text says the same for screen readers. */
function timeline(checks) {
  const shown = checks.slice(0, TIMELINE).reverse();
  if (!shown.length) return null;
  const up = shown.filter((c) => c.reachable).length;
  const span = shown.length === 1 ? `at ${when(shown[0].at)}` : `${when(shown[0].at)} to ${when(shown.at(-1).at)}`;
  const text = `Last ${plural(shown.length, "check")}, ${span}: ${num(up)} reachable, ${num(shown.length - up)} not reachable.`;
  return h("figure", { class: "timeline" },
    h("figcaption", {}, text),
    h("div", { class: "strip", role: "img", "aria-label": text },
      shown.map((c) => h("span", {
        class: `mark ${c.reachable ? "up" : "down"}`,
        title: `${when(c.at)}: ${c.reachable ? `reachable, ${c.latency_ms} ms` : `not reachable${c.error ? ` (${c.error})` : ""}`}`,
      }))));
}

function recent(checks) {
  return h("details", { class: "recent" },
    h("summary", {}, "Latest checks"),
    table(["When", "Result", "Latency", "Error"], checks.slice(0, 10).map((c) => h("tr", {},
      h("td", {}, when(c.at)),
      h("td", {}, c.reachable ? "reachable" : "not reachable"),
      h("td", { class: "num" }, `${num(c.latency_ms)} ms`),
      h("td", {}, c.error || "—"))), { caption: "Latest checks", captionHidden: true }));
}

/** Engage or clear this phone's kill switch (POST /v1/admin/gateways/{id}/kill-switch). */
function killControl(id, health, nav, ui) {
  const engaged = !!health.kill_switch;
  const reason = h("input", { type: "text", maxlength: "200", placeholder: engaged ? "" : "e.g. SIM blocked by carrier", required: !engaged });
  const msg = h("p", { class: "form-msg", role: "status" });
  const btn = h("button", { type: "submit", class: engaged ? "secondary" : "danger" }, engaged ? "Clear kill switch" : "Engage kill switch");
  const form = h("form", {
    class: "kill",
    dataset: { kill: id },
    onsubmit: async (e) => {
      e.preventDefault();
      btn.disabled = true;
      try {
        await api("POST", `/v1/admin/gateways/${encodeURIComponent(id)}/kill-switch`, { engaged: !engaged, reason: reason.value.trim() });
        nav("phones", true);
      } catch (err) {
        btn.disabled = false;
        msg.textContent = err.message;
        ui.error(err);
      }
    },
  }, field(engaged ? "Reason for clearing (optional)" : "Reason (required)", reason), btn, msg);
  return form;
}
