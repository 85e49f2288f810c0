// DOM helpers. Every string becomes a text node or a property: nothing here ever parses HTML, so
// a tenant's name such as `<img src=x onerror=…>` shows as the characters it is.

let uid = 0;
export const nextId = (prefix) => `${prefix}-${++uid}`;

export const $ = (sel, root = document) => root.querySelector(sel);

/** h("button", {class: "secondary", onclick: fn, "aria-label": "…"}, "text", child, …) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    // A null data value means "no attribute", not the text "null".
    else if (k === "dataset") for (const [dk, dv] of Object.entries(v)) { if (dv != null) el.dataset[dk] = dv; }
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else if (k === "value" || k === "checked" || k === "disabled" || k === "hidden") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** A labelled form field: the label wraps nothing, it points at the control by id. */
export function field(labelText, control, hint) {
  if (!control.id) control.id = nextId("f");
  const hintEl = hint ? h("small", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, labelText), control, hintEl);
}

/** A table that scrolls sideways inside its own box on a narrow screen instead of the page; one
 * with the class `stack` shows each row as a card of labelled lines there instead. */
export function table(headers, rows, opts = {}) {
  const t = h("table", { class: opts.class || null },
    opts.caption ? h("caption", { class: opts.captionHidden ? "visually-hidden" : null }, opts.caption) : null,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
    h("tbody", {}, rows));
  labelCells(t);
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": opts.caption || "table" }, t);
}

/** Each body cell gets its column's heading as `data-label` (what a stacked row shows). */
export function labelCells(t) {
  const heads = [...t.querySelectorAll("thead th")].map((th) => th.textContent);
  for (const tr of t.querySelectorAll("tbody tr")) {
    [...tr.cells].forEach((c, i) => { if (heads[i]) c.dataset.label = heads[i]; });
  }
  return t;
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function section(title, ...children) {
  const id = nextId("s");
  return h("section", { "aria-labelledby": id }, h("h2", { id }, title), ...children);
}
