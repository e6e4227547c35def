"""Pod volumes as directories under the kubelet's root, bind-mounted into containers.

Layout: ``ROOT/pods/<pod uid>/volumes/<kind>/<volume name>``. ConfigMap and Secret volumes
are files written from the objects (Secrets mode 0400 unless ``defaultMode`` says
otherwise); emptyDir is an empty directory that lives as long as the pod; hostPath is the
host's own path. With ``securityContext.fsGroup`` the pod's volumes (not hostPath) belong
to that group, as on Kubernetes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from kubelet.envvars import configmap_items, secret_items
from kubelet.runtime.base import Mount
from kubelet.volume_memory import MEDIUM as MEMORY_MEDIUM
from kubelet.volume_memory import MemoryVolumeError, ensure_tmpfs, tmpfs_size, unmount_all
from kubelet.volume_projected import MissingSource, ProjectionError, projected_files


class VolumeError(Exception):
    """A volume cannot be prepared (missing ConfigMap or Secret, bad path)."""


class MissingVolumeSource(VolumeError):
    """A volume's ConfigMap or Secret does not exist (and is not optional): the pod waits
    in ContainerCreating until it does, as Kubernetes' FailedMount."""

    def __init__(self, volume: str, source: str, name: str) -> None:
        super().__init__(
            f'MountVolume.SetUp failed for volume "{volume}" : {source} "{name}" not found'
        )
        self.volume = volume


class TokenFetchFailed(MissingVolumeSource):
    """The API did not issue a projected volume's service account token (its account is
    not there yet, say): the pod waits in ContainerCreating, as Kubernetes' FailedMount."""

    def __init__(self, volume: str, why: str) -> None:
        VolumeError.__init__(
            self, f'MountVolume.SetUp failed for volume "{volume}" : failed to fetch token: {why}'
        )
        self.volume = volume


def pod_dir(root_dir: str | Path, pod_uid: str) -> Path:
    return Path(root_dir) / "pods" / pod_uid


def fs_group(pod: dict[str, Any]) -> int | None:
    """``securityContext.fsGroup``: the group that owns the pod's volumes."""
    value = ((pod.get("spec") or {}).get("securityContext") or {}).get("fsGroup")
    return None if value is None else int(value)


def fs_group_change_policy(pod: dict[str, Any]) -> str:
    """``securityContext.fsGroupChangePolicy``: Always (the default) or OnRootMismatch."""
    sc = (pod.get("spec") or {}).get("securityContext") or {}
    return str(sc.get("fsGroupChangePolicy") or "Always")


def needs_ownership_change(path: Path, gid: int, policy: str) -> bool:
    """Whether a claim's directory is given to the fsGroup on this mount: always, or with
    OnRootMismatch only while its root is not the group's yet (Kubernetes' rule, which
    spares a large volume the walk on every start)."""
    if policy != "OnRootMismatch":
        return True
    try:
        return path.stat().st_gid != gid
    except OSError:
        return True


def _own(path: Path, gid: int | None) -> None:
    """Give ``path`` to group ``gid`` (fsGroup), as the Kubernetes kubelet does; that
    needs the kubelet to run as root (the systemd units do)."""
    if gid is None:
        return
    try:
        os.chown(path, -1, gid)
    except PermissionError as e:
        raise VolumeError(
            f"fsGroup {gid}: cannot give {path} to the group ({e.strerror}); the kubelet "
            "must run as root for fsGroup"
        ) from e


