// Nodes and their GPUs: the nodes' Table (STATUS as `kl get nodes`), a grid of every GPU
// with its model, memory, health and holder, and cordon/uncordon for a role that may.
import { gpuCells, mib } from "./gpus.js";
import { alertBox, apiTable, confirmDialog, el, replace } from "./dom.js";

const USAGE_PERIOD_MS = 15000; // the kubelets report usage every 15 s

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
  let measured = null; // "node/uuid" → what its kubelet last measured (NodeMetrics' gpus)
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
      withGpus.map((n) => gpuNode(n, podObjects, statusOf.get(n.metadata.name) || "", measured)),
    );
  });

  // Usage is not a watchable kind: read it as `kl top gpus` does, every report period.
  const readUsage = async () => {
    try {
      const list = await ctx.request(ctx.collectionPath("metrics.k8s.io/v1beta1", "nodes"), {
        signal: ctx.signal,
      });
      measured = measuredGpus(list);
    } catch (_err) {
      measured = null; // no metrics for this user, or none reported yet: "not reported"
    }
    redraw();
  };
  readUsage();
  const usageTimer = setInterval(readUsage, USAGE_PERIOD_MS);
  if (ctx.signal) ctx.signal.addEventListener("abort", () => clearInterval(usageTimer));
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

/** "node/uuid" → {utilization, memoryUsed} from a NodeMetricsList (kubelab's gpus field). */
export function measuredGpus(list) {
  const out = new Map();
  for (const item of (list && list.items) || []) {
    const node = (item.metadata || {}).name || "";
    for (const g of item.gpus || []) out.set(`${node}/${g.uuid}`, g);
  }
  return out;
}

function usageLine(m) {
  if (!m || m.utilization === undefined || m.utilization === null) {
    return "utilisation: not reported";
  }
  const used = quantityMiB(m.memoryUsed);
  const mem = used === null ? "" : ` · ${mib(used)} in use`;
  return `utilisation ${m.utilization} %${mem}`;
}

const UNITS = { "": 1, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };

/** A memory quantity ("21474836480", "20Gi", "512Mi") in MiB, as `kl top gpus` reads it. */
export function quantityMiB(text) {
  const m = /^([0-9.]+)([KMGT]i|[kMG])?$/.exec(String(text ?? ""));
  if (!m) return null;
  return Math.floor((Number(m[1]) * UNITS[m[2] || ""]) / 2 ** 20);
}

function gpuNode(node, pods, status, measured) {
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
            ? el(
                "div",
                {},
                "by ",
                el("a", { href: `#/pod/${c.holder}`, class: "holder" }, c.holder),
                c.queue ? ` (queue ${c.queue})` : "",
              )
            : null,
          el("div", { class: "usage" }, usageLine(measured && measured.get(`${name}/${c.uuid}`))),
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
