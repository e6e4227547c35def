"""An in-memory stand-in for the API, used by the controller unit tests.

It applies ``controllers.actions.Action`` values to dicts (create, merge patch, delete),
assigning uid/resourceVersion/generation/creationTimestamp like the apiserver does, so
pure reconcilers can be driven step by step without a server.
"""

from __future__ import annotations

import copy
import itertools
from typing import Any

from controllers.actions import Action
from controllers.objutil import format_time

Obj = dict[str, Any]
KINDS = {
    "pods": ("v1", "Pod"),
    "replicasets": ("apps/v1", "ReplicaSet"),
    "deployments": ("apps/v1", "Deployment"),
    "jobs": ("batch/v1", "Job"),
    "endpoints": ("v1", "Endpoints"),
    "nodes": ("v1", "Node"),
    "services": ("v1", "Service"),
    "daemonsets": ("apps/v1", "DaemonSet"),
    "controllerrevisions": ("apps/v1", "ControllerRevision"),
    "cronjobs": ("batch/v1", "CronJob"),
    "replicationcontrollers": ("v1", "ReplicationController"),
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = merge_patch(out.get(k), v)
    return out


class World:
    """Objects by (resource, namespace, name), with a clock."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self._rv = itertools.count(1)
        self._uid = itertools.count(1)
        self.events: list[Action] = []
        self.log: list[Action] = []
        self.conflicts: list[Action] = []

    def add(self, resource: str, obj: Obj) -> Obj:
        obj = copy.deepcopy(obj)
        api_version, kind = KINDS[resource]
        obj.setdefault("apiVersion", api_version)
        obj.setdefault("kind", kind)
        m = obj.setdefault("metadata", {})
        m.setdefault("uid", f"uid-{next(self._uid)}")
        m.setdefault("creationTimestamp", format_time(self.now))
        m["resourceVersion"] = str(next(self._rv))
        m.setdefault("generation", 1)
        key = (resource, m.get("namespace"), m["name"])
        if key in self.objects:
            raise KeyError(f"{key} already exists")
        self.objects[key] = obj
        return obj

    def get(self, resource: str, namespace: str | None, name: str) -> Obj | None:
        return self.objects.get((resource, namespace, name))

    def list(self, resource: str, namespace: str | None = None) -> list[Obj]:
        return [
            copy.deepcopy(o)
            for (r, ns, _), o in sorted(self.objects.items(), key=lambda kv: kv[0][2])
            if r == resource and (namespace is None or ns == namespace)
        ]

    def apply(self, actions: list[Action]) -> None:
        for a in actions:
            self.log.append(a)
            if a.verb == "event":
                self.events.append(a)
            elif a.verb == "create":
                assert a.body is not None
                self.add(a.resource, a.body)
            elif a.verb == "delete":
                self.objects.pop((a.resource, a.namespace, a.name), None)
            elif a.verb in ("patch", "replace"):
                key = (a.resource, a.namespace, a.name)
                cur = self.objects.get(key)
                if cur is None:
                    continue
                assert a.body is not None
                want_rv = (a.body.get("metadata") or {}).get("resourceVersion")
                if want_rv not in (None, cur["metadata"]["resourceVersion"]):
                    # What the apiserver answers (409); a shell stops here and requeues.
                    self.conflicts.append(a)
                    return
                new = merge_patch(cur, a.body) if a.verb == "patch" else copy.deepcopy(a.body)
                if a.subresource == "status":
                    new = {**cur, "status": new.get("status")}
                elif a.verb == "patch" and "status" in a.body:
                    new["status"] = cur.get("status")
                if new.get("spec") != cur.get("spec"):
                    new["metadata"]["generation"] = int(cur["metadata"].get("generation") or 1) + 1
                new["metadata"]["resourceVersion"] = str(next(self._rv))
                self.objects[key] = new

    def set_pod_ready(self, name: str, namespace: str = "default", ready: bool = True) -> None:
        pod = self.objects[("pods", namespace, name)]
        pod.setdefault("spec", {}).setdefault("nodeName", "n1")
        pod["status"] = {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "lastTransitionTime": format_time(self.now),
                }
            ],
        }
        pod["metadata"]["resourceVersion"] = str(next(self._rv))