def _write_file(path: Path, data: bytes, mode: int, gid: int | None = None) -> None:
    """Write atomically and only when the content changed, so running readers never see
    a half-written file; ``gid`` (fsGroup) owns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.read_bytes() == data:
        _own(path, gid)
        os.chmod(path, mode)
        return
    tmp = path.with_name(f".{path.name}.tmp")
    # Created owner-only: a secret must not be readable by others even for the moment
    # between writing and the chmod to its final mode.
    tmp.unlink(missing_ok=True)  # a leftover of a crash keeps its old mode
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    _own(tmp, gid)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def _project(
    target: Path,
    items_by_key: dict[str, bytes],
    spec: dict[str, Any],
    default_mode: int,
    gid: int | None = None,
) -> None:
    """Write a ConfigMap/Secret projection: all keys, or only ``items`` (key → path)."""
    target.mkdir(parents=True, exist_ok=True)
    _own(target, gid)
    wanted: dict[str, tuple[bytes, int]] = {}
    if spec.get("items"):
        for item in spec["items"]:
            key = item.get("key", "")
            if key not in items_by_key:
                if spec.get("optional"):
                    continue
                raise VolumeError(f'key "{key}" not found')
            rel = item.get("path") or key
            wanted[rel] = (items_by_key[key], int(item.get("mode", default_mode)))
    else:
        wanted = {k: (v, default_mode) for k, v in items_by_key.items()}
    # Resolved once, not once per item: realpath walks every component with a syscall
    # each, and a hollow kubelet projects a token volume for every pod it starts.
    root = str(target.resolve())
    for rel, (data, mode) in wanted.items():
        dest = (target / rel).resolve()
        if not str(dest).startswith(root):
            raise VolumeError(f"item path {rel!r} leaves the volume")
        _write_file(dest, data, mode, gid)
    # Keys removed from the object disappear from the volume too.
    for existing in target.rglob("*"):
        if existing.is_file() and str(existing.relative_to(target)) not in wanted:
            existing.unlink()


def secret_mode(spec: dict[str, Any], gid: int | None = None) -> int:
    """File mode for a Secret volume: 0400 (owner read-only) unless another mode was asked
    for. The API defaults ``defaultMode`` to 0644 (420), so that value also means 0400;
    with an fsGroup the group may read too (0440), so a non-root process of it can."""
    mode = spec.get("defaultMode")
    if mode in (None, 420):
        return 0o440 if gid is not None else 0o400
    return int(mode)


def prepare_volumes(
    root_dir: str | Path,
    pod: dict[str, Any],
    configmaps: Mapping[str, dict[str, Any] | None],
    secrets: Mapping[str, dict[str, Any] | None],
    claim_paths: Mapping[str, str] | None = None,
    tokens: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Create or refresh every volume of ``pod``; returns volume name → host path.

    ``claim_paths``: the host directory of each ``persistentVolumeClaim`` volume, resolved
    from the API beforehand (kubelet/volume_pvc.py); None on a refresh, which leaves those
    volumes alone (only ConfigMaps and Secrets are rewritten). ``tokens``: the service
    account token of each projected ``serviceAccountToken`` source (key ``volume/path``,
    kubelet/volume_projected.py)."""
    uid = pod["metadata"]["uid"]
    base = pod_dir(root_dir, uid) / "volumes"
    gid = fs_group(pod)
    paths: dict[str, str] = {}
    for vol in (pod.get("spec") or {}).get("volumes") or []:
        name = vol.get("name", "")
        if "hostPath" in vol:
            hp = vol["hostPath"]
            path = Path(hp.get("path", ""))
            kind = hp.get("type") or ""
            if not path.exists():
                if kind == "DirectoryOrCreate":
                    path.mkdir(parents=True, exist_ok=True)
                elif kind == "FileOrCreate":
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.touch()
                elif kind:
                    raise VolumeError(f'volume "{name}": hostPath {path} does not exist ({kind})')
            paths[name] = str(path)
        elif "persistentVolumeClaim" in vol:
            if claim_paths is None:
                continue
            if name not in claim_paths:
                raise VolumeError(f'volume "{name}": its claim was not resolved')
            path = Path(claim_paths[name])
            if gid is not None and needs_ownership_change(path, gid, fs_group_change_policy(pod)):
                _own(path, gid)
            paths[name] = str(path)
        elif "configMap" in vol:
            spec = vol["configMap"] or {}
            cm = configmaps.get(spec.get("name", ""))
            target = base / "configmap" / name
            if cm is None:
                if not spec.get("optional"):
                    raise MissingVolumeSource(name, "configmap", str(spec.get("name")))
                target.mkdir(parents=True, exist_ok=True)
                _own(target, gid)
            else:
                try:
                    mode = int(spec.get("defaultMode", 0o644))
                    _project(target, configmap_items(cm), spec, mode, gid)
                except VolumeError as e:
                    raise VolumeError(
                        f'volume "{name}": configmap "{spec.get("name")}": {e}'
                    ) from e
            paths[name] = str(target)
        elif "secret" in vol:
            spec = vol["secret"] or {}
            secret = secrets.get(spec.get("secretName", ""))
            target = base / "secret" / name
            if secret is None:
                if not spec.get("optional"):
                    raise MissingVolumeSource(name, "secret", str(spec.get("secretName")))
                target.mkdir(parents=True, exist_ok=True)
                _own(target, gid)
            else:
                try:
                    _project(target, secret_items(secret), spec, secret_mode(spec, gid), gid)
                except VolumeError as e:
                    raise VolumeError(
                        f'volume "{name}": secret "{spec.get("secretName")}": {e}'
                    ) from e
            paths[name] = str(target)
        elif "projected" in vol:
            target = base / "projected" / name
            try:
                files, items = projected_files(vol, pod, configmaps, secrets, tokens or {})
                mode = int((vol["projected"] or {}).get("defaultMode", 0o644))
                _project(target, files, items, mode, gid)
            except MissingSource as e:
                raise MissingVolumeSource(name, e.source, e.name) from e
            except (ProjectionError, VolumeError) as e:
                raise VolumeError(f'volume "{name}": {e}') from e
            paths[name] = str(target)
        else:
            # emptyDir, and anything we do not implement, gets a pod-lifetime directory.
            target = base / "empty-dir" / name
            target.mkdir(parents=True, exist_ok=True)
            empty_dir = vol.get("emptyDir") or {}
            if empty_dir.get("medium") == MEMORY_MEDIUM:
                try:
                    ensure_tmpfs(target, tmpfs_size(pod, empty_dir))
                except MemoryVolumeError as e:
                    raise VolumeError(f'volume "{name}": emptyDir medium Memory: {e}') from e
            _own(target, gid)
            # setgid with an fsGroup: what the pod writes there belongs to the group too.
            os.chmod(target, 0o2777 if gid is not None else 0o777)
            paths[name] = str(target)
    return paths


