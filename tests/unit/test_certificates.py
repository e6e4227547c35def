"""CertificateSigningRequests: validation, the approval/status subresources in process
(the requester stamped by the server, only the approval decides Approved/Denied), the
signer controller's decision (controllers/csrsigning.reconcile), and the networking
kinds' server-side behaviour (the NetworkPolicy Warning, the built-in IngressClass)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from api import validation
from api.certificates import KUBE_APISERVER_CLIENT, KUBE_APISERVER_CLIENT_KUBELET
from controllers.csrsigning import SigningCA, reconcile
from tests.inprocess import InProcessApi

Obj = dict[str, Any]
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
NOW = datetime.datetime(2026, 12, 4, 5, 0, tzinfo=datetime.UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the apiserver runs on asyncio


def csr_pem(cn: str, orgs: tuple[str, ...] = ()) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    req = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(attrs))
        .sign(key, hashes.SHA256())
    )
    return base64.b64encode(req.public_bytes(serialization.Encoding.PEM)).decode()


def csr(name: str, request: str, signer: str = KUBE_APISERVER_CLIENT, **spec: Any) -> Obj:
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {"request": request, "signerName": signer, "usages": ["client auth"], **spec},
    }


def _ca() -> SigningCA:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return SigningCA(cert, key)


def _fields(obj: Obj) -> list[str]:
    return [c.field for c in validation.validate("CertificateSigningRequest", obj)]


def test_validation_refuses_a_bad_request_signer_usage_and_duration() -> None:
    assert _fields(csr("a", csr_pem("alice"))) == []
    bad = csr("a", base64.b64encode(b"not pem").decode(), "no-slash", usages=["flying"])
    bad["spec"]["expirationSeconds"] = 60
    assert _fields(bad) == [
        "spec.request",
        "spec.signerName",
        "spec.usages[0]",
        "spec.expirationSeconds",
    ]
    both = csr("a", csr_pem("alice"))
    both["status"] = {
        "conditions": [{"type": "Approved", "status": "True"}, {"type": "Denied", "status": "True"}]
    }
    assert _fields(both) == ["status.conditions"]


def _body(action: Any) -> Obj:
    assert action.body is not None
    return dict(action.body)


def _approved(obj: Obj) -> Obj:
    return {**obj, "status": {"conditions": [{"type": "Approved", "status": "True"}]}}


def test_signer_signs_an_approved_client_request_with_the_ca() -> None:
    ca = _ca()
    obj = csr("alice", csr_pem("alice", ("lab",)), expirationSeconds=3600)
    assert reconcile(obj, ca, NOW).actions == []  # not approved yet
    (action,) = reconcile(_approved(obj), ca, NOW).actions
    assert action.subresource == "status"
    cert = x509.load_pem_x509_certificate(base64.b64decode(_body(action)["status"]["certificate"]))
    assert cert.issuer == ca.cert.subject
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "alice"
    assert cert.not_valid_after_utc - NOW == datetime.timedelta(hours=1)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    ca.key.public_key().verify(
        cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256())
    )
    # Issued once: a request that has its certificate is left alone.
    issued = _approved(obj)
    issued["status"]["certificate"] = _body(action)["status"]["certificate"]
    assert reconcile(issued, ca, NOW).actions == []


def test_signer_fails_what_its_signer_does_not_allow_and_leaves_other_signers() -> None:
    ca = _ca()
    kubelet = _approved(csr("k", csr_pem("alice"), KUBE_APISERVER_CLIENT_KUBELET))
    (action,) = reconcile(kubelet, ca, NOW).actions
    (failed,) = [c for c in _body(action)["status"]["conditions"] if c["type"] == "Failed"]
    assert "system:node:<name>" in failed["message"]
    node = _approved(
        csr("n", csr_pem("system:node:gpu2", ("system:nodes",)), KUBE_APISERVER_CLIENT_KUBELET)
    )
    assert "certificate" in _body(reconcile(node, ca, NOW).actions[0])["status"]
    serving = _approved(csr("s", csr_pem("alice"), usages=["server auth"]))
    assert "Failed" in str(reconcile(serving, ca, NOW).actions[0].body)
    theirs = _approved(csr("t", csr_pem("alice"), "example.com/other"))
    assert reconcile(theirs, ca, NOW).actions == []


@pytest.mark.anyio
@pytest.mark.inprocess
async def test_approval_subresource_and_stamped_requester(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    body = csr("alice", csr_pem("alice"))
    body["spec"]["username"] = "someone-else"  # forged: replaced by the server
    created = await api.create(CSRS, body)
    assert created["spec"]["username"] != "someone-else"
    assert created["spec"]["groups"]
    # A plain status write cannot approve.
    obj = dict(created)
    obj["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "x"}]}
    code, out = await api.status_of("PUT", f"{CSRS}/alice/status", json=obj)
    assert code == 200 and not (out.get("status") or {}).get("conditions")
    # The approval subresource does (what kubectl certificate approve sends).
    obj["metadata"] = out["metadata"]
    code, out = await api.status_of("PUT", f"{CSRS}/alice/approval", json=obj)
    assert code == 200, out
    assert out["status"]["conditions"][0]["type"] == "Approved"
    # ... and may not take it back.
    obj["metadata"] = out["metadata"]
    obj["status"] = {"conditions": []}
    code, out = await api.status_of("PUT", f"{CSRS}/alice/approval", json=obj)
    assert code == 422 and "may not remove a condition of type 'Approved'" in out["message"]
    # The spec is immutable.
    code, out = await api.status_of(
        "PATCH",
        f"{CSRS}/alice",
        json={"spec": {"usages": ["client auth", "digital signature"]}},
        headers={"content-type": "application/merge-patch+json"},
    )
    assert code == 422 and "spec" in out["message"]


@pytest.mark.anyio
@pytest.mark.inprocess
async def test_network_policy_warns_and_kubelab_class_exists(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    np = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "deny"},
        "spec": {"podSelector": {}},
    }
    r = await api.client.post(
        "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", json=np
    )
    assert r.status_code == 201
    assert "not enforced by kubelab's pod network" in r.headers["warning"]
    code, ic = await api.status_of("GET", "/apis/networking.k8s.io/v1/ingressclasses/kubelab")
    assert code == 200 and ic["spec"]["controller"] == "kubelab.io/ingress-router"


@pytest.mark.anyio
@pytest.mark.inprocess
async def test_default_ingress_class_admission(inprocess_api: InProcessApi) -> None:
    api = inprocess_api
    ings = "/apis/networking.k8s.io/v1/namespaces/default/ingresses"
    backend = {"service": {"name": "web", "port": {"number": 80}}}

    def ing(name: str, **spec: Any) -> Obj:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"defaultBackend": backend, **spec},
        }

    assert (await api.create(ings, ing("a")))["spec"]["ingressClassName"] == "kubelab"
    named = await api.create(ings, ing("b", ingressClassName="other"))
    assert named["spec"]["ingressClassName"] == "other"
    second = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {
            "name": "nginx",
            "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"},
        },
        "spec": {"controller": "k8s.io/ingress-nginx"},
    }
    await api.create("/apis/networking.k8s.io/v1/ingressclasses", second)
    code, out = await api.status_of("POST", ings, json=ing("c"))
    assert code == 403 and "2 default IngressClasses were found" in out["message"]
