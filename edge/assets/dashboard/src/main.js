// otp-sms console: sign-in, navigation (hash routes) and the views. An admin key (otp_ak_…) opens
// the operators' console; a tenant key (otp_sk_…) opens that tenant's own view and nothing else.
import { session, api, ApiError } from "./api.js";
import { h, $ } from "./dom.js";
import { label } from "./labels.js";
import { destroyCharts } from "./charts.js";
import { analyticsView } from "./views/analytics.js";
import { phonesView } from "./views/phones.js";
import { tenantsView } from "./views/tenants.js";
import { tenantView } from "./views/tenant.js";
import { auditView } from "./views/audit.js";
import { abuseView } from "./views/abuse.js";
import { meView } from "./views/me.js";
import { alertsView } from "./views/alerts.js";
import { messagesView } from "./views/messages.js";

const ADMIN_NAV = [
  ["analytics", "Analytics"],
  ["phones", "Phones"],
  ["tenants", "Tenants"],
  ["messages", "Messages"],
  ["audit", "Audit log"],
  ["alerts", "Alerts"],
  ["abuse", "Abuse protection"],
];
const TENANT_NAV = [["me", "My account"]];

const ui = {
  flash: null,
  takeFlash() {
    const f = this.flash;
    this.flash = null;
    return f;
  },
  error(e) {
    const el = $("#error");
    if (!e) {
      el.hidden = true;
      el.textContent = "";
      return;
    }
    const code = e instanceof ApiError ? e.code : null;
    el.textContent = code && label("error", code) !== code ? `${label("error", code)}: ${e.message}` : e.message;
    el.hidden = false;
  },
};

/** Where the hash points: `#/tenants/t_1?range=30d` -> {parts:["tenants","t_1"], params}. */
function location_() {
  // Only `#/…` is a route; anything else (an old bookmark, a fragment) is the start page.
  const raw = window.location.hash.startsWith("#/") ? window.location.hash.slice(2) : "";
  const [path, query] = raw.split("?");
  return { parts: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query || "") };
}

/** Goes to `route` (no leading #/); `force` re-renders even when the route is the same. */
function nav(route, force) {
  const next = `#/${route}`;
  if (window.location.hash === next) {
    if (force) render();
  } else {
    window.location.hash = next;
  }
}

let renderSeq = 0;

