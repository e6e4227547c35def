"""Reading and writing standard kubeconfig files.

kubelab writes the same file that ``kubectl`` and the official Python client read, so one
kubeconfig serves all three. Only bearer-token users are understood (client certificates
are ignored); that is what the kubelab apiserver issues.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from api.home import kubelab_home


class KubeconfigError(ValueError):
    """A kubeconfig is missing, unreadable, or does not name what was asked for."""


@dataclass
class ClusterConfig:
    """Everything a client needs to talk to one cluster, resolved from a kubeconfig."""

    server: str
    token: str | None = None
    ca_data: bytes | None = None  # PEM bytes of the CA to trust; None: the system store
    verify: bool = True  # False for insecure-skip-tls-verify
    namespace: str = "default"
    context: str = ""  # the context it came from
    path: str = ""  # the file it came from


def default_kubeconfig_path() -> Path:
    """Where kubelab writes its kubeconfig: ``$KUBELAB_HOME/kubeconfig``."""
    return kubelab_home() / "kubeconfig"


def resolve_kubeconfig_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The kubeconfig file to read: ``path``, else the first existing file of
    ``$KUBECONFIG`` (a ``:`` list), else ``$KUBELAB_HOME/kubeconfig``, else
    ``~/.kube/config``. Raises KubeconfigError naming every place looked at."""
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise KubeconfigError(f"kubeconfig {p} does not exist")
        return p
    env = os.environ.get("KUBECONFIG", "")
    if env:
        entries = [Path(e).expanduser() for e in env.split(os.pathsep) if e]
        for p in entries:
            if p.is_file():
                return p
        if entries:
            raise KubeconfigError(
                f"KUBECONFIG={env} names no existing file; unset it or point it at a kubeconfig"
            )
    looked = [default_kubeconfig_path(), Path.home() / ".kube" / "config"]
    for p in looked:
        if p.is_file():
            return p
    raise KubeconfigError(
        "no kubeconfig found (looked at "
        + ", ".join(str(p) for p in looked)
        + "); start a cluster with `kubelab up` or pass --kubeconfig"
    )


def read_kubeconfig(path: str | os.PathLike[str] | None = None) -> tuple[Path, dict[str, Any]]:
    """The resolved path and the parsed YAML document of a kubeconfig."""
    p = resolve_kubeconfig_path(path)
    try:
        # libyaml's parser when PyYAML has it: every kl command reads this file.
        doc = yaml.load(p.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"cannot read kubeconfig {p}: {e}") from e
    if not isinstance(doc, dict):
        raise KubeconfigError(f"kubeconfig {p} is not a YAML mapping")
    return p, doc


def _named(doc: dict[str, Any], section: str, name: str, where: Path) -> dict[str, Any]:
    """The inner mapping of entry ``name`` in ``clusters``/``users``/``contexts``."""
    inner_key = section[:-1]  # clusters -> cluster
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            inner = entry.get(inner_key) or {}
            if not isinstance(inner, dict):
                raise KubeconfigError(f"kubeconfig {where}: {section} entry {name!r} is malformed")
            return inner
    names = [e.get("name") for e in doc.get(section) or [] if isinstance(e, dict)]
    raise KubeconfigError(
        f"kubeconfig {where} has no {inner_key} named {name!r} (it has: {names or 'none'})"
    )


def _relative(base: Path, value: str) -> Path:
    """Paths inside a kubeconfig are relative to the kubeconfig's folder (as in kubectl)."""
    p = Path(value).expanduser()
    return p if p.is_absolute() else base.parent / p


def list_contexts(path: str | os.PathLike[str] | None = None) -> tuple[list[str], str]:
    """The context names in a kubeconfig and its current-context."""
    _, doc = read_kubeconfig(path)
    names = [str(e.get("name")) for e in doc.get("contexts") or [] if isinstance(e, dict)]
    return names, str(doc.get("current-context") or "")


def load_kubeconfig(
    path: str | os.PathLike[str] | None = None, context: str | None = None
) -> ClusterConfig:
    """Resolve a kubeconfig (see ``resolve_kubeconfig_path``) and one of its contexts
    (``context``, else ``current-context``) into a ClusterConfig."""
    where, doc = read_kubeconfig(path)
    ctx_name = context or doc.get("current-context") or ""
    if not ctx_name:
        raise KubeconfigError(f"kubeconfig {where} has no current-context; pass --context")
    ctx = _named(doc, "contexts", ctx_name, where)
    cluster_name = ctx.get("cluster")
    if not cluster_name:
        raise KubeconfigError(f"kubeconfig {where}: context {ctx_name!r} names no cluster")
    cluster = _named(doc, "clusters", cluster_name, where)
    user = _named(doc, "users", ctx["user"], where) if ctx.get("user") else {}

    server = str(cluster.get("server") or "")
    if not server:
        raise KubeconfigError(f"kubeconfig {where}: cluster {cluster_name!r} has no server")

    ca_data: bytes | None = None
    if cluster.get("certificate-authority-data"):
        try:
            ca_data = base64.b64decode(cluster["certificate-authority-data"], validate=False)
        except (binascii.Error, ValueError) as e:
            raise KubeconfigError(
                f"kubeconfig {where}: cluster {cluster_name!r} certificate-authority-data "
                f"is not base64: {e}"
            ) from e
    elif cluster.get("certificate-authority"):
        ca_path = _relative(where, str(cluster["certificate-authority"]))
        try:
            ca_data = ca_path.read_bytes()
        except OSError as e:
            raise KubeconfigError(f"kubeconfig {where}: cannot read CA file {ca_path}: {e}") from e

    token: str | None = None
    if user.get("token"):
        token = str(user["token"]).strip()
    elif user.get("tokenFile"):
        token_path = _relative(where, str(user["tokenFile"]))
        try:
            token = token_path.read_text().strip()
        except OSError as e:
            raise KubeconfigError(
                f"kubeconfig {where}: cannot read tokenFile {token_path}: {e}"
            ) from e

    return ClusterConfig(
        server=server.rstrip("/"),
        token=token or None,
        ca_data=ca_data,
        verify=not bool(cluster.get("insecure-skip-tls-verify")),
        namespace=str(ctx.get("namespace") or "default"),
        context=str(ctx_name),
        path=str(where),
    )


def write_kubeconfig(
    path: str | os.PathLike[str],
    server: str,
    ca_pem: bytes | str | None,
    token: str | None,
    cluster_name: str = "kubelab",
    user: str = "admin",
    namespace: str = "default",
) -> Path:
    """Write a one-context kubeconfig (mode 0600, atomically) that kl, kubectl and the
    official Python client all read. ``ca_pem`` None writes no CA (plain http or the
    system store)."""
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None:
        pem = ca_pem.encode("ascii") if isinstance(ca_pem, str) else ca_pem
        cluster["certificate-authority-data"] = base64.b64encode(pem).decode("ascii")
    user_entry: dict[str, Any] = {"token": token} if token else {}
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user, "user": user_entry}],
        "contexts": [
            {
                "name": cluster_name,
                "context": {"cluster": cluster_name, "user": user, "namespace": namespace},
            }
        ],
        "current-context": cluster_name,
    }
    target = Path(path).expanduser()
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    import tempfile  # here: reading a kubeconfig (every kl command) never needs it

    fd, tmp = tempfile.mkstemp(prefix=".kubeconfig.", dir=target.parent)
    try:
        # mkstemp creates the file 0600, so the token is never readable by others.
        with os.fdopen(fd, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
