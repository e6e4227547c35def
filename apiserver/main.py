"""`kubelab apiserver`: serve the Kubernetes API over HTTPS from a SQLite file or PostgreSQL."""

from __future__ import annotations

import argparse
import base64
import logging
import os
import sys
from pathlib import Path
from typing import Literal

import yaml

from api.defaults import DEFAULT_TOLERATION_SECONDS
from api.home import kubelab_home
from apiserver.audit import load_policy as load_audit_policy
from apiserver.auth import ensure_admin_token, ensure_secret_file
from apiserver.authz import CONTROLLER_MANAGER_USER, NODE_USER_PREFIX, NODES_GROUP, SCHEDULER_USER
from apiserver.encryption import ensure_config as ensure_encryption_config
from apiserver.encryption import load_config as load_encryption_config
from apiserver.identities import ensure_identity_token
from apiserver.pod_bridge import PodBridgeListener
from apiserver.rbac_bootstrap import AUTOSCALER_USER, KUBE_DNS_USER
from apiserver.service_ips import (
    DEFAULT_SERVICE_CIDR,
    ServiceCIDRError,
    ServiceIPs,
    parse_service_cidr,
)
from apiserver.service_ips_bootstrap import endpoint_address
from apiserver.tls import default_hosts, ensure_ca, in_cluster_hosts, issue_serving_cert


def write_kubeconfig(
    path: Path,
    server: str,
    ca_pem: bytes,
    token: str,
    user: str = "admin",
    cluster: str = "kubelab",
) -> None:
    """A standard kubeconfig that kl, kubectl and the Python client all read (mode 0600)."""
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [
            {"name": cluster, "context": {"cluster": cluster, "user": user, "namespace": "default"}}
        ],
        "current-context": cluster,
        "preferences": {},
    }
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(cfg, f, sort_keys=False)
    os.replace(tmp, path)


