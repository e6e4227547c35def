"""Bound ServiceAccount tokens (apiserver/sa_tokens.py) and the token volume the
ServiceAccount admission adds (apiserver/serviceaccount_admission.py): pure logic."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from api.errors import ApiError
from apiserver.sa_tokens import (
    API_AUDIENCE,
    Binding,
    InvalidToken,
    TokenSigner,
    expiration_seconds,
    looks_like_jwt,
    still_bound,
)
from apiserver.serviceaccount_admission import (
    MOUNT_PATH,
    add_api_access,
    admit_service_account,
    api_access_volume,
)

NOW = 1_800_000_000.0
BINDING = Binding("team", "runner", "sa-uid", (API_AUDIENCE,), int(NOW) + 3600, "p", "pod-uid")


def signer() -> TokenSigner:
    return TokenSigner(ec.generate_private_key(ec.SECP256R1()))


def test_issue_then_verify_gives_the_binding_back() -> None:
    s = signer()
    token = s.issue(BINDING, now=NOW)
    assert looks_like_jwt(token)
    assert s.verify(token, (API_AUDIENCE,), now=NOW + 10) == BINDING


def test_an_expired_token_is_refused() -> None:
    s = signer()
    token = s.issue(BINDING, now=NOW)
    with pytest.raises(InvalidToken, match="expired"):
        s.verify(token, (API_AUDIENCE,), now=NOW + 3600)


def test_a_token_for_another_audience_is_refused() -> None:
    s = signer()
    token = s.issue(BINDING, now=NOW)
    with pytest.raises(InvalidToken, match="audiences"):
        s.verify(token, ("vault",), now=NOW)


def test_a_token_signed_by_another_key_or_altered_is_refused() -> None:
    token = signer().issue(BINDING, now=NOW)
    with pytest.raises(InvalidToken, match="not a token of this cluster"):
        signer().verify(token, (API_AUDIENCE,), now=NOW)
    s = signer()
    head, body, sig = s.issue(BINDING, now=NOW).split(".")
    with pytest.raises(InvalidToken):
        s.verify(f"{head}.{body}x.{sig}", (API_AUDIENCE,), now=NOW)


def test_the_key_is_kept_under_the_home(tmp_path: Path) -> None:
    token = TokenSigner.for_home(tmp_path).issue(BINDING, now=NOW)
    assert TokenSigner.for_home(tmp_path).verify(token, (API_AUDIENCE,), now=NOW)
    assert (tmp_path / "pki" / "sa.key").stat().st_mode & 0o077 == 0


def test_a_token_is_bound_to_its_account_and_pod() -> None:
    account = {"metadata": {"uid": "sa-uid"}}
    pod = {"metadata": {"uid": "pod-uid"}}
    assert still_bound(BINDING, account, pod) == ""
    assert "no longer exists" in still_bound(BINDING, None, pod)
    assert "no longer exists" in still_bound(BINDING, {"metadata": {"uid": "other"}}, pod)
    assert "pod team/p" in still_bound(BINDING, account, None)
    assert "no longer exists" in still_bound(BINDING, account, {"metadata": {"uid": "new"}})
    deleting = {"metadata": {"uid": "pod-uid", "deletionTimestamp": "2027-01-01T00:00:00Z"}}
    assert "being deleted" in still_bound(BINDING, account, deleting)


def test_expiration_seconds_default_and_bounds() -> None:
    assert expiration_seconds(None) == 3600
    assert expiration_seconds(600) == 600
    for bad in (599, "3600", True, 2**32):
        with pytest.raises(ApiError) as e:
            expiration_seconds(bad)
        assert e.value.code == 422 and "spec.expirationSeconds" in e.value.message


def _pod(**spec: object) -> dict[str, object]:
    return {
        "metadata": {"name": "p", "namespace": "team"},
        "spec": {
            "serviceAccountName": "default",
            "initContainers": [{"name": "i"}],
            "containers": [
                {"name": "a"},
                {"name": "b", "volumeMounts": [{"name": "own", "mountPath": MOUNT_PATH}]},
            ],
            **spec,
        },
    }


def test_the_volume_is_kubernetes_own() -> None:
    pod = _pod()
    add_api_access(pod, suffix="x2b4z")
    spec = pod["spec"]
    assert isinstance(spec, dict)
    assert spec["volumes"] == [api_access_volume("kube-api-access-x2b4z")]
    sources = spec["volumes"][0]["projected"]["sources"]
    assert sources[0] == {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
    assert sources[1]["configMap"]["name"] == "kube-root-ca.crt"
    mount = {"name": "kube-api-access-x2b4z", "readOnly": True, "mountPath": MOUNT_PATH}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    # A container that mounts something of its own there keeps it.
    assert spec["containers"][1]["volumeMounts"] == [{"name": "own", "mountPath": MOUNT_PATH}]


@pytest.mark.parametrize(
    ("pod_says", "account_says", "mounted"),
    [(None, None, True), (False, None, False), (None, False, False), (True, False, True)],
)
def test_automount_pod_then_account(
    pod_says: bool | None, account_says: bool | None, mounted: bool
) -> None:
    extra = {} if pod_says is None else {"automountServiceAccountToken": pod_says}
    pod = _pod(**extra)
    account = {} if account_says is None else {"automountServiceAccountToken": account_says}
    admit_service_account(pod, lambda ns, name: account)
    spec = pod["spec"]
    assert isinstance(spec, dict)
    assert bool(spec.get("volumes")) is mounted


def test_a_missing_named_account_refuses_the_pod() -> None:
    with pytest.raises(ApiError) as e:
        admit_service_account(_pod(serviceAccountName="builder"), lambda ns, name: None)
    assert e.value.code == 403
    assert "error looking up service account team/builder" in e.value.message


def _causes(volume: dict[str, object]) -> dict[str, str]:
    from api.defaults import apply_defaults
    from api.validation import validate

    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "team"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}], "volumes": [volume]},
    }
    apply_defaults("Pod", pod)
    return {c.field: c.message for c in validate("Pod", pod)}


def test_the_admission_volume_is_valid_and_bad_sources_are_named() -> None:
    assert _causes(api_access_volume("kube-api-access-x2b4z")) == {}
    short = {"serviceAccountToken": {"path": "token", "expirationSeconds": 60}}
    causes = _causes({"name": "v", "projected": {"sources": [short]}})
    assert (
        "10 minutes"
        in causes["spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds"]
    )
    field = {
        "downwardAPI": {"items": [{"path": "cpu", "resourceFieldRef": {"resource": "limits.cpu"}}]}
    }
    causes = _causes({"name": "v", "projected": {"sources": [field]}})
    assert "spec.volumes[0].projected.sources[0].downwardAPI.items[0].resourceFieldRef" in causes


def test_the_serving_certificate_names_the_kubernetes_service(tmp_path: Path) -> None:
    import ipaddress

    from cryptography import x509

    from apiserver.main import build_parser, prepare_home

    args = build_parser().parse_args(["--home", str(tmp_path), "--service-cidr", "10.99.0.0/16"])
    _, cert, _, _, _ = prepare_home(args)
    sans = x509.load_pem_x509_certificate(cert.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert ipaddress.ip_address("10.99.0.1") in sans.value.get_values_for_type(x509.IPAddress)
    names = sans.value.get_values_for_type(x509.DNSName)
    for name in ("kubernetes", "kubernetes.default", "kubernetes.default.svc"):
        assert name in names
    assert "kubernetes.default.svc.cluster.local" in names
