"""``kl port-forward TYPE/NAME [LOCAL:]REMOTE...``: listen on local ports and forward each
connection to a port of a pod, as ``kubectl port-forward`` does, over the WebSocket
channel protocol (one WebSocket per connection, client/streaming.py). ``svc/NAME`` maps
a Service port to its pod's target port."""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
from typing import Any

from kubectl.cli import add_verb
from kubectl.context import Ctx
from kubectl.errors import CliError
from kubectl.podselect import resolve_pod

EXAMPLES = """
  kl port-forward pod/web 8080:80          # localhost:8080 -> the pod's port 80
  kl port-forward svc/web 8080:80          # through the Service's port 80 (its targetPort)
  kl port-forward deploy/api 9000          # the same port number on both sides
  kl port-forward pod/web :80              # a free local port, printed
"""


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    p = add_verb(sub, parent, "port-forward", "Forward local ports to a pod", EXAMPLES)
    p.add_argument("target", metavar="TYPE/NAME")
    p.add_argument("ports", nargs="+", metavar="[LOCAL_PORT:]REMOTE_PORT")
    p.add_argument(
        "--address", default="localhost", help="local addresses to listen on (comma-separated)"
    )
    p.set_defaults(run=run)


def parse_ports(specs: list[str]) -> list[tuple[int, str]]:
    """(local port or 0, remote port as given: a number or, for a Service, a name)."""
    out = []
    for spec in specs:
        local, sep, remote = spec.partition(":")
        if not sep:
            local, remote = spec, spec
        try:
            local_port = int(local) if local else 0
        except ValueError:
            raise CliError(f"Error parsing local port '{local}': invalid syntax") from None
        if not 0 <= local_port <= 65535 or not remote:
            raise CliError(f"invalid port format '{spec}'")
        out.append((local_port, remote))
    return out


def _remote_port(svc: dict[str, Any] | None, pod: dict[str, Any], remote: str) -> int:
    """The pod port behind ``remote``: through the Service's ports (targetPort), or a
    container port's name, or the number itself."""
    if svc is not None:
        for sp in (svc.get("spec") or {}).get("ports") or []:
            if str(sp.get("port")) == remote or sp.get("name") == remote:
                target = sp.get("targetPort", sp.get("port"))
                remote = str(target)
                break
        else:
            raise CliError(
                f"Service {svc['metadata']['name']} does not have a service port {remote}"
            )
    if remote.isdigit():
        return int(remote)
    for c in (pod.get("spec") or {}).get("containers") or []:
        for cp in c.get("ports") or []:
            if cp.get("name") == remote:
                return int(cp["containerPort"])
    raise CliError(f"Pod '{pod['metadata']['name']}' does not have a named port '{remote}'")


def run(ctx: Ctx) -> int:
    a = ctx.args
    pod = resolve_pod(ctx, a.target)
    kind = a.target.partition("/")[0].lower() if "/" in a.target else ""
    svc = None
    if kind in ("svc", "service", "services"):
        svc = ctx.client.get("services", a.target.partition("/")[2], ctx.namespace)
    phase = (pod.get("status") or {}).get("phase")
    if phase != "Running":
        raise CliError(f"unable to forward port because pod is not running. Current status={phase}")
    meta = pod["metadata"]
    path = f"/api/v1/namespaces/{meta.get('namespace') or ctx.namespace}/pods/{meta['name']}/portforward"
    addresses = ["127.0.0.1", "::1"] if a.address == "localhost" else a.address.split(",")
    listeners: list[tuple[socket.socket, int]] = []
    for local, remote in parse_ports(a.ports):
        port = _remote_port(svc, pod, remote)
        bound = local
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((address, bound))
            except OSError as e:
                s.close()
                if address == "::1" and a.address == "localhost":
                    continue  # no IPv6 loopback here: IPv4 alone, as kubectl
                raise CliError(f"unable to listen on port {bound}: {e.strerror}") from e
            s.listen(16)
            bound = s.getsockname()[1]
            shown = f"[{address}]" if ":" in address else address
            ctx.out(f"Forwarding from {shown}:{bound} -> {port}")
            listeners.append((s, port))
    for s, port in listeners:
        threading.Thread(target=_accept, args=(ctx, s, path, port), daemon=True).start()
    try:
        threading.Event().wait()
    finally:
        for s, _ in listeners:
            s.close()
    return 0


def _accept(ctx: Ctx, listener: socket.socket, path: str, port: int) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        ctx.out(f"Handling connection for {listener.getsockname()[1]}")
        threading.Thread(target=_forward, args=(ctx, conn, path, port), daemon=True).start()


def _forward(ctx: Ctx, conn: socket.socket, path: str, port: int) -> None:
    from api.errors import ApiError
    from client.core import ServerUnreachable
    from client.streaming import open_portforward

    try:
        stream = open_portforward(ctx.config, path, port)
    except (ApiError, ServerUnreachable) as e:
        ctx.err(f"error: {getattr(e, 'message', e)}")
        conn.close()
        return

    def upstream() -> None:
        # The local side's EOF only stops the sending: the channel protocol has no
        # half-close, and the pod's answer may still be on its way.
        try:
            while data := conn.recv(65536):
                stream.send(data)
        except OSError:
            pass

    threading.Thread(target=upstream, daemon=True).start()
    try:
        stream.receive(conn.sendall)
    except OSError:
        pass
    finally:
        if stream.error:
            ctx.err(f"error: an error occurred forwarding {port}: {stream.error.strip()}")
        # shutdown, not only close: the upstream thread blocked in recv keeps the socket
        # open (no FIN sent) until it returns, and a reader waiting for EOF never would.
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_RDWR)
        conn.close()
        stream.close()
