"""`kubelab join`: make this box a node of a cluster, with a bootstrap token.

1. Fetch the cluster's CA certificate (``GET /kubelab/v1/cluster-info``, trusting nothing
   yet) and check its SHA-256 fingerprint against ``--ca-fingerprint`` (printed by
   ``kubelab token create`` on the control-plane box): a server that is not that cluster
   is refused before the token is ever sent.
2. Send the token over a connection verified with that CA (``POST /kubelab/v1/join``) and
   get this node's own credentials: user ``system:node:<name>``, group ``system:nodes``,
   which may act only on its own Node, Lease and the pods bound to it.
3. Write ``HOME/kubeconfig``, ``HOME/pki/ca.crt`` and ``HOME/kubelet-secret``, then
   become the kubelet (``kubelab kubelet --home HOME ...``), unless ``--no-run``.
"""

from __future__ import annotations

import argparse
import base64
import hmac
import os
import socket
import ssl
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import yaml

from api.home import kubelab_home
from api.service_cidr import kube_dns_ip
from apiserver.main import write_kubeconfig
from apiserver.tls import ca_fingerprint
from kubelab.join_csr import node_csr, node_key, save_certificate, wait_for_approval
from kubelab.netaddr import route_address


class JoinError(Exception):
    """Joining failed; the message says why and what to do."""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="kubelab join",
        description="Join this box to a cluster as a node: check the server's CA, get this "
        "node's credentials with a bootstrap token, then run the kubelet.",
        epilog="example (from `kubelab token create`): kubelab join --server "
        "https://10.0.0.2:6443 --token abcdef.0123456789abcdef --ca-fingerprint sha256:...",
    )
    p.add_argument("--server", required=True, help="the cluster's API URL, https://HOST:PORT")
    p.add_argument("--token", required=True, help="bootstrap token from `kubelab token create`")
    p.add_argument(
        "--ca-fingerprint",
        default=None,
        help="sha256:<hex> of the cluster CA, as `kubelab token create` prints it",
    )
    p.add_argument(
        "--unsafe-skip-ca-verification",
        action="store_true",
        help="trust whatever CA the server presents (only on a network you control)",
    )
    p.add_argument(
        "--home",
        type=Path,
        default=None,
        help="this node's home: kubeconfig, CA, kubelet state (default $KUBELAB_HOME or "
        "~/.kubelab)",
    )
    p.add_argument(
        "--node-name",
        default=None,
        help="this node's name (default: the host name)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="this node's address, where its containers' ports and Services are published "
        "(default: the address this box uses to reach the server)",
    )
    p.add_argument(
        "--runtime",
        choices=("docker", "fake"),
        default="docker",
        help="container runtime (default docker)",
    )
    p.add_argument(
        "--fake-gpus", default=None, metavar="SPEC", help="simulate GPUs: 4, 2xH100-80GB"
    )
    p.add_argument(
        "--kubelet-port",
        type=int,
        default=10250,
        help="the kubelet's log/exec port (default 10250; 0 picks a free one)",
    )
    p.add_argument(
        "--proxy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="run the Service proxy on this node (default on)",
    )
    p.add_argument(
        "--cluster-dns",
        default=kube_dns_ip(),
        metavar="IP",
        help="the cluster DNS pods of this node use (default the kube-dns Service, "
        f"{kube_dns_ip()}: the default service range's .10)",
    )
    p.add_argument(
        "--approve-required",
        action="store_true",
        help="file a certificate signing request for this node and wait until an admin "
        "approves it (kubectl certificate approve NAME); a token made with "
        "`kubelab token create --approve-required` admits a box only this way",
    )
    p.add_argument(
        "--approve-timeout",
        type=float,
        default=0,
        metavar="SECONDS",
        help="with --approve-required, give up after this long (default 0: wait for ever)",
    )
    p.add_argument(
        "--no-run",
        action="store_true",
        help="only write the credentials; start the kubelet yourself (e.g. with systemd)",
    )
    return p


def _fetch_ca(server: str) -> bytes:
    # Nothing is trusted yet: the CA is checked against the fingerprint right after.
    try:
        r = httpx.get(f"{server}/kubelab/v1/cluster-info", verify=False, timeout=10)
    except httpx.HTTPError as e:
        raise JoinError(f"cannot reach {server}: {e}") from e
    if r.status_code != 200:
        raise JoinError(f"{server} is not a kubelab apiserver (cluster-info: HTTP {r.status_code})")
    return base64.b64decode(r.json()["caData"])


def verify_ca(ca_pem: bytes, expected: str | None, skip: bool) -> str:
    """The CA's fingerprint, if it matches ``expected`` (or checking is skipped)."""
    seen = ca_fingerprint(ca_pem)
    if expected is None:
        if skip:
            return seen
        raise JoinError(
            f"the server's CA fingerprint is {seen}; pass --ca-fingerprint with the value "
            "`kubelab token create` printed on the control-plane box (or "
            "--unsafe-skip-ca-verification)"
        )
    if not hmac.compare_digest(seen.lower(), expected.strip().lower()):
        raise JoinError(
            f"the server's CA fingerprint {seen} is not {expected}: this is not the cluster "
            "the token came from (or someone is in between); nothing was sent"
        )
    return seen


