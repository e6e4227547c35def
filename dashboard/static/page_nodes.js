// Nodes and their GPUs: the nodes' Table (STATUS as `kl get nodes`), a grid of every GPU
// with its model, memory, health and holder, and cordon/uncordon for a role that may.
import { gpuCells } from "./gpus.js";
import { alertBox, apiTable, confirmDialog, el, replace } from "./dom.js";

/** Coalesce bursts of watch events into one redraw per frame. */
export function throttled(draw) {
  let pending = false;
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      draw();
    });
  };
}

export function nodesPage(main, ctx) {
  const table = el("div", { id: "nodes-table" }, el("p", { class: "note" }, "Loading nodes…"));
  const grid = el("div", { id: "gpu-grid", class: "gpu-nodes" });
  const problems = el("div", { id: "problems" });
  replace(main, el("h1", {}, "Nodes and GPUs"), problems, table, el("h2", {}, "GPUs"), grid);
  let nodes = null;
  let pods = null;
  let podsRefused = "";
  let mayCordon = false;
  ctx.canI("patch", "", "nodes").then((yes) => {
    mayCordon = yes;
    redraw();
  });

  const redraw = throttled(() => {
    if (!nodes) return;
    replace(
      table,
      apiTable(nodes, {
        caption: `${nodes.rows.size} nodes`,
        decorate: mayCordon ? { columns: ["ACTIONS"], extra: (row) => [cordonButton(row.object, ctx)] } : undefined,
      }),
    );
    const podObjects = pods ? [...pods.rows.values()].map((r) => r.object) : [];
    const si = nodes.columns.findIndex((c) => c.name.toLowerCase() === "status");
    const statusOf = new Map([...nodes.rows.values()].map((r) => [r.object.metadata.name, String(r.cells[si])]));
    const withGpus = [...nodes.rows.values()].map((r) => r.object).filter((n) => ((n.status || {}).gpus || []).length);
    withGpus.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    replace(
      grid,
      podsRefused ? el("p", { class: "note" }, `Holders unknown: ${podsRefused}`) : null,
      withGpus.length ? null : el("p", { class: "note" }, "No node reports GPUs."),
      withGpus.map((n) => gpuNode(n, podObjects, statusOf.get(n.metadata.name) || "")),
    );
  });

  ctx.live(ctx.collectionPath("v1", "nodes"), "", (list) => {
    nodes = list;
    redraw();
  }, (err) => replace(problems, alertBox(err.message)));
  ctx.live(ctx.collectionPath("v1", "pods", ctx.namespace), "", (list) => {
    pods = list;
    redraw();
  }, (err) => {
    podsRefused = err.message;
    redraw();
  });
}

function gpuNode(node, pods, status) {
  const name = node.metadata.name;
  const cells = gpuCells(node, pods);
  const used = cells.filter((c) => c.state === "in-use").length;
  return el(
    "section",
    { class: "gpu-node", "aria-labelledby": `gpus-${name}`, "data-node": name },
    el("h3", { id: `gpus-${name}` }, `${name} — ${status} — ${used} of ${cells.length} GPUs in use`),
    el(
      "ul",
      { class: "gpus" },
      cells.map((c) =>
        el(
          "li",
          { class: `gpu ${c.state}`, "data-uuid": c.uuid, "data-state": c.state, title: c.uuid },
          el("div", {}, el("strong", {}, `GPU ${c.index}`), ` ${c.model}`),
          el("div", {}, `${c.memory} · ${c.health}${c.reason ? `: ${c.reason}` : ""}`),
          el("div", { class: "state" }, c.state === "in-use" ? "in use" : c.state),
          c.holder
            ? el("div", {}, "by ", el("a", { href: `#/pod/${c.holder}`, class: "holder" }, c.holder))
            : null,
          el("div", { class: "note" }, "utilisation: not reported"),
        ),
      ),
    ),
  );
}

function cordonButton(node, ctx) {
  const name = node.metadata.name;
  const cordoned = Boolean((node.spec || {}).unschedulable);
  const verb = cordoned ? "Uncordon" : "Cordon";
  return el(
    "button",
    {
      type: "button",
      "aria-label": `${verb} node ${name}`,
      onclick: async () => {
        const ok = await confirmDialog({
          title: `${verb} node ${name}?`,
          text: cordoned
            ? "New pods may be scheduled onto it again."
            : "No new pods will be scheduled onto it; running pods stay.",
          okLabel: verb,
        });
        if (!ok) return;
        try {
          await ctx.request(`${ctx.collectionPath("v1", "nodes")}/${encodeURIComponent(name)}`, {
            method: "PATCH",
            contentType: "application/merge-patch+json",
            body: { spec: { unschedulable: !cordoned } },
          });
          const note = await ctx.recordEvent({
            namespace: "default",
            involved: { kind: "Node", apiVersion: "v1", name, uid: name },
            reason: cordoned ? "NodeSchedulable" : "NodeNotSchedulable",
            message: `node ${name} ${cordoned ? "uncordoned" : "cordoned"}`,
          });
          ctx.say(`node/${name} ${cordoned ? "uncordoned" : "cordoned"}${note}`);
        } catch (err) {
          ctx.say(`${verb} ${name} failed: ${err.message}`);
        }
      },
    },
    verb,
  );
}
