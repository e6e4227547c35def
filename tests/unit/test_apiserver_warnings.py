"""Fields the server accepts but nothing acts on are never silently ignored: each write that
carries one is answered with a ``Warning`` header naming it (in process, tests/inprocess.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.inprocess import InProcessApi

pytestmark = [pytest.mark.anyio, pytest.mark.inprocess]

APPS = "/apis/apps/v1/namespaces/default/deployments"
SOFT_ANTI_AFFINITY = {
    "podAntiAffinity": {
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {
                "weight": 1,
                "podAffinityTerm": {
                    "topologyKey": "kubernetes.io/hostname",
                    "labelSelector": {"matchLabels": {"app": "db"}},
                },
            }
        ]
    }
}


def _deployment(affinity: dict[str, Any] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "db", "image": "busybox:1.36"}]}
    if affinity is not None:
        spec["affinity"] = affinity
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "db"},
        "spec": {
            "selector": {"matchLabels": {"app": "db"}},
            "template": {"metadata": {"labels": {"app": "db"}}, "spec": spec},
        },
    }


async def test_soft_anti_affinity_is_stored_with_a_warning(inprocess_api: InProcessApi) -> None:
    r = await inprocess_api.client.post(APPS, json=_deployment(SOFT_ANTI_AFFINITY))
    assert r.status_code == 201, r.text
    warning = r.headers.get("warning", "")
    assert warning.startswith('299 - "spec.template.spec.affinity.podAntiAffinity.'), warning
    assert "not scored by kubelab's scheduler" in warning
    stored = r.json()["spec"]["template"]["spec"]["affinity"]
    assert stored == SOFT_ANTI_AFFINITY  # kept, as the user wrote it

    # A later write of the object warns again; one without the preference does not.
    patch = {"metadata": {"labels": {"tier": "data"}}}
    r = await inprocess_api.client.patch(
        f"{APPS}/db", json=patch, headers={"content-type": "application/merge-patch+json"}
    )
    assert r.status_code == 200 and "podAntiAffinity" in r.headers.get("warning", "")
    r = await inprocess_api.client.post(APPS, json={**_deployment(None), "metadata": {"name": "x"}})
    assert r.status_code == 201 and "warning" not in r.headers


async def test_required_anti_affinity_is_refused(inprocess_api: InProcessApi) -> None:
    hard = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"topologyKey": "kubernetes.io/hostname"}
            ]
        }
    }
    code, err = await inprocess_api.status_of("POST", APPS, json=_deployment(hard))
    assert code == 422
    fields = [c["field"] for c in err["details"]["causes"]]
    assert fields == [
        "spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"
    ]
