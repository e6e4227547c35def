// Who holds which GPU: a node's status.gpus joined with the pods' kubelab.io/gpu-uuids
// annotation (the same join as `kl get nodes --gpus`, kubectl/gpus.py).

export const GPU_UUIDS = "kubelab.io/gpu-uuids";
export const SCHEDULING_REASONS = "kubelab.io/scheduling-reasons";
export const QUEUE_LABEL = "kubelab.io/queue";

export function podGpuUuids(pod) {
  const text = ((pod.metadata || {}).annotations || {})[GPU_UUIDS] || "";
  return text.split(",").map((u) => u.trim()).filter(Boolean);
}

export function podIsLive(pod) {
  const phase = (pod.status || {}).phase;
  return phase !== "Succeeded" && phase !== "Failed";
}

/** "node/uuid" → the live pod holding that GPU. */
export function holders(pods) {
  const out = new Map();
  for (const pod of pods) {
    const node = (pod.spec || {}).nodeName;
    if (!node || !podIsLive(pod)) continue;
    for (const uuid of podGpuUuids(pod)) out.set(`${node}/${uuid}`, pod);
  }
  return out;
}

export function nodeGpus(node) {
  const gpus = ((node.status || {}).gpus || []).filter((g) => g && typeof g === "object");
  return gpus.slice().sort((a, b) => Number(a.index || 0) - Number(b.index || 0));
}

/** MiB as `kl` writes it (kubectl/gpus.py mib): 81920 → 80Gi, 81559 → 79.6Gi, 512 → 512Mi. */
export function mib(value) {
  const n = Number.parseInt(value, 10);
  if (!Number.isFinite(n)) return "-";
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024}Gi`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)}Gi`;
  return `${n}Mi`;
}

/**
 * One cell per GPU with its state as a word (never colour alone): unhealthy, in-use, free.
 * `pods` are the pods the user may list: a GPU held by a pod they cannot see reads free.
 */
export function gpuCells(node, pods) {
  const name = (node.metadata || {}).name || "";
  const held = holders(pods);
  return nodeGpus(node).map((gpu) => {
    const pod = held.get(`${name}/${gpu.uuid}`);
    const healthy = (gpu.health || "Healthy") === "Healthy";
    let state = "free";
    if (!healthy) state = "unhealthy";
    else if (pod) state = "in-use";
    const meta = pod ? pod.metadata || {} : {};
    return {
      index: gpu.index,
      uuid: gpu.uuid,
      model: gpu.model || "GPU",
      memory: mib(gpu.memoryMiB),
      health: gpu.health || "Healthy",
      reason: gpu.reason || "",
      state,
      holder: pod ? `${meta.namespace}/${meta.name}` : "",
      // Whose it is: the GPU queue the pod is charged to (a user's or team's, docs/queues.md).
      queue: pod ? ((meta.labels || {})[QUEUE_LABEL] || "") : "",
    };
  });
}
