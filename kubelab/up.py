"""`kubelab up`: a whole cluster on this machine, as supervised child processes.

The apiserver, the scheduler, the controller manager, the cluster DNS, the lab autoscaler
(``--no-autoscaler`` leaves it out) and one kubelet (plus, with ``--nodes N``, one hollow
kubelet simulating N more nodes) each run as their own process,
``python -m kubelab <component> --kubeconfig HOME/...`` so ``ps`` shows which component
and which home. A child that dies is restarted with backoff (1 s, 2 s, 4 s ... 30 s, logged
in ``HOME/logs/up.log`` and on stderr); its own output goes to ``HOME/logs/<component>.log``.
One line on stdout says when the node is Ready; Ctrl-C or SIGTERM stops everything
(kubelets first, apiserver last). State stays in HOME: running ``kubelab up`` again resumes
the same cluster, with the flags it was last started with (kept in ``HOME/up.json``).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import shlex
import shutil
import signal
import socket
import ssl
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from api.dashboard import dashboard_url
from api.home import kubelab_home
from api.service_cidr import DEFAULT_SERVICE_CIDR, kube_dns_ip
from client import Client
from kubelab.mirror_keeper import MirrorKeeper
from kubelab.netaddr import is_wildcard, route_address
from kubelab.supervisor import Child, Supervisor, env_with_home

log = logging.getLogger("kubelab.up")

# Flags remembered in HOME/up.json so that a bare rerun resumes the same cluster.
REMEMBERED = (
    "port",
    "listen",
    "db",
    "runtime",
    "fake_gpus",
    "nodes",
    "node_name",
    "address",
    "dns_port",
    "cluster_cidr",
    "service_cidr",
    "storage_dir",
    "autoscaler",
)
DEFAULTS: dict[str, Any] = {
    "port": 6443,
    "listen": "127.0.0.1",
    "db": "",
    "runtime": "docker",
    "fake_gpus": "",
    "nodes": 0,
    "node_name": "",
    "address": "127.0.0.1",
    "dns_port": 53,
    "cluster_cidr": "10.42.0.0/16",
    "service_cidr": DEFAULT_SERVICE_CIDR,
    "storage_dir": "",  # HOME/storage
    "autoscaler": True,
}
SIM_NODE_PREFIX = "sim"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab up",
        description="Run a whole cluster on this machine: apiserver, scheduler, controller "
        "manager and a kubelet, each a supervised child process. Ctrl-C stops it; running it "
        "again resumes the same cluster (flags not given are taken from the last run).",
        epilog="examples: kubelab up | kubelab up --runtime fake --fake-gpus 4 --nodes 3",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="where the cluster's state lives: state.db, pki/, kubeconfig, logs/ "
        "(default $KUBELAB_HOME or ~/.kubelab)",
    )
    p.add_argument("--port", type=int, default=None, help="API port (default 6443)")
    p.add_argument(
        "--listen",
        default=None,
        help="address the API listens on (default 127.0.0.1; 0.0.0.0 to let other boxes join)",
    )
    p.add_argument(
        "--db",
        default=None,
        help="database URL (default sqlite:///HOME/state.db; or postgresql://user@host/db)",
    )
    p.add_argument(
        "--runtime",
        choices=("docker", "fake"),
        default=None,
        help="container runtime of the local kubelet: docker (real containers, the default) "
        "or fake (no containers: pods run at once; for learning and tests)",
    )
    p.add_argument(
        "--fake-gpus",
        default=None,
        metavar="SPEC",
        help="simulate GPUs on every node instead of asking NVML: '4' or '2xH100-80GB'",
    )
    p.add_argument(
        "--nodes",
        type=int,
        default=None,
        metavar="N",
        help="N extra simulated nodes (fake runtime, in one hollow kubelet) for learning "
        "scheduling (default 0)",
    )
    p.add_argument(
        "--node-name",
        default=None,
        help="name of the local node (default: the host name)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="the local node's address: container ports and Services are published here "
        "(default 127.0.0.1)",
    )
    p.add_argument(
        "--cluster-cidr",
        default=None,
        help="the pod network, one /24 of it per node (default 10.42.0.0/16)",
    )
    p.add_argument(
        "--service-cidr",
        default=None,
        help=f"the range Services get their ClusterIPs from (default {DEFAULT_SERVICE_CIDR}; "
        "its .1 is the kubernetes Service, its .10 the cluster DNS)",
    )
    p.add_argument(
        "--dns-port",
        type=int,
        default=None,
        help="port of the cluster DNS on --address, behind the kube-dns Service (default 53, "
        "which needs root; 0: a free port)",
    )
    p.add_argument(
        "--storage-dir",
        default=None,
        help="where the local node keeps the data of local-path volumes (default HOME/storage)",
    )
    p.add_argument(
        "--autoscaler",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the lab autoscaler, which powers boxes annotated kubelab.io/power-driver "
        "on and off (docs/autoscaler.md; default on: it touches no other node)",
    )
    p.add_argument(
        "--ready-timeout",
        type=float,
        default=120.0,
        help="seconds to wait for the node to be Ready before saying so (default 120)",
    )
    return p


# -- settings ---------------------------------------------------------------------------


def resolve_settings(args: argparse.Namespace, home: Path) -> dict[str, Any]:
    """Flags given now, else those of the last run in this home, else the defaults."""
    saved: dict[str, Any] = {}
    try:
        saved = json.loads((home / "up.json").read_text())
    except (OSError, ValueError):
        saved = {}
    out: dict[str, Any] = {}
    for key in REMEMBERED:
        given = getattr(args, key)
        out[key] = given if given is not None else saved.get(key, DEFAULTS[key])
    if not out["node_name"]:
        out["node_name"] = socket.gethostname().lower().split(".")[0] or "node"
    return out


def save_settings(home: Path, settings: dict[str, Any]) -> None:
    (home / "up.json").write_text(json.dumps(settings, indent=2) + "\n")


# -- checks before starting --------------------------------------------------------------


def docker_problem() -> str | None:
    """None when a Docker engine answers; else why not."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return None
    except Exception as e:  # no socket, refused, no permission
        where = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        reason = str(e).split(": ", 1)[-1][:120]
        return f"no Docker engine reachable at {where} ({reason})"


