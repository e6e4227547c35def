"""Cluster-wide facts the apiserver must check on a write, kept in memory.

Which namespaces exist, which GPU each live pod holds, which node ports are taken. They
are updated at the moment a write is decided (before it is committed), because writes
are decided one at a time: two bindings racing for one GPU can never both pass.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import orjson

from api.errors import ApiError, Cause, invalid
from api.gpus import shares_gpu
from api.registry import ResourceInfo
from api.validation.common import invalid as field_invalid
from apiserver.admission import check_pod_security
from apiserver.limitranger import LimitRanges
from apiserver.priority import PriorityClasses
from apiserver.quota import ResourceQuotas
from apiserver.service_ips import DEFAULT_SERVICE_CIDR, IPAllocationError, ServiceIPs
from apiserver.service_ips_spec import (
    allocated_ips,
    init_ip_families,
    set_cluster_ip,
    wanted_cluster_ip,
)
from apiserver.serviceaccount_admission import admit_service_account
from apiserver.storage_admission import StorageClasses

Obj = dict[str, Any]

GPU_ANNOTATION = "kubelab.io/gpu-uuids"
NODE_PORT_RANGE = (30000, 32767)
NODE_PORT_TYPES = ("NodePort", "LoadBalancer")
ALWAYS_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# Never deleted (Kubernetes' rule): kube-system's uid is the cluster's identity.
PROTECTED_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def pod_gpus(pod: Obj) -> list[str]:
    """The GPU UUIDs a pod holds: bound, not finished, and annotated by the scheduler."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        return []
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return []
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(GPU_ANNOTATION) or ""
    return [u for u in (x.strip() for x in raw.split(",")) if u]


def _service_node_ports(svc: Obj) -> list[int]:
    return [
        int(p["nodePort"])
        for p in (svc.get("spec") or {}).get("ports") or []
        if isinstance(p, dict) and isinstance(p.get("nodePort"), int)
    ]


def _keep_node_ports(old: Obj, new: Obj) -> None:
    """An update that leaves a port's nodePort out keeps the one it had (matched by port
    and protocol), as Kubernetes does, instead of moving it to a new random port."""
    if (new.get("spec") or {}).get("type") not in NODE_PORT_TYPES:
        return
    had = {
        (p.get("port"), p.get("protocol") or "TCP"): p["nodePort"]
        for p in (old.get("spec") or {}).get("ports") or []
        if isinstance(p, dict) and isinstance(p.get("nodePort"), int) and p["nodePort"]
    }
    for p in (new.get("spec") or {}).get("ports") or []:
        if isinstance(p, dict) and not p.get("nodePort"):
            kept = had.get((p.get("port"), p.get("protocol") or "TCP"))
            if kept is not None:
                p["nodePort"] = kept


