// "Add a phone": a one-time enrolment token (POST /v1/admin/gateways/enrolments) and the command
// to paste into Termux on the new phone. The token is shown once; the edge keeps only its hash.
// A command pasted where it should not be is revoked (POST .../enrolments/{id}/revoke): from the
// box that showed it, or from the list of open commands.
import { api } from "../api.js";
import { h, field, table, section } from "../dom.js";
import { when } from "../format.js";

/** A button that revokes token `id`, then calls `done`. */
function revokeButton(id, ui, done, text = "Revoke") {
  const b = h("button", {
    type: "button", class: "danger", dataset: { revoke: id },
    onclick: async () => {
      b.disabled = true;
      try {
        await api("POST", `/v1/admin/gateways/enrolments/${encodeURIComponent(id)}/revoke`, {});
        done();
      } catch (err) {
        ui.error(err);
        b.disabled = false;
      }
    },
  }, text);
  return b;
}

/** The commands no phone has used yet and that still work, each with its revoke button; none: null. */
export function openTokens(tokens, nav, ui) {
  const open = tokens.filter((t) => t.state === "open");
  if (!open.length) return null;
  const rows = open.map((t) => h("tr", { dataset: { token: t.id } },
    h("td", {}, t.label || "—"),
    h("td", {}, h("code", {}, t.id)),
    h("td", {}, when(t.created_at)),
    h("td", {}, when(t.expires_at)),
    h("td", {}, revokeButton(t.id, ui, () => nav("phones", true)))));
  return section("Open enrolment commands",
    h("p", { class: "muted" }, "Each works once, until it expires. Revoke one that was pasted where it should not be: it then enrols nothing."),
    table(["Label", "Id", "Created", "Expires", ""], rows, { caption: "Open enrolment commands", captionHidden: true, class: "enrol-tokens stack" }));
}

/** The button and, once pressed, a small form; the command appears in the box below it. */
export function enrolControl(ui) {
  const box = h("div", { class: "enrol", id: "enrol-box", hidden: true });
  const label = h("input", { type: "text", maxlength: "100", placeholder: "e.g. kitchen phone" });
  const hours = h("input", { type: "number", min: "1", max: "168", value: "1", inputmode: "numeric" });
  const msg = h("p", { class: "form-msg", role: "status" });
  const create = h("button", { type: "submit" }, "Create enrolment command");
  const form = h("form", {
    class: "enrol-form",
    onsubmit: async (e) => {
      e.preventDefault();
      create.disabled = true;
      msg.textContent = "";
      try {
        const ttl = Math.round(Math.min(168, Math.max(1, Number(hours.value) || 1)) * 3600);
        const d = await api("POST", "/v1/admin/gateways/enrolments", { label: label.value.trim(), ttl_secs: ttl, edge_url: location.origin });
        const code = h("code", { class: "key", dataset: { enrolCommand: "" } }, d.command);
        const copy = h("button", {
          type: "button", class: "secondary",
          onclick: async () => {
            try { await navigator.clipboard.writeText(d.command); copy.textContent = "Copied"; } catch { copy.textContent = "Select and copy the command"; }
          },
        }, "Copy command");
        const revoke = revokeButton(d.id, ui, () => box.replaceChildren(
          h("p", { class: "form-msg", role: "status", dataset: { revoked: d.id } }, "Revoked: this command enrols nothing now.")),
          "Revoke this command");
        box.replaceChildren(h("div", { class: "key-box" },
          h("p", {}, `Paste this into Termux on the new phone. It works once, until ${when(Date.parse(d.expires_at))}, and is not shown again.`),
          code, h("div", { class: "button-row" }, copy, revoke)));
      } catch (err) {
        msg.textContent = err.message;
        ui.error(err);
      } finally {
        create.disabled = false;
      }
    },
  }, field("Label (optional)", label), field("Valid for (hours)", hours), create, msg);
  const open = h("button", {
    type: "button", id: "add-phone", class: "secondary", "aria-expanded": "false", "aria-controls": box.id,
    onclick: () => {
      box.hidden = !box.hidden;
      open.setAttribute("aria-expanded", String(!box.hidden));
      if (!box.hidden && !box.firstChild) box.replaceChildren(form);
    },
  }, "Add a phone");
  return { button: open, box };
}
