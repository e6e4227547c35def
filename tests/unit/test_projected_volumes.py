"""Projected volumes on the node (kubelet/volume_projected.py, kubelet/volumes.py), the
token renewal rule, and the kube-root-ca.crt publisher's decision (controllers/rootca.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from apiserver.serviceaccount_admission import api_access_volume
from controllers.rootca import root_ca_action
from kubelet.volume_projected import IssuedToken, pod_tokens, token_request
from kubelet.volumes import MissingVolumeSource, prepare_volumes, read_only_volumes

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
VOLUME = api_access_volume("kube-api-access-x2b4z")


def _pod() -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "team", "uid": "pod-uid"},
        "spec": {"serviceAccountName": "runner", "volumes": [VOLUME]},
    }


def test_the_api_access_volume_holds_token_ca_and_namespace(tmp_path: Path) -> None:
    cms = {"kube-root-ca.crt": {"data": {"ca.crt": CA, "other": "x"}}}
    tokens = {"kube-api-access-x2b4z/token": "eyJ.a.b"}
    paths = prepare_volumes(tmp_path, _pod(), cms, {}, None, tokens)
    d = Path(paths["kube-api-access-x2b4z"])
    assert sorted(p.name for p in d.iterdir()) == ["ca.crt", "namespace", "token"]
    assert (d / "token").read_text() == "eyJ.a.b"
    assert (d / "ca.crt").read_text() == CA
    assert (d / "namespace").read_text() == "team"
    assert (d / "token").stat().st_mode & 0o777 == 0o644  # defaultMode 420
    assert read_only_volumes(_pod()) == {"kube-api-access-x2b4z"}
    # A renewed token replaces the file.
    prepare_volumes(tmp_path, _pod(), cms, {}, None, {"kube-api-access-x2b4z/token": "eyJ.c.d"})
    assert (d / "token").read_text() == "eyJ.c.d"


def test_a_missing_root_ca_configmap_waits_as_a_failed_mount(tmp_path: Path) -> None:
    with pytest.raises(MissingVolumeSource, match='configmap "kube-root-ca.crt" not found'):
        prepare_volumes(tmp_path, _pod(), {}, {}, None, {"kube-api-access-x2b4z/token": "t"})


def test_a_token_is_renewed_past_80_percent_of_its_lifetime() -> None:
    t = IssuedToken("t", issued=1000.0, expires=1000.0 + 3607)
    assert not t.due(1000.0 + 0.79 * 3607)
    assert t.due(1000.0 + 0.8 * 3607)
    long = IssuedToken("t", issued=0.0, expires=10 * 86400.0)
    assert long.due(86400.0)  # at least daily


def test_the_token_request_is_bound_to_the_pod() -> None:
    source = {"path": "token", "expirationSeconds": 3607}
    req = token_request(_pod(), source)
    assert req["spec"] == {
        "audiences": [],
        "expirationSeconds": 3607,
        "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": "web", "uid": "pod-uid"},
    }
    assert token_request(_pod(), {**source, "audience": "vault"})["spec"]["audiences"] == ["vault"]


class _Client:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def create(self, resource: str, body: Any, namespace: str, **kw: Any) -> Any:
        self.calls.append((namespace, kw["name"]))
        return {
            "status": {
                "token": f"tok{len(self.calls)}",
                "expirationTimestamp": "2099-01-01T00:00:00Z",
            }
        }


@pytest.mark.anyio
async def test_tokens_are_asked_once_and_kept_until_due() -> None:
    client, cache = _Client(), {}  # type: ignore[var-annotated]
    assert await pod_tokens(client, _pod(), cache) == {"kube-api-access-x2b4z/token": "tok1"}
    assert await pod_tokens(client, _pod(), cache) == {"kube-api-access-x2b4z/token": "tok1"}
    assert client.calls == [("team", "runner")]


def test_the_root_ca_publisher_creates_corrects_and_leaves_alone() -> None:
    ns = {"metadata": {"name": "team"}, "status": {"phase": "Active"}}
    create = root_ca_action(ns, None, CA)
    assert create is not None and create.verb == "create"
    assert create.body is not None and create.body["data"] == {"ca.crt": CA}
    assert root_ca_action(ns, {"data": {"ca.crt": CA}}, CA) is None
    fix = root_ca_action(ns, {"data": {"ca.crt": "old", "extra": "x"}}, CA)
    assert fix is not None and fix.verb == "patch"
    assert fix.body == {"data": {"extra": None, "ca.crt": CA}}
    terminating = {"metadata": {"name": "team"}, "status": {"phase": "Terminating"}}
    assert root_ca_action(terminating, None, CA) is None
