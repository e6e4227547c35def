"""Headless Chromium for the dashboard's browser tests (Debian's ``chromium`` and
``chromium-driver``, driven by Selenium). Without them the tests skip with the reason,
except in CI (``KUBELAB_REQUIRE_BROWSER=1``, set by .ci/run, which installs them), where a
missing browser is a failure."""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")


def _need(what: str) -> None:
    if os.environ.get("KUBELAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{what} but KUBELAB_REQUIRE_BROWSER=1 (.ci/run installs chromium)")
    pytest.skip(f"{what}: apt-get install chromium chromium-driver; pip install selenium")


def spki_pin(cert_pem: bytes) -> str:
    """Chromium's pin of a certificate's public key (base64 SHA-256 of the SPKI), so the
    browser trusts exactly this test apiserver's certificate and nothing else."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(cert_pem).public_key()
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def new_browser(serving_cert: Path, profile: Path) -> Any:
    """A headless Chromium that trusts ``serving_cert`` (and no other self-signed one)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _need("selenium is not installed")
    binary = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        _need("no chromium and chromedriver on PATH")
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(binary)
    for arg in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        f"--ignore-certificate-errors-spki-list={spki_pin(serving_cert.read_bytes())}",
    ):
        opts.add_argument(arg)
    return webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=opts)


@pytest.fixture
def browser_factory(tmp_path: Path) -> Iterator[Any]:
    """``make(serving_cert)`` → a browser; each is quit at the end of the test."""
    made: list[Any] = []

    def make(serving_cert: Path) -> Any:
        b = new_browser(serving_cert, tmp_path / f"chromium-{len(made)}")
        b.set_script_timeout(20)
        made.append(b)
        return b

    yield make
    for b in made:
        b.quit()
