"""The client's TLS settings: a kubeconfig's CA is the only one trusted (as kubectl
trusts only certificate-authority-data), and no system CA store is loaded for it."""

from __future__ import annotations

import ssl
from pathlib import Path

from apiserver.tls import ensure_ca
from client.core import ssl_context


def test_the_kubeconfig_ca_is_the_only_ca_trusted(tmp_path: Path) -> None:
    ca_crt, _key = ensure_ca(tmp_path)
    pem = ca_crt.read_bytes()
    for ca_data in (pem, pem.decode("ascii"), ssl.PEM_cert_to_DER_cert(pem.decode("ascii"))):
        ctx = ssl_context(ca_data=ca_data)
        assert isinstance(ctx, ssl.SSLContext)
        assert ctx.cert_store_stats()["x509_ca"] == 1
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    ctx = ssl_context(ca_file=str(ca_crt))
    assert isinstance(ctx, ssl.SSLContext) and ctx.cert_store_stats()["x509_ca"] == 1


def test_skip_verify_loads_no_ca_and_checks_nothing() -> None:
    ctx = ssl_context(verify=False)
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_NONE and not ctx.check_hostname
    assert ctx.cert_store_stats()["x509_ca"] == 0
