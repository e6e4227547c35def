// Pods (the Table `kl get pods` prints, plus NODE and GPUS) and one pod's page: its
// status, why it is where it is, its events and its log, following.
import { followLog } from "./api.js";
import { podGpuUuids, SCHEDULING_REASONS } from "./gpus.js";
import { alertBox, apiTable, confirmDialog, el, replace } from "./dom.js";
import { throttled } from "./page_nodes.js";

const BAD = /Err|BackOff|Failed|Error|OOMKilled|Evicted|Unknown/;

export function statusCell(text) {
  // The words are the API's; the class only repeats them in colour.
  if (BAD.test(text)) return el("span", { class: "status-bad" }, text);
  if (/Pending|Creating|Init|Terminating/.test(text)) return el("span", { class: "status-wait" }, text);
  return text;
}

function podLink(row, text) {
  const m = row.object.metadata;
  return el("a", { href: `#/pod/${encodeURIComponent(m.namespace)}/${encodeURIComponent(m.name)}` }, text);
}

export function podsPage(main, ctx) {
  const where = ctx.namespace ? `namespace ${ctx.namespace}` : "all namespaces";
  const box = el("div", { id: "pods-table" }, el("p", { class: "note" }, "Loading pods…"));
  replace(main, el("h1", {}, `Pods (${where})`), box);
  let mayDelete = false;
  let pods = null;
  ctx.canI("delete", "", "pods", ctx.namespace).then((yes) => {
    mayDelete = yes;
    redraw();
  });
  const redraw = throttled(() => {
    if (!pods) return;
    const columns = ["GPUS"].concat(mayDelete ? ["ACTIONS"] : []);
    replace(
      box,
      apiTable(pods, {
        caption: `${pods.rows.size} pods`,
        extraColumns: ["Node"],
        decorate: {
          columns,
          cell: (row, col, text) => (col.name === "Name" ? podLink(row, text) : col.name === "Status" ? statusCell(text) : text),
          extra: (row) => [podGpuUuids(row.object).join(", ") || "-"].concat(mayDelete ? [deleteButton(row.object, ctx)] : []),
        },
      }),
    );
  });
  const query = "";
  ctx.live(ctx.collectionPath("v1", "pods", ctx.namespace), query, (list) => {
    pods = list;
    redraw();
  }, (err) => replace(box, alertBox(err.message)));
}

function deleteButton(pod, ctx) {
  const { namespace, name } = pod.metadata;
  return el(
    "button",
    {
      type: "button",
      "aria-label": `Delete pod ${namespace}/${name}`,
      onclick: async () => {
        const ok = await confirmDialog({
          title: `Delete pod ${namespace}/${name}?`,
          text: "Its containers are stopped; a controller that owns it makes a new one.",
          okLabel: "Delete",
        });
        if (!ok) return;
        try {
          await ctx.request(`${ctx.collectionPath("v1", "pods", namespace)}/${encodeURIComponent(name)}`, { method: "DELETE" });
          const note = await ctx.recordEvent({
            namespace,
            involved: { kind: "Pod", apiVersion: "v1", namespace, name, uid: pod.metadata.uid },
            reason: "Killing",
            message: `pod ${name} deleted`,
          });
          ctx.say(`pod "${name}" deleted${note}`);
        } catch (err) {
          ctx.say(`delete ${name} failed: ${err.message}`);
        }
      },
    },
    "Delete",
  );
}

