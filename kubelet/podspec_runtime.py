"""The pod-level and security settings of a container, from the pod spec to the runtime
spec: hostname and FQDN, the host network, /etc/hosts entries, user and groups,
privileges and capabilities, sysctls. Pure functions; docs/pod-fields.md lists every
pod-spec field the kubelet reads, and api/validation/pod_support.py refuses the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CLUSTER_DOMAIN = "cluster.local"
HOSTNAME_MAX = 63  # a DNS label; Kubernetes truncates a longer pod name the same way


@dataclass(frozen=True)
class PodIdentity:
    """What a container's UTS, network, PID and IPC namespaces are."""

    hostname: str | None  # None on the host network: the node's own name
    domainname: str | None
    host_network: bool
    extra_hosts: tuple[str, ...] = ()  # "name:ip" lines for /etc/hosts (hostAliases)
    host_pid: bool = False  # the node's PID namespace (hostPID)
    host_ipc: bool = False  # the node's IPC namespace (hostIPC)
    share_pid: bool = False  # one PID namespace for the pod, the sandbox's (shareProcessNamespace)


def pod_identity(pod: dict[str, Any], cluster_domain: str = CLUSTER_DOMAIN) -> PodIdentity:
    """Hostname ``spec.hostname`` or the pod name; with ``spec.subdomain`` the FQDN is
    ``hostname.subdomain.namespace.svc.CLUSTER_DOMAIN`` (the kubelet's ``--cluster-domain``;
    ``setHostnameAsFQDN`` makes the FQDN the hostname itself), as on Kubernetes. A
    host-network pod keeps the node's."""
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    aliases = tuple(
        f"{name}:{a.get('ip')}"
        for a in spec.get("hostAliases") or []
        for name in a.get("hostnames") or []
    )
    host = {
        "host_pid": spec.get("hostPID") is True,
        "host_ipc": spec.get("hostIPC") is True,
        "share_pid": spec.get("shareProcessNamespace") is True,
    }
    if spec.get("hostNetwork") is True:
        return PodIdentity(None, None, True, aliases, **host)
    hostname = str(spec.get("hostname") or meta.get("name") or "")[:HOSTNAME_MAX].rstrip("-.")
    sub = spec.get("subdomain")
    if not sub:
        return PodIdentity(hostname, None, False, aliases, **host)
    domain = f"{sub}.{meta.get('namespace') or 'default'}.svc.{cluster_domain.strip('.')}"
    if spec.get("setHostnameAsFQDN") is True:
        fqdn = f"{hostname}.{domain}"
        if len(fqdn) > 64:
            raise ValueError(
                f"FQDN {fqdn!r} is longer than 64 characters, too long for a hostname "
                "(setHostnameAsFQDN); shorten the hostname or subdomain"
            )
        return PodIdentity(fqdn, None, False, aliases, **host)
    return PodIdentity(hostname, domain, False, aliases, **host)


@dataclass(frozen=True)
class Security:
    """A container's user, groups and privileges (its and its pod's securityContext)."""

    user: str | None = None  # "uid" or "uid:gid"
    group_add: tuple[str, ...] = ()
    privileged: bool = False
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    read_only_rootfs: bool = False
    security_opt: tuple[str, ...] = ()
    sysctls: dict[str, str] = field(default_factory=dict)


def _cap(name: Any) -> str:
    """Kubernetes writes ``NET_ADMIN``; Docker takes that, or ``ALL``."""
    return str(name).upper().removeprefix("CAP_")


def container_security(pod: dict[str, Any], container: dict[str, Any]) -> Security:
    """The Docker-level settings of ``container``: the container's securityContext wins
    over the pod's for the fields both have (runAsUser, runAsGroup, seccompProfile)."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}

    def pick(key: str) -> Any:
        return csc[key] if csc.get(key) is not None else psc.get(key)

    uid, gid = pick("runAsUser"), pick("runAsGroup")
    user = None
    if uid is not None:
        user = f"{int(uid)}:{int(gid)}" if gid is not None else str(int(uid))
    elif gid is not None:
        raise ValueError("runAsGroup needs runAsUser: Docker sets a group only with a user")
    caps = csc.get("capabilities") or {}
    opts: list[str] = []
    if csc.get("allowPrivilegeEscalation") is False:
        opts.append("no-new-privileges:true")
    if (pick("seccompProfile") or {}).get("type") == "Unconfined":
        opts.append("seccomp=unconfined")
    return Security(
        user=user,
        # fsGroup is a supplementary group of every container too (it owns the volumes).
        group_add=tuple(
            str(int(g))
            for g in [*(psc.get("supplementalGroups") or []), psc.get("fsGroup")]
            if g is not None
        ),
        privileged=csc.get("privileged") is True,
        cap_add=tuple(_cap(c) for c in caps.get("add") or []),
        cap_drop=tuple(_cap(c) for c in caps.get("drop") or []),
        read_only_rootfs=csc.get("readOnlyRootFilesystem") is True,
        security_opt=tuple(opts),
        sysctls={str(s.get("name")): str(s.get("value")) for s in psc.get("sysctls") or []},
    )


def needs_image_user(pod: dict[str, Any], container: dict[str, Any]) -> bool:
    """Whether ``runAsNonRoot`` must be checked against the image's own USER: it is asked
    for and no ``runAsUser`` says which uid the container runs as."""
    psc = (pod.get("spec") or {}).get("securityContext") or {}
    csc = container.get("securityContext") or {}
    non_root = (
        csc["runAsNonRoot"] if csc.get("runAsNonRoot") is not None else psc.get("runAsNonRoot")
    )
    uid = csc["runAsUser"] if csc.get("runAsUser") is not None else psc.get("runAsUser")
    return non_root is True and uid is None


def check_image_user(image_user: str, pod: str, container: str) -> None:
    """The Kubernetes kubelet's runAsNonRoot check of an image's USER (``uid``,
    ``uid:gid`` or a name): root, or a name it cannot verify, keeps the container from
    being made (CreateContainerConfigError, with Kubernetes' message)."""
    user = image_user.split(":", 1)[0]
    where = f'(pod: "{pod}", container: {container})'
    if not user.isdigit():
        if user and user != "root":
            raise ValueError(
                f"container has runAsNonRoot and image has non-numeric user ({user}), "
                f"cannot verify user is non-root {where}"
            )
        raise ValueError(f"container has runAsNonRoot and image will run as root {where}")
    if int(user) == 0:
        raise ValueError(f"container has runAsNonRoot and image will run as root {where}")
