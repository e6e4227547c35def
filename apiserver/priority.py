"""The Priority admission plugin: PriorityClasses resolved into a pod's ``spec.priority``
and ``spec.preemptionPolicy`` on create, one globalDefault class at most, the built-in
system classes kept.

As Kubernetes' plugin: a pod naming a class gets its value; a pod naming none gets the
globalDefault class (its name too) or priority 0; a pod naming a class that does not
exist is refused (403), and so is a pod whose own ``priority``/``preemptionPolicy``
disagrees with what its class says. The index lives in memory and is kept in the
serialised write path (``ClusterState.before_write``), so two classes created at once
cannot both become the default.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from api.registry import ResourceInfo
from api.validation.policy import SYSTEM_PRIORITY_CLASSES

Obj = dict[str, Any]

DEFAULT_PREEMPTION_POLICY = "PreemptLowerPriority"


def _forbidden(plural: str, name: str, why: str) -> ApiError:
    return ApiError(403, f'{plural} "{name}" is forbidden: {why}', "Forbidden", name, plural)


class PriorityClasses:
    """Every stored PriorityClass by name (value, globalDefault, preemptionPolicy)."""

    def __init__(self) -> None:
        self.classes: dict[str, Obj] = {}

    def load(self, objs: list[Obj]) -> None:
        self.classes = {o["metadata"]["name"]: o for o in objs}

    def global_default(self) -> Obj | None:
        """The globalDefault class (the lowest value if several slipped in, as upstream)."""
        found = [c for c in self.classes.values() if c.get("globalDefault") is True]
        return min(found, key=lambda c: int(c.get("value") or 0)) if found else None

    def resolve_pod(self, pod: Obj) -> None:
        """Fill ``spec.priority``, ``spec.preemptionPolicy`` (and the default class's name)
        of a new pod, or raise 403 as Kubernetes' Priority admission does."""
        spec = pod.setdefault("spec", {})
        name = str((pod.get("metadata") or {}).get("name") or "")
        class_name = spec.get("priorityClassName") or ""
        if class_name:
            pc = self.classes.get(class_name)
            if pc is None:
                raise _forbidden(
                    "pods",
                    name,
                    f"no PriorityClass with name {class_name} was found: create it "
                    "(kl get priorityclasses lists them) or drop priorityClassName",
                )
        else:
            pc = self.global_default()
            if pc is not None:
                spec["priorityClassName"] = pc["metadata"]["name"]
        priority = int(pc.get("value") or 0) if pc is not None else 0
        policy = (pc.get("preemptionPolicy") if pc is not None else None) or (
            DEFAULT_PREEMPTION_POLICY
        )
        given = spec.get("priority")
        if given is not None and given != priority:
            raise _forbidden(
                "pods",
                name,
                f"the integer value of priority ({given}) must not be provided in pod spec; "
                f"priority admission controller computed {priority} from the given "
                "PriorityClass name",
            )
        spec["priority"] = priority
        given_policy = spec.get("preemptionPolicy")
        if given_policy is not None and given_policy != policy:
            raise _forbidden(
                "pods",
                name,
                f"the string value of PreemptionPolicy ({given_policy}) must not be provided in "
                f"pod spec; priority admission controller computed {policy} from the given "
                "PriorityClass name",
            )
        spec["preemptionPolicy"] = policy

    def check_write(self, info: ResourceInfo, name: str, old: Obj | None, new: Obj | None) -> None:
        """Refuse a second globalDefault class and the removal of a built-in one."""
        if info.kind != "PriorityClass":
            return
        if new is None:
            if name in SYSTEM_PRIORITY_CLASSES:
                raise _forbidden(
                    "priorityclasses",
                    name,
                    f"the built-in priority class {name} cannot be deleted",
                )
            return
        if new.get("globalDefault") is True:
            other = self.global_default()
            if other is not None and other["metadata"]["name"] != name:
                raise _forbidden(
                    "priorityclasses",
                    name,
                    f"PriorityClass {other['metadata']['name']} is already marked as default. "
                    "Only one default can exist",
                )

    def record(self, name: str, new: Obj | None) -> None:
        """Keep the index in step with a decided write."""
        if new is None:
            self.classes.pop(name, None)
        else:
            self.classes[name] = new


def system_priority_classes() -> list[Obj]:
    """The built-in classes every cluster has, created by the apiserver at first start."""
    return [
        {
            "apiVersion": "scheduling.k8s.io/v1",
            "kind": "PriorityClass",
            "metadata": {"name": name},
            "value": value,
            "description": "Used for system critical pods that must not be moved from their "
            "current node."
            if name == "system-node-critical"
            else "Used for system critical pods that must run in the cluster, but can be "
            "moved to another node if necessary.",
        }
        for name, value in SYSTEM_PRIORITY_CLASSES.items()
    ]