class ClusterState:
    """In-memory indexes over the stored objects that writes are checked against."""

    def __init__(self, service_cidr: str = DEFAULT_SERVICE_CIDR) -> None:
        self.service_ips = ServiceIPs.from_cidr(service_cidr)  # ClusterIP -> "ns/service"
        self.namespaces: dict[str, bool] = {}  # name -> terminating
        self.namespace_labels: dict[str, dict[str, str]] = {}
        self.gpu_holder: dict[tuple[str, str], str] = {}  # (node, uuid) -> "ns/pod"
        # (node, uuid) -> the pods sharing that GPU by memory (kubelab.io/gpu-memory).
        self.gpu_sharers: dict[tuple[str, str], set[str]] = {}
        self.node_ports: dict[int, str] = {}  # nodePort -> "ns/service"
        self.priority_classes = PriorityClasses()
        self.storage_classes = StorageClasses()
        self.quotas = ResourceQuotas()
        self.limit_ranges = LimitRanges()
        # Set when a decided write failed to commit: its reservations (node ports, GPUs)
        # are in the indexes but not in the store, so they are reloaded before the next
        # write is checked.
        self.stale = False
        self._store: Any = None
        # Checks that may refuse a decided write (RBAC escalation prevention): they run
        # first, inside the store's mutation, so they see the object exactly as it would
        # be stored, whatever the verb (create, update, any kind of patch).
        self.write_checks: list[Callable[[ResourceInfo, Obj | None, Obj | None], None]] = []

    def rebuild(self, store: Any) -> None:
        """Reload every index from the store (at start, and after a failed commit). The
        indexes are replaced only once all is read: a read that fails keeps the old ones."""
        self._store = store
        fresh = ClusterState(str(self.service_ips.network))
        _, nss = store.list_raw("/namespaces")
        for raw in nss:
            ns = orjson.loads(raw)
            name = ns["metadata"]["name"]
            fresh.namespaces[name] = bool(ns["metadata"].get("deletionTimestamp"))
            fresh.namespace_labels[name] = dict(ns["metadata"].get("labels") or {})
        _, pods = store.list_raw("/pods")
        for raw in pods:
            pod = orjson.loads(raw)
            fresh._index_pod(pod["metadata"]["namespace"], pod["metadata"]["name"], None, pod)
        _, svcs = store.list_raw("/services")
        for raw in svcs:
            svc = orjson.loads(raw)
            key = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
            for port in _service_node_ports(svc):
                fresh.node_ports[port] = key
            for ip in allocated_ips(svc):
                fresh.service_ips.record(ip, key)
        _, pcs = store.list_raw("scheduling.k8s.io/priorityclasses")
        fresh.priority_classes.load([orjson.loads(raw) for raw in pcs])
        _, scs = store.list_raw("storage.k8s.io/storageclasses")
        fresh.storage_classes.load([orjson.loads(raw) for raw in scs])
        fresh.quotas.load(store)
        _, lrs = store.list_raw("/limitranges")
        fresh.limit_ranges.load([orjson.loads(raw) for raw in lrs])
        self.namespaces = fresh.namespaces
        self.namespace_labels = fresh.namespace_labels
        self.gpu_holder = fresh.gpu_holder
        self.gpu_sharers = fresh.gpu_sharers
        self.node_ports = fresh.node_ports
        self.service_ips = fresh.service_ips
        self.priority_classes = fresh.priority_classes
        self.storage_classes = fresh.storage_classes
        self.quotas = fresh.quotas
        self.limit_ranges = fresh.limit_ranges
        self.stale = False

    def _reload_if_stale(self) -> None:
        if self.stale and self._store is not None:
            self.rebuild(self._store)

    # -- namespaces ----------------------------------------------------------------------

    def require_namespace_open(self, ns: str) -> None:
        self._reload_if_stale()
        if ns not in self.namespaces:
            raise ApiError(
                404,
                f'namespaces "{ns}" not found: create it first (kl create namespace {ns})',
                name=ns,
                kind="namespaces",
            )
        if self.namespaces[ns]:
            raise ApiError(
                403,
                f"unable to create new content in namespace {ns} because it is being terminated",
                "Forbidden",
                name=ns,
                kind="namespaces",
            )

    # -- GPUs ----------------------------------------------------------------------------

    def _index_pod(self, ns: str, name: str, old: Obj | None, new: Obj | None) -> None:
        key = f"{ns}/{name}"
        if old is not None:
            node = (old.get("spec") or {}).get("nodeName") or ""
            for u in pod_gpus(old):
                if self.gpu_holder.get((node, u)) == key:
                    del self.gpu_holder[(node, u)]
                sharers = self.gpu_sharers.get((node, u))
                if sharers is not None:
                    sharers.discard(key)
                    if not sharers:
                        del self.gpu_sharers[(node, u)]
        if new is not None:
            node = (new.get("spec") or {}).get("nodeName") or ""
            shared = shares_gpu(new)
            for u in pod_gpus(new):
                if shared:
                    self.gpu_sharers.setdefault((node, u), set()).add(key)
                else:
                    self.gpu_holder[(node, u)] = key

    def check_gpus_free(
        self, ns: str, name: str, node: str, uuids: list[str], shared: bool = False
    ) -> None:
        """409 if another live pod on ``node`` holds one of ``uuids`` whole, or, for a pod
        wanting whole GPUs (not ``shared``), if pods share one of them by memory. How much
        memory sharers may take is the scheduler's to pack."""
        self._reload_if_stale()
        key = f"{ns}/{name}"
        for u in uuids:
            others = sorted(self.gpu_sharers.get((node, u), set()) - {key})
            if others and not shared:
                raise ApiError(
                    409,
                    f"GPU {u} on node {node} is shared by pod {', '.join(others)}: a pod "
                    "asking for whole GPUs needs one nobody shares (the scheduler retries)",
                    "Conflict",
                    name=name,
                    kind="pods",
                )
            holder = self.gpu_holder.get((node, u))
            if holder is not None and holder != key:
                raise ApiError(
                    409,
                    f"GPU {u} on node {node} is already held by pod {holder}: pick a free GPU "
                    "(the scheduler retries on its own)",
                    "Conflict",
                    name=name,
                    kind="pods",
                )

    # -- services ------------------------------------------------------------------------

    def _assign_node_ports(self, svc: Obj, key: str) -> list[int]:
        """Check the nodePorts a Service asks for and fill in free ones where none is
        given; the ports it will hold. Raises 422 naming each port another Service
        holds, before anything changes: the index is not touched here."""
        spec = svc.get("spec") or {}
        if spec.get("type") not in NODE_PORT_TYPES:
            return []
        ports = [p for p in spec.get("ports") or [] if isinstance(p, dict)]
        ns, _, name = key.partition("/")
        causes = []
        held: list[int] = []
        for i, p in enumerate(ports):
            want = p.get("nodePort")
            if isinstance(want, int) and want:
                holder = self.node_ports.get(want)
                if holder is not None and holder != key:
                    by = (
                        f" by Service {holder.split('/', 1)[1]}"
                        if holder.startswith(f"{ns}/")
                        else ""
                    )
                    causes.append(
                        Cause(
                            f"spec.ports[{i}].nodePort",
                            f"Invalid value: {want}: provided port is already allocated{by}; "
                            "leave nodePort out to get a free one",
                        )
                    )
                held.append(want)
        if causes:
            raise invalid("Service", name, causes)
        for p in ports:
            if not (isinstance(p.get("nodePort"), int) and p["nodePort"]):
                p["nodePort"] = self._free_node_port(held)
                held.append(p["nodePort"])
        return held

    def _free_node_port(self, also_taken: list[int]) -> int:
        """A random free port of the range (random, so that a deleted Service's port is
        not handed straight to the next one); a scan once the range is nearly full."""
        lo, hi = NODE_PORT_RANGE
        for _ in range(64):
            cand = random.randint(lo, hi)
            if cand not in self.node_ports and cand not in also_taken:
                return cand
        for cand in range(lo, hi + 1):
            if cand not in self.node_ports and cand not in also_taken:
                return cand
        raise ApiError(
            500,
            f"no free node port left in {lo}-{hi}: delete a NodePort Service first",
            "InternalError",
        )

    def _assign_cluster_ip(
        self, svc: Obj, key: str, old: Obj | None, pick: bool = True
    ) -> list[str]:
        """Default the Service's IP families, check the ClusterIP it asks for and pick a
        free one where it asks for none (``pick``); the addresses it will hold. Raises 422
        before anything changes: the index is not touched here."""
        spec = svc.get("spec")
        if not isinstance(spec, dict):
            return []
        name = key.partition("/")[2]
        old_spec = (old or {}).get("spec") if old is not None else None
        causes = init_ip_families(spec, old_spec if isinstance(old_spec, dict) else None)
        if causes:
            raise invalid("Service", name, causes)
        want = wanted_cluster_ip(spec)
        if want is None:
            return []
        if want and old is not None and want in allocated_ips(old):
            # Kept, not asked for: never re-checked (a range changed since it was given
            # must not make every update of the Service fail), as Kubernetes allocates
            # only what changes.
            set_cluster_ip(spec, want)
            return [want]
        if want:
            try:
                self.service_ips.check_requested(want, key)
            except IPAllocationError as exc:
                field = "spec.clusterIPs" if spec.get("clusterIPs") else "spec.clusterIP"
                errs: list[Cause] = []
                field_invalid(
                    errs,
                    field,
                    spec.get("clusterIPs") or [want],
                    f"{exc}; leave clusterIP out to have a free one allocated",
                )
                raise invalid("Service", name, errs) from None
            set_cluster_ip(spec, want)
            return [want]
        if not pick:
            return []
        ip = self.service_ips.pick()
        if ip is None:
            raise ApiError(
                500,
                f"failed to allocate a serviceIP: range is full ({self.service_ips.network}); "
                "delete a Service, or restart the apiserver with a larger --service-cidr",
                "InternalError",
            )
        set_cluster_ip(spec, ip)
        return [ip]

    def admit(self, info: ResourceInfo, obj: Obj) -> None:
        """Admission checks for a new or changed object: Pod Security baseline."""
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        check_pod_security(info.kind, obj, self.namespace_labels.get(ns, {}))

    def admit_create(self, info: ResourceInfo, obj: Obj) -> None:
        """Checks for a new object (before its write is decided). A Service's nodePorts
        are checked and filled in here, so a dry run shows them, but only reserved by
        ``before_write``: a create that fails later (the name is taken, a dry run, a
        failed commit) holds no port."""
        self._reload_if_stale()
        self.admit(info, obj)
        if info.kind == "Pod":
            admit_service_account(obj, self._service_account)
            self.priority_classes.resolve_pod(obj)
            self.limit_ranges.admit_pod(info, obj)
        elif info.kind in ("PersistentVolumeClaim", "PersistentVolume"):
            self.storage_classes.admit_create(info.kind, obj)
            if info.kind == "PersistentVolumeClaim":
                self.limit_ranges.check_claim(info, obj)
        elif info.kind == "Service":
            meta = obj["metadata"]
            key = f"{meta.get('namespace')}/{meta.get('name')}"
            # Families and a requested ClusterIP are checked here (a dry run shows them); a
            # free address is picked only in before_write, where it is also reserved.
            self._assign_cluster_ip(obj, key, None, pick=False)
            self._assign_node_ports(obj, key)
        # A first look at quota, so a dry run is refused as a real create would be; the
        # decision that counts is taken again in before_write.
        meta = obj.get("metadata") or {}
        self.quotas.check(info, meta.get("namespace") or "", meta.get("name") or "", None, obj)

    def _service_account(self, ns: str, name: str) -> Obj | None:
        return self._store.get("/serviceaccounts", ns, name) if self._store is not None else None

    # -- the write hook ------------------------------------------------------------------

    def before_write(
        self, info: ResourceInfo, ns: str, name: str, old: Obj | None, new: Obj | None
    ) -> None:
        """Keep the indexes in step with a write that has just been decided."""
        for check in self.write_checks:
            check(info, old, new)
        self._reload_if_stale()
        # Quota is decided here, one write at a time, and recorded at the end of this
        # hook once nothing else refused the write: two creates cannot share a last unit.
        self.quotas.check(info, ns, name, old, new)
        if info.kind == "PersistentVolumeClaim" and old is not None and new is not None:
            if (old.get("spec") or {}).get("resources") != (new.get("spec") or {}).get("resources"):
                self.limit_ranges.check_claim(info, new)
        if info.kind == "Pod":
            self._index_pod(ns, name, old, new)
        elif info.kind == "PriorityClass":
            self.priority_classes.check_write(info, name, old, new)
            self.priority_classes.record(name, new)
        elif info.kind == "StorageClass":
            self.storage_classes.record(name, new)
        elif info.kind == "LimitRange":
            self.limit_ranges.record(ns, name, new)
        elif info.kind == "PersistentVolumeClaim" and old is not None and new is not None:
            self.storage_classes.check_claim_resize(name, old, new)
        elif info.kind == "Namespace":
            if new is None:
                self.namespaces.pop(name, None)
                self.namespace_labels.pop(name, None)
            else:
                self.namespaces[name] = bool(new["metadata"].get("deletionTimestamp"))
                self.namespace_labels[name] = dict(new["metadata"].get("labels") or {})
        elif info.kind == "Service":
            # Check first, then change the index: a refused write leaves every port with
            # the Service that held it. This runs inside the store's mutation, one write
            # at a time, so two Services created at once cannot both get one port.
            key = f"{ns}/{name}"
            if old is not None and new is not None:
                _keep_node_ports(old, new)
            ips = self._assign_cluster_ip(new, key, old) if new is not None else []
            held = self._assign_node_ports(new, key) if new is not None else []
            for ip in allocated_ips(old):
                self.service_ips.release(ip, key)
            for ip in ips:
                self.service_ips.record(ip, key)
            status = new.get("status") if new is not None else None
            if new is not None and status is None:
                # As Kubernetes serialises it: an empty loadBalancer status, never none.
                new["status"] = {"loadBalancer": {}}
            elif isinstance(status, dict):
                status.setdefault("loadBalancer", {})  # (a status of another type: invalid)
            if old is not None:
                for port in _service_node_ports(old):
                    if self.node_ports.get(port) == key:
                        del self.node_ports[port]
            for port in held:
                self.node_ports[port] = key
        self.quotas.record(info, ns, name, old, new)

    # -- graceful deletion ---------------------------------------------------------------

    def graceful_delete(self, info: ResourceInfo, obj: Obj, grace: int | None) -> bool:
        """Pods on a node are only marked: their kubelet stops them, then removes them."""
        if info.kind != "Pod" or grace == 0:
            return False
        if not (obj.get("spec") or {}).get("nodeName"):
            return False
        return (obj.get("status") or {}).get("phase") not in ("Succeeded", "Failed")

    def grace_seconds(self, info: ResourceInfo, obj: Obj, grace: int | None) -> int:
        if grace is not None:
            return max(0, int(grace))
        if info.kind == "Pod":
            return int((obj.get("spec") or {}).get("terminationGracePeriodSeconds", 30))
        return 0

    def waits_for_kubelet(self, info: ResourceInfo, obj: Obj) -> bool:
        """A terminating pod whose finalizers are gone still waits for its kubelet."""
        return (
            self.graceful_delete(info, obj, None)
            and (obj["metadata"].get("deletionGracePeriodSeconds") or 0) > 0
        )
