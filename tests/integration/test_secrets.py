"""Secrets stay secret: a Secret's values never appear in any component's log, in any
Event or in an error Status; the database and the kubelet's secret files are readable by
their owner only.

A real cluster (apiserver, scheduler, controller manager, a fake-runtime kubelet, every
one at debug log level) runs pods that take the secret as env, envFrom and a volume, plus
the error paths that are most tempted to print a value (a missing key, invalid data, an
update of the secret).
"""

from __future__ import annotations

import base64
import os
import ssl
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cluster import Cluster
from tests.harness import ApiServer, Component
from tests.wait import wait_for

NS = "default"
NODE = "sec-node"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ApiServer, list[Component]]]:
    with Cluster(tmp_path / "home", apiserver_args=["--log-level", "debug"]) as cl:
        cl.add_scheduler("--log-level", "DEBUG")
        cl.add_controllers("--no-leader-elect", "--log-level", "DEBUG")
        cl.add_kubelet(NODE, "--no-proxy", "--resync-period", "1", "--log-level", "debug")
        yield cl.api, list(cl.components.values())


def _forms(value: str) -> list[str]:
    """The ways a value could leak: as is, base64-encoded, and its repr's escape."""
    raw = value.encode()
    return [value, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")]


def _pod(name: str, secret: str, key: str = "password") -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [
                {
                    "name": "app",
                    "image": "app:1",
                    "env": [
                        {
                            "name": "DB_PASSWORD",
                            "valueFrom": {"secretKeyRef": {"name": secret, "key": key}},
                        }
                    ],
                    "envFrom": [{"secretRef": {"name": secret}, "prefix": "S_"}],
                    "volumeMounts": [{"name": "cred", "mountPath": "/etc/cred"}],
                }
            ],
            "volumes": [{"name": "cred", "secret": {"secretName": secret}}],
        },
    }


def _running(c: Any, name: str) -> bool:
    pod = c.get("pods", name, NS)
    return (pod.get("status") or {}).get("phase") == "Running"


def test_secret_values_never_leak_and_files_are_private(
    cluster: tuple[ApiServer, list[Component]],
) -> None:
    api, procs = cluster
    c = api.client()
    password = f"pw-{uuid.uuid4().hex}"
    token = f"tok-{uuid.uuid4().hex}"
    rotated = f"rot-{uuid.uuid4().hex}"
    bad_value = f"bad-{uuid.uuid4().hex}"
    secrets = [password, token, rotated, bad_value]

    c.create(
        "secrets",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "db"},
            "data": {"password": base64.b64encode(password.encode()).decode()},
            "stringData": {"token": token},
        },
        NS,
    )
    # Error paths that might echo a value: not base64, a bad key, a wrong type.
    h = httpx.Client(
        base_url=api.url,
        verify=ssl.create_default_context(cafile=str(api.ca_file)),
        headers={"Authorization": f"Bearer {api.token}"},
    )
    for data in (
        {"k": bad_value + "!!not base64"},
        {"bad key/" + bad_value[:4]: base64.b64encode(bad_value.encode()).decode()},
        {"k": [bad_value]},
    ):
        r = h.post(
            f"/api/v1/namespaces/{NS}/secrets",
            json={"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bad"}, "data": data},
        )
        assert r.status_code == 422, r.text
        for form in _forms(bad_value):
            assert form not in r.text, f"the 422 Status echoes the secret value: {r.text}"

    # A pod bound by the scheduler, one created by a Deployment, one missing its key.
    c.create("pods", _pod("direct", "db"), NS)
    dep_tmpl = _pod("x", "db")
    c.create(
        "deployments",
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}}, "spec": dep_tmpl["spec"]},
            },
        },
        NS,
    )
    c.create("pods", _pod("nokey", "db", key="no-such-key"), NS)
    wait_for(lambda: _running(c, "direct"), "pod direct Running", 60)
    wait_for(
        lambda: any(
            (p.get("status") or {}).get("phase") == "Running"
            for p in c.list("pods", NS, label_selector="app=web")["items"]
        ),
        "the Deployment's pod Running",
        60,
    )
    wait_for(
        lambda: any(
            "no-such-key" in (e.get("message") or "")
            or (e.get("involvedObject") or {}).get("name") == "nokey"
            for e in c.list("events", NS)["items"]
        ),
        "an event about the pod with a missing key",
    )

    # The kubelet wrote the volume: owner-only files holding the values.
    direct = c.get("pods", "direct", NS)
    root = api.home / "kubelet" / NODE
    vol = root / "pods" / direct["metadata"]["uid"] / "volumes" / "secret" / "cred"
    wait_for(lambda: (vol / "password").exists(), f"secret file under {vol}")
    assert (vol / "password").read_text() == password
    assert (vol / "token").read_text() == token
    for f in (vol / "password", vol / "token"):
        st = f.stat()
        assert stat.S_IMODE(st.st_mode) == 0o400, f"{f} is {oct(st.st_mode)}"
        assert st.st_uid == os.getuid(), f"{f} is owned by uid {st.st_uid}"

    # Rotate the value: a pod started afterwards gets it (the kubelet projects secret
    # volumes when a container starts), and nothing logs it either.
    sec = c.get("secrets", "db", NS)
    sec["data"]["password"] = base64.b64encode(rotated.encode()).decode()
    c.replace("secrets", "db", sec, NS)
    c.create("pods", _pod("after", "db"), NS)
    wait_for(lambda: _running(c, "after"), "pod after Running", 60)
    after = c.get("pods", "after", NS)
    vol2 = root / "pods" / after["metadata"]["uid"] / "volumes" / "secret" / "cred"
    assert (vol2 / "password").read_text() == rotated
    assert stat.S_IMODE((vol2 / "password").stat().st_mode) == 0o400

    # The database and the files the apiserver keeps are private to their owner.
    home = api.home
    assert stat.S_IMODE(home.stat().st_mode) & 0o077 == 0, f"home is {oct(home.stat().st_mode)}"
    for name in ("state.db", "state.db-wal", "state.db-shm", "admin-token", "kubelet-secret"):
        f = home / name
        if not f.exists():
            assert name.endswith(("-wal", "-shm")), f"{f} is missing"
            continue
        st = f.stat()
        assert stat.S_IMODE(st.st_mode) & 0o077 == 0, f"{f} is {oct(st.st_mode)}"
        assert st.st_uid == os.getuid(), f"{f} is owned by uid {st.st_uid}"
    for value in (rotated, token):
        assert _only_in_volumes(root, value), "a kubelet file outside the volumes holds a value"

    # No value in any Event, nor in any log of any component.
    events = h.get("/api/v1/events").text
    for p in procs:
        p.stop(5)
    api.stop()
    logs = {p.log_path.name: p.log() for p in procs}
    logs["apiserver"] = api.component.log() if api.component else ""
    assert all(logs.values()), "a component wrote no log at all: the check would be vacuous"
    for value in secrets:
        for form in _forms(value):
            assert form not in events, f"an Event holds a secret value ({form})"
            for name, text in logs.items():
                assert form not in text, f"log {name} holds a secret value ({form})"


def _only_in_volumes(root: Path, value: str) -> bool:
    """Every kubelet file holding ``value`` is a secret volume file (0400)."""
    for p in root.rglob("*"):
        if p.is_file() and value.encode() in p.read_bytes():
            if "/volumes/secret/" not in str(p) or stat.S_IMODE(p.stat().st_mode) != 0o400:
                return False
    return True
