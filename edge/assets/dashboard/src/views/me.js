// A tenant's own view, signed in with its own key: its usage (GET /v1/usage), its analytics
// (GET /v1/analytics), its recent messages (GET /v1/messages, masked, newest first) and its
// integrations. Nothing of other tenants or of the phones (a message's gateway id is not shown).
import { api, qs, session } from "../api.js";
import { h, table, empty, section } from "../dom.js";
import { label } from "../labels.js";
import { num, when, maskPhone, day } from "../format.js";
import { renderAnalytics } from "./analytics.js";
import { quotaBlock, eventsList } from "./tenant.js";
import { webhooksSection, repliesSection, optoutsSection } from "./integrations.js";

export async function meView(root, params, nav, ui) {
  const u = await api("GET", "/v1/usage");
  session.usage = u;
  const c = u.code || {};
  const l = u.limits || {};
  const usage = section("Usage",
    quotaBlock(u.quota.total, u.quota.remaining, u.quota.expires_at),
    h("h3", {}, "Today (UTC)"),
    eventsList(u.counts && u.counts.events),
    h("h3", {}, "Codes and limits"),
    h("dl", { class: "facts" },
      fact("Code", c.type === "digits" ? `${num(c.digits)} digits` : `${num(c.words)} word${c.words === 1 ? "" : "s"}`),
      fact("Checks per code", num(c.max_checks)),
      fact("Odds of a guess", c.guess_odds > 0 ? `1 in ${num(1 / c.guess_odds)}` : "—"),
      fact("Code lifetime", `${num(l.ttl_secs)} s`),
      fact("Sends per phone", `${num(l.max_sends)} per ${num(l.send_window_secs)} s`),
      fact("Plan ends", u.quota.expires_at ? day(u.quota.expires_at) : "no end date")));

  const analyticsBox = h("div", { id: "my-analytics" });
  const analytics = h("section", { "aria-labelledby": "my-analytics-h", id: "my-analytics-section" },
    h("h2", { id: "my-analytics-h" }, "Analytics"), analyticsBox);
  const messages = h("section", { "aria-labelledby": "my-messages-h", id: "my-messages-section" },
    h("h2", { id: "my-messages-h" }, "Recent messages"), h("p", { class: "muted" }, "Loading…"));
  root.replaceChildren(usage, analytics, messages);

  const [, list] = await Promise.all([
    renderAnalytics(analyticsBox, {
      path: "/v1/analytics",
      range: params.get("range") || "24h",
      onChange: (p, force) => nav(`me${qs({ range: p.range })}`, force),
    }),
    api("GET", "/v1/messages?limit=50"), // outbound unless asked otherwise
  ]);
  messages.replaceChildren(h("h2", { id: "my-messages-h" }, "Recent messages"), messagesTable(list.items));
  const reload = () => nav(`me${qs({ range: params.get("range") })}`, true);
  const [replies, hooks, optouts] = await Promise.all([repliesSection(), webhooksSection(reload, ui), optoutsSection(null, ui)]);
  root.append(replies, hooks, optouts);
}

function fact(k, v) {
  return h("div", {}, h("dt", {}, k), h("dd", {}, v));
}

function messagesTable(items) {
  if (!items.length) return empty("No messages yet. Send a code with POST /v1/otp/send; it shows here with its delivery state.");
  return table(["When", "Kind", "To", "State", "Segments", "Error"], items.map((m) => h("tr", { dataset: { id: m.id, state: m.state } },
    h("td", {}, when(m.created_at)),
    h("td", {}, label("kind", m.kind)),
    h("td", { class: "phone" }, maskPhone(m.phone)),
    h("td", {}, label("state", m.state)),
    h("td", { class: "num" }, num(m.segments)),
    h("td", {}, m.error ? label("error", m.error) : "—"))), { caption: "Recent messages", captionHidden: true, class: "messages" });
}
