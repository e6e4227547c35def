"""`kubelab join --approve-required` against a real apiserver and controller manager: a
bootstrap token made with `kubelab token create --approve-required` no longer admits a
box alone; the box files a CertificateSigningRequest and waits, not joined, until an
admin runs the real `kubectl certificate approve`; then it gets its credentials and a
client certificate for system:node:<name> signed by the cluster CA. A denied request
ends the join with the reason."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from kubelab.token import create_join_token
from tests.cluster import Cluster
from tests.harness import REPO, kubelab_cmd
from tests.wait import wait_for

KUBECTL = Path("/usr/bin/kubectl")
pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not KUBECTL.exists(), reason="the real kubectl is /usr/bin/kubectl"),
]


def _flags(command: str) -> list[str]:
    words = command.split()
    assert words[:2] == ["kubelab", "join"]
    return words[2:]


def _env(cl: Cluster) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["KUBECONFIG"] = str(cl.api.kubeconfig)
    env.pop("KUBELAB_HOME", None)
    return env


def _join(cl: Cluster, flags: list[str], home: Path, node: str, *more: str) -> Any:
    return subprocess.Popen(
        kubelab_cmd("join", *flags, "--home", str(home), "--node-name", node, "--no-run", *more),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(cl),
        cwd=str(REPO),
    )


def _kubectl(cl: Cluster, *args: str) -> str:
    p = subprocess.run(
        [str(KUBECTL), *args], capture_output=True, text=True, env=_env(cl), timeout=60
    )
    assert p.returncode == 0, p.stderr
    return p.stdout


def _csr_of(cl: Cluster, node: str) -> str:
    items = cl.api.client().list("certificatesigningrequests")["items"]
    names = [
        i["metadata"]["name"]
        for i in items
        if (i["metadata"].get("labels") or {}).get("kubelab.io/joining-node") == node
    ]
    return names[0] if names else ""


def test_join_waits_for_approval_and_gets_a_node_certificate(tmp_path: Path) -> None:
    with Cluster(tmp_path / "home") as cl:
        cl.add_controllers()
        command, _ = create_join_token(
            cl.api.home, None, cl.api.url, "approved boxes", approve_required=True
        )
        assert command.endswith(" --approve-required")
        flags = [f for f in _flags(command) if f != "--approve-required"]

        # The token alone: refused, nothing written.
        plain = _join(cl, flags, tmp_path / "box-plain", "box2")
        _, err = plain.communicate(timeout=60)
        assert plain.returncode == 1
        assert "admits a box only once an admin approves" in err
        assert not (tmp_path / "box-plain" / "kubeconfig").exists()

        home = tmp_path / "box2"
        proc = _join(cl, flags, home, "box2", "--approve-required", "--approve-timeout", "120")
        try:
            name = wait_for(lambda: _csr_of(cl, "box2"), "box2's signing request", 60)
            row = _kubectl(cl, "get", "csr", name).splitlines()[1]
            assert "kubernetes.io/kube-apiserver-client-kubelet" in row
            assert "system:bootstrap:" in row and "Pending" in row
            # Not joined while the request waits (what is shown is that nothing was written).
            assert proc.poll() is None
            assert not (home / "kubeconfig").exists()
            _kubectl(cl, "certificate", "approve", name)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, err
        assert f"kubectl certificate approve {name}" in out  # told the admin's command once
        assert "system:node:box2" in (home / "kubeconfig").read_text()
        cert = x509.load_pem_x509_certificate((home / "pki" / "kubelet-client.crt").read_bytes())
        ca = x509.load_pem_x509_certificate(cl.api.ca_file.read_bytes())
        assert cert.issuer == ca.subject
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
            "system:node:box2"
        )
        assert "Approved,Issued" in _kubectl(cl, "get", "csr", name)

        # A denied request ends the join with the reason.
        denied_home = tmp_path / "box3"
        proc = _join(cl, flags, denied_home, "box3", "--approve-required")
        try:
            name = wait_for(lambda: _csr_of(cl, "box3"), "box3's signing request", 60)
            _kubectl(cl, "certificate", "deny", name)
            _, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 1
        assert f"the certificate signing request {name} of node box3 was denied" in err
        assert not (denied_home / "kubeconfig").exists()