def previous_node_token(home: Path, node: str) -> str | None:
    """The token this home got when it joined as ``node`` before, if it did: it lets the
    server tell a rerun of this box from a second box taking a live node's name."""
    try:
        config = yaml.safe_load((home / "kubeconfig").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return None
    for entry in config.get("users") or []:
        if (entry or {}).get("name") == f"system:node:{node}":
            token = ((entry or {}).get("user") or {}).get("token")
            return str(token) if token else None
    return None


def request_credentials(
    server: str,
    token: str,
    node: str,
    ca_file: Path,
    node_token: str | None = None,
    csr: str | None = None,
    approve_timeout: float = 0,
) -> dict[str, Any]:
    """The node's credentials; with ``csr`` (``--approve-required``) once an admin has
    approved the request, asking again until then."""
    ctx = ssl.create_default_context(cafile=str(ca_file))
    body: dict[str, str] = {"nodeName": node}
    if node_token:
        body["nodeToken"] = node_token
    if csr:
        body["csr"] = csr

    def ask() -> tuple[int, dict[str, Any]]:
        try:
            r = httpx.post(
                f"{server}/kubelab/v1/join",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
                verify=ctx,
                timeout=15,
            )
        except httpx.HTTPError as e:
            raise JoinError(f"cannot reach {server} with its CA: {e}") from e
        try:
            answer = dict(r.json())
        except ValueError:
            answer = {"message": r.text}
        return r.status_code, answer

    answer = wait_for_approval(
        ask, lambda m: print(f"kubelab join: {m}", flush=True), approve_timeout
    )
    code = answer.pop("_code")
    if code == 202:
        raise JoinError(
            f"no admin approved {answer.get('csrName')} within {approve_timeout:g} s; "
            "run kubelab join again to keep waiting (the same request)"
        )
    if code != 200:
        raise JoinError(f"the server refused to join {node}: {answer.get('message')}")
    return answer


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def join(args: argparse.Namespace) -> tuple[Path, str, str]:
    """Do steps 1-3 but the last; returns (home, node name, node address)."""
    server = args.server.rstrip("/")
    if urlparse(server).scheme != "https":
        raise JoinError(f"--server must be an https:// URL, not {server!r}")
    home = (args.home or kubelab_home()).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    node = args.node_name or socket.gethostname().lower().split(".")[0]
    ca_pem = _fetch_ca(server)
    verify_ca(ca_pem, args.ca_fingerprint, args.unsafe_skip_ca_verification)
    pki = home / "pki"
    pki.mkdir(mode=0o700, exist_ok=True)
    ca_file = pki / "ca.crt"
    ca_file.write_bytes(ca_pem)
    csr = node_csr(node_key(pki), node) if args.approve_required else None
    creds = request_credentials(
        server,
        args.token,
        node,
        ca_file,
        previous_node_token(home, node),
        csr,
        args.approve_timeout,
    )
    if creds.get("clientCertificate"):
        save_certificate(pki, str(creds["clientCertificate"]))
    write_kubeconfig(home / "kubeconfig", server, ca_pem, creds["token"], user=creds["user"])
    _write_private(home / "kubelet-secret", creds["kubeletSecret"] + "\n")
    address = args.address or route_address(urlparse(server).hostname or "127.0.0.1")
    return home, node, address


def kubelet_argv(args: argparse.Namespace, home: Path, node: str, address: str) -> list[str]:
    argv = [
        sys.executable,
        "-m",
        "kubelab",
        "kubelet",
        "--home",
        str(home),
        "--kubeconfig",
        str(home / "kubeconfig"),
        "--kubelet-secret-file",
        str(home / "kubelet-secret"),
        "--node-name",
        node,
        "--address",
        address,
        "--runtime",
        args.runtime,
        "--port",
        str(args.kubelet_port),
        "--proxy" if args.proxy else "--no-proxy",
        "--cluster-dns",
        args.cluster_dns,
    ]
    if args.fake_gpus:
        argv += ["--fake-gpus", args.fake_gpus]
    return argv


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        home, node, address = join(args)
    except JoinError as e:
        print(f"kubelab join: {e}", file=sys.stderr)
        return 1
    if args.no_run:
        print(f"joined {args.server} as node {node}; credentials in {home / 'kubeconfig'}")
        return 0
    print(
        f"joined {args.server} as node {node}; running its kubelet (address {address}, logs here)",
        flush=True,
    )
    command = kubelet_argv(args, home, node, address)
    # Become the kubelet: one process for systemd to watch, named `kubelab kubelet`.
    os.execv(command[0], command)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
