"""The cluster's identity, which kubelets stamp on their containers: the kube-system
Namespace's uid, kept across apiserver restarts and never deleted."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.errors import ApiError
from tests.harness import start_apiserver


def test_cluster_uid_survives_restarts_and_kube_system_cannot_be_deleted(tmp_path: Path) -> None:
    srv = start_apiserver(tmp_path / "home")
    try:
        c = srv.client()
        uid = c.get("namespaces", "kube-system")["metadata"]["uid"]
        for ns in ("kube-system", "default", "kube-public"):
            with pytest.raises(ApiError) as err:
                c.delete("namespaces", ns)
            assert err.value.code == 403 and "may not be deleted" in err.value.message
        srv.restart()
        assert srv.client().get("namespaces", "kube-system")["metadata"]["uid"] == uid
    finally:
        srv.stop()
