// kubelab dashboard: pages, routing and login. Plain modules, no build step.
import { ApiError, canI, collectionPath, liveTable, request, setToken, token, whoami } from "./api.js";
import { alertBox, el, replace } from "./dom.js";
import { nodesPage } from "./page_nodes.js";
import { podPage, podsPage } from "./page_pods.js";
import { eventsPage, queuesPage, workloadsPage } from "./page_workloads.js";

const NS_KEY = "kubelab.dashboard.namespace";
const PAGES = [
  ["nodes", "Nodes and GPUs"],
  ["workloads", "Workloads"],
  ["pods", "Pods"],
  ["queues", "GPU queues"],
  ["events", "Warning events"],
];

const main = document.getElementById("main");
const statusLine = document.getElementById("status-line");
let current = null; // the AbortController of the page on screen: its watches stop with it
let user = "";

/** What every page gets: where to draw, when to stop, the namespace, the user, helpers. */
function context(signal) {
  const namespace = sessionStorage.getItem(NS_KEY) || "";
  return {
    signal,
    namespace,
    user,
    say: (text) => {
      statusLine.textContent = text;
    },
    live: (path, query, onChange, onError) => liveTable(path, { query, signal, onChange, onError }),
    canI,
    request,
    collectionPath,
    recordEvent: (args) => recordEvent(args),
  };
}

/**
 * An Event saying who did what from the dashboard, written with the user's own token (so
 * the audit log has it too, as the user's request). A user whose role may act but not
 * write events still acts; the page says the event could not be written.
 */
async function recordEvent({ namespace, involved, reason, message }) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const body = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { generateName: `${involved.name}.`, namespace },
    involvedObject: involved,
    reason,
    message: `${message} (by ${user}, from the dashboard)`,
    type: "Normal",
    source: { component: "kubelab-dashboard" },
    reportingComponent: "kubelab-dashboard",
    reportingInstance: user,
    firstTimestamp: now,
    lastTimestamp: now,
    count: 1,
  };
  try {
    await request(collectionPath("v1", "events", namespace), { method: "POST", body });
    return "";
  } catch (err) {
    return ` (no event recorded: ${err.message})`;
  }
}

function route() {
  const parts = (location.hash.replace(/^#\/?/, "") || "nodes").split("/").map(decodeURIComponent);
  return parts;
}

function nav(active) {
  return el(
    "ul",
    {},
    PAGES.map(([id, label]) =>
      el("li", {}, el("a", { href: `#/${id}`, "aria-current": id === active ? "page" : false }, label)),
    ),
  );
}

function render() {
  if (current) current.abort();
  if (!token()) {
    showLogin("");
    return;
  }
  current = new AbortController();
  const [page, ...args] = route();
  replace(document.getElementById("nav"), nav(page === "pod" ? "pods" : page));
  const ctx = context(current.signal);
  const draw = {
    nodes: () => nodesPage(main, ctx),
    workloads: () => workloadsPage(main, ctx),
    pods: () => podsPage(main, ctx),
    pod: () => podPage(main, ctx, args[0], args[1]),
    queues: () => queuesPage(main, ctx),
    events: () => eventsPage(main, ctx),
  }[page];
  if (!draw) {
    replace(main, el("h1", {}, "Not found"), alertBox(`there is no page ${page}`));
    return;
  }
  draw();
  main.focus({ preventScroll: true });
}

function showLogin(problem) {
  if (current) current.abort();
  document.getElementById("session").hidden = true;
  replace(document.getElementById("nav"));
  const input = el("input", { id: "token", name: "token", type: "password", autocomplete: "off", required: true });
  const form = el(
    "form",
    { id: "login", "aria-labelledby": "login-title" },
    el("h1", { id: "login-title" }, "Sign in to kubelab"),
    el(
      "p",
      {},
      "Paste your API token (the one in your kubeconfig), or run ",
      el("code", {}, "kl dashboard"),
      " for a link that signs you in. The dashboard asks the API with it, so you see exactly what your role lets you list.",
    ),
    problem ? alertBox(problem) : null,
    el("label", { for: "token" }, "Token"),
    input,
    el("button", { type: "submit" }, "Sign in"),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn(input.value.trim());
  });
  replace(main, form);
  input.focus();
}

async function signIn(value) {
  setToken(value);
  try {
    user = await whoami();
  } catch (err) {
    setToken("");
    showLogin(err instanceof ApiError && err.code === 401 ? "That token was not accepted (401 Unauthorized)." : err.message);
    return;
  }
  const session = document.getElementById("session");
  session.hidden = false;
  document.getElementById("who").textContent = user;
  const ns = document.getElementById("namespace");
  ns.value = sessionStorage.getItem(NS_KEY) || "";
  render();
}

function start() {
  // `kl dashboard` opens /dashboard/#token=...: the fragment never reaches a server or a
  // log; it is moved to this tab's session storage and wiped from the address bar.
  const m = location.hash.match(/^#token=([^&]+)(?:&ns=([^&]*))?/);
  if (m) {
    if (m[2]) sessionStorage.setItem(NS_KEY, decodeURIComponent(m[2]));
    history.replaceState(null, "", `${location.pathname}#/nodes`);
    signIn(decodeURIComponent(m[1]));
  } else if (token()) {
    signIn(token());
  } else {
    showLogin("");
  }
  window.addEventListener("hashchange", () => token() && render());
  document.getElementById("signout").addEventListener("click", () => {
    setToken("");
    user = "";
    showLogin("Signed out.");
  });
  document.getElementById("ns-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    sessionStorage.setItem(NS_KEY, document.getElementById("namespace").value.trim());
    render();
  });
}

start();
