"""Secrets at rest: Secret creates per second through the store with AES-GCM encryption
(the default for new clusters) against the same store without it, in the same run.

The store is measured directly (no HTTP in front), which is where the cipher's cost shows
most: through the API the share is smaller still. Rounds alternate (plain, encrypted, ...)
so the machine's load falls on both alike. Target: encryption costs at most 10 %.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import time
from pathlib import Path
from typing import Any

from apiserver.encryption import parse_config
from apiserver.store import Store
from tests.bench.common import QUICK, Results, median, workdir

CONFIG = """apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets]
    providers:
      - aesgcm: {keys: [{name: key1, secret: %s}]}
      - identity: {}
"""


def secret(name: str) -> dict[str, Any]:
    value = base64.b64encode(os.urandom(48)).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": "bench"},
        "data": {"token": value, "ca.crt": value * 8},
    }


def creates_per_second(db: Path, encrypted: bool, n: int) -> float:
    key = base64.b64encode(os.urandom(32)).decode()
    enc = parse_config(CONFIG % key) if encrypted else None

    async def main() -> float:
        store = Store(f"sqlite:///{db}", encryption=enc)
        store.start(asyncio.get_running_loop())
        try:
            t0 = time.perf_counter()
            batch = 64  # concurrent writers, as many clients of the API are
            for start in range(0, n, batch):
                await asyncio.gather(
                    *(
                        store.mutate(
                            "/secrets",
                            "bench",
                            f"s-{i}",
                            lambda _c, i=i: secret(f"s-{i}"),
                            create=True,
                        )
                        for i in range(start, min(n, start + batch))
                    )
                )
            return n / (time.perf_counter() - t0)
        finally:
            store.stop()

    return asyncio.run(main())


def run(args: argparse.Namespace) -> dict[str, Any]:
    quick = bool(getattr(args, "quick", False)) or QUICK
    res = Results("encryption")
    wd = workdir("encryption")
    n = 1000 if quick else 4000
    plain: list[float] = []
    sealed: list[float] = []
    for r in range(3):
        plain.append(creates_per_second(wd / f"plain-{r}.db", False, n))
        sealed.append(creates_per_second(wd / f"sealed-{r}.db", True, n))
    p, s = median(plain), median(sealed)
    res.add(
        f"Secret creates/s through the store, AES-GCM at rest ({n} per round, median of 3)",
        round(s),
        "creates/s",
        target=">= 0.9x unencrypted",
        met=s >= 0.9 * p,
        peer=round(p),
        peer_label="the same store without encryption",
        stats={"plain": [round(x) for x in plain], "encrypted": [round(x) for x in sealed]},
    )
    return res.as_dict()
