"""Which proxy a kubelet runs (kubelet/kernelproxy.py start_kernel_proxy): the kernel path
where it can work, else the userspace proxy with one log line saying why."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kubelet import kernelproxy
from kubelet.kernelproxy import KernelProxyError, start_kernel_proxy, unavailable_reason


def test_reasons_the_kernel_path_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert unavailable_reason("fake") == "the fake runtime runs no containers"
    monkeypatch.setattr(kernelproxy.os, "geteuid", lambda: 1000)
    assert unavailable_reason("docker") == "not running as root (nftables needs CAP_NET_ADMIN)"
    monkeypatch.setattr(kernelproxy.os, "geteuid", lambda: 0)
    monkeypatch.setattr(kernelproxy.shutil, "which", lambda tool: None if tool == "nft" else "/x")
    assert unavailable_reason("docker") == "the 'nft' command is not installed"


def test_fallback_says_why_in_one_line(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(kernelproxy.os, "geteuid", lambda: 1000)  # and so no kernel call
    caplog.set_level(logging.INFO, logger="kubelet.kernelproxy")
    assert asyncio.run(start_kernel_proxy("auto", "docker", "uid", "n")) is None
    assert [r.getMessage() for r in caplog.records] == [
        "service proxy: userspace listeners (kernel path unavailable: not running as root "
        "(nftables needs CAP_NET_ADMIN))"
    ]
    caplog.clear()
    assert asyncio.run(start_kernel_proxy("userspace", "docker", "uid", "n")) is None
    assert "--proxy-mode userspace" in caplog.records[0].getMessage()


def test_kernel_mode_where_it_cannot_work_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernelproxy.os, "geteuid", lambda: 1000)
    with pytest.raises(KernelProxyError, match="--proxy-mode kernel: .* not running as root"):
        asyncio.run(start_kernel_proxy("kernel", "docker", "uid", "n"))