async function render() {
  const seq = ++renderSeq;
  destroyCharts();
  ui.error(null);
  const main = $("#view");
  if (!session.role) return;
  const { parts, params } = location_();
  const home = session.role === "admin" ? "analytics" : "me";
  const name = parts[0] || home;
  const allowed = (session.role === "admin" ? ADMIN_NAV : TENANT_NAV).map(([k]) => k);
  // A tenant key never reaches an operator's view: nothing is fetched for one.
  const known = ADMIN_NAV.some(([k]) => k === name) || name === "me";
  if (!allowed.includes(name)) {
    markNav(null);
    main.replaceChildren(h("section", { "aria-labelledby": "na", class: "not-available" },
      h("h2", { id: "na", tabindex: "-1" }, known ? "Not available with this key" : "No such page"),
      h("p", {}, known
        ? "This page is for the service's operators and needs an admin key. You are signed in with a tenant key, which sees only its own account."
        : "This address does not match a page of the console."),
      h("p", {}, h("a", { href: `#/${home}` }, "Go to your start page"))));
    main.querySelector("h2").focus();
    return;
  }
  markNav(name);
  main.replaceChildren(h("p", { class: "muted loading", role: "status" }, "Loading…"));
  const box = h("div", { class: "view", dataset: { view: parts[1] && name === "tenants" ? "tenant" : name } });
  try {
    if (name === "analytics") {
      box.append(h("h2", { tabindex: "-1" }, "Analytics"));
      const inner = h("div");
      box.append(inner);
      await analyticsView(inner, params, nav, ui);
    } else if (name === "phones") await phonesView(box, params, nav, ui);
    else if (name === "tenants" && parts[1]) await tenantView(box, params, nav, ui, parts[1]);
    else if (name === "tenants") await tenantsView(box, params, nav, ui);
    else if (name === "audit") await auditView(box, params, nav, ui);
    else if (name === "messages") await messagesView(box, params, nav, ui);
    else if (name === "alerts") await alertsView(box, params, nav, ui);
    else if (name === "abuse") await abuseView(box, params, nav, ui);
    else if (name === "me") await meView(box, params, nav, ui);
  } catch (e) {
    if (seq !== renderSeq) return;
    if (e instanceof ApiError && e.status === 401) {
      signOut("Your key is no longer accepted. Sign in again.");
      return;
    }
    box.replaceChildren(h("p", { class: "error" }, `Could not load this page: ${e.message}`));
    ui.error(e);
  }
  if (seq !== renderSeq) return; // a newer navigation won
  main.replaceChildren(box);
  box.dataset.ready = "true";
  const heading = box.querySelector("h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

function markNav(name) {
  for (const a of document.querySelectorAll("#nav a")) {
    if (a.dataset.route === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

function buildNav() {
  const items = session.role === "admin" ? ADMIN_NAV : TENANT_NAV;
  $("#nav").replaceChildren(h("ul", {}, items.map(([k, text]) =>
    h("li", {}, h("a", { href: `#/${k}`, dataset: { route: k } }, text)))));
  $("#nav").hidden = false;
}

/** Settles the key's role: a tenant key is never sent to an admin route. */
async function identify(key) {
  session.key = key;
  if (key.startsWith("otp_sk_")) {
    session.usage = await api("GET", "/v1/usage");
    return "tenant";
  }
  try {
    await api("GET", "/v1/admin/tenants?limit=1");
    return "admin";
  } catch (e) {
    if (e instanceof ApiError && e.code === "forbidden") {
      session.usage = await api("GET", "/v1/usage");
      return "tenant";
    }
    throw e;
  }
}

async function signIn(key) {
  const msg = $("#login-error");
  msg.hidden = true;
  try {
    session.role = await identify(key);
  } catch (e) {
    session.key = null;
    session.role = null;
    msg.textContent = e instanceof ApiError && e.status === 401
      ? "This key is not valid. Check it and try again."
      : e instanceof ApiError ? `${label("error", e.code)}: ${e.message}` : e.message;
    msg.hidden = false;
    $("#key").focus();
    return;
  }
  $("#login").hidden = true;
  $("#app").hidden = false;
  $("#logout").hidden = false;
  $("#who").textContent = session.role === "admin" ? "Operator" : session.usage.tenant_name || "Your account";
  document.body.dataset.role = session.role;
  buildNav();
  if (!window.location.hash || window.location.hash === "#/" || window.location.hash === "#") {
    window.location.hash = session.role === "admin" ? "#/analytics" : "#/me";
  } else {
    render();
  }
}

function signOut(why) {
  session.key = null;
  session.role = null;
  session.usage = null;
  destroyCharts();
  delete document.body.dataset.role;
  $("#login").hidden = false;
  $("#app").hidden = true;
  $("#logout").hidden = true;
  $("#nav").hidden = true;
  $("#nav").replaceChildren();
  $("#view").replaceChildren();
  $("#who").textContent = "";
  const msg = $("#login-error");
  msg.textContent = why || "";
  msg.hidden = !why;
  $("#key").value = "";
}

document.addEventListener("DOMContentLoaded", () => {
  $("#login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn($("#key").value.trim());
  });
  $("#logout").addEventListener("click", () => {
    signOut();
    window.location.hash = "";
  });
  window.addEventListener("hashchange", () => render());
  // The skip link moves focus without touching the hash (the hash is the route).
  $(".skip").addEventListener("click", (ev) => {
    ev.preventDefault();
    const target = session.role ? $("#view") : $("#key");
    target.focus();
  });
  if (session.key) signIn(session.key);
});
