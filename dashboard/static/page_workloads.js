// Workloads with their rollout progress (Deployments, StatefulSets, Jobs), Scale for a
// role that may update deployments/scale, and the cluster's recent Warning events.
import { alertBox, apiTable, confirmDialog, el, replace } from "./dom.js";
import { throttled } from "./page_nodes.js";

/** [done, wanted, words] of a workload's rollout, from its spec and status. */
export function progress(kind, obj) {
  const spec = obj.spec || {};
  const st = obj.status || {};
  if (kind === "Job") {
    const want = spec.completions ?? 1;
    const done = st.succeeded || 0;
    return [done, want, `${done} of ${want} succeeded${st.failed ? `, ${st.failed} failed` : ""}${st.active ? `, ${st.active} running` : ""}`];
  }
  const want = spec.replicas ?? 1;
  const updated = st.updatedReplicas || 0;
  const ready = st.readyReplicas || 0;
  const stale = (st.observedGeneration || 0) < ((obj.metadata || {}).generation || 0);
  const words = `${updated} of ${want} updated, ${ready} ready${stale ? ", waiting for the controller" : ""}`;
  return [Math.min(updated, ready), want, words];
}

const KINDS = [
  ["Deployments", "Deployment", "apps/v1", "deployments"],
  ["StatefulSets", "StatefulSet", "apps/v1", "statefulsets"],
  ["Jobs", "Job", "batch/v1", "jobs"],
];

export function workloadsPage(main, ctx) {
  const where = ctx.namespace ? `namespace ${ctx.namespace}` : "all namespaces";
  const boxes = KINDS.map(([title]) => el("section", { id: `wl-${title.toLowerCase()}`, "aria-label": title }, el("h2", {}, title), el("p", { class: "note" }, "Loading…")));
  replace(main, el("h1", {}, `Workloads (${where})`), boxes);
  let mayScale = false;
  const lists = new Map();
  const redraws = KINDS.map(([title, kind], i) =>
    throttled(() => {
      const list = lists.get(kind);
      if (!list) return;
      const scalable = kind !== "Job" && mayScale && kind === "Deployment";
      replace(
        boxes[i],
        el("h2", {}, title),
        apiTable(list, {
          caption: `${list.rows.size} ${title.toLowerCase()}`,
          decorate: {
            columns: ["ROLLOUT"].concat(scalable ? ["ACTIONS"] : []),
            extra: (row) => {
              const [done, want, words] = progress(kind, row.object);
              const bar = el("progress", { max: Math.max(want, 1), value: done, "aria-label": `${row.object.metadata.name} rollout: ${words}` });
              return [el("span", {}, bar, " ", words)].concat(scalable ? [scaleButton(row.object, ctx)] : []);
            },
          },
        }),
      );
    }),
  );
  ctx.canI("update", "apps", "deployments", ctx.namespace, "scale").then((yes) => {
    mayScale = yes;
    redraws[0]();
  });
  KINDS.forEach(([title, kind, gv, plural], i) => {
    ctx.live(ctx.collectionPath(gv, plural, ctx.namespace), "", (list) => {
      lists.set(kind, list);
      redraws[i]();
    }, (err) => replace(boxes[i], el("h2", {}, title), alertBox(err.message)));
  });
}

function scaleButton(deploy, ctx) {
  const { namespace, name } = deploy.metadata;
  const replicas = (deploy.spec || {}).replicas ?? 1;
  return el(
    "button",
    {
      type: "button",
      "aria-label": `Scale deployment ${namespace}/${name}`,
      onclick: async () => {
        const value = await confirmDialog({
          title: `Scale deployment ${namespace}/${name}`,
          text: `It has ${replicas} replicas now.`,
          field: { label: "Replicas", type: "number", value: replicas, min: 0 },
          okLabel: "Scale",
        });
        if (value === null) return;
        const n = Number(value);
        if (!Number.isInteger(n) || n < 0) {
          ctx.say(`replicas must be a whole number, 0 or more (got ${value})`);
          return;
        }
        try {
          await ctx.request(`${ctx.collectionPath("apps/v1", "deployments", namespace)}/${encodeURIComponent(name)}/scale`, {
            method: "PATCH",
            contentType: "application/merge-patch+json",
            body: { spec: { replicas: n } },
          });
          const note = await ctx.recordEvent({
            namespace,
            involved: { kind: "Deployment", apiVersion: "apps/v1", namespace, name, uid: deploy.metadata.uid },
            reason: "ScalingReplicaSet",
            message: `deployment ${name} scaled from ${replicas} to ${n}`,
          });
          ctx.say(`deployment.apps/${name} scaled to ${n}${note}`);
        } catch (err) {
          ctx.say(`scale ${name} failed: ${err.message}`);
        }
      },
    },
    "Scale",
  );
}

export function eventsPage(main, ctx) {
  const where = ctx.namespace ? `namespace ${ctx.namespace}` : "all namespaces";
  const box = el("div", { id: "events-table" }, el("p", { class: "note" }, "Loading…"));
  replace(main, el("h1", {}, `Warning events (${where})`), box);
  const time = (r) => String((r.object || {}).lastTimestamp || (r.object || {}).eventTime || "");
  const redraw = throttled(() => {
    if (!events) return;
    replace(box, apiTable(events, { caption: `${events.rows.size} warnings, newest first`, sort: (a, b) => time(b).localeCompare(time(a)) }));
  });
  let events = null;
  ctx.live(ctx.collectionPath("v1", "events", ctx.namespace), `fieldSelector=${encodeURIComponent("type=Warning")}`, (list) => {
    events = list;
    redraw();
  }, (err) => replace(box, alertBox(err.message)));
}

/** GPU queues (scheduling.kubelab.io Queue, cluster-wide): each queue's share, what it
 * uses and borrows, its waiting pods and fair share, the columns `kl get queues` prints. */
export function queuesPage(main, ctx) {
  const box = el("div", { id: "queues-table" }, el("p", { class: "note" }, "Loading…"));
  replace(main, el("h1", {}, "GPU queues"), box);
  let queues = null;
  const redraw = throttled(() => {
    if (!queues) return;
    replace(box, apiTable(queues, { caption: `${queues.rows.size} queues` }));
  });
  ctx.live(ctx.collectionPath("scheduling.kubelab.io/v1", "queues", ""), "", (list) => {
    queues = list;
    redraw();
  }, (err) => replace(box, alertBox(err.message)));
}
