"""``pods/NAME/ephemeralcontainers``: GET, PATCH and PUT as Kubernetes serves them (the
Pod), for ``kubectl debug``.

kubelab's kubelet does not run ephemeral containers (a container added to a running pod's
namespaces), so a write that would add or change one is refused with a 422 whose details
name ``spec.ephemeralContainers`` and the alternative, ``kubectl debug --copy-to``, which
debugs a copy of the pod with ordinary containers. The details matter: kubectl 1.35 reads
``details.name`` of a 404 from this path and panicked on the bare 404 kubelab gave before.
A write that leaves the list as it is (empty) answers the pod, as Kubernetes does.
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError, Cause, invalid

FIELD = "spec.ephemeralContainers"


def refusal(pod: str) -> ApiError:
    """The 422 for a write that asks for an ephemeral container in ``pod``."""
    return invalid(
        "Pod",
        pod,
        [
            Cause(
                FIELD,
                "Forbidden: ephemeral containers are not run by kubelab's kubelet; debug a "
                f"copy of the pod instead (kubectl debug {pod} -it --copy-to={pod}-debug "
                "--image=busybox), or kubectl exec -it "
                f"{pod} -- sh into one of its containers",
                "FieldValueForbidden",
            )
        ],
    )


def check_write(current: dict[str, Any], wanted: dict[str, Any]) -> None:
    """Refuse ``wanted`` (the pod after the PATCH or the PUT body) when its ephemeral
    containers differ from ``current``'s; anything else a write to this subresource
    carries is ignored, as Kubernetes ignores all but the ephemeral containers."""
    have = (current.get("spec") or {}).get("ephemeralContainers") or []
    want = (wanted.get("spec") or {}).get("ephemeralContainers") or []
    if want != have:
        raise refusal(str((current.get("metadata") or {}).get("name") or ""))
