"""Admission webhooks' cost in the write path: ConfigMap creates/s through the in-process
apiserver (its real ASGI app, no TLS in front) with no webhook configuration, beside the
same with a configuration whose rules name another resource (only the cheap first look
runs), and with one validating webhook that matches (an AdmissionReview POSTed over HTTPS
to a webhook on 127.0.0.1, run in its own process). Rounds alternate so the machine's
load falls on all alike. Target: a configuration that does not match costs at most 5 %.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import time
from pathlib import Path
from typing import Any

from tests.bench.common import QUICK, Results, median, workdir
from tests.inprocess import InProcessApi, inprocess_apiserver

CLIENTS = 16


def _configuration(name: str, resource: str, url: str, ca: str) -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": f"{name}.bench.kubelab.test",
                "clientConfig": {"url": url, "caBundle": ca},
                "rules": [
                    {
                        "operations": ["CREATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": [resource],
                    }
                ],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": "Fail",
            }
        ],
    }


async def _creates_per_second(api: InProcessApi, prefix: str, n: int) -> float:
    async def one(i: int) -> None:
        body = {"metadata": {"name": f"{prefix}-{i}"}, "data": {"k": "v" * 200}}
        r = await api.client.post("/api/v1/namespaces/default/configmaps", json=body)
        assert r.status_code == 201, r.text

    t0 = time.perf_counter()
    for start in range(0, n, CLIENTS):
        await asyncio.gather(*(one(i) for i in range(start, min(n, start + CLIENTS))))
    return n / (time.perf_counter() - t0)


def _serve_webhook(pki: str, ready: Any, stop: Any) -> None:
    from tests.webhook_server import WebhookServer

    with WebhookServer(Path(pki), []) as hook:
        ready.put((hook.url("/validate"), hook.ca_bundle))
        stop.wait()


async def _measure(home: Path, url: str, ca: str, n: int, rounds: int) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {"none": [], "other": [], "matching": []}
    async with inprocess_apiserver(home) as api:
        await _creates_per_second(api, "warm", n // 4)
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        for r in range(rounds):
            figures["none"].append(await _creates_per_second(api, f"none{r}", n))
            await api.create(path, _configuration("other", "pods", url, ca))
            figures["other"].append(await _creates_per_second(api, f"other{r}", n))
            await api.create(path, _configuration("matching", "configmaps", url, ca))
            figures["matching"].append(await _creates_per_second(api, f"match{r}", n // 4))
            for name in ("other", "matching"):
                resp = await api.client.delete(f"{path}/{name}")
                assert resp.status_code == 200, resp.text
    return figures


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("webhooks")
    wd = workdir("webhooks")
    n = 400 if quick else 1600
    rounds = 3
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Queue(), ctx.Event()
    server = ctx.Process(target=_serve_webhook, args=(str(wd / "pki"), ready, stop), daemon=True)
    server.start()
    try:
        url, ca = ready.get(timeout=30)
        figures = asyncio.run(_measure(wd / "home", url, ca, n, rounds))
    finally:
        stop.set()
        server.join(10)
        if server.is_alive():
            server.kill()
    none, other, matching = (median(figures[k]) for k in ("none", "other", "matching"))
    stats = {k: [round(x) for x in v] for k, v in figures.items()}
    res.add(
        f"ConfigMap creates/s, a webhook configuration for another resource ({CLIENTS} "
        f"concurrent, {n} per round, median of {rounds})",
        round(other),
        "creates/s",
        target=">= 0.95x no configuration",
        met=other >= 0.95 * none,
        peer=round(none),
        peer_label="the same creates with no webhook configuration",
        stats=stats,
    )
    res.add(
        f"ConfigMap creates/s through one matching validating webhook over HTTPS "
        f"({CLIENTS} concurrent, {n // 4} per round, median of {rounds})",
        round(matching),
        "creates/s",
        target="reported (one AdmissionReview round trip per create)",
        met=True,
        peer=round(none),
        peer_label="the same creates with no webhook configuration",
        stats=stats,
    )
    res.note(
        "In-process apiserver (its ASGI app over httpx.ASGITransport, SQLite store); the "
        "webhook is tests/webhook_server.py in its own process on 127.0.0.1."
    )
    return res.as_dict()
