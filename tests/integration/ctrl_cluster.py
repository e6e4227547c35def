"""Objects and checks for the controller integration tests and benchmark (the cluster
itself comes from tests/cluster.py): a Deployment body, readiness, live pods, rollout done."""

from __future__ import annotations

from typing import Any


def deployment(name: str, replicas: int, image: str = "nginx:1", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {
                            "name": "srv",
                            "image": image,
                            "ports": [{"containerPort": 8080, "name": "http"}],
                        }
                    ],
                    "terminationGracePeriodSeconds": 0,
                },
            },
        },
    }
    body["spec"].update(spec)
    return body


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or []
    )


def live_pods(client: Any, ns: str, selector: str | None = None) -> list[dict[str, Any]]:
    """Pods that count: not terminating, not finished."""
    items = client.list("pods", ns, label_selector=selector)["items"]
    return [
        p
        for p in items
        if not p["metadata"].get("deletionTimestamp")
        and (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    ]


def rollout_done(d: dict[str, Any]) -> bool:
    """`kubectl rollout status`'s test (API-COMPAT §7)."""
    st = d.get("status") or {}
    n = d["spec"]["replicas"]
    prog = next((c for c in st.get("conditions") or [] if c.get("type") == "Progressing"), {})
    return bool(
        d["metadata"].get("generation", 0) <= st.get("observedGeneration", 0)
        and st.get("updatedReplicas", 0) >= n
        and st.get("replicas", 0) <= st.get("updatedReplicas", 0)
        and st.get("availableReplicas", 0) >= st.get("updatedReplicas", 0)
        and prog.get("reason") != "ProgressDeadlineExceeded"
    )
