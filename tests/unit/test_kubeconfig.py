"""Kubeconfig loading and writing (client/kubeconfig.py)."""

from __future__ import annotations

import base64
import datetime
import ssl
import stat
from pathlib import Path

import pytest
import yaml

from client import Client, KubeconfigError, load_kubeconfig, write_kubeconfig
from client.kubeconfig import list_contexts, resolve_kubeconfig_path

PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may read the developer's real kubeconfigs."""
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("KUBELAB_HOME", str(tmp_path / "kubelab-home"))


def _two_context_doc() -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "lab",
                "cluster": {
                    "server": "https://127.0.0.1:6443/",
                    "certificate-authority-data": base64.b64encode(PEM).decode(),
                },
            },
            {
                "name": "other",
                "cluster": {"server": "https://10.0.0.1:6443", "insecure-skip-tls-verify": True},
            },
        ],
        "users": [
            {"name": "admin", "user": {"token": "tok-admin\n"}},
            {"name": "filer", "user": {"tokenFile": "tokens/t"}},
        ],
        "contexts": [
            {"name": "lab", "context": {"cluster": "lab", "user": "admin", "namespace": "team"}},
            {"name": "other", "context": {"cluster": "other", "user": "filer"}},
        ],
        "current-context": "lab",
    }


def _write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def test_current_context_with_ca_data_token_and_namespace(tmp_path: Path) -> None:
    p = _write(tmp_path / "kc", _two_context_doc())
    cfg = load_kubeconfig(p)
    assert cfg.server == "https://127.0.0.1:6443"
    assert cfg.token == "tok-admin"
    assert cfg.ca_data == PEM
    assert cfg.verify is True
    assert cfg.namespace == "team"
    assert cfg.context == "lab"
    assert cfg.path == str(p)


def test_context_override_insecure_and_token_file_relative_to_kubeconfig(tmp_path: Path) -> None:
    p = _write(tmp_path / "conf" / "kc", _two_context_doc())
    (tmp_path / "conf" / "tokens").mkdir()
    (tmp_path / "conf" / "tokens" / "t").write_text("from-file\n")
    cfg = load_kubeconfig(p, context="other")
    assert cfg.server == "https://10.0.0.1:6443"
    assert cfg.verify is False
    assert cfg.ca_data is None
    assert cfg.token == "from-file"
    assert cfg.namespace == "default"


def test_certificate_authority_file(tmp_path: Path) -> None:
    doc = _two_context_doc()
    cluster = doc["clusters"][0]["cluster"]  # type: ignore[index]
    del cluster["certificate-authority-data"]
    cluster["certificate-authority"] = "ca.crt"
    (tmp_path / "ca.crt").write_bytes(PEM)
    cfg = load_kubeconfig(_write(tmp_path / "kc", doc))
    assert cfg.ca_data == PEM


def test_unknown_context_names_the_choices(tmp_path: Path) -> None:
    p = _write(tmp_path / "kc", _two_context_doc())
    with pytest.raises(KubeconfigError, match=r"no context named 'nope'.*lab.*other"):
        load_kubeconfig(p, context="nope")


def test_missing_current_context(tmp_path: Path) -> None:
    doc = _two_context_doc()
    doc["current-context"] = ""
    with pytest.raises(KubeconfigError, match="no current-context"):
        load_kubeconfig(_write(tmp_path / "kc", doc))


def test_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home_cfg = _write(tmp_path / "home" / ".kube" / "config", _two_context_doc())
    assert resolve_kubeconfig_path() == home_cfg

    lab_cfg = _write(tmp_path / "kubelab-home" / "kubeconfig", _two_context_doc())
    assert resolve_kubeconfig_path() == lab_cfg

    env_cfg = _write(tmp_path / "env-kc", _two_context_doc())
    missing = tmp_path / "missing"
    monkeypatch.setenv("KUBECONFIG", f"{missing}:{env_cfg}:{lab_cfg}")
    assert resolve_kubeconfig_path() == env_cfg

    explicit = _write(tmp_path / "explicit", _two_context_doc())
    assert resolve_kubeconfig_path(explicit) == explicit


def test_kubeconfig_env_with_no_existing_file_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write(tmp_path / "kubelab-home" / "kubeconfig", _two_context_doc())
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "nope"))
    with pytest.raises(KubeconfigError, match="KUBECONFIG="):
        resolve_kubeconfig_path()


def test_nothing_found_says_what_to_do() -> None:
    with pytest.raises(KubeconfigError, match="kubelab up"):
        load_kubeconfig()
    with pytest.raises(KubeconfigError, match="does not exist"):
        load_kubeconfig("/nonexistent/kubeconfig")


def test_write_then_load_round_trip_mode_0600(tmp_path: Path) -> None:
    p = write_kubeconfig(
        tmp_path / "new" / "kubeconfig", "https://127.0.0.1:7443", PEM, "secret-token"
    )
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    cfg = load_kubeconfig(p)
    assert (cfg.server, cfg.token, cfg.ca_data, cfg.verify, cfg.namespace, cfg.context) == (
        "https://127.0.0.1:7443",
        "secret-token",
        PEM,
        True,
        "default",
        "kubelab",
    )
    assert list_contexts(p) == (["kubelab"], "kubelab")
    # The document is the standard shape kubectl and the official client read.
    doc = yaml.safe_load(p.read_text())
    assert doc["kind"] == "Config"
    assert doc["users"] == [{"name": "admin", "user": {"token": "secret-token"}}]


def test_write_overwrites_atomically_and_accepts_str_pem(tmp_path: Path) -> None:
    p = tmp_path / "kubeconfig"
    write_kubeconfig(p, "https://a:1", PEM, "t1")
    write_kubeconfig(p, "https://b:2", PEM.decode(), "t2", namespace="ml")
    cfg = load_kubeconfig(p)
    assert (cfg.server, cfg.token, cfg.namespace, cfg.ca_data) == ("https://b:2", "t2", "ml", PEM)
    assert [f.name for f in tmp_path.iterdir()] == ["kubeconfig"]  # no temp files left


def test_official_client_reads_what_we_write(tmp_path: Path) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    p = write_kubeconfig(tmp_path / "kc", "https://127.0.0.1:7443", PEM, "secret-token")
    conf = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(str(p), client_configuration=conf)
    assert conf.host == "https://127.0.0.1:7443"
    assert "secret-token" in str(conf.api_key)
    assert Path(conf.ssl_ca_cert).read_bytes() == PEM


def test_client_from_kubeconfig_uses_context_namespace(tmp_path: Path) -> None:
    doc = _two_context_doc()
    doc["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(  # type: ignore[index]
        _real_ca_pem()
    ).decode()
    p = _write(tmp_path / "kc", doc)
    (tmp_path / "tokens").mkdir()
    (tmp_path / "tokens" / "t").write_text("x")
    with Client.from_kubeconfig(p) as c:
        assert c.base_url == "https://127.0.0.1:6443"
        assert c.namespace == "team"
    with Client.from_kubeconfig(p, context="other") as c:
        assert c.namespace == "default"
        assert c.base_url == "https://10.0.0.1:6443"


def test_fake_ca_data_is_refused_when_building_a_client(tmp_path: Path) -> None:
    p = _write(tmp_path / "kc", _two_context_doc())
    with pytest.raises(ssl.SSLError):
        Client.from_kubeconfig(p)


def _real_ca_pem() -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)