# Volumes the kubelet writes from API objects: mounted read-only, as on Kubernetes, so a
# process cannot write into them and have the next refresh silently overwrite its work.
READ_ONLY_SOURCES = ("configMap", "secret", "projected")


def read_only_volumes(pod: dict[str, Any]) -> set[str]:
    """Names of the pod's volumes that every container gets read-only."""
    return {
        str(v.get("name", ""))
        for v in (pod.get("spec") or {}).get("volumes") or []
        if any(k in v for k in READ_ONLY_SOURCES)
        or ((v.get("persistentVolumeClaim") or {}).get("readOnly") is True)
    }


# Kubernetes' mountPropagation as the Linux bind propagation Docker is given: the host's
# later mounts below the path appear in the container (rslave), and back (rshared).
PROPAGATION = {"None": "", "HostToContainer": "rslave", "Bidirectional": "rshared"}


def container_mounts(
    container: dict[str, Any],
    volume_paths: Mapping[str, str],
    read_only: Collection[str] = (),
) -> list[Mount]:
    """The bind mounts for one container's ``volumeMounts`` (with ``subPath``); the
    volumes named in ``read_only`` are read-only whatever the mount says."""
    mounts = []
    for vm in container.get("volumeMounts") or []:
        name = vm.get("name", "")
        if name not in volume_paths:
            raise VolumeError(f'volumeMount "{name}" names no volume of the pod')
        host = volume_paths[name]
        if vm.get("subPath"):
            host = os.path.join(host, vm["subPath"])
            if not os.path.exists(host):
                os.makedirs(host, exist_ok=True)
        ro = bool(vm.get("readOnly", False)) or name in read_only
        propagation = PROPAGATION.get(str(vm.get("mountPropagation") or "None"), "")
        mounts.append(Mount(host, vm.get("mountPath", ""), ro, propagation))
    return mounts


TERMINATION_LOG = "/dev/termination-log"  # terminationMessagePath's default


def termination_log(root_dir: str | Path, pod_uid: str, container: str, restart: int) -> Path:
    """The host file bind-mounted at one instance's ``terminationMessagePath``: outside the
    container, so what it wrote is still there after it exited."""
    return pod_dir(root_dir, pod_uid) / "termination" / f"{container}-{restart}"


def make_termination_log(root_dir: str | Path, pod_uid: str, container: str, restart: int) -> Path:
    """Create the (empty) termination-message file of one instance, writable by any user
    the container may run as."""
    path = termination_log(root_dir, pod_uid, container, restart)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    os.chmod(path, 0o666)
    return path


def remove_pod_dir(root_dir: str | Path, pod_uid: str) -> None:
    """Delete everything the kubelet wrote for a pod (emptyDirs included), its memory
    emptyDirs unmounted first (rmtree would empty a tmpfs but leave it mounted)."""
    unmount_all(pod_dir(root_dir, pod_uid))
    shutil.rmtree(pod_dir(root_dir, pod_uid), ignore_errors=True)
