// The dashboard's only way to the cluster: the user's own API requests with the user's
// own token, so RBAC decides what each page may show, exactly as for `kl`.

const TOKEN_KEY = "kubelab.dashboard.token";
const TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json";

export class ApiError extends Error {
  constructor(code, message, reason) {
    super(message);
    this.code = code;
    this.reason = reason || "";
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function headers(extra) {
  return { Authorization: `Bearer ${token()}`, ...extra };
}

async function failure(resp) {
  let message = `${resp.status} ${resp.statusText}`;
  let reason = "";
  try {
    const body = await resp.json();
    if (body && body.message) message = body.message;
    if (body && body.reason) reason = body.reason;
  } catch (_e) {
    // not a Status: keep the HTTP line
  }
  return new ApiError(resp.status, message, reason);
}

/** One API request; the parsed JSON answer, or an ApiError carrying the API's Status message. */
export async function request(path, { method = "GET", body, contentType, table = false, signal } = {}) {
  const h = headers({ Accept: table ? TABLE : "application/json" });
  if (body !== undefined) h["Content-Type"] = contentType || "application/json";
  const resp = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  if (!resp.ok) throw await failure(resp);
  return resp.json();
}

/** Lines of a streamed answer (a watch, a followed log), one callback each, until it ends. */
export async function streamLines(path, { table = false, signal, onLine }) {
  const resp = await fetch(path, {
    headers: headers({ Accept: table ? TABLE : "application/json" }),
    signal,
  });
  if (!resp.ok) throw await failure(resp);
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    rest += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, nl);
      rest = rest.slice(nl + 1);
      onLine(line);
    }
  }
  if (rest) onLine(rest);
}

/** Who the token belongs to (SelfSubjectReview, as `kubectl auth whoami`). */
export async function whoami() {
  const review = await request("/apis/authentication.k8s.io/v1/selfsubjectreviews", {
    method: "POST",
    body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
  });
  return ((review.status || {}).userInfo || {}).username || "";
}

/** Whether the user may do one thing (SelfSubjectAccessReview, as `kubectl auth can-i`). */
export async function canI(verb, group, resource, namespace = "", subresource = "") {
  try {
    const review = await request("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", {
      method: "POST",
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { verb, group, resource, namespace, subresource } },
      },
    });
    return Boolean((review.status || {}).allowed);
  } catch (_e) {
    return false;
  }
}

/** The collection path of a resource: `/api/v1/pods`, `/apis/apps/v1/namespaces/x/deployments`. */
export function collectionPath(groupVersion, plural, namespace = "") {
  const base = groupVersion.includes("/") ? `/apis/${groupVersion}` : `/api/${groupVersion}`;
  return namespace ? `${base}/namespaces/${encodeURIComponent(namespace)}/${plural}` : `${base}/${plural}`;
}

/**
 * A list kept current by the API's own watch: the server's Table (the columns `kl get`
 * prints, STATUS included) with each row's object. `onChange(list)` runs after the first
 * list and after every change; `list.rows` is keyed by uid. Stops when `signal` aborts.
 */
export function liveTable(path, { query = "", signal, onChange, onError }) {
  const list = { columns: [], rows: new Map(), resourceVersion: "" };
  const sep = query ? `&${query}` : "";
  const key = (row) => ((row.object || {}).metadata || {}).uid || JSON.stringify(row.cells);

  async function relist() {
    const table = await request(`${path}?includeObject=Object${sep}`, { table: true, signal });
    list.columns = table.columnDefinitions || [];
    list.rows = new Map((table.rows || []).map((r) => [key(r), r]));
    list.resourceVersion = (table.metadata || {}).resourceVersion || "";
    onChange(list);
  }

  function apply(line) {
    if (!line.trim()) return;
    const event = JSON.parse(line);
    const obj = event.object || {};
    if (event.type === "BOOKMARK") {
      list.resourceVersion = (obj.metadata || {}).resourceVersion || list.resourceVersion;
      return;
    }
    if (event.type === "ERROR") throw new ApiError(obj.code || 500, obj.message || "watch error", obj.reason);
    for (const row of obj.rows || []) {
      const meta = (row.object || {}).metadata || {};
      if (meta.resourceVersion) list.resourceVersion = meta.resourceVersion;
      if (event.type === "DELETED") list.rows.delete(key(row));
      else list.rows.set(key(row), row);
    }
    onChange(list);
  }

  async function run() {
    let backoff = 500;
    for (;;) {
      try {
        if (!list.resourceVersion) await relist();
        const url =
          `${path}?watch=1&allowWatchBookmarks=true&includeObject=Object` +
          `&resourceVersion=${encodeURIComponent(list.resourceVersion)}${sep}`;
        await streamLines(url, { table: true, signal, onLine: apply });
        backoff = 500; // the server ended the watch (its timeout): resume from where we are
      } catch (err) {
        if (signal && signal.aborted) return;
        if (err instanceof ApiError && err.code === 410) {
          list.resourceVersion = ""; // too old: list again
          continue;
        }
        if (err instanceof ApiError && (err.code === 401 || err.code === 403 || err.code === 404)) {
          onError(err);
          return;
        }
        if (onError) onError(err);
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10000);
        list.resourceVersion = "";
      }
    }
  }
  run();
  return list;
}

/** A pod's log, following (`pods/log?follow=true`), one callback per line. */
export function followLog(namespace, name, { container = "", signal, onLine, onError }) {
  const c = container ? `&container=${encodeURIComponent(container)}` : "";
  const path = `${collectionPath("v1", "pods", namespace)}/${encodeURIComponent(name)}/log?follow=true&tailLines=200${c}`;
  streamLines(path, { signal, onLine }).catch((err) => {
    if (!(signal && signal.aborted)) onError(err);
  });
}
