// A tenant's own view, signed in with its own key: its usage (GET /v1/usage), its analytics
// (GET /v1/analytics), its message log (GET /v1/messages: searched, paged, masked) and its
// integrations. Nothing of other tenants or of the phones (a message's gateway id is not shown).
import { api, qs, session } from "../api.js";
import { h, section } from "../dom.js";
import { num, day } from "../format.js";
import { messageLog } from "./messages.js";
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
      fact("Plan ends", u.quota.expires_at ? day(u.quota.expires_at) : "no end date"),
      fact("Paid fallback this month", fallbackText(u.fallback), "fallback")));

  const analyticsBox = h("div", { id: "my-analytics" });
  const analytics = h("section", { "aria-labelledby": "my-analytics-h", id: "my-analytics-section" },
    h("h2", { id: "my-analytics-h" }, "Analytics"), analyticsBox);
  const messages = messageLog({ path: "/v1/messages", id: "my-messages-section", title: "Messages",
    intro: "Every message sent with your key, newest first, and the replies to them. Search by the whole number, a message id, a state or dates." });
  root.replaceChildren(usage, analytics, messages);

  await Promise.all([
    renderAnalytics(analyticsBox, {
      path: "/v1/analytics",
      range: params.get("range") || "24h",
      onChange: (p, force) => nav(`me${qs({ range: p.range })}`, force),
    }),
    messages.load(),
  ]);
  const reload = () => nav(`me${qs({ range: params.get("range") })}`, true);
  const [replies, hooks, optouts] = await Promise.all([repliesSection(), webhooksSection(reload, ui), optoutsSection(null, ui)]);
  root.append(replies, hooks, optouts);
}

function fact(k, v, name) {
  return h("div", { dataset: { fact: name } }, h("dt", {}, k), h("dd", {}, v));
}

/** The paid fallback's month (GET /v1/usage `fallback`): codes of the cap and what they cost. */
function fallbackText(f) {
  if (!f || !f.monthly_cap) return "off (codes no phone can take are refused)";
  return `${num(f.sent)} of ${num(f.monthly_cap)} codes (${num(f.remaining)} left), cost ${f.cost}`;
}
