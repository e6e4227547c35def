// Small DOM helpers: every text goes in as text (never as markup), so a pod name or a
// log line that looks like HTML stays text.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function replace(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false));
}

/** A table from the API's Table columns and rows (the ones `kl get` prints). */
export function apiTable(list, { caption, extraColumns = [], decorate, sort } = {}) {
  const shown = list.columns
    .map((c, i) => ({ ...c, i }))
    .filter((c) => !c.priority || extraColumns.includes(c.name));
  let rows = [...list.rows.values()];
  rows.sort(sort || ((a, b) => rowKey(a).localeCompare(rowKey(b))));
  const extra = decorate ? decorate.columns : [];
  return el(
    "table",
    {},
    el("caption", {}, caption || ""),
    el(
      "thead",
      {},
      el("tr", {}, shown.map((c) => el("th", { scope: "col", title: c.description || "" }, c.name.toUpperCase())), extra.map((x) => el("th", { scope: "col" }, x))),
    ),
    el(
      "tbody",
      {},
      rows.map((row) =>
        el(
          "tr",
          { "data-name": rowKey(row) },
          shown.map((c, j) => {
            const text = row.cells[c.i] === undefined || row.cells[c.i] === null ? "" : String(row.cells[c.i]);
            const cell = decorate && decorate.cell ? decorate.cell(row, c, text) : text;
            return j === 0 ? el("th", { scope: "row" }, cell) : el("td", { "data-col": c.name }, cell);
          }),
          decorate ? decorate.extra(row).map((x) => el("td", {}, x)) : [],
        ),
      ),
    ),
  );
}

export function rowKey(row) {
  const m = (row.object || {}).metadata || {};
  return `${m.namespace || ""}/${m.name || ""}`;
}

/** An alert that says what failed, in the API's words. */
export function alertBox(message) {
  return el("p", { role: "alert", class: "alert" }, message);
}

/** Ask before acting: a modal dialog with the question, an optional field, OK and Cancel. */
export function confirmDialog({ title, text, field, okLabel }) {
  return new Promise((resolve) => {
    const input = field
      ? el("input", { id: "confirm-field", type: field.type || "text", value: field.value, min: field.min, required: true })
      : null;
    const dialog = el(
      "dialog",
      { "aria-labelledby": "confirm-title", class: "confirm" },
      el(
        "form",
        { method: "dialog" },
        el("h2", { id: "confirm-title" }, title),
        el("p", {}, text),
        field ? el("label", { for: "confirm-field" }, field.label) : null,
        input,
        el(
          "div",
          { class: "buttons" },
          el("button", { value: "cancel", type: "submit", formnovalidate: true }, "Cancel"),
          el("button", { value: "ok", type: "submit", class: "danger", id: "confirm-ok" }, okLabel || "OK"),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      const ok = dialog.returnValue === "ok";
      dialog.remove();
      resolve(ok ? (input ? input.value : true) : null);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || dialog.querySelector("#confirm-ok")).focus();
  });
}