def seconds(text: str) -> int:
    """A whole number of seconds, 0 or more (argparse turns the ValueError into a usage
    line naming this function: "invalid seconds value")."""
    value = int(text)
    if value < 0:
        raise ValueError(text)
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab apiserver",
        description="Serve the Kubernetes API (HTTPS, bearer tokens) backed by SQLite or PostgreSQL.",
        epilog="example: kubelab apiserver --home ~/.kubelab --port 6443",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=kubelab_home(),
        help="state directory: state.db, pki/, tokens.csv, kubeconfig (default $KUBELAB_HOME or ~/.kubelab)",
    )
    p.add_argument("--port", type=int, default=6443, help="HTTPS port (default 6443)")
    p.add_argument("--listen", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument(
        "--db",
        default="",
        help="database URL: sqlite:///PATH (default HOME/state.db) or postgresql+psycopg://user@host/db",
    )
    p.add_argument(
        "--pod-bridge-node",
        default="",
        help="also listen on this node's pod-bridge address (the first of its podCIDR), "
        "which its pods reach and the LAN does not, and point the kubernetes Service there "
        "(kubelab up sets it: pods reach an API that listens on 127.0.0.1)",
    )
    p.add_argument(
        "--advertise-address",
        default="",
        help="address clients and nodes use to reach this server (default: --listen, or 127.0.0.1)",
    )
    p.add_argument(
        "--tls-san",
        action="append",
        default=[],
        help="extra host name or IP for the serving certificate (repeatable)",
    )
    p.add_argument(
        "--tokens-file",
        type=Path,
        default=None,
        help='static token file token,user,uid,"groups" (default HOME/tokens.csv)',
    )
    p.add_argument(
        "--rbac-file", type=Path, default=None, help="roles and bindings (default HOME/rbac.yaml)"
    )
    p.add_argument(
        "--keep-revisions",
        type=int,
        default=1000,
        help="change-log revisions kept for resuming watches (default 1000)",
    )
    for which in ("not-ready", "unreachable"):
        p.add_argument(
            f"--default-{which}-toleration-seconds",
            type=seconds,
            default=DEFAULT_TOLERATION_SECONDS,
            metavar="SECONDS",
            help=f"how long a new pod tolerates a {which} node before it is evicted "
            f"(the node.kubernetes.io/{which}:NoExecute toleration it gets; default "
            f"{DEFAULT_TOLERATION_SECONDS})",
        )
    p.add_argument(
        "--service-cidr",
        default=DEFAULT_SERVICE_CIDR,
        metavar="CIDR",
        help=f"the range Services get their ClusterIPs from (default {DEFAULT_SERVICE_CIDR}; "
        "its .1 is the kubernetes Service, its .10 cluster DNS)",
    )
    p.add_argument(
        "--encryption-provider-config",
        type=Path,
        default=None,
        metavar="FILE",
        help="Kubernetes EncryptionConfiguration for data at rest (default "
        "HOME/encryption-config.yaml, created with a fresh AES-GCM key for Secrets)",
    )
    p.add_argument(
        "--audit-log-path",
        default=None,
        metavar="FILE",
        help="where audit events go, one JSON line each (default HOME/logs/audit.log; '' for none)",
    )
    p.add_argument(
        "--audit-policy-file",
        type=Path,
        default=None,
        metavar="FILE",
        help="an audit.k8s.io/v1 Policy (default: every write at Request level, Secrets, "
        "ConfigMaps and token reviews at Metadata, no reads or heartbeats)",
    )
    p.add_argument(
        "--audit-log-maxsize", type=int, default=100, metavar="MB", help="rotate at (100)"
    )
    p.add_argument(
        "--audit-log-maxbackup", type=int, default=3, metavar="N", help="rotated files kept (3)"
    )
    p.add_argument(
        "--max-requests-per-user",
        type=int,
        default=32,
        metavar="N",
        help="requests one user (not nodes, admins or the control plane) may have in flight; "
        "more wait up to --flow-queue-wait, then get 429 with Retry-After (default 32)",
    )
    p.add_argument(
        "--max-watches-per-user",
        type=int,
        default=200,
        metavar="N",
        help="open watches one such user may hold (default 200)",
    )
    p.add_argument(
        "--flow-queue-wait", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    p.add_argument(
        "--dashboard-dir",
        default="",
        metavar="DIR",
        help="serve the web dashboard's files from DIR at /dashboard/ (`kubelab apiserver` "
        "passes the packaged dashboard; '' for none)",
    )
    p.add_argument("--log-level", default="warning", help="debug, info, warning, error")
    return p


def prepare_home(args: argparse.Namespace) -> tuple[str, Path, Path, str, str]:
    """Create what the server needs under its home; return (db_url, cert, key, token, secret)."""
    home: Path = args.home.expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(home, 0o700)
    db_url = args.db or f"sqlite:///{home / 'state.db'}"
    if db_url.startswith("postgresql://"):
        db_url = "postgresql+psycopg://" + db_url[len("postgresql://") :]
    ca_cert, _ = ensure_ca(home)
    hosts = default_hosts(args.listen) + list(args.tls_san)
    hosts += in_cluster_hosts(ServiceIPs.from_cidr(args.service_cidr).kubernetes_ip)
    if args.advertise_address:
        hosts.append(args.advertise_address)
    cert, key = issue_serving_cert(home, "apiserver", hosts)
    token = ensure_admin_token(home)
    secret = ensure_secret_file(home / "kubelet-secret")
    advertise = args.advertise_address or (
        "127.0.0.1" if args.listen in ("0.0.0.0", "::") else args.listen
    )
    host = f"[{advertise}]" if ":" in advertise else advertise
    server = f"https://{host}:{args.port}"
    write_kubeconfig(home / "kubeconfig", server, ca_cert.read_bytes(), token)
    # The scheduler and the controller manager run with identities of their own, so that
    # authorization can tell them apart from the admin (ARCHITECTURE: built-in identities).
    for component, user in (
        ("scheduler", SCHEDULER_USER),
        ("controllers", CONTROLLER_MANAGER_USER),
        ("dns", KUBE_DNS_USER),
        ("autoscaler", AUTOSCALER_USER),
    ):
        tok = ensure_identity_token(home, user, [])
        write_kubeconfig(
            home / f"{component}.kubeconfig", server, ca_cert.read_bytes(), tok, user=user
        )
    return db_url, cert, key, token, secret


def node_kubeconfig(home: Path, node: str, server: str) -> Path:
    """A kubeconfig for node ``node`` (user system:node:NAME, group system:nodes)."""
    tok = ensure_identity_token(home, NODE_USER_PREFIX + node, [NODES_GROUP])
    path = home / f"kubelet-{node}.kubeconfig"
    ca = (home / "pki" / "ca.crt").read_bytes()
    write_kubeconfig(path, server, ca, tok, user=NODE_USER_PREFIX + node)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        parse_service_cidr(args.service_cidr)
    except ServiceCIDRError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    import uvicorn

    from apiserver.app import ServerConfig, create_app

    db_url, cert, key, _token, secret = prepare_home(args)
    home: Path = args.home.expanduser().resolve()
    encryption = args.encryption_provider_config or ensure_encryption_config(
        home / "encryption-config.yaml"
    )
    config = ServerConfig(
        home=home,
        db_url=db_url,
        tokens_file=args.tokens_file or home / "tokens.csv",
        kubelet_secret=secret,
        server_address=f"{args.advertise_address or args.listen}:{args.port}",
        keep_revisions=args.keep_revisions,
        rbac_file=args.rbac_file or home / "rbac.yaml",
        not_ready_toleration_seconds=args.default_not_ready_toleration_seconds,
        unreachable_toleration_seconds=args.default_unreachable_toleration_seconds,
        service_cidr=args.service_cidr,
        advertise_address=endpoint_address(args.listen, args.advertise_address),
        encryption_config=encryption,
        audit_path=None
        if args.audit_log_path == ""
        else Path(args.audit_log_path or home / "logs" / "audit.log"),
        audit_policy=args.audit_policy_file,
        max_requests_per_user=args.max_requests_per_user,
        max_watches_per_user=args.max_watches_per_user,
        flow_queue_wait=args.flow_queue_wait,
        audit_max_mb=args.audit_log_maxsize,
        audit_backups=args.audit_log_maxbackup,
        dashboard_dir=Path(args.dashboard_dir) if args.dashboard_dir else None,
    )
    if config.dashboard_dir and not (config.dashboard_dir / "index.html").is_file():
        print(
            f"kubelab apiserver: --dashboard-dir: no index.html in {config.dashboard_dir}",
            file=sys.stderr,
        )
        return 2
    try:
        load_audit_policy(config.audit_policy)
    except (OSError, ValueError) as exc:
        print(f"kubelab apiserver: --audit-policy-file: {exc}", file=sys.stderr)
        return 2
    try:
        load_encryption_config(encryption)  # said here, not as a store that cannot open
    except (OSError, ValueError) as exc:
        print(f"kubelab apiserver: --encryption-provider-config: {exc}", file=sys.stderr)
        return 2
    try:
        app = create_app(config)
    except Exception as exc:
        print(f"kubelab apiserver: cannot open the store {db_url}: {exc}", file=sys.stderr)
        return 1
    from apiserver.asgi import DirectDispatch
    from apiserver.http_protocol import CoalescingHttpToolsProtocol
    from apiserver.ws_protocol import KubernetesWebSocketProtocol

    def uv_config(host: str, lifespan: Literal["on", "off"] = "on") -> uvicorn.Config:
        return uvicorn.Config(
            DirectDispatch(app),
            host=host,
            port=args.port,
            ssl_certfile=str(cert),
            ssl_keyfile=str(key),
            log_level=args.log_level,
            access_log=False,
            loop="uvloop",
            http=CoalescingHttpToolsProtocol,
            ws=KubernetesWebSocketProtocol,
            backlog=4096,
            timeout_keep_alive=30,
            timeout_graceful_shutdown=2,
            lifespan=lifespan,
            proxy_headers=False,  # no proxy in front: skip parsing X-Forwarded-* per request
        )

    if args.pod_bridge_node:
        # The app's lifespan belongs to the main listener; the bridge one only serves.
        app.state.server.config.pod_bridge = PodBridgeListener(
            lambda host: uv_config(host, lifespan="off"), args.pod_bridge_node, args.port
        )
    server = uvicorn.Server(uv_config(args.listen))
    server.run()
    return 0 if server.started else 1


if __name__ == "__main__":
    sys.exit(main())