def port_problem(listen: str, port: int) -> str | None:
    """None when ``listen:port`` can be bound; else why not."""
    family = socket.AF_INET6 if ":" in listen else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((listen, port))
        except OSError as e:
            return f"cannot listen on {listen}:{port}: {e.strerror}"
    return None


def take_lock(home: Path) -> Any:
    """An exclusive lock on ``HOME/up.lock`` (one ``kubelab up`` per home), or None."""
    f = open(home / "up.lock", "a+")  # noqa: SIM115 - held for the life of the process
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


# -- talking to the apiserver ---------------------------------------------------------------


def _ssl_context(home: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(home / "pki" / "ca.crt"))


def api_url(settings: dict[str, Any]) -> str:
    host = settings["listen"]
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"https://{host}:{settings['port']}"


def api_ready(home: Path, url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/readyz", context=_ssl_context(home), timeout=2) as r:
            return bool(r.status == 200)
    except Exception:
        return False


def ready_nodes(home: Path, url: str, since: str = "") -> set[str]:
    """Names of the nodes whose Ready condition is True, heard from at or after ``since``
    (RFC 3339; a node Ready from the last run counts only once its kubelet is back)."""
    token = (home / "admin-token").read_text().strip()
    req = urllib.request.Request(
        f"{url}/api/v1/nodes", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(req, context=_ssl_context(home), timeout=5) as r:
            nodes = json.loads(r.read())
    except Exception:
        return set()
    out = set()
    for n in nodes.get("items") or []:
        for c in (n.get("status") or {}).get("conditions") or []:
            if (
                c.get("type") == "Ready"
                and c.get("status") == "True"
                and str(c.get("lastHeartbeatTime") or "") >= since
            ):
                out.add(n["metadata"]["name"])
    return out


def kubeconfig_server(path: Path) -> str:
    cfg = yaml.safe_load(path.read_text())
    return str(cfg["clusters"][0]["cluster"]["server"])


# -- the children -----------------------------------------------------------------------


def plan_children(home: Path, settings: dict[str, Any], node_kubeconfig: Path) -> list[Child]:
    """The component processes of the cluster, in start order (apiserver excluded)."""
    logs = home / "logs"
    run = home / "run"
    env = env_with_home(home)

    def child(name: str, args: list[str]) -> Child:
        return Child(name, args, logs / f"{name}.log", env, pid_file=run / f"{name}.pid")

    out = [
        child("scheduler", ["scheduler", "--kubeconfig", str(home / "scheduler.kubeconfig")]),
        child(
            "controllers",
            [
                "controllers",
                "--kubeconfig",
                str(home / "controllers.kubeconfig"),
                "--cluster-cidr",
                settings.get("cluster_cidr") or DEFAULTS["cluster_cidr"],
            ],
        ),
    ]
    if settings.get("autoscaler", True):
        # Under its own identity (the apiserver writes its kubeconfig); it acts only on
        # nodes annotated kubelab.io/power-driver, so an ordinary cluster sees no change.
        scaler = ["autoscaler", "--kubeconfig", str(home / "autoscaler.kubeconfig")]
        out.append(child("autoscaler", scaler))
    # Cluster DNS: a host process on the node address, behind the kube-dns Service at the
    # service range's .10, which every kubelet gives its pods as their nameserver.
    dns_ip = kube_dns_ip(settings.get("service_cidr") or DEFAULT_SERVICE_CIDR)
    dns = ["dns", "--kubeconfig", str(home / "dns.kubeconfig"), "--listen", settings["address"]]
    dns += ["--port", str(settings.get("dns_port", 53)), "--cluster-ip", dns_ip]
    if settings["runtime"] == "docker":
        # On the node's pod bridge, which pods reach (a loopback node address they cannot);
        # the node address until the node has a podCIDR.
        dns += ["--node", settings["node_name"]]
    out.append(child("dns", dns))
    kubelet = [
        "kubelet",
        "--home",
        str(home),
        "--kubeconfig",
        str(node_kubeconfig),
        "--kubelet-secret-file",
        str(home / "kubelet-secret"),
        "--node-name",
        settings["node_name"],
        "--address",
        settings["address"],
        "--runtime",
        settings["runtime"],
        # A free port: several clusters (and tests) can share one box; the node
        # advertises the port it got.
        "--port",
        "0",
    ]
    kubelet += ["--cluster-dns", dns_ip]
    # The ranges its routes keep on this box (kubelet/podnet_routes.py).
    kubelet += ["--cluster-cidr", settings.get("cluster_cidr") or DEFAULTS["cluster_cidr"]]
    kubelet += ["--service-cidr", settings.get("service_cidr") or DEFAULT_SERVICE_CIDR]
    if settings["fake_gpus"]:
        kubelet += ["--fake-gpus", str(settings["fake_gpus"])]
    if settings.get("storage_dir"):
        kubelet += ["--storage-dir", str(settings["storage_dir"])]
    out.append(child("kubelet", kubelet))
    if settings["nodes"]:
        # One process for all simulated nodes, with the admin identity: a node identity
        # may write only its own Node. No proxy: the local kubelet's serves this box.
        hollow = [
            "kubelet",
            "--home",
            str(home),
            "--kubeconfig",
            str(home / "kubeconfig"),
            "--kubelet-secret-file",
            str(home / "kubelet-secret"),
            "--node-name",
            SIM_NODE_PREFIX,
            "--hollow",
            str(settings["nodes"]),
            "--runtime",
            "fake",
            "--port",
            "0",
            "--no-proxy",
            "--address",
            settings["address"],
        ]
        hollow += ["--cluster-dns", dns_ip]
        if settings["fake_gpus"]:
            hollow += ["--fake-gpus", str(settings["fake_gpus"])]
        out.append(child("kubelet-sim", hollow))
    return out


def expected_nodes(settings: dict[str, Any]) -> set[str]:
    names = {settings["node_name"]}
    names |= {f"{SIM_NODE_PREFIX}-{i}" for i in range(int(settings["nodes"] or 0))}
    return names


def _bin_dir() -> Path:
    """Where this installation's ``kl`` and ``kubelab`` scripts are (``.venv/bin`` after
    ``make up``): beside the interpreter, which is not on a fresh shell's PATH."""
    return Path(sys.executable).parent


def shell_setup(home: Path) -> str:
    """The line that points a fresh shell at this cluster: ``kl`` (and ``kubelab``) on
    PATH, ``KUBELAB_HOME`` for the tutorial's ``$KUBELAB_HOME/...`` and a bare
    ``kubelab up`` resume, ``KUBECONFIG`` for ``kl`` and the real ``kubectl``."""
    parts = []
    if (_bin_dir() / "kl").exists():
        # `$PATH` unquoted: an assignment's value is not split, and it must expand.
        parts.append(f"PATH={shlex.quote(str(_bin_dir()))}:$PATH")
    parts.append(f"KUBELAB_HOME={shlex.quote(str(home))}")
    parts.append(f"KUBECONFIG={shlex.quote(str(home / 'kubeconfig'))}")
    return "export " + " ".join(parts)


def try_command(home: Path) -> str:
    """What to paste into another shell to use the cluster, exactly as printed."""
    if (_bin_dir() / "kl").exists() or shutil.which("kl"):
        kl = "kl"
    else:  # run from a checkout that was never installed
        kl = f"{shlex.quote(sys.executable)} -m kubectl.main"
    return f"{shell_setup(home)}; {kl} get nodes"


def resume_command(home: Path) -> str:
    """The command that resumes this cluster from the shell ``kubelab up`` runs in: with
    ``--home`` unless it is the plain default, by full path unless ``kubelab`` is on PATH."""
    mine = _bin_dir() / "kubelab"
    found = shutil.which("kubelab")
    on_path = not mine.exists() or (found is not None and Path(found).resolve() == mine.resolve())
    cmd = "kubelab" if on_path else shlex.quote(str(mine))
    cmd += " up"
    if home != (Path.home() / ".kubelab").resolve():
        cmd += f" --home {shlex.quote(str(home))}"
    return cmd


def ready_line(home: Path, settings: dict[str, Any], url: str) -> str:
    runtime = "Docker" if settings["runtime"] == "docker" else "fake runtime"
    extra = f" + {settings['nodes']} simulated" if settings["nodes"] else ""
    gpus = f", simulated GPUs {settings['fake_gpus']}" if settings["fake_gpus"] else ""
    return (
        f"kubelab is up: node {settings['node_name']}{extra} Ready ({runtime}{gpus}), "
        f"API {url}, dashboard {dashboard_url(url)} (kl dashboard prints a link that "
        f"signs in), state in {home}; in another shell try: {try_command(home)}"
    )


# -- main -------------------------------------------------------------------------------


class _Stop:
    def __init__(self) -> None:
        self.requested = False

    def __call__(self, _sig: int, _frame: Any) -> None:
        self.requested = True


def _setup_logging(home: Path) -> None:
    (home / "logs").mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(home / "logs" / "up.log")
    handler.setFormatter(logging.Formatter("%(asctime)s up %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False


def _say(msg: str) -> None:
    """A supervision event: logged, and on stderr for the operator."""
    log.warning(msg)
    print(f"kubelab up: {msg}", file=sys.stderr, flush=True)


def _fail(msg: str) -> int:
    log.error(msg)
    print(f"kubelab up: {msg}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = (args.home or kubelab_home()).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings = resolve_settings(args, home)
    if settings["runtime"] == "docker":
        problem = docker_problem()
        if problem:
            print(
                f"kubelab up: {problem}: start Docker (e.g. `sudo systemctl start docker`) "
                "or run `kubelab up --runtime fake` for a cluster without containers",
                file=sys.stderr,
            )
            return 1
    lock = take_lock(home)
    if lock is None:
        print(
            f"kubelab up: another `kubelab up` already runs on {home}; stop it first "
            "(or use another --home)",
            file=sys.stderr,
        )
        return 1
    problem = port_problem(settings["listen"], int(settings["port"]))
    if problem:
        print(f"kubelab up: {problem}: pick another with --port", file=sys.stderr)
        return 1
    save_settings(home, settings)
    _setup_logging(home)
    stop = _Stop()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return _run(home, settings, args.ready_timeout, stop)
    finally:
        lock.close()


def plan_apiserver(home: Path, settings: dict[str, Any]) -> list[str]:
    """The apiserver's command line for ``settings``."""
    args = ["apiserver", "--home", str(home), "--port", str(settings["port"])]
    args += ["--listen", settings["listen"]]
    if settings["db"]:
        args += ["--db", settings["db"]]
    if settings.get("service_cidr"):
        args += ["--service-cidr", str(settings["service_cidr"])]
    if is_wildcard(settings["listen"]):
        # Other boxes reach the API on this box's address: the certificate must name it.
        args += ["--tls-san", route_address()]
    elif settings["runtime"] == "docker" and settings["listen"].startswith("127."):
        # Pods cannot be DNATed to loopback: the API also listens on the node's pod
        # bridge, which pods reach and the LAN does not (apiserver/pod_bridge.py).
        args += ["--pod-bridge-node", settings["node_name"]]
    return args


def _run(home: Path, settings: dict[str, Any], ready_timeout: float, stop: _Stop) -> int:
    sup = Supervisor()
    url = api_url(settings)
    apiserver_args = plan_apiserver(home, settings)
    apiserver = sup.add(
        Child(
            "apiserver",
            apiserver_args,
            home / "logs" / "apiserver.log",
            env_with_home(home),
            pid_file=home / "run" / "apiserver.pid",
        )
    )
    log.info("starting the cluster in %s with %s", home, settings)
    try:
        apiserver.start()
        deadline = time.monotonic() + 60
        while not api_ready(home, url):
            if stop.requested:
                return 0
            if not apiserver.alive():
                return _fail(
                    f"the apiserver exited (code {apiserver.exit_code()}) before it was "
                    f"ready; its log ({apiserver.log_path}) ends with:\n{apiserver.log_tail()}"
                )
            if time.monotonic() > deadline:
                return _fail(f"the apiserver was not ready in 60 s; see {apiserver.log_path}")
            time.sleep(0.1)
        from apiserver.main import node_kubeconfig

        server = kubeconfig_server(home / "kubeconfig")
        node_cfg = node_kubeconfig(home, settings["node_name"], server)
        for c in plan_children(home, settings, node_cfg):
            sup.add(c).start()
        # The processes show in kube-system as mirror pods, kept while they run.
        keeper = MirrorKeeper(
            Client.from_kubeconfig(home / "kubeconfig"),
            sup,
            settings["node_name"],
            settings["address"],
        )
        keeper.start()
        try:
            return _supervise(sup, home, settings, url, ready_timeout, stop)
        finally:
            keeper.stop()
            keeper.client.close()
    finally:
        sup.stop_all()
        log.info("stopped")


def _supervise(
    sup: Supervisor,
    home: Path,
    settings: dict[str, Any],
    url: str,
    ready_timeout: float,
    stop: _Stop,
) -> int:
    want = expected_nodes(settings)
    started = time.monotonic()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    announced = warned = False
    next_check = 0.0
    while not stop.requested:
        for event in sup.poll():
            _say(event)
        now = time.monotonic()
        if not announced and now >= next_check:
            next_check = now + 0.5
            if want <= ready_nodes(home, url, since):
                print(ready_line(home, settings, url), flush=True)
                log.info("ready: %s", ", ".join(sorted(want)))
                announced = True
            elif not warned and now - started > ready_timeout:
                warned = True
                _say(
                    f"nodes {', '.join(sorted(want))} not Ready after {ready_timeout:.0f} s; "
                    f"see {home / 'logs' / 'kubelet.log'}"
                )
        time.sleep(0.2)
    _say(f"stopping (state kept in {home}; run `{resume_command(home)}` again to resume)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