/** What the scheduler and the kubelet say about a pod, as `kl why` reads it. */
export function whyLines(pod, events) {
  const spec = pod.spec || {};
  const st = pod.status || {};
  const lines = [];
  const cond = (st.conditions || []).find((c) => c.type === "PodScheduled");
  if (!spec.nodeName) {
    lines.push(`Pending: not scheduled yet`);
    let reasons = null;
    const text = ((pod.metadata || {}).annotations || {})[SCHEDULING_REASONS];
    if (text) {
      try {
        reasons = JSON.parse(text);
      } catch (_e) {
        reasons = { summary: text };
      }
    }
    if (reasons && reasons.summary) lines.push(`scheduler: ${reasons.summary}`);
    const byNode = (reasons && reasons.nodes) || {};
    for (const node of Object.keys(byNode).sort()) {
      const why = byNode[node];
      lines.push(`  ${node}: ${(Array.isArray(why) ? why.join("; ") : String(why)) || "fits"}`);
      const g = ((reasons && reasons.gpus) || {})[node];
      if (g && typeof g === "object" && !Array.isArray(g)) {
        for (const [uuid, w] of Object.entries(g)) lines.push(`    gpu ${uuid}: ${Array.isArray(w) ? w.join("; ") : w}`);
      }
    }
    if (!reasons && cond && cond.status === "False") lines.push(`scheduler: ${cond.message || cond.reason}`);
    if (!reasons && !cond) lines.push("the scheduler has not reported on this pod yet (is `kubelab scheduler` running?)");
  } else {
    const gpus = podGpuUuids(pod);
    lines.push(`${st.phase || "Pending"} on node ${spec.nodeName}${gpus.length ? ` with GPUs ${gpus.join(", ")}` : ""}`);
    for (const cs of (st.initContainerStatuses || []).concat(st.containerStatuses || [])) {
      const state = cs.state || {};
      if (state.waiting) lines.push(`  ${cs.name}: waiting: ${state.waiting.reason || ""}${state.waiting.message ? ` (${state.waiting.message})` : ""}`);
      else if (state.terminated) lines.push(`  ${cs.name}: terminated: ${state.terminated.reason || ""}, exit code ${state.terminated.exitCode}`);
      else if (state.running) lines.push(`  ${cs.name}: running${cs.ready ? ", ready" : ", not ready"}, ${cs.restartCount || 0} restarts`);
    }
  }
  const warnings = events.filter((e) => e.type === "Warning");
  if (warnings.length) {
    const last = warnings[warnings.length - 1];
    lines.push(`last warning: ${last.reason}: ${String(last.message || "").replace(/\s+/g, " ")}`);
  }
  return lines;
}

export function podPage(main, ctx, namespace, name) {
  const title = `${namespace}/${name}`;
  const summary = el("div", { id: "pod-summary" }, el("p", { class: "note" }, "Loading…"));
  const why = el("ul", { id: "pod-why", class: "why", "aria-label": "Why" });
  const eventsBox = el("div", { id: "pod-events" });
  const log = el("pre", { id: "pod-log", class: "log", role: "log", "aria-label": `log of ${title}`, tabindex: "0" });
  replace(
    main,
    el("h1", {}, `Pod ${title}`),
    summary,
    el("h2", {}, "Why"),
    why,
    el("h2", {}, "Events"),
    eventsBox,
    el("h2", {}, "Log (following)"),
    log,
  );
  let pod = null;
  let events = null;
  const redraw = throttled(() => {
    if (pod) {
      const row = [...pod.rows.values()][0];
      if (!row) replace(summary, alertBox(`pod ${title} not found (deleted?)`));
      else {
        replace(summary, apiTable(pod, { caption: "Status", extraColumns: ["Node", "IP"], decorate: { columns: ["GPUS"], cell: (r, c, t) => (c.name === "Status" ? statusCell(t) : t), extra: (r) => [podGpuUuids(r.object).join(", ") || "-"] } }));
        const evs = events ? [...events.rows.values()].map((r) => r.object) : [];
        evs.sort((a, b) => String(a.lastTimestamp || a.eventTime || "").localeCompare(String(b.lastTimestamp || b.eventTime || "")));
        replace(why, whyLines(row.object, evs).map((l) => el("li", {}, l)));
      }
    }
    if (events) replace(eventsBox, apiTable(events, { caption: `${events.rows.size} events`, sort: byTime }));
  });
  const podsPath = ctx.collectionPath("v1", "pods", namespace);
  ctx.live(podsPath, `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`, (list) => {
    pod = list;
    redraw();
  }, (err) => replace(summary, alertBox(err.message)));
  const sel = `involvedObject.kind=Pod,involvedObject.name=${name}`;
  ctx.live(ctx.collectionPath("v1", "events", namespace), `fieldSelector=${encodeURIComponent(sel)}`, (list) => {
    events = list;
    redraw();
  }, (err) => replace(eventsBox, alertBox(err.message)));
  const logNote = el("p", { class: "note", id: "pod-log-note" });
  log.after(logNote);
  let lines = 0;
  const follow = () =>
    followLog(namespace, name, {
      signal: ctx.signal,
      onLine: (line) => {
        logNote.textContent = "";
        log.append(document.createTextNode(`${line}\n`));
        lines += 1;
        if (lines > 2000) log.firstChild.remove(); // the tail is what matters on a long run
        log.scrollTop = log.scrollHeight;
      },
      onError: (err) => {
        // Not started yet (Pending, ContainerCreating): say so and ask again shortly.
        logNote.textContent = `log: ${err.message}`;
        if (!lines) setTimeout(() => ctx.signal.aborted || follow(), 2000);
      },
    });
  follow();
}

function byTime(a, b) {
  const t = (r) => String((r.object || {}).lastTimestamp || (r.object || {}).eventTime || "");
  return t(a).localeCompare(t(b));
}
